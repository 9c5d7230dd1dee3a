//! Kafka's own system-test clients, `org.apache.kafka.tools.VerifiableProducer` and
//! `VerifiableConsumer`, run unchanged as the implementation under test: the Java client,
//! and the reference for our reader of their events.
//!
//! ```text
//!   run ──Tools (java, kafka-tools jars)──> producer_command / consumer_command (no settings)
//!   launch ──stdin: the client settings as a properties file, then EOF──> `--command-config /dev/stdin`
//!   consumer: ExecConsumer reads its events (record_data per record with --verbose)
//!   producer: run_producer reads producer_send_success / _error, names each record by its
//!             value `<prefix>.<seq>` ──Report──> the run (which keeps the History)
//!   stop: SIGTERM (their shutdown hook closes the client and reports what was in flight),
//!         SIGKILL after the grace
//! ```
//!
//! VerifiableProducer writes its own values, `<prefix>.<seq>` with the prefix the producer's
//! id, and no stamp; the run's Log names its records by value ([`message_of`]). It paces
//! itself (`--throughput`) from the moment it stamps on its `startup_complete` (it takes
//! its clock just before), so that moment plus `seq / throughput` is each record's intended
//! send time.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde::Deserialize;
use tokio::io::BufReader;
use tokio::sync::watch;
use tokio::time::Instant;

use super::{ExecEnv, ExecSpec, GRACE, Launched, line_text, next_line, process};
use crate::driver::{DriverError, SendOutcome};
use crate::history::MsgId;

/// The classes run.
pub const PRODUCER_CLASS: &str = "org.apache.kafka.tools.VerifiableProducer";
/// The classes run.
pub const CONSUMER_CLASS: &str = "org.apache.kafka.tools.VerifiableConsumer";

/// Where Kafka's tools are: a Java runtime and the folder of the `kafka-tools` jars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    /// The `java` executable.
    pub java: PathBuf,
    /// The folder holding `kafka-tools` and its dependencies.
    pub libs: PathBuf,
    /// Their Kafka version.
    pub version: String,
}

impl Tools {
    /// `java -cp <libs>/* <class>`: the start of every command.
    fn command(&self, class: &str) -> Vec<String> {
        vec![
            self.java.display().to_string(),
            "-cp".into(),
            format!("{}/*", self.libs.display()),
            class.into(),
        ]
    }
}

/// What a VerifiableProducer instance is told on its command line (settings come on stdin,
/// `--command-config /dev/stdin`, never here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerArgs<'a> {
    /// `host:port,...`.
    pub bootstrap: &'a str,
    /// The topic.
    pub topic: &'a str,
    /// The producer's id: it starts every value (`<prefix>.<seq>`).
    pub prefix: u32,
    /// How many keys it cycles through.
    pub keys: u64,
    /// Its messages per second.
    pub throughput: u64,
    /// How many it sends before it stops by itself (`None`: until it is stopped).
    pub max_messages: Option<u64>,
    /// `--acks` (`-1`, `0`, `1`).
    pub acks: &'a str,
}

/// The command of a VerifiableProducer instance.
pub fn producer_command(tools: &Tools, args: &ProducerArgs<'_>) -> Vec<String> {
    let mut argv = tools.command(PRODUCER_CLASS);
    let max = args
        .max_messages
        .map_or_else(|| "-1".to_owned(), |m| m.to_string());
    for (flag, value) in [
        ("--bootstrap-server", args.bootstrap.to_owned()),
        ("--topic", args.topic.to_owned()),
        ("--value-prefix", args.prefix.to_string()),
        ("--repeating-keys", args.keys.to_string()),
        ("--throughput", args.throughput.to_string()),
        ("--max-messages", max),
        ("--acks", args.acks.to_owned()),
        ("--command-config", "/dev/stdin".to_owned()),
    ] {
        argv.push(flag.into());
        argv.push(value);
    }
    argv
}

