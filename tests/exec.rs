//! The exec driver through the binary, on the shared cluster (`--cluster external`): a
//! scenario of exec producers and consumers (`examples/exec_rdkafka.rs`) passes and says how
//! every process ended; planted bugs are caught (a send acknowledged and never sent, a
//! record sent twice, a consumer that commits before it processes and is crashed); a
//! command that is missing, a process that ends before it is ready and a line that breaks
//! the protocol end the run with exit 3 and say why; exec keys where they do not belong
//! are exit 2 with file:line:col; and a harness killed mid-run leaves no client behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::cli::{assert_exit, check, results, run_on_shared, scenario, stderr, stdout};
use common::{alive, children_of, wait_gone};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

/// The shared cluster's bootstrap servers (started on first use).
async fn bootstrap() -> String {
    kafka_harness::Cluster::bootstrap_servers(common::shared_cluster().await)
}

/// Runs `kafka-harness run FILE` on the shared cluster from `cwd`.
async fn run(file: &Path, out: &Path, cwd: &Path) -> Output {
    run_on_shared(file, out, Some(cwd)).await
}

/// The adapter's command line, as TOML.
fn adapter(args: &[&str]) -> String {
    let mut argv = vec![common::exec::adapter().to_string_lossy().into_owned()];
    argv.extend(args.iter().map(|a| a.to_string()));
    serde_json::to_string(&argv).unwrap()
}

/// A scenario on one topic of 2 partitions: `producer` and `consumers` are whole tables.
fn text(name: &str, load: &str, producer: &str, consumers: &str, extra: &str) -> String {
    format!(
        r#"name = "{name}"
seed = 3
{load}
drain_timeout = "60s"

[[topics]]
name = "t"
partitions = 2

{producer}
{consumers}
{extra}
"#
    )
}

fn exec_producer(command: &str, instances: u32, rate: &str) -> String {
    format!(
        r#"[[producers]]
name = "writer"
driver = "exec"
command = {command}
instances = {instances}
topic = "t"
template = "webhook"
size = "400B"
keys = {{ count = 40, distribution = "uniform" }}
rate = "{rate}"
"#
    )
}

const RDKAFKA_PRODUCER: &str = r#"[[producers]]
name = "writer"
driver = "rdkafka"
topic = "t"
template = "webhook"
size = "400B"
keys = { count = 40, distribution = "uniform" }
rate = "60/s"
"#;

fn exec_consumer(name: &str, group: &str, command: &str, instances: u32) -> String {
    format!(
        r#"[[consumers]]
name = "{name}"
driver = "exec"
command = {command}
instances = {instances}
topic = "t"
group = "{group}"

[consumers.client]
"session.timeout.ms" = "6000"
"#
    )
}

