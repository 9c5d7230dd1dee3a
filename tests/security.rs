//! Secured embedded clusters against real brokers: a client we did not write (Kafka's own
//! Java VerifiableProducer) round-trips through `cluster up --security sasl_ssl` with the
//! properties it prints; a wrong password and an untrusted CA are refused with a clear
//! error; the ACL scenarios refuse and grant as declared; a light audit flood passes on
//! SASL_SSL. Each test starts its own cluster (secured clusters are not shared).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::cli::{assert_exit, check, harness, results, scenario};
use kafka_harness::TopicSpec;
use kafka_harness::cluster::admin;
use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};

/// `cluster up`, interrupted (and so cleaned up) when the test ends, passed or not.
struct Up(std::process::Child);

impl Drop for Up {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        );
        let _ = self.0.wait();
    }
}

/// Reads a `key=value` properties file (no continuation lines: the harness writes none).
fn properties(path: &str) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Keeps every error librdkafka reports, so a refusal's reason can be asserted.
#[derive(Clone, Default)]
struct Errors(Arc<Mutex<Vec<String>>>);

impl ClientContext for Errors {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        self.0.lock().unwrap().push(format!("{error}: {reason}"));
    }
    fn log(&self, _: RDKafkaLogLevel, _: &str, message: &str) {
        self.0.lock().unwrap().push(message.to_owned());
    }
}
impl ConsumerContext for Errors {}

