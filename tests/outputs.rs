//! What a run writes, and where: secrets never reach an output, a run never writes outside
//! its `--out` folder whatever its scenario is called, and an output folder that cannot be
//! written is refused before any broker starts. Runs go through the binary on the shared
//! cluster.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::cli::{assert_exit, harness, results, run_on_shared, scenario, stderr, stdout};

/// Secret values the scenario below hands its clients.
const SECRETS: [&str; 3] = [
    "hunter2-sasl-Q8v",
    "hunter2-keypass-Z3k",
    "hunter2-consumer-M1x",
];

/// A short run whose producer and consumer settings hold secrets (ignored by librdkafka on
/// a plaintext cluster, as a team's SASL settings pasted into a scenario would be).
fn with_secrets(name: &str) -> String {
    format!(
        r#"name = "{name}"
seed = 3
messages = 200
drain_timeout = "30s"

[[topics]]
name = "t"
partitions = 2

[[producers]]
name = "writer"
driver = "rdkafka"
topic = "t"
template = "audit"
size = "1KiB"
keys = {{ count = 20, distribution = "uniform" }}
rate = "400/s"

[producers.client]
acks = "all"
"sasl.username" = "alice"
"sasl.password" = "{}"
"ssl.key.password" = "{}"

[[consumers]]
name = "readers"
driver = "rdkafka"
topic = "t"
group = "readers"

[consumers.client]
"sasl.password" = "{}"

[checks]
anomalies = ["lost_write", "lost_delivery"]
duplicate_delivery = "allowed"
"#,
        SECRETS[0], SECRETS[1], SECRETS[2]
    )
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            all.extend(files(&path));
        } else {
            all.push(path);
        }
    }
    all
}

#[tokio::test]
async fn secrets_in_client_settings_reach_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "secrets", &with_secrets("secrets"));
    let out = dir.path().join("out");
    let o = run_on_shared(&file, &out, None).await;
    assert_exit(&o, 0);
    let written = files(&out);
    for name in ["result.json", "report.html", "junit.xml"] {
        assert!(
            written.iter().any(|f| f.ends_with(name)),
            "{name} not written: {written:?}"
        );
    }
    for secret in SECRETS {
        for f in &written {
            let bytes = std::fs::read(f).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(secret),
                "{secret} is in {}",
                f.display()
            );
        }
        assert!(!stdout(&o).contains(secret) && !stderr(&o).contains(secret));
    }
    // The settings are still shown, their values redacted.
    let result = &results(&out)[0];
    let client = &result["plan"]["producers"][0]["client"];
    assert_eq!(client["sasl.username"], "alice");
    assert_eq!(client["sasl.password"], "[redacted]");
    assert_eq!(client["ssl.key.password"], "[redacted]");
    assert_eq!(
        result["plan"]["consumers"][0]["client"]["sasl.password"],
        "[redacted]"
    );
}

#[tokio::test]
async fn a_client_library_quoting_a_secret_in_its_error_is_redacted() {
    // librdkafka refuses Java's JAAS line and quotes it in the error: exit 2, at once,
    // the setting named and its value hidden.
    let dir = tempfile::tempdir().unwrap();
    let secret = "org.apache.kafka.common.security.plain.PlainLoginModule required password=\\\"hunter2-jaas-M1x\\\";";
    let text = with_secrets("jaas").replace(
        &format!("\"sasl.password\" = \"{}\"", SECRETS[2]),
        &format!("\"sasl.jaas.config\" = \"{secret}\""),
    );
    let file = scenario(dir.path(), "jaas", &text);
    let out = dir.path().join("out");
    let o = run_on_shared(&file, &out, None).await;
    assert_exit(&o, 2);
    let e = stderr(&o);
    assert!(
        e.contains("sasl.jaas.config") && e.contains("[redacted]"),
        "{e}"
    );
    assert!(
        !e.contains("hunter2-jaas-M1x") && !stdout(&o).contains("hunter2-jaas-M1x"),
        "{e}"
    );
    for f in files(&out) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        assert!(!text.contains("hunter2-jaas-M1x"), "in {}", f.display());
    }
}