/// The command of a VerifiableConsumer instance in `group`, reporting every record it
/// processed (`--verbose`), committing after each batch or, with `auto_commit`, by the
/// client's auto-commit. Settings come on stdin, never here.
pub fn consumer_command(
    tools: &Tools,
    bootstrap: &str,
    topic: &str,
    group: &str,
    auto_commit: bool,
) -> Vec<String> {
    let mut argv = tools.command(CONSUMER_CLASS);
    for (flag, value) in [
        ("--bootstrap-server", bootstrap),
        ("--topic", topic),
        ("--group-id", group),
        ("--command-config", "/dev/stdin"),
    ] {
        argv.push(flag.into());
        argv.push(value.into());
    }
    argv.push("--verbose".into());
    if auto_commit {
        argv.push("--enable-autocommit".into());
    }
    argv
}

/// `settings` as a Java properties file (escaped as `java.util.Properties` reads it).
pub fn properties(settings: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut writer = java_properties::PropertiesWriter::new(&mut out);
    for (key, value) in settings {
        // Writing to a Vec fails only on bytes the encoding cannot hold, which the writer
        // escapes: there is nothing to lose here.
        let _ = writer.write(key, value);
    }
    let _ = writer.finish();
    out
}

/// `settings` (librdkafka's spelling, as a cluster and a table's login give them) in the
/// Java client's: `sasl.username` and `sasl.password` become the mechanism's JAAS line, a PEM
/// CA file (`ssl.ca.location`) a PEM truststore, a PEM certificate and key (mutual TLS) a PEM
/// keystore with their contents inline; every other setting passes as it is.
pub fn java_settings(settings: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = settings.clone();
    let quoted = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
    if let (Some(user), Some(password)) = (out.remove("sasl.username"), out.remove("sasl.password"))
    {
        let mechanism = out
            .get("sasl.mechanism")
            .map(|m| m.to_ascii_uppercase())
            .unwrap_or_default();
        let module = if mechanism.starts_with("SCRAM") {
            "org.apache.kafka.common.security.scram.ScramLoginModule"
        } else {
            "org.apache.kafka.common.security.plain.PlainLoginModule"
        };
        out.entry("sasl.jaas.config".into()).or_insert(format!(
            "{module} required username={} password={};",
            quoted(&user),
            quoted(&password)
        ));
    }
    if let Some(ca) = out.remove("ssl.ca.location") {
        out.insert("ssl.truststore.type".into(), "PEM".into());
        out.insert("ssl.truststore.location".into(), ca);
    }
    if let (Some(cert), Some(key)) = (
        out.remove("ssl.certificate.location"),
        out.remove("ssl.key.location"),
    ) && let (Ok(cert), Ok(key)) = (
        std::fs::read_to_string(&cert),
        std::fs::read_to_string(&key),
    ) {
        out.insert("ssl.keystore.type".into(), "PEM".into());
        out.insert("ssl.keystore.certificate.chain".into(), cert);
        out.insert("ssl.keystore.key".into(), key);
    }
    out
}

/// The message a VerifiableProducer value names: `<producer>.<seq>`, for one of `producers`.
pub fn message_of(value: &[u8], producers: &[u32]) -> Option<MsgId> {
    let text = std::str::from_utf8(value).ok()?;
    let (prefix, seq) = text.split_once('.')?;
    let producer: u32 = prefix.parse().ok()?;
    if !producers.contains(&producer) || seq.starts_with('+') || prefix.starts_with('+') {
        return None;
    }
    Some(MsgId {
        producer,
        seq: seq.parse().ok()?,
    })
}

/// What a VerifiableProducer told the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// It is ready and starts sending: its schedule starts at `at_ms` (its own clock, the
    /// system's, in milliseconds since the UNIX epoch), or now if it did not say.
    Started {
        /// The `timestamp` of its `startup_complete`.
        at_ms: Option<u64>,
    },
    /// The outcome of one record.
    Answer {
        /// Its sequence number (from its value).
        seq: u64,
        /// Its key, as sent.
        key: Option<Vec<u8>>,
        /// Its value's length in bytes.
        size: usize,
        /// How the send ended.
        outcome: SendOutcome,
    },
}

/// How a VerifiableProducer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// The sequence numbers it sent (from its closing `tool_data`, else as far as its answers
    /// go) and never answered: indeterminate.
    pub unanswered: Vec<u64>,
    /// Why they are unanswered.
    pub reason: String,
}

