use super::*;
use crate::check::CheckResult;
use crate::history::latency::{Percentiles, Second, spectrum};
use crate::report::{Fault, GroupChange, GroupReport};

const MARKUP: &str = "<script>alert(\"x\")</script>";

/// A result of a run `seconds` long with everything a report shows: a timeline, spectra
/// from real histograms, faults, group changes, partitions, failed checks with examples.
fn fixture(seconds: u64) -> RunResult {
    let p = |count, p50, p99, max| Percentiles {
        count,
        p50,
        p90: p50 * 2,
        p99,
        p999: (p99 + max) / 2,
        max,
    };
    let mut r = RunResult {
        scenario: "audit-flood".into(),
        scenario_file: "scenarios/audit-flood.toml".into(),
        run_id: "audit-flood-1-abc".into(),
        verdict: Verdict::Fail,
        seed: 7,
        cluster: crate::report::ClusterInfo {
            kind: "embedded".into(),
            brokers: 3,
            kafka_version: Some("4.4.0".into()),
            bootstrap: "127.0.0.1:9092".into(),
        },
        topics: vec!["audit".into()],
        measured_s: seconds as f64,
        drained: true,
        histogram_logs: vec!["ack.hlog".into(), "e2e.hlog".into()],
        plan: serde_json::json!({"name": "audit-flood", "seed": 7, "note": null,
                                 "producers": [{"rate": 1000, "acks": "all"}]}),
        started_at_epoch_s: 1_795_582_654.5,
        broker_logs: vec!["brokers/node-1.log".into()],
        ..RunResult::default()
    };
    r.counts.acked = 9;
    r.counts.lost = 1;
    r.throughput.produced_msgs_per_s = 12_345.6;
    r.throughput.produced_bytes_per_s = 5.0e6;
    r.latency_us.ack = p(9, 900, 15_000, 90_000);
    r.latency_us.e2e = p(9, 1_900, 25_000, 99_000);
    r.clients
        .insert("rdkafka".into(), "librdkafka 2.12.1".into());
    let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    for i in 0..100_000u64 {
        h.record(500 + (i * 7919) % 20_000 + if i % 997 == 0 { 2_000_000 } else { 0 })
            .unwrap();
    }
    r.latency_spectrum.ack = spectrum(&h);
    r.latency_spectrum.e2e = spectrum(&h);
    r.timeline = (0..seconds)
        .map(|t| Second {
            t,
            sent: 1000 + t % 17,
            acked: if t % 600 == 300 { 0 } else { 1000 },
            errors: 0,
            consumed: 990,
            ack_p99_us: 5_000 + (t % 50) * 100,
            e2e_p99_us: 9_000,
            faults: Vec::new(),
        })
        .collect();
    r.faults = (0..seconds / 600 + 1)
        .map(|i| Fault {
            at_s: (i * 600 + 300).min(seconds.saturating_sub(1)) as f64,
            action: "kill".into(),
            target: format!("leader of audit/{i}"),
            outcome: "ok".into(),
            took_s: 0.01,
        })
        .collect();
    r.group = Some(GroupReport {
        protocol: "audit-readers: classic".into(),
        rebalances: 2,
        unassigned_partition_s: 3.5,
        changes: vec![GroupChange {
            at_s: 20.5,
            consumer: 1,
            change: "assigned".into(),
            partitions: 6,
        }],
    });
    r.samples = vec![crate::report::MessageSample {
        producer: "audit-middleware".into(),
        template: "audit".into(),
        key: "3f2a".into(),
        value: "{\"actor\":\"svc-7\"}".into(),
        size: 1024,
    }];
    r.partition_counts = (0..12)
        .map(|p| (format!("audit/{p}"), 1_000 + p * 100))
        .collect();
    let mut lost = CheckResult::unknown("lost_write", "1 of 9 acknowledged sends missing".into());
    lost.verdict = Verdict::Fail;
    lost.count = 1;
    lost.examples.push(Example {
        key: Some("acct-42".into()),
        producer: Some(0),
        seq: Some(17),
        topic: Some("audit".into()),
        partition: Some(3),
        offset: Some(99),
        time_us: Some(1_500_000),
        note: "acknowledged, never in the log".into(),
        ..Example::default()
    });
    r.checks = vec![
        lost,
        CheckResult::unknown("phantom", "partition audit/2 unreadable".into()),
        CheckResult::slo("ack_p99", true, 15.0, 50.0, "ack p99 15 ms <= 50 ms".into()),
    ];
    r
}

