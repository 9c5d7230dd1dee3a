//! `kafka-harness sweep` through the binary on the shared cluster: a short ladder and a short
//! search write `sweep.json`, `sweep.html` and a run folder with a report per step, and
//! `--min-rate` gates on the answer.

mod common;

use std::path::Path;

use common::cli::{assert_exit, harness, scenario, stderr, stdout};
use serde_json::Value;

/// A light scenario whose `[sweep]` is `sweep` (TOML lines).
fn light(sweep: &str) -> String {
    format!(
        r#"name = "light-sweep"
seed = 9
duration = "2s"
drain_timeout = "30s"

[[topics]]
name = "t"
partitions = 2

[[producers]]
name = "writer"
driver = "rdkafka"
instances = 2
topic = "t"
template = "webhook"
size = "400B"
keys = {{ count = 50, distribution = "uniform" }}
rate = "300/s"

[producers.client]
acks = "all"

[[consumers]]
name = "readers"
driver = "rdkafka"
topic = "t"
group = "readers"

[checks]
anomalies = ["lost_write", "lost_delivery"]
duplicate_delivery = "allowed"

[checks.slo]
e2e_p99 = "2s"

[sweep]
{sweep}
"#
    )
}

/// `kafka-harness sweep FILE` on the shared cluster, with `args`.
async fn sweep(file: &Path, out: &Path, args: &[&str]) -> std::process::Output {
    common::cli::on_shared("sweep", file, out, args).await
}

/// The one sweep folder under `out`, and its sweep.json.
fn swept(out: &Path) -> (std::path::PathBuf, Value) {
    let dirs: Vec<_> = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let json = std::fs::read_to_string(dirs[0].join("sweep.json")).unwrap();
    (dirs[0].clone(), serde_json::from_str(&json).unwrap())
}