/// One line of a VerifiableProducer, as far as the harness reads it.
#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(borrow)]
    name: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    key: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    value: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    topic: Option<std::borrow::Cow<'a, str>>,
    partition: Option<i32>,
    offset: Option<i64>,
    #[serde(borrow)]
    exception: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    message: Option<std::borrow::Cow<'a, str>>,
    sent: Option<u64>,
    timestamp: Option<u64>,
}

/// A line read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ProducerLine {
    Started(Option<u64>),
    Answer {
        seq: u64,
        key: Option<Vec<u8>>,
        size: usize,
        outcome: SendOutcome,
    },
    /// Its closing summary: how many it sent.
    Sent(u64),
    /// Anything else: the log.
    Log,
}

/// Java exceptions after which the record was certainly not written; any other failed send
/// may have been (a timeout after the broker wrote it), so it is indeterminate.
const NOT_WRITTEN: [&str; 6] = [
    "RecordTooLargeException",
    "InvalidTopicException",
    "TopicAuthorizationException",
    "ClusterAuthorizationException",
    "SerializationException",
    "UnknownTopicOrPartitionException",
];

/// Reads one line of VerifiableProducer `prefix`'s stdout.
fn parse_producer(line: &str, prefix: u32, topic: &str) -> Result<ProducerLine, String> {
    if !line.trim_start().starts_with('{') {
        return Ok(ProducerLine::Log);
    }
    let Ok(raw) = serde_json::from_str::<Raw<'_>>(line) else {
        return Ok(ProducerLine::Log);
    };
    let success = match raw.name.as_ref() {
        "startup_complete" => return Ok(ProducerLine::Started(raw.timestamp)),
        "tool_data" => return Ok(raw.sent.map_or(ProducerLine::Log, ProducerLine::Sent)),
        "producer_send_success" => true,
        "producer_send_error" => false,
        _ => return Ok(ProducerLine::Log),
    };
    let name = raw.name.as_ref();
    let value = raw
        .value
        .ok_or_else(|| format!("{name} needs `value` (`{prefix}.<seq>`)"))?;
    let id = message_of(value.as_bytes(), &[prefix]).ok_or_else(|| {
        format!(
            "{name}: value `{value}` is not `{prefix}.<seq>`, what this instance was told to send"
        )
    })?;
    if let Some(t) = &raw.topic
        && t != topic
    {
        return Err(format!(
            "{name}: topic `{t}` is not the topic this producer was given (`{topic}`)"
        ));
    }
    let outcome = if success {
        let partition = raw.partition.filter(|p| *p >= 0);
        let offset = raw.offset.filter(|o| *o >= 0);
        match (partition, offset) {
            (Some(partition), Some(offset)) => SendOutcome::Ok { partition, offset },
            _ => {
                return Err(format!(
                    "{name} needs `partition` and `offset`, integers from 0"
                ));
            }
        }
    } else {
        let exception = raw.exception.as_deref().unwrap_or("");
        let text = format!("{exception}: {}", raw.message.as_deref().unwrap_or(""));
        let class = exception.rsplit('.').next().unwrap_or(exception);
        if NOT_WRITTEN.contains(&class) {
            SendOutcome::Fail(text)
        } else {
            SendOutcome::Indeterminate(text)
        }
    };
    Ok(ProducerLine::Answer {
        seq: id.seq,
        key: raw.key.map(|k| k.as_bytes().to_vec()),
        size: value.len(),
        outcome,
    })
}

