//! Scenarios end to end through the binary: the two shipped scenarios pass on the embedded
//! cluster and write every field of the result.json contract; a failing SLO exits 1 and
//! names the check; bad files exit 2; the rskafka drivers, the mock and an external cluster
//! run scenarios too.

mod common;

use common::cli::{assert_exit, harness, results, run_on_shared, scenario, stderr, stdout};

/// A small scenario: `messages` messages, one topic of 3 partitions, producers and an
/// optional consumer of the given drivers.
fn small(name: &str, producer: &str, consumer: Option<&str>, slo: &str) -> String {
    let consumer = match consumer {
        Some("rdkafka") => "[[consumers]]\nname = \"c\"\ndriver = \"rdkafka\"\ninstances = 2\ntopic = \"t\"\ngroup = \"g\"\ncommit = \"after_processing\"\n".to_owned(),
        Some(d) => format!("[[consumers]]\nname = \"c\"\ndriver = \"{d}\"\ntopic = \"t\"\n"),
        None => String::new(),
    };
    format!(
        r#"name = "{name}"
seed = 7
messages = 3000
drain_timeout = "30s"

[[topics]]
name = "t"
partitions = 3

[[producers]]
name = "p"
driver = "{producer}"
instances = 2
topic = "t"
template = "webhook"
size = "400B"
keys = {{ count = 50, distribution = "zipf", exponent = 1.2 }}
rate = "3000/s"

{consumer}
[checks.slo]
{slo}
"#
    )
}

#[test]
fn shipped_scenarios_pass_and_write_the_result_contract() {
    let out = tempfile::tempdir().unwrap();
    let output = harness(&[
        "run",
        "scenarios/audit-flood.toml",
        "scenarios/account-ordering.toml",
        "--duration",
        "5s",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_exit(&output, 0);
    assert!(stdout(&output).contains("PASS  audit-flood"));
    assert!(stdout(&output).contains("PASS  account-ordering"));
    let results = results(out.path());
    assert_eq!(results.len(), 2);
    for r in &results {
        for field in [
            "scenario",
            "verdict",
            "seed",
            "cluster",
            "checks",
            "counts",
            "throughput",
            "latency_us",
            "faults",
            "timeline",
        ] {
            assert!(r.get(field).is_some(), "result.json lacks {field}");
        }
        assert_eq!(r["verdict"], "pass");
        assert_eq!(r["cluster"]["kind"], "embedded");
        assert!(r["cluster"]["brokers"].as_u64().unwrap() >= 1);
        assert!(r["cluster"]["kafka_version"].is_string());
        for c in [
            "attempted",
            "acked",
            "failed",
            "indeterminate",
            "consumed",
            "lost",
            "duplicated",
            "order_violations",
            "aborted_reads",
        ] {
            assert!(r["counts"][c].is_u64(), "counts.{c}");
        }
        let acked = r["counts"]["acked"].as_u64().unwrap();
        assert!(acked > 1000, "only {acked} acked");
        assert_eq!(r["counts"]["attempted"], r["counts"]["acked"]);
        assert!(
            r["counts"]["consumed"].as_u64().unwrap() >= acked,
            "consumers missed records"
        );
        for t in [
            "produced_msgs_per_s",
            "consumed_msgs_per_s",
            "produced_bytes_per_s",
        ] {
            assert!(r["throughput"][t].as_f64().unwrap() > 0.0, "throughput.{t}");
        }
        for l in ["ack", "e2e", "send_delay"] {
            let p = &r["latency_us"][l];
            for q in ["count", "p50", "p90", "p99", "p999", "max"] {
                assert!(p[q].is_u64(), "latency_us.{l}.{q}");
            }
            assert!(p["count"].as_u64().unwrap() > 0, "no {l} latency recorded");
            assert!(p["p50"].as_u64() <= p["p99"].as_u64());
        }
        assert!(r["timeline"].as_array().unwrap().len() >= 5);
        let names: Vec<&str> = r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"lost_write") && names.contains(&"lost_delivery"),
            "{names:?}"
        );
        // The histogram logs are in HdrHistogram's interval log format.
        let dir = out.path().join(r["run_id"].as_str().unwrap());
        let log = std::fs::read(dir.join("ack.hlog")).unwrap();
        let intervals = hdrhistogram::serialization::interval_log::IntervalLogIterator::new(&log)
            .filter(|e| {
                matches!(
                    e,
                    Ok(hdrhistogram::serialization::interval_log::LogEntry::Interval(_))
                )
            })
            .count();
        assert!(intervals >= 5, "{intervals} intervals in ack.hlog");
    }
    let ordering = results
        .iter()
        .find(|r| r["scenario"] == "account-ordering")
        .unwrap();
    let names: Vec<&str> = ordering["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"order_violation") && names.contains(&"duplicate_delivery"));
}

#[test]
fn a_failed_slo_exits_1_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "impossible",
        &small("impossible", "rdkafka", None, "ack_p50 = \"1us\""),
    );
    let output = harness(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        dir.path().join("out").to_str().unwrap(),
    ]);
    assert_exit(&output, 1);
    let text = stdout(&output);
    assert!(text.contains("FAIL  impossible"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("ack_p50") && l.contains("fail")),
        "{text}"
    );
    let r = &results(&dir.path().join("out"))[0];
    assert_eq!(r["verdict"], "fail");
    // The anomaly checks themselves still pass: nothing was lost.
    assert_eq!(r["counts"]["lost"], 0);
}

