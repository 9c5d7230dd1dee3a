//! Bad input and broken infrastructure get a paragraph saying what happened and what to do,
//! and the contract's exit code (2 bad input, 3 infrastructure); never a panic.
//!
//! Each case runs the real binary with its own environment, so cases cannot disturb each
//! other or the user's cache.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use kafka_harness::{ClusterError, EmbeddedCluster};

fn harness<S: AsRef<std::ffi::OsStr>>(args: &[S], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kafka-harness"));
    command.args(args).env_remove("KAFKA_HOME");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

/// Checks the exit code and that stderr says each of `needles`, and that nothing panicked.
fn expect(output: &Output, code: i32, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("bootstrap="),
        "a failed start printed a bootstrap line"
    );
}

/// `cluster up` followed by `extra`.
fn up<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    [&["cluster", "up"], extra].concat()
}

#[test]
fn usage_errors_exit_2() {
    expect(
        &harness(&["cluster", "up", "--no-such-flag"], &[]),
        2,
        &["--no-such-flag"],
    );
    expect(&harness(&up(&["--brokers", "9"]), &[]), 2, &["1 to 5"]);
    expect(
        &harness(&up(&["--kafka-version", "latest"]), &[]),
        2,
        &["`latest`", "3.9.1"],
    );
    expect(
        &harness(&up(&["--broker-config", "node.id=3"]), &[]),
        2,
        &["node.id", "cannot be overridden"],
    );
    expect(
        &harness(&up(&["--broker-config", "novalue"]), &[]),
        2,
        &["KEY=VALUE"],
    );
}

#[test]
fn missing_java_exits_3_and_says_how_to_get_it() {
    let output = harness(&up(&[]), &[("JAVA_HOME", "/nonexistent/jdk")]);
    expect(
        &output,
        3,
        &["no Java runtime", "/nonexistent/jdk/bin/java", "JAVA_HOME"],
    );
}

#[test]
fn old_java_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let java = fake_tool(
        dir.path(),
        "java",
        "echo 'openjdk version \"11.0.2\" 2019-01-15' >&2",
    );
    let home = java.parent().unwrap().parent().unwrap();
    let output = harness(&up(&[]), &[("JAVA_HOME", home.to_str().unwrap())]);
    expect(&output, 3, &["Java 11", "needs Java 17"]);
}

#[test]
fn no_maven_no_cache_no_kafka_home_exits_3() {
    let cache = tempfile::tempdir().unwrap();
    let output = harness(
        &up(&[]),
        &[
            ("KAFKA_HARNESS_CACHE", cache.path().to_str().unwrap()),
            ("KAFKA_HARNESS_MVN", "/nonexistent/mvn"),
        ],
    );
    expect(
        &output,
        3,
        &["Maven", "apt-get install maven", "KAFKA_HOME"],
    );
}

#[test]
fn unreachable_maven_central_exits_3_with_the_maven_log() {
    let cache = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    let mvn = fake_tool(
        bin.path(),
        "mvn",
        "echo '[ERROR] Failed to execute goal: Could not transfer artifact \
         org.apache.kafka:kafka_2.13:pom:4.4.0 from/to central: Unknown host \
         repo.maven.apache.org'; exit 1",
    );
    let output = harness(
        &up(&[]),
        &[
            ("KAFKA_HARNESS_CACHE", cache.path().to_str().unwrap()),
            ("KAFKA_HARNESS_MVN", mvn.to_str().unwrap()),
        ],
    );
    expect(
        &output,
        3,
        &["could not be reached", "Unknown host", "maven-4.4.0.log"],
    );
    // Nothing half-provisioned is left to be mistaken for a cache.
    assert!(!cache.path().join("kafka/4.4.0/.complete").exists());
}

#[test]
fn a_version_maven_central_does_not_have_exits_3() {
    let cache = tempfile::tempdir().unwrap();
    let output = harness(
        &up(&["--kafka-version", "4.99.0"]),
        &[("KAFKA_HARNESS_CACHE", cache.path().to_str().unwrap())],
    );
    expect(&output, 3, &["4.99.0", "Maven"]);
}

#[test]
fn an_invalid_kafka_home_exits_3() {
    let home = tempfile::tempdir().unwrap();
    let output = harness(&up(&[]), &[("KAFKA_HOME", home.path().to_str().unwrap())]);
    expect(&output, 3, &["KAFKA_HOME", "unpacked Kafka release"]);
}

#[test]
fn a_taken_port_exits_3_and_names_it() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let output = harness(&up(&["--base-port", &port]), &[]);
    expect(&output, 3, &[&format!("port {port}"), "already in use"]);
}

#[tokio::test]
async fn a_node_that_exits_during_start_up_shows_its_log() {
    let err = EmbeddedCluster::builder()
        .broker_config("num.io.threads", "not-a-number")
        .start()
        .await
        .unwrap_err();
    let ClusterError::NodeExited {
        node, log, tail, ..
    } = &err
    else {
        panic!("expected NodeExited, got {err}");
    };
    assert_eq!(*node, 1);
    assert!(
        log.exists(),
        "the log {} it points to is gone",
        log.display()
    );
    assert!(tail.contains("num.io.threads"), "tail:\n{tail}");
    let message = err.to_string();
    assert!(message.contains(&log.display().to_string()), "{message}");
    // The failed cluster's folder is kept for the user to read, and removed by the next.
    std::fs::remove_dir_all(log.parent().unwrap().parent().unwrap()).unwrap();
}

/// Writes an executable shell script `dir/bin/name` running `body`.
fn fake_tool(dir: &std::path::Path, name: &str, body: &str) -> std::path::PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let path = bin.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}