/// Runs one VerifiableProducer (`spec`, made with [`producer_command`] and
/// [`Dialect::Verifiable`](super::Dialect::Verifiable)) to its end, handing `report` what it
/// says: first [`Report::Started`], then one answer per record. `stop` turning true asks it
/// to stop (SIGTERM, then SIGKILL after the grace). A start-up failure or a broken line is
/// returned as the error (the process killed); otherwise what it left unanswered.
pub async fn run_producer(
    spec: &ExecSpec,
    env: &ExecEnv,
    prefix: u32,
    mut stop: watch::Receiver<bool>,
    mut report: impl FnMut(Report),
) -> Result<Ended, DriverError> {
    let Launched { proc, stdout, .. } = super::launch(spec, env).await?;
    let exit = proc.child.exit.clone();
    let mut reader = BufReader::with_capacity(1 << 16, stdout);
    let mut buf = Vec::with_capacity(256);
    let (mut line_no, mut started) = (0u64, false);
    let startup = Instant::now() + spec.startup_timeout;
    let mut answered = Answered::default();
    let mut sent = None;
    let mut signals = 0u8;
    let mut deadline: Option<Instant> = None;
    let mut stop_open = true;
    loop {
        tokio::select! {
            more = next_line(&mut reader, &mut buf) => {
                if !more {
                    break;
                }
                line_no += 1;
                let Some(text) = line_text(&buf) else {
                    proc.log.line("stdout", &String::from_utf8_lossy(&buf));
                    buf.clear();
                    continue;
                };
                let line = match parse_producer(text, prefix, &spec.configure.topic) {
                    Ok(line) => line,
                    Err(rule) => {
                        let error = proc.names.protocol(line_no, text, rule);
                        proc.note("protocol error");
                        proc.log.line("harness", &error.to_string());
                        exit.kill();
                        return Err(error);
                    }
                };
                match line {
                    ProducerLine::Started(at_ms) if !started => {
                        started = true;
                        proc.client(Some("Java client (VerifiableProducer, kafka-tools)"));
                        report(Report::Started { at_ms });
                    }
                    ProducerLine::Answer { seq, key, size, outcome } => {
                        if !answered.insert(seq) {
                            let error = proc.names.protocol(
                                line_no,
                                text,
                                format!("record {prefix}.{seq} was answered twice"),
                            );
                            proc.note("protocol error");
                            exit.kill();
                            return Err(error);
                        }
                        report(Report::Answer { seq, key, size, outcome });
                    }
                    ProducerLine::Sent(n) => {
                        sent = Some(n);
                        proc.log.line("stdout", text);
                    }
                    ProducerLine::Started(_) | ProducerLine::Log => proc.log.line("stdout", text),
                }
                buf.clear();
            }
            changed = stop.changed(), if stop_open => {
                // No sender: no stop will come (it ends after `--max-messages`).
                if changed.is_err() {
                    stop_open = false;
                } else if *stop.borrow_and_update() {
                    stop_open = false;
                    if exit.status().is_none() && signals == 0 {
                        proc.note("shutdown: SIGTERM");
                        exit.signal(Signal::SIGTERM);
                        signals = 1;
                        deadline = Some(Instant::now() + GRACE);
                    }
                }
            }
            _ = tokio::time::sleep_until(startup), if !started => {
                let timeout = spec.startup_timeout;
                return Err(proc
                    .failed_startup(spec, |how| match how {
                        Some(how) => format!("ended ({how}) before it answered startup_complete"),
                        None => format!(
                            "did not answer startup_complete within {}; it was killed",
                            humantime::format_duration(timeout)
                        ),
                    })
                    .await);
            }
            _ = tokio::time::sleep_until(deadline.unwrap_or(startup)), if deadline.is_some() => {
                proc.note("shutdown: still running after SIGTERM and the grace, SIGKILL");
                exit.kill();
                deadline = None;
            }
        }
    }
    proc.log.flush();
    if !started {
        return Err(proc
            .failed_startup(spec, |how| match how {
                Some(how) => format!("ended ({how}) before it answered startup_complete"),
                None => "closed its stdout before it answered startup_complete; it was killed"
                    .to_owned(),
            })
            .await);
    }
    let status = match exit.wait_for(Duration::from_secs(2)).await {
        Some(status) => Some(status),
        None => {
            proc.note("closed its stdout; killed");
            exit.kill();
            exit.wait_for(Duration::from_secs(2)).await
        }
    };
    if signals == 0 {
        proc.note("finished its messages (--max-messages)");
    }
    super::recorded(proc.recorded.clone()).await;
    let how = status.map_or_else(|| "still running".into(), process::how);
    Ok(Ended {
        unanswered: answered.missing(sent),
        reason: format!(
            "VerifiableProducer {}-{} ended ({how}) without answering",
            spec.table, spec.instance
        ),
    })
}