#[test]
fn rskafka_producers_and_reader_pass() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "rs",
        &small("rs", "rskafka", Some("rskafka"), ""),
    );
    let output = harness(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_exit(&output, 0);
    let r = &results(dir.path())[0];
    assert_eq!(r["counts"]["acked"], 3000);
    assert_eq!(r["counts"]["consumed"], 3000);
}

#[test]
fn the_mock_runs_scenarios_and_says_it_is_a_mock() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "m", &small("m", "rdkafka", Some("rdkafka"), ""));
    let output = harness(&[
        "run",
        file.to_str().unwrap(),
        "--cluster",
        "mock",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_exit(&output, 0);
    assert!(stdout(&output).contains("NOT A REAL BROKER"));
    let r = &results(dir.path())[0];
    assert_eq!(r["cluster"]["kind"], "mock");
    assert!(
        r["cluster"]["kafka_version"]
            .as_str()
            .unwrap()
            .starts_with("mock")
    );
}

#[tokio::test]
async fn an_external_cluster_runs_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "x",
        &small(
            "x",
            "rdkafka",
            Some("rdkafka"),
            "min_throughput = \"100/s\"",
        ),
    );
    let output = run_on_shared(&file, dir.path(), None).await;
    assert_exit(&output, 0);
    assert_eq!(results(dir.path())[0]["cluster"]["kind"], "external");
}

#[test]
fn bad_scenarios_exit_2_before_any_broker_starts() {
    let dir = tempfile::tempdir().unwrap();
    let bad = scenario(
        dir.path(),
        "bad",
        &small("bad", "rdkafka", None, "").replace("rate = \"3000/s\"", "rate = \"5k/s\""),
    );
    for command in ["run", "validate"] {
        let output = harness(&[command, "scenarios/audit-flood.toml", bad.to_str().unwrap()]);
        assert_exit(&output, 2);
        let err = stderr(&output);
        assert!(
            err.contains("bad.toml:") && err.contains("rate") && err.contains("5000/s"),
            "{err}"
        );
        assert!(!err.contains("running"), "{command} started a run: {err}");
    }
    let output = harness(&[
        "validate",
        "scenarios/audit-flood.toml",
        "scenarios/account-ordering.toml",
    ]);
    assert_exit(&output, 0);
}

#[test]
fn every_shipped_scenario_validates() {
    let mut files = Vec::new();
    for dir in ["scenarios", "scenarios/clients"] {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "toml") {
                files.push(path.to_string_lossy().into_owned());
            }
        }
    }
    assert!(files.len() >= 18, "{files:?}");
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let output = harness(&args);
    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output).lines().filter(|l| l.ends_with(')')).count(),
        files.len(),
        "{}",
        stdout(&output)
    );
}