#[tokio::test]
async fn a_scenario_name_never_takes_a_run_outside_its_out_folder() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("a").join("b");
    std::fs::create_dir_all(&base).unwrap();
    for (i, name) in [
        "../../escaped",
        "flood <script>alert(1)</script>/x",
        "tab\\tname\\u0007",
    ]
    .into_iter()
    .enumerate()
    {
        let text = with_secrets(name).replace("messages = 200", "messages = 20");
        let file = scenario(&base, &format!("s{i}"), &text);
        let out = base.join(format!("out{i}"));
        let o = run_on_shared(&file, &out, None).await;
        assert_exit(&o, 0);
        // One run folder, directly in `out`; nothing else anywhere.
        let entries: Vec<PathBuf> = std::fs::read_dir(&out)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert_eq!(entries.len(), 1, "{name:?}: {entries:?}");
        assert!(entries[0].join("result.json").is_file(), "{name:?}");
        let result = &results(&out)[0];
        let shown = serde_json::to_string(&result["scenario"]).unwrap();
        let written: String = serde_json::from_str(&shown).unwrap();
        assert!(
            written.starts_with(&name[..3]),
            "{name:?} shown as {written:?}"
        );
        let html = std::fs::read_to_string(entries[0].join("report.html")).unwrap();
        assert!(
            !html.contains("<script>alert(1)"),
            "{name:?}: markup not escaped"
        );
    }
    let mut everything: Vec<PathBuf> = files(dir.path())
        .into_iter()
        .filter(|f| !f.starts_with(&base))
        .collect();
    everything.sort();
    assert!(
        everything.is_empty(),
        "written outside --out: {everything:?}"
    );
}

#[test]
fn an_output_folder_that_cannot_be_written_is_refused_before_any_broker_starts() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "s", &with_secrets("s"));
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "in the way").unwrap();
    let out = blocker.join("reports");
    // The embedded backend: had it started a broker, the output would say so.
    let o = harness(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_exit(&o, 2);
    let e = stderr(&o);
    assert!(
        e.contains(out.to_str().unwrap()) && e.contains("--out"),
        "{e}"
    );
    assert!(!e.contains("starting") && !e.contains("running"), "{e}");
}

/// `kafka-harness run FILE` on the shared cluster with `--client-config CONFIG`.
async fn run_with_client_config(file: &Path, config: &Path, out: &Path) -> std::process::Output {
    let config = config.display().to_string();
    common::cli::on_shared("run", file, out, &["--client-config", &config]).await
}

#[tokio::test]
async fn client_config_reaches_every_client_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let text = with_secrets("client-config")
        .replace(&format!("\"sasl.password\" = \"{}\"\n", SECRETS[0]), "")
        .replace(&format!("\"ssl.key.password\" = \"{}\"\n", SECRETS[1]), "")
        .replace(&format!("\"sasl.password\" = \"{}\"", SECRETS[2]), "");
    let file = scenario(dir.path(), "cc", &text);
    let secret = "file-secret-7Hq";
    let config = dir.path().join("client.properties");
    std::fs::write(
        &config,
        format!("# credentials, outside the scenario\nclient.id=kh-client-config\nsasl.password={secret}\n"),
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = run_with_client_config(&file, &config, &out).await;
    assert_exit(&o, 0);
    for f in files(&out) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        assert!(!text.contains(secret), "in {}", f.display());
    }
    assert!(!stderr(&o).contains(secret) && !stdout(&o).contains(secret));

    // The file is given to the clients: TLS against this plaintext cluster cannot connect.
    std::fs::write(&config, "security.protocol=SSL\n").unwrap();
    let o = run_with_client_config(&file, &config, &dir.path().join("out-ssl")).await;
    assert_exit(&o, 3);

    // A file that is not there, or not a properties file, is bad input naming it.
    let missing = dir.path().join("missing.properties");
    let o = run_with_client_config(&file, &missing, &out).await;
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("missing.properties"), "{}", stderr(&o));
    std::fs::write(&config, "ok=1\nbroken=\\u12\n").unwrap();
    let o = run_with_client_config(&file, &config, &out).await;
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("line 2"), "{}", stderr(&o));
}