/// The sequence numbers answered so far, as bits.
#[derive(Default)]
struct Answered {
    bits: Vec<u64>,
    /// One past the highest answered.
    end: u64,
}

impl Answered {
    /// Marks `seq`; false if it already was.
    fn insert(&mut self, seq: u64) -> bool {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        let fresh = self.bits[word] & (1 << bit) == 0;
        self.bits[word] |= 1 << bit;
        self.end = self.end.max(seq + 1);
        fresh
    }

    /// Those below `sent` (or below the highest answered, when the count is unknown) that
    /// were never answered.
    fn missing(&self, sent: Option<u64>) -> Vec<u64> {
        let end = sent.unwrap_or(0).max(self.end);
        (0..end)
            .filter(|&seq| {
                let (word, bit) = ((seq / 64) as usize, seq % 64);
                self.bits.get(word).is_none_or(|w| w & (1 << bit) == 0)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "vt";

    #[test]
    fn values_name_messages_of_known_producers_only() {
        assert_eq!(
            message_of(b"3.41", &[1, 3]),
            Some(MsgId {
                producer: 3,
                seq: 41
            })
        );
        for value in [
            &b"2.41"[..],
            b"3",
            b"3.",
            b".4",
            b"3.-1",
            b"3.+1",
            b"+3.1",
            b"x.1",
            b"3.1.2",
        ] {
            assert_eq!(message_of(value, &[1, 3]), None, "{value:?}");
        }
    }

    #[test]
    fn reads_the_reference_implementations_lines() {
        // As VerifiableProducer (kafka-tools 4.4.0) writes them.
        let ok = r#"{"timestamp":1796080732307,"name":"producer_send_success","key":"0","value":"3.7","offset":4,"topic":"vt","partition":2}"#;
        assert_eq!(
            parse_producer(ok, 3, TOPIC),
            Ok(ProducerLine::Answer {
                seq: 7,
                key: Some(b"0".to_vec()),
                size: 3,
                outcome: SendOutcome::Ok {
                    partition: 2,
                    offset: 4
                },
            })
        );
        let timeout = r#"{"timestamp":1,"name":"producer_send_error","key":null,"value":"3.8","topic":"vt","exception":"class org.apache.kafka.common.errors.TimeoutException","message":"Expiring 1 record(s)"}"#;
        assert!(matches!(
            parse_producer(timeout, 3, TOPIC),
            Ok(ProducerLine::Answer {
                seq: 8,
                key: None,
                outcome: SendOutcome::Indeterminate(_),
                ..
            })
        ));
        let large = r#"{"name":"producer_send_error","value":"3.9","exception":"class org.apache.kafka.common.errors.RecordTooLargeException","message":"too large"}"#;
        assert!(matches!(
            parse_producer(large, 3, TOPIC),
            Ok(ProducerLine::Answer {
                outcome: SendOutcome::Fail(_),
                ..
            })
        ));
        let tool = r#"{"timestamp":1,"name":"tool_data","sent":5,"acked":5,"target_throughput":100,"avg_throughput":11.3}"#;
        assert_eq!(parse_producer(tool, 3, TOPIC), Ok(ProducerLine::Sent(5)));
        assert_eq!(
            parse_producer(
                r#"{"timestamp":1796080731886,"name":"startup_complete"}"#,
                3,
                TOPIC
            ),
            Ok(ProducerLine::Started(Some(1_796_080_731_886)))
        );
        assert_eq!(
            parse_producer("SLF4J: no binder", 3, TOPIC),
            Ok(ProducerLine::Log)
        );
    }

    #[test]
    fn lines_that_break_its_protocol_name_the_rule() {
        for (line, rule) in [
            (
                r#"{"name":"producer_send_success","value":"4.1","partition":0,"offset":0}"#,
                "is not `3.<seq>`",
            ),
            (
                r#"{"name":"producer_send_success","partition":0,"offset":0}"#,
                "needs `value`",
            ),
            (
                r#"{"name":"producer_send_success","value":"3.1","partition":0}"#,
                "needs `partition` and `offset`",
            ),
            (
                r#"{"name":"producer_send_success","value":"3.1","topic":"other","partition":0,"offset":1}"#,
                "topic `other`",
            ),
        ] {
            let error = parse_producer(line, 3, TOPIC).unwrap_err();
            assert!(error.contains(rule), "{line}: {error}");
        }
    }

    #[test]
    fn unanswered_sends_are_those_below_the_count_sent() {
        let mut a = Answered::default();
        for seq in [0, 1, 3, 70] {
            assert!(a.insert(seq));
        }
        assert!(!a.insert(3));
        let below_71: Vec<u64> = (2..70).filter(|s| *s != 3).collect();
        assert_eq!(a.missing(None), below_71);
        let mut to_73 = below_71.clone();
        to_73.extend([71, 72]);
        assert_eq!(a.missing(Some(73)), to_73);
    }

    #[test]
    fn settings_are_escaped_as_java_reads_them() {
        let settings = BTreeMap::from([
            ("acks".to_owned(), "all".to_owned()),
            ("sasl.jaas.config".to_owned(), "a=b: c\\d #e".to_owned()),
        ]);
        let text = String::from_utf8(properties(&settings)).unwrap();
        let back = java_properties::read(text.as_bytes()).unwrap();
        assert_eq!(back.get("acks").map(String::as_str), Some("all"));
        assert_eq!(
            back.get("sasl.jaas.config").map(String::as_str),
            Some("a=b: c\\d #e")
        );
    }

    #[test]
    fn librdkafka_settings_become_the_java_clients() {
        let settings = BTreeMap::from([
            ("security.protocol".to_owned(), "sasl_ssl".to_owned()),
            ("sasl.mechanism".to_owned(), "SCRAM-SHA-512".to_owned()),
            ("sasl.username".to_owned(), "svc".to_owned()),
            ("sasl.password".to_owned(), "p\"w\\1".to_owned()),
            ("ssl.ca.location".to_owned(), "/c/ca.pem".to_owned()),
            ("acks".to_owned(), "all".to_owned()),
        ]);
        let java = java_settings(&settings);
        assert_eq!(
            java["sasl.jaas.config"],
            "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"svc\" password=\"p\\\"w\\\\1\";"
        );
        assert_eq!(java["ssl.truststore.type"], "PEM");
        assert_eq!(java["ssl.truststore.location"], "/c/ca.pem");
        assert_eq!(java["acks"], "all");
        assert_eq!(java["security.protocol"], "sasl_ssl");
        for gone in ["sasl.username", "sasl.password", "ssl.ca.location"] {
            assert!(!java.contains_key(gone), "{gone}");
        }
        let plain = BTreeMap::from([
            ("sasl.mechanism".to_owned(), "PLAIN".to_owned()),
            ("sasl.username".to_owned(), "a".to_owned()),
            ("sasl.password".to_owned(), "b".to_owned()),
        ]);
        assert!(
            java_settings(&plain)["sasl.jaas.config"]
                .starts_with("org.apache.kafka.common.security.plain.PlainLoginModule required")
        );
    }

    #[test]
    fn commands_carry_no_settings() {
        let tools = Tools {
            java: "/usr/bin/java".into(),
            libs: "/cache/4.4.0-tools/libs".into(),
            version: "4.4.0".into(),
        };
        let args = ProducerArgs {
            bootstrap: "127.0.0.1:9092",
            topic: "t",
            prefix: 2,
            keys: 10,
            throughput: 500,
            max_messages: Some(1000),
            acks: "-1",
        };
        let argv = producer_command(&tools, &args);
        assert_eq!(
            argv[..4],
            [
                "/usr/bin/java",
                "-cp",
                "/cache/4.4.0-tools/libs/*",
                PRODUCER_CLASS
            ]
        );
        assert!(argv.windows(2).any(|w| w == ["--value-prefix", "2"]));
        assert!(
            argv.windows(2)
                .any(|w| w == ["--command-config", "/dev/stdin"])
        );
        let argv = consumer_command(&tools, "127.0.0.1:9092", "t", "g", true);
        assert!(argv.contains(&"--verbose".to_owned()));
        assert!(argv.contains(&"--enable-autocommit".to_owned()));
    }
}