/// Which of `topics` the shared cluster's metadata still lists.
async fn left_on_cluster(topics: &[String]) -> Vec<String> {
    use kafka_harness::Cluster;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let settings = common::shared_cluster().await.client_config();
    let consumer: BaseConsumer = common::config(&settings, &[]).create().unwrap();
    let metadata = consumer
        .fetch_metadata(None, std::time::Duration::from_secs(10))
        .unwrap();
    let listed: Vec<&str> = metadata.topics().iter().map(|t| t.name()).collect();
    topics
        .iter()
        .filter(|t| listed.contains(&t.as_str()))
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_ladder_runs_each_rate_and_writes_its_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "ladder",
        &light("mode = \"ladder\"\nrates = [\"200/s\", \"600/s\"]\nwarmup = \"1s\""),
    );
    let out = dir.path().join("out");
    let o = sweep(&file, &out, &[]).await;
    assert_exit(&o, 0);
    let (folder, result) = swept(&out);
    let steps = result["steps"].as_array().unwrap();
    // The first step warms the cluster at the first rate and is not counted.
    assert_eq!(steps.len(), 3, "{result}");
    assert_eq!(steps[0]["warmup"], true, "{result}");
    assert_eq!(steps[0]["offered"], 200.0, "{result}");
    for (step, offered) in steps[1..].iter().zip([200.0, 600.0]) {
        assert_eq!(step["warmup"], false, "{step}");
        assert_eq!(step["restarted"], serde_json::json!([]), "{step}");
        assert_eq!(step["offered"], offered);
        let achieved = step["achieved"].as_f64().unwrap();
        assert!(
            achieved > 0.8 * offered && achieved < 1.2 * offered,
            "{step}"
        );
        assert_eq!(step["verdict"], "pass", "{step}");
        let run = folder.join(step["run"].as_str().unwrap());
        assert!(run.join("result.json").is_file() && run.join("report.html").is_file());
    }
    assert_eq!(result["answer"]["highest_passing"], 600.0);
    // Each step's topics are deleted once its report is written.
    let steps_topics: Vec<String> = steps
        .iter()
        .flat_map(|step| {
            let run = folder
                .join(step["run"].as_str().unwrap())
                .join("result.json");
            let run: Value = serde_json::from_str(&std::fs::read_to_string(run).unwrap()).unwrap();
            let topics = run["topics"].as_array().unwrap().clone();
            topics.into_iter().map(|t| t.as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(steps_topics.len(), 3, "{steps_topics:?}");
    let left = left_on_cluster(&steps_topics).await;
    assert!(
        left.is_empty(),
        "step topics still on the cluster: {left:?}"
    );
    let page = std::fs::read_to_string(folder.join("sweep.html")).unwrap();
    assert_eq!(page.matches("<polyline class=\"series\"").count(), 4);
    assert!(
        stdout(&o).contains("answer: every rate tried passed"),
        "{}",
        stdout(&o)
    );
    // A gate above what was tried fails, naming the answer.
    let o = sweep(&file, &dir.path().join("gate"), &["--min-rate", "5000/s"]).await;
    assert_exit(&o, 1);
    assert!(
        stderr(&o).contains("below --min-rate 5000/s"),
        "{}",
        stderr(&o)
    );
}

#[tokio::test]
async fn a_search_from_the_command_line_brackets_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    // --from and --to replace the scenario's ladder with a search: `from` first, then `to`.
    let file = scenario(
        dir.path(),
        "search",
        &light("mode = \"ladder\"\nrates = [\"200/s\"]"),
    );
    let out = dir.path().join("out");
    let o = sweep(
        &file,
        &out,
        &[
            "--from",
            "200/s",
            "--to",
            "400/s",
            "--precision",
            "0.5",
            "--step",
            "2s",
        ],
    )
    .await;
    assert_exit(&o, 0);
    let (_, result) = swept(&out);
    assert!(
        result["mode"]["search"]["from"] == 200.0,
        "{}",
        result["mode"]
    );
    let offered: Vec<f64> = result["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["warmup"] == false)
        .map(|s| s["offered"].as_f64().unwrap())
        .collect();
    assert_eq!(offered.first(), Some(&200.0));
    assert!(offered.contains(&400.0), "{offered:?}");
}

#[test]
fn a_scenario_without_a_sweep_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = light("mode = \"ladder\"\nrates = [\"200/s\"]");
    let text = &text[..text.find("[sweep]").unwrap()];
    let file = scenario(dir.path(), "none", text);
    let o = harness(&["sweep", file.to_str().unwrap(), "--cluster", "mock"]);
    assert_exit(&o, 2);
    assert!(
        stderr(&o).contains("has no [sweep] table"),
        "{}",
        stderr(&o)
    );
}

/// A mock-cluster scenario (3 brokers) with `extra` TOML after its producer and `sweep` as
/// its `[sweep]`.
fn on_mock(extra: &str, sweep: &str) -> String {
    format!(
        r#"name = "mock-sweep"
seed = 4
duration = "2s"
drain_timeout = "20s"

[cluster]
brokers = 3

[[topics]]
name = "t"
partitions = 3
replication_factor = 3

[[producers]]
name = "writer"
driver = "rdkafka"
topic = "t"
template = "raw"
size = "200B"
keys = {{ count = 20, distribution = "uniform" }}
rate = "200/s"

[producers.client]
acks = "all"
"message.timeout.ms" = "3000"

{extra}

[sweep]
{sweep}
"#
    )
}

/// `kafka-harness sweep FILE --cluster mock`, writing under `out`.
fn sweep_on_mock(file: &Path, out: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec![
        "sweep",
        file.to_str().unwrap(),
        "--cluster",
        "mock",
        "--out",
        out.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    harness(&all)
}

#[test]
fn a_grid_sweeps_each_point_and_answers_for_each() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "grid",
        &on_mock(
            "",
            "mode = \"ladder\"\nrates = [\"200/s\", \"400/s\"]\n\
             [sweep.grid]\nsize = [\"100B\", \"1KiB\"]\nclient = { \"linger.ms\" = [\"0\", \"5\"] }",
        ),
    );
    let out = dir.path().join("out");
    let o = sweep_on_mock(&file, &out, &[]);
    assert_exit(&o, 0);
    let (folder, result) = swept(&out);
    let grid = result["grid"].as_array().unwrap();
    let labels: Vec<&str> = grid.iter().map(|g| g["label"].as_str().unwrap()).collect();
    assert_eq!(
        labels,
        [
            "size=100B linger.ms=0",
            "size=100B linger.ms=5",
            "size=1024B linger.ms=0",
            "size=1024B linger.ms=5"
        ]
    );
    let steps = result["steps"].as_array().unwrap();
    // One warm-up, then both rates at each of the 4 points, in order.
    assert_eq!(steps.len(), 1 + 4 * 2, "{result}");
    let points: Vec<u64> = steps.iter().map(|s| s["point"].as_u64().unwrap()).collect();
    assert_eq!(points, [0, 0, 0, 1, 1, 2, 2, 3, 3]);
    for g in grid {
        assert_eq!(g["answer"]["highest_passing"], 400.0, "{g}");
    }
    // Each step ran with its point's value size: its own result says so.
    let step = &steps[5];
    let run = folder
        .join(step["run"].as_str().unwrap())
        .join("result.json");
    let run: Value = serde_json::from_str(&std::fs::read_to_string(run).unwrap()).unwrap();
    let text = run.to_string();
    assert!(text.contains("\"size\":1024"), "{text}");
    let page = std::fs::read_to_string(folder.join("sweep.html")).unwrap();
    assert_eq!(page.matches("<svg class=\"chart\"").count(), 4);
    assert!(page.contains("id=\"capacity\""));
    assert!(stdout(&o).contains("capacity:"), "{}", stdout(&o));
}

#[test]
fn a_node_a_step_left_down_is_restarted_before_the_next() {
    let dir = tempfile::tempdir().unwrap();
    // The fault kills node 2 and never restarts it: the step breaks the cluster.
    let file = scenario(
        dir.path(),
        "broken",
        &on_mock(
            "[[faults]]\naction = \"kill\"\ntarget = 2\nat = \"200ms\"",
            "mode = \"ladder\"\nrates = [\"100/s\", \"200/s\"]",
        ),
    );
    let out = dir.path().join("out");
    let o = sweep_on_mock(&file, &out, &[]);
    let (_, result) = swept(&out);
    let steps = result["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3, "every step ran: {result}\n{}", stderr(&o));
    for step in steps {
        assert_eq!(
            step["restarted"],
            serde_json::json!(["node 2 (down)"]),
            "{step}"
        );
    }
}