/// Tries to read metadata with `settings`; returns librdkafka's errors when it fails.
fn refused(settings: &BTreeMap<String, String>) -> String {
    let errors = Errors::default();
    let consumer: BaseConsumer<Errors> = common::config(settings, &[])
        .create_with_context(errors.clone())
        .unwrap();
    let result = consumer.fetch_metadata(None, Duration::from_secs(5));
    assert!(result.is_err(), "metadata was served");
    // Error callbacks are served by polling.
    for _ in 0..20 {
        let _ = consumer.poll(Duration::from_millis(100));
    }
    errors.0.lock().unwrap().join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn java_client_round_trips_through_cluster_up_sasl_ssl_and_bad_credentials_are_refused() {
    let (mut up, printed) = tokio::task::spawn_blocking(|| cluster_up(&["--security", "sasl_ssl"]))
        .await
        .unwrap();
    let bootstrap = printed["bootstrap"].clone();
    let librdkafka = properties(&printed["client.properties"]);
    let java = properties(&printed["client-java.properties"]);
    assert_eq!(librdkafka["security.protocol"], "sasl_ssl");
    assert_eq!(librdkafka["bootstrap.servers"], bootstrap);
    assert!(java["sasl.jaas.config"].contains("ScramLoginModule"));
    assert_eq!(java["ssl.truststore.type"], "PEM");

    let topic = common::topic("secure");
    admin::create_topic(&librdkafka, &TopicSpec::new(&topic, 1, 1))
        .await
        .unwrap();
    admin::wait_for_leaders(&librdkafka, &TopicSpec::new(&topic, 1, 1))
        .await
        .unwrap();

    // Kafka's own Java client, reading the Java properties file as it is.
    let (java_bin, libs) = tokio::task::spawn_blocking(|| {
        kafka_harness::cluster::embedded::provision::tools(
            kafka_harness::cluster::embedded::DEFAULT_KAFKA_VERSION,
        )
    })
    .await
    .unwrap()
    .unwrap();
    java_produce(
        &java_bin,
        &libs,
        &bootstrap,
        &topic,
        5,
        &printed["client-java.properties"],
    );
    let read = common::rdkafka_read(&librdkafka, &topic, 0, 5).await;
    assert_eq!(read.len(), 5, "{read:?}");

    let mut wrong = librdkafka.clone();
    wrong.insert("sasl.password".into(), "not-the-password".into());
    let why = refused(&wrong);
    assert!(why.contains("Authentication failed"), "{why}");

    let other_ca = tempfile::NamedTempFile::new().unwrap();
    let ca = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    std::fs::write(other_ca.path(), ca.cert.pem()).unwrap();
    let mut untrusted = librdkafka.clone();
    untrusted.insert(
        "ssl.ca.location".into(),
        other_ca.path().display().to_string(),
    );
    let why = refused(&untrusted);
    assert!(why.contains("certificate verify failed"), "{why}");

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(up.0.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert!(up.0.wait().unwrap().success());
}

#[test]
fn acl_scenarios_refuse_without_write_and_pass_with_it() {
    let out = tempfile::tempdir().unwrap();
    let denied = out.path().join("denied");
    let o = harness(&[
        "run",
        concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/acl-denied.toml"),
        "--out",
        denied.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    let result = &results(&denied)[0];
    assert_eq!(result["counts"]["failed"], 50, "{}", result["counts"]);
    let authz = check(result, "authorization");
    assert_eq!(authz["verdict"], "pass", "{authz}");
    assert!(
        authz["detail"]
            .as_str()
            .unwrap()
            .contains("Topic authorization failed"),
        "{authz}"
    );
    let text =
        std::fs::read_to_string(common::cli::run_dirs(&denied)[0].join("result.json")).unwrap();
    assert!(
        !text.contains("compliance-pw-1"),
        "a password in result.json"
    );

    let granted = out.path().join("granted");
    let o = harness(&[
        "run",
        concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/acl-granted.toml"),
        "--out",
        granted.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    let result = &results(&granted)[0];
    assert_eq!(result["counts"]["acked"], 50, "{}", result["counts"]);
    assert_eq!(check(result, "authorization")["verdict"], "pass");
}

#[test]
fn a_light_audit_flood_passes_on_sasl_ssl() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/audit-flood.toml"
    ))
    .unwrap()
    .replace("duration = \"50s\"", "duration = \"8s\"")
    .replace("warmup = \"5s\"", "warmup = \"2s\"")
    .replace(
        "[cluster]\nbrokers = 1\n",
        "[cluster]\nbrokers = 1\n\n[cluster.security]\nprotocol = \"sasl_ssl\"\n",
    );
    assert!(text.contains("sasl_ssl"));
    let file = scenario(dir.path(), "audit-flood-sasl-ssl", &text);
    let out = dir.path().join("out");
    let o = harness(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    let result = &results(&out)[0];
    assert!(result["counts"]["acked"].as_u64().unwrap() > 10_000);
    for name in ["lost_write", "duplicate_write", "lost_delivery", "phantom"] {
        assert_eq!(check(result, name)["verdict"], "pass", "{name}");
    }
}

/// The Java client (Kafka's VerifiableProducer and VerifiableConsumer, logged in as their
/// principals through the Java settings the harness writes on their stdin) writes and reads
/// on SASL_SSL with ACLs; a consumer whose principal may not read its group is reported as
/// refused by the `authorization` check, with the broker's reason.
#[test]
fn java_clients_log_in_and_a_refused_consumer_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let acl = |principal: &str, resource: &str, name: &str, operation: &str| {
        format!(
            "[[cluster.security.acls]]\nprincipal = \"{principal}\"\nresource = \"{resource}\"\n\
             name = \"{name}\"\noperation = \"{operation}\"\n\n"
        )
    };
    let user = |name: &str| {
        format!(
            "[[cluster.security.users]]\nname = \"{name}\"\npassword = \"{name}-pw-9\"\n\
             mechanism = \"SCRAM-SHA-512\"\n\n"
        )
    };
    let text = format!(
        r#"name = "java-acl"
seed = 2
messages = 200
drain_timeout = "20s"

[cluster.security]
protocol = "sasl_ssl"

{}{}{}{}{}{}
[[topics]]
name = "events"
partitions = 2

[[producers]]
name = "java-writer"
driver = "verifiable"
topic = "events"
principal = "writer"
keys = {{ count = 10, distribution = "uniform" }}
rate = "100/s"

[producers.client]
acks = "all"
retries = "2147483647"

[[consumers]]
name = "java-readers"
driver = "verifiable"
topic = "events"
group = "ok"
principal = "reader"

[[consumers]]
name = "denied-readers"
driver = "rdkafka"
topic = "events"
group = "denied"
principal = "outsider"

[checks]
anomalies = ["lost_write", "duplicate_write"]
"#,
        user("writer"),
        user("reader"),
        user("outsider"),
        acl("writer", "topic", "events", "write"),
        acl("reader", "topic", "events", "read") + &acl("reader", "group", "ok", "read"),
        acl("outsider", "topic", "events", "read"),
    );
    let file = scenario(dir.path(), "java-acl", &text);
    let out = dir.path().join("out");
    let o = harness(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_exit(&o, 1);
    let result = &results(&out)[0];
    assert_eq!(result["counts"]["acked"], 200, "{}", result["counts"]);
    assert_eq!(check(result, "lost_write")["verdict"], "pass");
    let authz = check(result, "authorization");
    assert_eq!(authz["verdict"], "fail", "{authz}");
    let detail = authz["detail"].as_str().unwrap();
    assert!(
        detail.contains("refused") && detail.contains("authorization"),
        "{detail}"
    );
    // The Java readers read what the Java writer wrote (200 records, at least once).
    assert!(
        result["counts"]["consumed"].as_u64().unwrap() >= 200,
        "{}",
        result["counts"]
    );
    let text = std::fs::read_to_string(common::cli::run_dirs(&out)[0].join("result.json")).unwrap();
    for secret in ["writer-pw-9", "reader-pw-9", "outsider-pw-9"] {
        assert!(!text.contains(secret), "{secret} in result.json");
    }
}

/// Kafka's own Java client (VerifiableProducer) sends `n` records to `topic` with the Java
/// properties file `config`, as it is; fails the test unless all `n` are acknowledged.
fn java_produce(
    java: &std::path::Path,
    libs: &std::path::Path,
    bootstrap: &str,
    topic: &str,
    n: u32,
    config: &str,
) {
    let out = Command::new(java)
        .arg("-cp")
        .arg(format!("{}/*", libs.display()))
        .args(["-Xmx256m", "-XX:TieredStopAtLevel=1"])
        .args([
            "org.apache.kafka.tools.VerifiableProducer",
            "--bootstrap-server",
            bootstrap,
        ])
        .args([
            "--topic",
            topic,
            "--max-messages",
            &n.to_string(),
            "--acks",
            "-1",
        ])
        .args(["--command-config", config])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.matches("producer_send_success").count(),
        n as usize,
        "{config}: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `cluster up` with `args`, its printed lines (`bootstrap`, `client.properties`, ...).
fn cluster_up(args: &[&str]) -> (Up, BTreeMap<String, String>) {
    let child = Command::new(env!("CARGO_BIN_EXE_kafka-harness"))
        .args(["cluster", "up"])
        .args(args)
        .env_remove("KAFKA_HOME")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut up = Up(child);
    let mut lines = BufReader::new(up.0.stdout.take().unwrap()).lines();
    let mut printed = BTreeMap::new();
    for _ in 0..3 {
        let line = lines.next().unwrap().unwrap();
        let (k, v) = line.split_once('=').unwrap();
        printed.insert(k.to_owned(), v.to_owned());
    }
    (up, printed)
}

/// Every listener `cluster up --security` offers, with librdkafka (the printed
/// `client.properties`) and the Java client (the printed `client-java.properties`): records
/// written and read back on a real broker.
#[tokio::test(flavor = "multi_thread")]
async fn every_listener_kind_round_trips_with_both_property_files() {
    let (java_bin, libs) = tokio::task::spawn_blocking(|| {
        kafka_harness::cluster::embedded::provision::tools(
            kafka_harness::cluster::embedded::DEFAULT_KAFKA_VERSION,
        )
    })
    .await
    .unwrap()
    .unwrap();
    for args in [
        &["--security", "sasl_plaintext", "--mechanism", "PLAIN"][..],
        &[
            "--security",
            "sasl_plaintext",
            "--mechanism",
            "SCRAM-SHA-256",
        ],
        &["--security", "ssl"],
        &["--security", "ssl", "--mutual-tls"],
        &[
            "--security",
            "sasl_ssl",
            "--mechanism",
            "SCRAM-SHA-256",
            "--mutual-tls",
        ],
    ] {
        let (up, printed) = tokio::task::spawn_blocking(move || cluster_up(args))
            .await
            .unwrap();
        let librdkafka = properties(&printed["client.properties"]);
        let topic = common::topic("kinds");
        let spec = TopicSpec::new(&topic, 1, 1);
        admin::create_topic(&librdkafka, &spec).await.unwrap();
        admin::wait_for_leaders(&librdkafka, &spec).await.unwrap();
        let values = common::values(3);
        let offsets = common::rdkafka_produce(&librdkafka, &topic, 0, &values).await;
        assert_eq!(offsets, [0, 1, 2], "{args:?}");
        java_produce(
            &java_bin,
            &libs,
            &printed["bootstrap"],
            &topic,
            2,
            &printed["client-java.properties"],
        );
        let read = common::rdkafka_read(&librdkafka, &topic, 0, 5).await;
        assert_eq!(read.len(), 5, "{args:?}: {read:?}");
        drop(up);
    }
}