#[test]
fn the_page_shows_the_verdict_checks_and_charts() {
    let html = render(&fixture(120), None).unwrap();
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains(r#"<header class="banner v-fail""#));
    assert!(html.contains("<title>FAIL · audit-flood · kafka-harness</title>"));
    for id in [
        "chart-spectrum",
        "chart-throughput",
        "chart-latency",
        "chart-skew",
    ] {
        assert!(html.contains(&format!(r#"id="{id}""#)), "{id} missing");
    }
    assert!(html.contains(r#"id="check-lost_write""#));
    assert!(
        html.contains("audit-middleware") && html.contains("{&quot;actor&quot;:&quot;svc-7&quot;}")
    );
    assert!(
        html.contains("acct-42") && html.contains("audit&#x2f;3 @99") && html.contains("p0:17")
    );
    // The one fault is a labelled marker on both timeline charts.
    assert_eq!(html.matches(r#"<g class="marker fault">"#).count(), 2);
    assert_eq!(html.matches(r#"<g class="marker rebalance">"#).count(), 2);
    // The plan as TOML, nulls dropped; the links; the version.
    assert!(
        html.contains("name = &quot;audit-flood&quot;"),
        "plan as TOML"
    );
    assert!(!html.contains("note ="));
    assert!(html.contains(r#"<a href="ack.hlog">"#));
    // minijinja escapes `/` too; browsers read `&#x2f;` in an attribute as `/`.
    assert!(html.contains(r#"<a href="brokers&#x2f;node-1.log">"#));
    assert!(html.contains("started 2026-11-25 04:57:34 UTC"));
    assert!(!html.contains("NOT A REAL BROKER"));
}

#[test]
fn missing_logs_are_marked_not_linked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ack.hlog"), "").unwrap();
    let html = render(&fixture(10), Some(dir.path())).unwrap();
    assert!(html.contains(r#"<a href="ack.hlog">"#));
    assert!(html.contains("e2e.hlog (missing)"));
    assert!(html.contains("brokers&#x2f;node-1.log (missing)"));
}

#[test]
fn user_text_appears_as_text_never_as_markup() {
    let mut r = fixture(30);
    r.scenario = MARKUP.into();
    r.run_id = MARKUP.into();
    r.checks[0].detail = MARKUP.into();
    r.checks[0].examples[0].key = Some("<img src=x onerror=alert(1)>".into());
    r.checks[0].examples[0].note = "</td></tr></table><b>bold</b>".into();
    r.faults[0].target = MARKUP.into();
    r.cluster.bootstrap = "\"><script>".into();
    r.clients.insert("<i>lib</i>".into(), MARKUP.into());
    r.partition_counts.insert(format!("{MARKUP}/0"), 5);
    r.plan = serde_json::json!({ "name": MARKUP });
    r.samples[0].key = MARKUP.into();
    r.samples[0].value = format!("{{\"note\": \"{MARKUP}\"}}");
    r.samples[0].producer = MARKUP.into();
    for html in [
        render(&r, None).unwrap(),
        render_index(&[(&r, "x/report.html".into())]).unwrap(),
    ] {
        assert!(!html.contains("<script"), "markup got through");
        assert!(!html.contains("<img") && !html.contains("<b>bold") && !html.contains("<i>"));
        assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;&#x2f;script&gt;"));
    }
}

#[test]
fn the_page_loads_nothing_from_anywhere() {
    let html = render(&fixture(60), None).unwrap();
    // The only URL is the SVG namespace, which is a name, not a request.
    let urls = html.matches("http://").count() + html.matches("https://").count();
    assert_eq!(urls, html.matches("http://www.w3.org/2000/svg").count());
    for needle in ["<script", "<link", "<img", "<iframe", "@import", "url("] {
        assert!(!html.contains(needle), "{needle}");
    }
}

#[test]
fn the_mock_is_marked_not_a_real_broker() {
    let mut r = fixture(5);
    r.cluster.kind = "mock".into();
    assert!(render(&r, None).unwrap().contains("NOT A REAL BROKER"));
}

#[test]
fn an_interrupted_run_says_so() {
    let mut r = fixture(5);
    assert!(!render(&r, None).unwrap().contains("id=\"interrupted\""));
    r.interrupted = Some(crate::report::Interrupted {
        signal: "SIGTERM".into(),
        at_s: 10.04,
    });
    let html = render(&r, None).unwrap();
    assert!(html.contains("INTERRUPTED by SIGTERM at 10.0 s"), "{html}");
    assert!(crate::report::summary(&r).contains("INTERRUPTED by SIGTERM at 10.0 s"));
}

#[test]
fn an_empty_result_renders() {
    let mut r = fixture(0);
    r.timeline.clear();
    r.faults.clear();
    r.group = None;
    r.latency_spectrum = Default::default();
    r.partition_counts.clear();
    r.plan = serde_json::Value::Null;
    let html = render(&r, None).unwrap();
    assert!(html.contains("No timeline was recorded."));
    assert!(!html.contains("<svg"));
}

#[test]
fn an_hour_long_run_stays_under_a_megabyte() {
    let html = render(&fixture(3_600), None).unwrap();
    assert!(html.len() < 1_000_000, "{} bytes", html.len());
    assert!(html.len() > 20_000, "{} bytes: charts are in", html.len());
}

#[test]
fn the_index_has_a_row_per_run_linking_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (fixture(5), {
        let mut b = fixture(5);
        b.verdict = Verdict::Pass;
        b.scenario = "account-ordering".into();
        b.checks.truncate(0);
        b
    });
    let (da, db) = (dir.path().join("run a"), dir.path().join("b"));
    let index = dir.path().join("index.html");
    // A folder that does not exist yet is made.
    let nested = dir.path().join("new/index.html");
    write_index(&nested, &[(a.clone(), da.clone())]).unwrap();
    assert!(
        std::fs::read_to_string(&nested)
            .unwrap()
            .contains("..&#x2f;run%20a&#x2f;report.html")
    );
    write_index(&index, &[(a, da), (b, db)]).unwrap();
    let html = std::fs::read_to_string(&index).unwrap();
    assert_eq!(html.matches("<tr><td><span class=\"badge").count(), 2);
    assert!(html.contains(r#"<a href="run%20a&#x2f;report.html">audit-flood</a>"#));
    assert!(html.contains(r#"<a href="b&#x2f;report.html">account-ordering</a>"#));
    assert!(html.contains("lost_write, phantom"));
    assert!(html.contains(r#"<header class="banner v-fail""#));
    assert!(html.contains("1 passed · 1 failed · 0 unknown"));
}

#[test]
fn numbers_are_grouped() {
    assert_eq!(grouped(1_234_567.0), "1,234,567");
    assert_eq!(grouped(999.0), "999");
    assert_eq!(grouped(12.34), "12.3");
    assert_eq!(grouped(-4_000.0), "-4,000");
    assert_eq!(number(0.5), "0.5");
    assert_eq!(number(50.0), "50");
}

#[test]
fn a_fault_every_second_for_an_hour_stays_readable_and_small() {
    let mut r = fixture(3_600);
    r.faults = (0..3_600)
        .map(|t| Fault {
            at_s: t as f64,
            action: "pause".into(),
            target: "node 2".into(),
            outcome: "ok".into(),
            took_s: 0.0,
        })
        .collect();
    let html = render(&r, None).unwrap();
    assert!(html.len() < 1_000_000, "{} bytes", html.len());
    assert!(html.contains("3400 more faults are in result.json."));
}

#[test]
fn exec_processes_are_listed_with_their_logs() {
    let mut r = fixture(10);
    assert!(!render(&r, None).unwrap().contains("Client processes"));
    r.processes = vec![
        crate::report::Process {
            table: "writer".into(),
            role: "producer".into(),
            instance: 0,
            id: 0,
            pid: Some(4242),
            client: Some("kafkajs 2.2.4".into()),
            started_at_s: 0.0,
            ended_at_s: Some(12.5),
            how: "exit 0".into(),
            note: Some("shutdown".into()),
            log: "clients/writer-0.log".into(),
        },
        crate::report::Process {
            table: "workers".into(),
            role: "consumer".into(),
            instance: 1,
            id: 3,
            how: "signal 9".into(),
            note: Some("crash_consumer: SIGKILL to its process group".into()),
            log: "clients/workers-1.log".into(),
            ..Default::default()
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("clients")).unwrap();
    std::fs::write(dir.path().join("clients/writer-0.log"), "").unwrap();
    let html = render(&r, Some(dir.path())).unwrap();
    assert!(html.contains("Client processes"));
    assert!(html.contains(r#"<a href="clients&#x2f;writer-0.log">clients&#x2f;writer-0.log</a>"#));
    assert!(html.contains("clients&#x2f;workers-1.log (missing)"));
    assert!(html.contains("kafkajs 2.2.4"));
    assert!(html.contains(r#"<tr class="warn"><td>workers</td>"#));
    assert!(html.contains("crash_consumer: SIGKILL to its process group"));
    // And in the terminal summary.
    let text = crate::report::summary(&r);
    assert!(text.contains("exec processes"), "{text}");
    assert!(
        text.contains("workers-1") && text.contains("signal 9"),
        "{text}"
    );
}
