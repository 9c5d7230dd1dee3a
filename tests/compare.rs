//! `kafka-harness compare` through the binary: identical results pass, a much faster
//! baseline fails with exit 1, and files that are not results are bad input (exit 2).

mod common;

use common::cli::{assert_exit, harness, stderr, stdout};

/// A result.json with the contract's fields: `throughput` msgs/s and an ack p99 in µs.
fn result(dir: &std::path::Path, name: &str, throughput: f64, ack_p99: u64) -> String {
    let json = serde_json::json!({
        "scenario": "audit-flood", "scenario_file": "scenarios/audit-flood.toml",
        "run_id": name, "verdict": "pass", "seed": 1,
        "cluster": {"kind": "embedded", "brokers": 1, "kafka_version": "4.4.0", "bootstrap": ""},
        "topics": [], "checks": [],
        "counts": {"attempted": 0, "acked": 0, "failed": 0, "indeterminate": 0, "consumed": 0,
                   "lost": 0, "duplicated": 0, "order_violations": 0, "aborted_reads": 0},
        "throughput": {"produced_msgs_per_s": throughput, "consumed_msgs_per_s": throughput,
                       "produced_bytes_per_s": 0.0},
        "latency_us": {
            "ack": {"count": 100, "p50": 2000, "p90": 3000, "p99": ack_p99, "p999": 9000, "max": 9000},
            "e2e": {"count": 100, "p50": 4000, "p90": 5000, "p99": 6000, "p999": 9000, "max": 9000},
            "send_delay": {"count": 100, "p50": 1, "p90": 1, "p99": 1, "p999": 1, "max": 1}},
        "faults": [], "timeline": [], "measured_s": 50.0, "drained": true, "histogram_logs": []
    });
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn identical_results_pass_and_a_much_faster_baseline_fails() {
    let dir = tempfile::tempdir().unwrap();
    let now = result(dir.path(), "now", 2000.0, 8000);
    let o = harness(&["compare", &now, &now]);
    assert_exit(&o, 0);
    assert!(stdout(&o).contains("throughput"), "{}", stdout(&o));
    assert!(!stdout(&o).contains("REGRESSED"));

    let fast = result(dir.path(), "fast", 4000.0, 4000);
    let o = harness(&["compare", &fast, &now]);
    assert_exit(&o, 1);
    let table = stdout(&o);
    assert!(
        table.contains("throughput") && table.contains("REGRESSED"),
        "{table}"
    );
    // A generous limit lets the same pair pass.
    let o = harness(&["compare", &fast, &now, "--max-regression", "150"]);
    assert_exit(&o, 0);
}

#[test]
fn what_is_not_a_result_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let now = result(dir.path(), "now", 2000.0, 8000);
    let missing = dir.path().join("missing.json");
    let o = harness(&["compare", missing.to_str().unwrap(), &now]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("missing.json"), "{}", stderr(&o));

    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\n  \"scenario\": 3\n}").unwrap();
    let o = harness(&["compare", &now, garbage.to_str().unwrap()]);
    assert_exit(&o, 2);
    assert!(
        stderr(&o).contains("garbage.json:2:") && stderr(&o).contains("not a kafka-harness result"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn run_with_a_baseline_gates_in_one_step_and_writes_junit() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"name = "gate"
seed = 3
messages = 2000
drain_timeout = "30s"

[[topics]]
name = "t"
partitions = 2

[[producers]]
name = "p"
driver = "rdkafka"
topic = "t"
template = "webhook"
size = "400B"
keys = { count = 10, distribution = "uniform" }
rate = "1000/s"

[checks]
anomalies = ["lost_write", "duplicate_write"]
"#;
    let file = common::cli::scenario(dir.path(), "gate", text);
    // A baseline no run at 1000 msgs/s can match.
    let baseline = result(dir.path(), "baseline", 1_000_000.0, 1);
    let out = tempfile::tempdir().unwrap();
    let o = harness(&[
        "run",
        file.to_str().unwrap(),
        "--cluster",
        "mock",
        "--baseline",
        &baseline,
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_exit(&o, 1);
    assert!(
        stdout(&o).contains("PASS  gate"),
        "the checks passed: {}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("REGRESSED"));
    let run = std::fs::read_dir(out.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let xml = std::fs::read_to_string(run.path().join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let cases = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    assert_eq!(cases, 2, "one test case per check");

    // A baseline that is not a result is refused before anything runs.
    let o = harness(&[
        "run",
        file.to_str().unwrap(),
        "--cluster",
        "mock",
        "--baseline",
        file.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("--baseline"), "{}", stderr(&o));
}