/// The only run's result under `out`.
#[track_caller]
fn result(out: &Path) -> Value {
    let mut all = results(out);
    assert_eq!(all.len(), 1, "one result expected under {}", out.display());
    all.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_producers_and_consumers_pass_and_every_process_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    // The adapter where the scenario names it: `bin/exec_rdkafka`, relative to the
    // scenario's folder, wherever the harness runs from.
    std::fs::create_dir(dir.path().join("bin")).unwrap();
    std::os::unix::fs::symlink(common::exec::adapter(), dir.path().join("bin/exec_rdkafka"))
        .unwrap();
    let relative = r#"["bin/exec_rdkafka"]"#;
    let file = scenario(
        dir.path(),
        "exec-pass",
        &text(
            "exec-pass",
            "messages = 1200",
            &exec_producer(relative, 2, "400/s"),
            &[
                exec_consumer("workers", "g", relative, 2),
                // Another group, reporting records_consumed summaries without stamps.
                exec_consumer(
                    "auditors",
                    "audit",
                    r#"["bin/exec_rdkafka", "--no-stamps"]"#,
                    1,
                ),
            ]
            .concat(),
            "",
        ),
    );
    let out = dir.path().join("out");
    let output = run(&file, &out, Path::new("/")).await;
    assert_exit(&output, 0);
    let r = result(&out);
    assert_eq!(r["counts"]["acked"], 1200, "{}", r["counts"]);
    // Both groups read everything: the stamped one and the one the Log names.
    assert_eq!(r["counts"]["consumed"], 2400, "{}", r["counts"]);
    for name in [
        "lost_write",
        "duplicate_write",
        "order_violation",
        "lost_delivery",
        "phantom",
        "nonmonotonic_poll",
    ] {
        assert_eq!(check(&r, name)["verdict"], "pass", "{}", check(&r, name));
    }
    assert!(r["latency_us"]["e2e"]["count"].as_u64().unwrap() >= 1200);
    let processes = r["processes"].as_array().unwrap();
    assert_eq!(processes.len(), 5, "{processes:#?}");
    let run_dir = out.join(r["run_id"].as_str().unwrap());
    for p in processes {
        assert_eq!(p["how"], "exit 0", "{p}");
        assert_eq!(p["note"], "shutdown", "{p}");
        assert!(p["client"].as_str().unwrap().contains("librdkafka"), "{p}");
        assert!(p["ended_at_s"].as_f64().unwrap() >= p["started_at_s"].as_f64().unwrap());
        let log = p["log"].as_str().unwrap();
        assert_eq!(
            log,
            format!(
                "clients/{}-{}.log",
                p["table"].as_str().unwrap(),
                p["instance"]
            )
        );
        let text = std::fs::read_to_string(run_dir.join(log)).unwrap();
        assert!(text.contains("ended: exit 0"), "{log}:\n{text}");
        // Settings travel on stdin only: never in a log.
        assert!(!text.contains("bootstrap"), "{log}:\n{text}");
    }
    let roles: Vec<&str> = processes
        .iter()
        .map(|p| p["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles.iter().filter(|r| **r == "producer").count(), 2);
    assert_eq!(
        r["clients"]["exec writer"]
            .as_str()
            .map(|c| c.contains("librdkafka")),
        Some(true)
    );
    let html = std::fs::read_to_string(run_dir.join("report.html")).unwrap();
    assert!(html.contains("Client processes"));
    // minijinja escapes `/` in attributes and text alike.
    assert!(
        html.contains(r#"<a href="clients&#x2f;writer-0.log">clients&#x2f;writer-0.log</a>"#),
        "no link to the log"
    );
    assert!(stdout(&output).contains("exec processes"));
}

/// Runs a scenario whose exec process plants a bug: exit 1, the anomaly named and failed.
async fn caught(name: &str, text: &str, anomaly: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), name, text);
    let out = dir.path().join("out");
    let output = run(&file, &out, dir.path()).await;
    assert_exit(&output, 1);
    let r = result(&out);
    let c = check(&r, anomaly);
    assert_eq!(c["verdict"], "fail", "{c}");
    assert!(c["count"].as_u64().unwrap() >= 1, "{c}");
    assert!(
        stdout(&output)
            .lines()
            .any(|l| l.contains(anomaly) && l.contains("fail")),
        "{}",
        stdout(&output)
    );
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_acknowledged_and_never_sent_is_a_lost_write() {
    let r = caught(
        "exec-lost-write",
        &text(
            "exec-lost-write",
            "messages = 600",
            &exec_producer(&adapter(&["--misbehave", "ack-without-send"]), 1, "300/s"),
            "",
            "",
        ),
        "lost_write",
    )
    .await;
    // Every 50th send: 12 of 600.
    assert_eq!(check(&r, "lost_write")["count"], 12);
    assert_eq!(check(&r, "duplicate_write")["verdict"], "pass");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_sent_twice_is_a_duplicate_write() {
    let r = caught(
        "exec-duplicate-write",
        &text(
            "exec-duplicate-write",
            "messages = 600",
            &exec_producer(&adapter(&["--misbehave", "send-twice"]), 1, "300/s"),
            "",
            "",
        ),
        "duplicate_write",
    )
    .await;
    assert_eq!(check(&r, "duplicate_write")["count"], 12);
    assert_eq!(check(&r, "lost_write")["verdict"], "pass");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_commits_before_processing_and_crashes_loses_a_delivery() {
    let r = caught(
        "exec-lost-delivery",
        &text(
            "exec-lost-delivery",
            "duration = \"8s\"",
            RDKAFKA_PRODUCER,
            &exec_consumer(
                "workers",
                "g",
                &adapter(&["--misbehave", "commit-first"]),
                2,
            ),
            "[[faults]]\naction = \"crash_consumer\"\nconsumer = \"workers\"\nat = \"3s\"\n",
        ),
        "lost_delivery",
    )
    .await;
    // The crashed member's record in hand: committed, never processed, read by no one.
    assert_eq!(
        check(&r, "lost_delivery")["count"],
        1,
        "{}",
        check(&r, "lost_delivery")
    );
    let crashed: Vec<&Value> = r["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["how"] == "signal 9")
        .collect();
    assert_eq!(crashed.len(), 1, "{:#?}", r["processes"]);
    assert!(
        crashed[0]["note"]
            .as_str()
            .unwrap()
            .starts_with("crash_consumer"),
        "{}",
        crashed[0]
    );
    assert_eq!(r["faults"][0]["action"], "crash_consumer");
    assert_eq!(r["faults"][0]["outcome"], "ok");
    // The survivor took the crashed member's partition over and read the rest.
    assert_eq!(r["drained"], true);
}

/// Runs a scenario that must end with exit 3 before any result; returns its stderr.
async fn fails_to_run(name: &str, text: &str) -> (String, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), name, text);
    let out = dir.path().join("out");
    let output = run(&file, &out, dir.path()).await;
    assert_exit(&output, 3);
    assert!(results(&out).is_empty(), "a failed run wrote a result");
    (stderr(&output), dir.keep())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_command_is_exit_3_naming_it() {
    let (err, dir) = fails_to_run(
        "exec-missing",
        &text(
            "exec-missing",
            "messages = 100",
            &exec_producer(r#"["./adapters/no-such-adapter", "--fast"]"#, 1, "100/s"),
            "",
            "",
        ),
    )
    .await;
    let command = dir.join("adapters/no-such-adapter");
    assert!(
        err.contains(&format!(
            "`{} --fast` could not be started",
            command.display()
        )),
        "{err}"
    );
    assert!(err.contains("No such file or directory"), "{err}");
    assert!(err.contains("exec producer `writer` instance 0"), "{err}");
    // A consumer's, too (its start is a task of the run).
    let (err, _) = fails_to_run(
        "exec-missing-consumer",
        &text(
            "exec-missing-consumer",
            "messages = 100",
            RDKAFKA_PRODUCER,
            &exec_consumer("workers", "g", r#"["no-such-adapter-on-the-path"]"#, 1),
            "",
        ),
    )
    .await;
    assert!(
        err.contains(
            "exec consumer `workers` instance 0: `no-such-adapter-on-the-path` could not be started"
        ),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_that_ends_before_it_is_ready_is_exit_3_with_its_stderr() {
    let script = r#"["sh", "-c", "echo 'connecting to the cluster' >&2; echo 'fatal: SASL handshake failed' >&2; exit 4"]"#;
    let (err, dir) = fails_to_run(
        "exec-early",
        &text(
            "exec-early",
            "messages = 100",
            RDKAFKA_PRODUCER,
            &exec_consumer("workers", "g", script, 1),
            "",
        ),
    )
    .await;
    assert!(
        err.contains("ended (exit 4) before it answered startup_complete"),
        "{err}"
    );
    assert!(
        err.contains("its last stderr lines:\n    connecting to the cluster\n    fatal: SASL handshake failed"),
        "{err}"
    );
    let log = err
        .lines()
        .find_map(|l| l.trim().strip_prefix("its log: "))
        .unwrap_or_else(|| panic!("no log named: {err}"));
    let log = dir.join(log);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("fatal: SASL handshake failed"), "{text}");
    assert!(log.ends_with("clients/workers-0.log"), "{}", log.display());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_that_breaks_the_protocol_is_exit_3_naming_it() {
    // Ready, then an answer whose id is a string.
    let script = r#"["sh", "-c", "read configure; echo '{\"name\":\"startup_complete\"}'; read send; echo 'a log line'; echo '{\"name\":\"producer_send_success\",\"id\":\"0\",\"partition\":0,\"offset\":0}'; sleep 67"]"#;
    let (err, dir) = fails_to_run(
        "exec-protocol",
        &text(
            "exec-protocol",
            "messages = 100",
            &exec_producer(script, 1, "50/s"),
            "",
            "",
        ),
    )
    .await;
    for part in [
        "exec producer `writer` instance 0: line 3 of its stdout breaks the protocol",
        "producer_send_success: `id` must be an integer",
        r#"the line: {"name":"producer_send_success","id":"0","partition":0,"offset":0}"#,
        "clients/writer-0.log",
    ] {
        assert!(err.contains(part), "{part:?} is not in:\n{err}");
    }
    let _ = std::fs::remove_dir_all(dir);
    // The script's own child (`sleep 67`) was killed with its process group.
    let left = processes_with("sleep\u{0}67");
    assert!(left.is_empty(), "{left:?} outlived the run");

    // A consumer's, found by its own task: an assignment of a topic it was not given.
    let script = r#"["sh", "-c", "read configure; echo '{\"name\":\"startup_complete\"}'; echo '{\"name\":\"partitions_assigned\",\"partitions\":[{\"topic\":\"t\",\"partition\":0}]}'; sleep 68"]"#;
    let (err, dir) = fails_to_run(
        "exec-protocol-consumer",
        &text(
            "exec-protocol-consumer",
            "messages = 100",
            RDKAFKA_PRODUCER,
            &exec_consumer("workers", "g", script, 1),
            "",
        ),
    )
    .await;
    for part in [
        "exec consumer `workers` instance 0: line 2 of its stdout breaks the protocol",
        "topic `t` is not the topic this consumer was given (`t-",
        "clients/workers-0.log",
    ] {
        assert!(err.contains(part), "{part:?} is not in:\n{err}");
    }
    let _ = std::fs::remove_dir_all(dir);
    let left = processes_with("sleep\u{0}68");
    assert!(left.is_empty(), "{left:?} outlived the run");
}

/// The 1-based line and column (in characters) of `needle` in `text`.
fn position(text: &str, needle: &str) -> (usize, usize) {
    let before = &text[..text.find(needle).unwrap()];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

/// Pids of live processes whose command line holds `part`.
fn processes_with(part: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|&pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(part))
                && alive(pid)
        })
        .collect()
}

#[test]
fn exec_keys_where_they_do_not_belong_are_exit_2_with_their_place() {
    let dir = tempfile::tempdir().unwrap();
    let transactional = text(
        "exec-misuse",
        "messages = 100",
        &exec_producer(r#"["x"]"#, 1, "100/s").replace(
            "rate = \"100/s\"\n",
            "rate = \"100/s\"\ntransactions = { every = 10 }\n",
        ),
        "",
        "",
    );
    let commit = text(
        "exec-misuse",
        "messages = 100",
        RDKAFKA_PRODUCER,
        &exec_consumer("workers", "g", r#"["x"]"#, 1).replace(
            "group = \"g\"\n",
            "group = \"g\"\ncommit = \"after_processing\"\n",
        ),
        "",
    );
    let command_on_rdkafka = text(
        "exec-misuse",
        "messages = 100",
        &RDKAFKA_PRODUCER.replace(
            "driver = \"rdkafka\"\n",
            "driver = \"rdkafka\"\ncommand = [\"x\"]\n",
        ),
        "",
        "",
    );
    for (name, text, at, rule) in [
        (
            "transactional",
            transactional,
            "{ every = 10 }",
            "cannot be transactional",
        ),
        (
            "commit",
            commit,
            "\"after_processing\"",
            "commits as its own code does",
        ),
        (
            "command",
            command_on_rdkafka,
            "[\"x\"]",
            "only an exec table",
        ),
    ] {
        let file = scenario(dir.path(), name, &text);
        for command in ["validate", "run"] {
            let output = common::cli::harness(&[command, file.to_str().unwrap()]);
            assert_exit(&output, 2);
            let (line, column) = position(&text, at);
            let place = format!("{}:{line}:{column}:", file.display());
            let err = stderr(&output);
            assert!(
                err.contains(&place) && err.contains(rule),
                "{place} {rule}: {err}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_harness_killed_mid_run_leaves_no_client_behind() {
    let bootstrap = bootstrap().await;
    let dir = tempfile::tempdir().unwrap();
    let command = adapter(&[]);
    let file = scenario(
        dir.path(),
        "exec-long",
        &text(
            "exec-long",
            "duration = \"120s\"",
            &exec_producer(&command, 1, "100/s"),
            &exec_consumer("workers", "g", &command, 2),
            "",
        ),
    );
    for signal in [Signal::SIGKILL, Signal::SIGTERM] {
        let mut harness = Command::new(env!("CARGO_BIN_EXE_kafka-harness"))
            .arg("run")
            .arg(&file)
            .args(["--cluster", "external", "--bootstrap", &bootstrap, "--out"])
            .arg(dir.path().join("out"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Its three clients: two consumers, then the producer.
        let adapter_name = "exec_rdkafka";
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let clients = loop {
            let clients: Vec<u32> = children_of(harness.id())
                .into_iter()
                .filter(|&pid| {
                    std::fs::read_to_string(format!("/proc/{pid}/comm"))
                        .is_ok_and(|c| c.trim() == adapter_name)
                })
                .collect();
            if clients.len() == 3 {
                break clients;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{signal}: the clients did not start: {clients:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        // Each in a process group of its own, not the harness's.
        for &pid in &clients {
            assert_eq!(
                nix::unistd::getpgid(Some(Pid::from_raw(pid as i32)))
                    .unwrap()
                    .as_raw() as u32,
                pid
            );
        }
        kill(Pid::from_raw(harness.id() as i32), signal).unwrap();
        harness.wait().unwrap();
        let left = wait_gone(&clients, Duration::from_secs(5));
        assert!(
            left.is_empty(),
            "{signal}: clients {left:?} outlived the harness"
        );
    }
}