/// A minute of load on an embedded cluster the harness starts itself (its brokers are the
/// harness's children), with a consumer group.
const LONG_RUN: &str = r#"name = "long"
seed = 4
duration = "60s"
drain_timeout = "60s"

[[topics]]
name = "t"
partitions = 3

[[producers]]
name = "writer"
driver = "rdkafka"
topic = "t"
template = "audit"
size = "1KiB"
keys = { count = 100, distribution = "uniform" }
rate = "300/s"

[producers.client]
acks = "all"

[[consumers]]
name = "readers"
driver = "rdkafka"
topic = "t"
group = "readers"

[checks]
anomalies = ["lost_write", "duplicate_write", "lost_delivery"]
duplicate_delivery = "allowed"
"#;

/// Starts `run LONG_RUN` on its own embedded cluster, sends `signals` to the harness alone
/// (as a CI runner does), the first 10 s after it said it was running, the others 1 s
/// apart; returns its output, the run folder's result (if any) and the broker processes it
/// had started.
fn interrupt_long_run(
    signals: &[nix::sys::signal::Signal],
) -> (std::process::Output, Option<serde_json::Value>, Vec<u32>) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "long", LONG_RUN);
    let out = dir.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafka-harness"))
        .args([
            "run",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .env_remove("KAFKA_HOME")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Wait for "running ..." on stderr (the brokers are up), keeping what it says.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "ended early: {said}"
        );
        said.push_str(&line);
        if line.contains("running long") {
            break;
        }
    }
    let rest = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let brokers = common::children_of(pid);
    assert!(!brokers.is_empty(), "no broker processes under the harness");
    std::thread::sleep(Duration::from_secs(10));
    for (i, &signal) in signals.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_secs(1));
        }
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).unwrap();
    }
    let mut output = child.wait_with_output().unwrap();
    said.push_str(&rest.join().unwrap());
    output.stderr = said.into_bytes();
    let result = out
        .exists()
        .then(|| results(&out))
        .and_then(|r| r.into_iter().next());
    (output, result, brokers)
}

#[test]
fn a_signal_stops_the_run_and_keeps_its_evidence() {
    for signal in [
        nix::sys::signal::Signal::SIGTERM,
        nix::sys::signal::Signal::SIGINT,
    ] {
        let (o, result, brokers) = interrupt_long_run(&[signal]);
        assert_exit(&o, 4);
        let result = result.unwrap_or_else(|| panic!("no result.json\n{}", stderr(&o)));
        assert_eq!(
            result["interrupted"]["signal"],
            signal.as_str(),
            "{}",
            result["interrupted"]
        );
        let at = result["interrupted"]["at_s"].as_f64().unwrap();
        assert!((5.0..30.0).contains(&at), "interrupted at {at} s");
        assert_eq!(result["verdict"], "unknown");
        // The checks ran on what was sent before the signal: a few thousand, not a minute's.
        let sent = result["counts"]["attempted"].as_u64().unwrap();
        assert!((300..12_000).contains(&sent), "sent {sent}");
        assert_eq!(common::cli::check(&result, "lost_write")["verdict"], "pass");
        assert!(stdout(&o).contains("INTERRUPTED by"), "{}", stdout(&o));
        assert!(
            common::wait_gone(&brokers, Duration::from_secs(10)).is_empty(),
            "brokers left running after {signal}"
        );
    }
}

#[test]
fn a_second_signal_stops_at_once() {
    use nix::sys::signal::Signal;
    let (o, result, brokers) = interrupt_long_run(&[Signal::SIGINT, Signal::SIGINT]);
    assert_exit(&o, 130);
    assert!(
        stderr(&o).contains("SIGINT again: stopping at once"),
        "{}",
        stderr(&o)
    );
    assert!(result.is_none(), "a run stopped at once writes no result");
    assert!(
        common::wait_gone(&brokers, Duration::from_secs(10)).is_empty(),
        "brokers left running"
    );
}
