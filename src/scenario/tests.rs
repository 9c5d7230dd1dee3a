//! Tests of [`parse`]: a valid scenario becomes the expected [`Plan`], and every rule of
//! `docs/scenarios.md` is refused with `file:line:column: message`, where the line and
//! column are those of the offending value and the message names the field, the value and
//! the rule.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;

use super::*;

const FILE: &str = "scenarios/test.toml";

// A scenario like scenarios/account-ordering.toml, in sections so that tests can leave one
// out, with settings of every TOML type the client tables take.
const HEAD: &str = r#"# Webhook events keyed by account (zipf), commit after processing.
name = "account-ordering"
description = "Webhook events keyed by account_id (zipf), per-account order, commit after processing"
seed = 2
warmup = "5s"
duration = "50s"
drain_timeout = "90s"
"#;

const CLUSTER: &str = r#"
[cluster]
brokers = 3
kafka_version = "3.9.1"

[cluster.broker_config]
"num.io.threads" = 4
"auto.create.topics.enable" = false
"#;

const TOPICS: &str = r#"
[[topics]]
name = "webhook-events"
partitions = 12
replication_factor = 3

[topics.config]
"min.insync.replicas" = 2
"cleanup.policy" = "delete"
"#;

const PRODUCERS: &str = r#"
[[producers]]
name = "event-source"
driver = "rdkafka"
instances = 2
topic = "webhook-events"
template = "webhook"
size = "1KiB"
keys = { count = 5000, distribution = "zipf", exponent = 1.1 }
rate = "1500/s"
max_in_flight = 500

[producers.client]
acks = "all"
"enable.idempotence" = true
"max.in.flight.requests.per.connection" = 5
"batch.size" = 16384
"linger.ms" = 5
"#;

const CONSUMERS: &str = r#"
[[consumers]]
name = "webhook-workers"
driver = "rdkafka"
instances = 3
topic = "webhook-events"
group = "webhook-consumers"
commit = "after_processing"
processing_time = "2ms"

[consumers.client]
"isolation.level" = "read_committed"
"session.timeout.ms" = 6000
"enable.auto.commit" = false
"#;

const CHECKS: &str = r#"
[checks]
anomalies = ["lost_write", "duplicate_write", "order_violation", "lost_delivery", "duplicate_delivery", "nonmonotonic_poll", "phantom"]
duplicate_delivery = "allowed"
max_duplicate_deliveries = 100

[checks.slo]
ack_p99 = "250ms"
ack_max = "1s"
e2e_p99 = "2s"
send_delay_p999 = "100ms"
min_throughput = "1300/s"
"#;

/// The checks without the delivery checks and the end-to-end SLO, for scenarios without
/// consumers.
const CHECKS_NO_CONSUMERS: &str = r#"
[checks]
anomalies = ["lost_write", "duplicate_write", "order_violation", "phantom"]

[checks.slo]
ack_p99 = "250ms"
"#;

pub(crate) fn valid() -> String {
    [HEAD, CLUSTER, TOPICS, PRODUCERS, CONSUMERS, CHECKS].concat()
}

/// `text` with the single occurrence of `from` replaced by `to`.
#[track_caller]
fn edit(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "{from:?} must occur once");
    text.replacen(from, to, 1)
}

/// The valid scenario with one edit.
#[track_caller]
fn valid_with(from: &str, to: &str) -> String {
    edit(&valid(), from, to)
}

#[track_caller]
pub(crate) fn parse_ok(text: &str) -> Plan {
    parse(Path::new(FILE), text).unwrap_or_else(|e| panic!("{e}\n--- text:\n{text}"))
}

/// The 1-based line and column (in characters) of the `nth` occurrence of `needle`.
#[track_caller]
pub(crate) fn position(text: &str, needle: &str, nth: usize) -> (usize, usize) {
    let (byte, _) = text
        .match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("{needle:?} does not occur {} times", nth + 1));
    let before = &text[..byte];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

/// Asserts that `text` is refused at the `nth` occurrence of `at`, with a message holding
/// every one of `fragments`, and displayed as `file:line:column: message`.
#[track_caller]
fn fails_at_nth(text: &str, at: &str, nth: usize, fragments: &[&str]) -> ScenarioError {
    let e = match parse(Path::new(FILE), text) {
        Ok(plan) => panic!("accepted, expected an error at {at:?}: {plan:#?}\n--- text:\n{text}"),
        Err(e) => e,
    };
    let (line, column) = position(text, at, nth);
    assert_eq!(
        (e.line, e.column),
        (line, column),
        "position of {at:?} in: {e}"
    );
    assert_eq!(e.file, Path::new(FILE));
    assert_eq!(
        e.to_string(),
        format!("{FILE}:{line}:{column}: {}", e.message)
    );
    for fragment in fragments {
        assert!(
            e.message.contains(fragment),
            "{fragment:?} is not in the message: {}",
            e.message
        );
    }
    e
}

#[track_caller]
fn fails_at(text: &str, at: &str, fragments: &[&str]) -> ScenarioError {
    fails_at_nth(text, at, 0, fragments)
}

fn strings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ----- valid scenarios -----------------------------------------------------------------

#[test]
fn valid_scenario_parses_into_the_expected_plan() {
    let plan = parse_ok(&valid());
    let expected = Plan {
        faults: Vec::new(),
        sweep: None,
        stages: Vec::new(),
        name: "account-ordering".into(),
        description:
            "Webhook events keyed by account_id (zipf), per-account order, commit after processing"
                .into(),
        file: FILE.into(),
        seed: 2,
        duration: Some(Duration::from_secs(50)),
        messages: None,
        warmup: Duration::from_secs(5),
        drain_timeout: Duration::from_secs(90),
        cluster: ClusterNeeds {
            brokers: 3,
            kafka_version: Some("3.9.1".into()),
            broker_config: strings(&[
                ("auto.create.topics.enable", "false"),
                ("num.io.threads", "4"),
            ]),
            security: SecurityPlan::default(),
        },
        topics: vec![TopicPlan {
            name: "webhook-events".into(),
            partitions: 12,
            replication_factor: 3,
            config: strings(&[("cleanup.policy", "delete"), ("min.insync.replicas", "2")]),
        }],
        producers: vec![ProducerPlan {
            transactions: None,
            name: "event-source".into(),
            driver: DriverKind::Rdkafka,
            instances: 2,
            topic: 0,
            template: Template::Webhook,
            size: 1024,
            key_count: 5000,
            key_distribution: KeyDistribution::Zipf { exponent: 1.1 },
            rate: Rate::PerSecond(1500.0),
            max_in_flight: 500,
            client: strings(&[
                ("acks", "all"),
                ("batch.size", "16384"),
                ("enable.idempotence", "true"),
                ("linger.ms", "5"),
                ("max.in.flight.requests.per.connection", "5"),
            ]),
            login: BTreeMap::new(),
            expect: Expect::Accepted,
            exec: None,
        }],
        consumers: vec![ConsumerPlan {
            name: "webhook-workers".into(),
            driver: DriverKind::Rdkafka,
            instances: 3,
            topic: 0,
            group: Some("webhook-consumers".into()),
            commit: CommitMode::AfterProcessing,
            processing_time: Duration::from_millis(2),
            client: strings(&[
                ("enable.auto.commit", "false"),
                ("isolation.level", "read_committed"),
                ("session.timeout.ms", "6000"),
            ]),
            login: BTreeMap::new(),
            exec: None,
        }],
        checks: ChecksPlan {
            regression: BTreeMap::new(),
            anomalies: vec![
                CheckName::LostWrite,
                CheckName::DuplicateWrite,
                CheckName::OrderViolation,
                CheckName::LostDelivery,
                CheckName::DuplicateDelivery,
                CheckName::NonmonotonicPoll,
                CheckName::Phantom,
            ],
            duplicate_delivery_allowed: true,
            max_duplicate_deliveries: Some(100),
            // [checks.slo] is a table: its keys come in sorted order.
            slos: vec![
                Slo::Latency {
                    metric: LatencyMetric::Ack,
                    percentile: 100.0,
                    max: Duration::from_secs(1),
                },
                Slo::Latency {
                    metric: LatencyMetric::Ack,
                    percentile: 99.0,
                    max: Duration::from_millis(250),
                },
                Slo::Latency {
                    metric: LatencyMetric::EndToEnd,
                    percentile: 99.0,
                    max: Duration::from_secs(2),
                },
                Slo::MinThroughput(1300.0),
                Slo::Latency {
                    metric: LatencyMetric::SendDelay,
                    percentile: 99.9,
                    max: Duration::from_millis(100),
                },
            ],
        },
    };
    assert_eq!(plan, expected);
    let names: Vec<String> = plan.checks.slos.iter().map(Slo::name).collect();
    assert_eq!(
        names,
        [
            "ack_max",
            "ack_p99",
            "e2e_p99",
            "min_throughput",
            "send_delay_p999"
        ]
    );
}

#[test]
fn the_shipped_account_ordering_scenario_parses() {
    let text = include_str!("../../scenarios/account-ordering.toml");
    let plan = parse_ok(text);
    assert_eq!(plan.name, "account-ordering");
    assert_eq!(plan.producers.len(), 1);
    assert_eq!(plan.consumers.len(), 1);
    // Client settings written as strings stay strings.
    assert_eq!(
        plan.producers[0].client.get("enable.idempotence"),
        Some(&"true".to_owned())
    );
}

#[test]
fn the_fuzz_seeds_parse() {
    // fuzz/seeds/scenario_parse starts the scenario_parse fuzz target off from valid
    // scenarios, so that it reaches validation; a seed that stopped parsing would not.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/scenario_parse");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return; // not part of a packaged crate
    };
    let mut seen = 0;
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        let text = std::fs::read_to_string(&path).expect("a seed");
        if let Err(e) = parse(&path, &text) {
            panic!("{e}");
        }
        seen += 1;
    }
    assert!(seen >= 3, "{seen} seeds in {}", dir.display());
}

#[test]
fn defaults_are_filled_in() {
    let text = r#"
name = "minimal"
messages = 1000

[[topics]]
name = "t"
partitions = 1

[[producers]]
name = "p"
driver = "rskafka"
topic = "t"
template = "raw"
size = "0B"
keys = { count = 1, distribution = "zipf" }
rate = "max"

[[consumers]]
name = "reader"
driver = "rskafka"
topic = "t"
"#;
    let plan = parse_ok(text);
    assert_eq!(plan.description, "");
    assert_eq!(plan.seed, 0);
    assert_eq!(plan.duration, None);
    assert_eq!(plan.messages, Some(1000));
    assert_eq!(plan.warmup, Duration::ZERO);
    assert_eq!(plan.drain_timeout, Duration::from_secs(60));
    assert_eq!(
        plan.cluster,
        ClusterNeeds {
            brokers: 1,
            kafka_version: None,
            broker_config: BTreeMap::new(),
            security: SecurityPlan::default(),
        }
    );
    assert_eq!(plan.topics[0].replication_factor, 1);
    assert!(plan.topics[0].config.is_empty());
    let p = &plan.producers[0];
    assert_eq!(p.instances, 1);
    assert_eq!(p.size, 0);
    assert_eq!(p.key_distribution, KeyDistribution::Zipf { exponent: 1.0 });
    assert_eq!(p.rate, Rate::Max);
    assert_eq!(p.max_in_flight, 10_000);
    assert!(p.client.is_empty());
    let c = &plan.consumers[0];
    assert_eq!(c.driver, DriverKind::Rskafka);
    assert_eq!(c.instances, 1);
    assert_eq!(c.group, None);
    assert_eq!(c.commit, CommitMode::Auto);
    assert_eq!(c.processing_time, Duration::ZERO);
    // Every check that applies: not the transaction checks, as nothing is transactional.
    let applicable: Vec<CheckName> = CheckName::ALL
        .into_iter()
        .filter(|c| !c.needs_transactions())
        .collect();
    assert_eq!(plan.checks.anomalies, applicable);
    assert!(plan.checks.duplicate_delivery_allowed);
    assert_eq!(plan.checks.max_duplicate_deliveries, None);
    assert!(plan.checks.slos.is_empty());
}

#[test]
fn default_anomalies_without_consumers_leave_out_the_delivery_checks() {
    let plan = parse_ok(&[HEAD, CLUSTER, TOPICS, PRODUCERS].concat());
    assert!(plan.consumers.is_empty());
    let expected: Vec<CheckName> = CheckName::ALL
        .into_iter()
        .filter(|c| !c.needs_consumers() && !c.needs_transactions())
        .collect();
    assert_eq!(plan.checks.anomalies, expected);
    assert_eq!(
        expected,
        [
            CheckName::LostWrite,
            CheckName::DuplicateWrite,
            CheckName::OrderViolation,
            CheckName::KeySplit,
            CheckName::Phantom
        ]
    );
}

#[test]
fn units_and_variants_are_read() {
    let plan = parse_ok(&valid_with(r#"rate = "1500/s""#, r#"rate = "300/m""#));
    assert_eq!(plan.producers[0].rate, Rate::PerSecond(5.0));
    let plan = parse_ok(&valid_with(r#"size = "1KiB""#, r#"size = "2MiB""#));
    assert_eq!(plan.producers[0].size, 2 << 20);
    let plan = parse_ok(&valid_with(r#"size = "1KiB""#, r#"size = "1KB""#));
    assert_eq!(plan.producers[0].size, 1000);
    let plan = parse_ok(&valid_with(r#"size = "1KiB""#, r#"size = "700""#));
    assert_eq!(plan.producers[0].size, 700);
    let plan = parse_ok(&valid_with(r#"duration = "50s""#, r#"duration = "1m30s""#));
    assert_eq!(plan.duration, Some(Duration::from_secs(90)));
    for (written, dist) in [
        ("uniform", KeyDistribution::Uniform),
        ("sequential", KeyDistribution::Sequential),
    ] {
        let plan = parse_ok(&valid_with(
            r#"distribution = "zipf", exponent = 1.1"#,
            &format!("distribution = {written:?}"),
        ));
        assert_eq!(plan.producers[0].key_distribution, dist);
    }
    let plan = parse_ok(&valid_with(
        r#"duplicate_delivery = "allowed""#,
        r#"duplicate_delivery = "forbidden""#,
    ));
    assert!(!plan.checks.duplicate_delivery_allowed);
    let plan = parse_ok(&valid_with(
        r#"commit = "after_processing""#,
        r#"commit = "auto""#,
    ));
    assert_eq!(plan.consumers[0].commit, CommitMode::Auto);
    // `messages` alone, or with `duration`: both are kept.
    let plan = parse_ok(&valid_with("duration = \"50s\"\n", "messages = 20000\n"));
    assert_eq!((plan.duration, plan.messages), (None, Some(20_000)));
    let plan = parse_ok(&valid_with(
        "duration = \"50s\"\n",
        "duration = \"50s\"\nmessages = 7\n",
    ));
    assert_eq!(
        (plan.duration, plan.messages),
        (Some(Duration::from_secs(50)), Some(7))
    );
    // Every template is known by its documented name.
    for template in ["audit", "auth", "webhook", "invoice", "compliance", "raw"] {
        let plan = parse_ok(&valid_with(
            "template = \"webhook\"\nsize = \"1KiB\"",
            &format!("template = {template:?}\nsize = \"16KiB\""),
        ));
        assert_eq!(plan.producers[0].template.to_string(), template);
    }
}

#[test]
fn producers_and_consumers_name_their_topic_by_index() {
    let second_topic = "\n[[topics]]\nname = \"other\"\npartitions = 3\n";
    let text = [
        HEAD,
        CLUSTER,
        TOPICS,
        second_topic,
        PRODUCERS,
        CONSUMERS,
        CHECKS,
    ]
    .concat()
    .replace("topic = \"webhook-events\"", "topic = \"other\"");
    let plan = parse_ok(&text);
    assert_eq!(plan.topics[1].name, "other");
    assert_eq!(plan.producers[0].topic, 1);
    assert_eq!(plan.consumers[0].topic, 1);
}

#[test]
fn crlf_line_endings_parse_and_errors_keep_their_position() {
    let text = valid().replace('\n', "\r\n");
    assert_eq!(parse_ok(&text).name, "account-ordering");
    let text = edit(&text, r#"rate = "1500/s""#, r#"rate = "5k/s""#);
    fails_at(&text, r#""5k/s""#, &["producers[0].rate"]);
}

// ----- the documented example ------------------------------------------------------------

#[test]
fn a_rate_with_a_suffix_is_refused_as_in_the_docs() {
    let text = valid_with(r#"rate = "1500/s""#, r#"rate = "5k/s""#);
    let e = fails_at(&text, r#""5k/s""#, &[]);
    assert_eq!((e.line, e.column), (34, 8));
    assert_eq!(
        e.to_string(),
        r#"scenarios/test.toml:34:8: `producers[0].rate = "5k/s"`: expected a number per second like "5000/s", or "max""#
    );
}

// ----- unknown keys (deny_unknown_fields) -------------------------------------------------

#[test]
fn unknown_keys_are_refused_in_every_table() {
    let cases = [
        // (after this line, in which table)
        ("seed = 2\n", "the top level"),
        ("brokers = 3\n", "[cluster]"),
        ("replication_factor = 3\n", "[[topics]]"),
        ("max_in_flight = 500\n", "[[producers]]"),
        ("processing_time = \"2ms\"\n", "[[consumers]]"),
        ("max_duplicate_deliveries = 100\n", "[checks]"),
    ];
    for (after, table) in cases {
        println!("an unknown key in {table}");
        let text = valid_with(after, &format!("{after}bogus_key = 1\n"));
        fails_at(&text, "bogus_key", &["unknown field `bogus_key`"]);
    }
    // In the inline `keys` table.
    let text = valid_with("exponent = 1.1 }", "exponent = 1.1, bogus_key = 1 }");
    fails_at(
        &text,
        "bogus_key",
        &[
            "unknown field `bogus_key`",
            "`count`, `distribution`, `exponent`",
        ],
    );
}

#[test]
fn a_misspelt_key_names_the_table_and_the_expected_keys() {
    let text = valid_with("partitions = 12", "partitons = 12");
    fails_at(
        &text,
        "partitons",
        &["`topics`", "unknown field `partitons`", "`partitions`"],
    );
}

// ----- top level ------------------------------------------------------------------------

#[test]
fn bad_durations_are_refused() {
    for (from, to, field) in [
        (r#"duration = "50s""#, r#"duration = "50""#, "duration"),
        (r#"warmup = "5s""#, r#"warmup = "five seconds""#, "warmup"),
        (
            r#"drain_timeout = "90s""#,
            r#"drain_timeout = "-1s""#,
            "drain_timeout",
        ),
        (
            r#"processing_time = "2ms""#,
            r#"processing_time = "2""#,
            "consumers[0].processing_time",
        ),
    ] {
        let text = valid_with(from, to);
        let value = to.split_once(" = ").unwrap().1;
        fails_at(
            &text,
            value,
            &[
                &format!("`{field} = {value}`"),
                "expected a duration like \"30s\"",
            ],
        );
    }
}

#[test]
fn neither_duration_nor_messages_is_refused() {
    let text = valid_with("duration = \"50s\"\n", "");
    fails_at(
        &text,
        "\"account-ordering\"",
        &["`duration = \"60s\"`", "`messages = 100000`"],
    );
}

#[test]
fn zero_messages_are_refused() {
    let text = valid_with("duration = \"50s\"\n", "messages = 0\n");
    fails_at(&text, "0\n", &["`messages = 0`", "must be at least 1"]);
}

#[test]
fn negative_messages_name_the_field() {
    let text = valid_with("duration = \"50s\"\n", "messages = -5\n");
    fails_at(&text, "-5", &["`messages`", "-5", "expected u64"]);
}

#[test]
fn an_empty_name_is_refused() {
    let text = valid_with(r#"name = "account-ordering""#, r#"name = " ""#);
    fails_at(&text, r#"" ""#, &["`name = \" \"`", "must not be empty"]);
}

#[test]
fn missing_required_keys_are_refused() {
    let text = valid_with("name = \"account-ordering\"\n", "");
    let e = fails_at(&text, "#", &["missing field `name`"]);
    assert_eq!((e.line, e.column), (1, 1));
    // Inside a table: at the table's header, naming the table.
    let text = valid_with("rate = \"1500/s\"\n", "");
    fails_at(
        &text,
        "[[producers]]",
        &["`producers`", "missing field `rate`"],
    );
}

#[test]
fn values_of_the_wrong_type_name_the_field() {
    let text = valid_with("partitions = 12", "partitions = \"12\"");
    fails_at(
        &text,
        "\"12\"",
        &["`topics.partitions`", "string \"12\"", "expected i64"],
    );
    let text = valid_with("instances = 2", "instances = 2.5");
    fails_at(&text, "2.5", &["`producers.instances`", "2.5"]);
    let text = valid_with(
        "\"event-source\"\ndriver = \"rdkafka\"",
        "\"event-source\"\ndriver = \"librdkafka\"",
    );
    fails_at(
        &text,
        "\"librdkafka\"",
        &[
            "`producers.driver`",
            "`librdkafka`",
            "`rdkafka`, `rskafka`, `exec`",
        ],
    );
    let text = valid_with(r#"commit = "after_processing""#, r#"commit = "sometimes""#);
    fails_at(
        &text,
        "\"sometimes\"",
        &[
            "`consumers.commit`",
            "`sometimes`",
            "`auto`, `after_processing`",
        ],
    );
}

// ----- [cluster] and [[topics]] ---------------------------------------------------------

#[test]
fn brokers_out_of_range_are_refused() {
    for brokers in ["0", "6", "-1"] {
        let text = valid_with("brokers = 3", &format!("brokers = {brokers}"));
        fails_at(
            &text,
            &format!("{brokers}\nkafka_version"),
            &[
                &format!("`cluster.brokers = {brokers}`"),
                "must be from 1 to 5",
            ],
        );
    }
}

#[test]
fn replication_factor_above_brokers_is_refused() {
    let text = valid_with("replication_factor = 3", "replication_factor = 4");
    fails_at(
        &text,
        "4\n\n[topics.config]",
        &[
            "`topics[0].replication_factor = 4`",
            "must be from 1 to 3",
            "no more than the cluster's brokers",
        ],
    );
    // With the default of one broker.
    let text = valid_with("brokers = 3\n", "");
    fails_at(
        &text,
        "3\n\n[topics.config]",
        &["`topics[0].replication_factor = 3`", "must be from 1 to 1"],
    );
}

#[test]
fn partitions_out_of_range_are_refused() {
    for partitions in ["0", "10001"] {
        let text = valid_with("partitions = 12", &format!("partitions = {partitions}"));
        fails_at(
            &text,
            &format!("{partitions}\nreplication"),
            &[
                &format!("`topics[0].partitions = {partitions}`"),
                "must be from 1 to 10000",
            ],
        );
    }
}

#[test]
fn duplicate_topic_names_are_refused() {
    let text = [HEAD, CLUSTER, TOPICS, TOPICS, PRODUCERS, CONSUMERS, CHECKS].concat();
    fails_at_nth(
        &text,
        "\"webhook-events\"",
        1,
        &[
            "`topics[1].name = \"webhook-events\"`",
            "must be a non-empty name used once",
        ],
    );
}

#[test]
fn no_topics_are_refused() {
    let text = [HEAD, "topics = []\n", CLUSTER, PRODUCERS, CONSUMERS, CHECKS].concat();
    fails_at(&text, "[]", &["`topics`", "declare at least one topic"]);
}

// ----- [[producers]] ----------------------------------------------------------------------

#[test]
fn a_producer_naming_an_undeclared_topic_is_refused() {
    let second_topic = "\n[[topics]]\nname = \"other\"\npartitions = 3\n";
    let text = [
        HEAD,
        CLUSTER,
        TOPICS,
        second_topic,
        PRODUCERS,
        CONSUMERS,
        CHECKS,
    ]
    .concat();
    let text = edit(
        &text,
        "instances = 2\ntopic = \"webhook-events\"",
        "instances = 2\ntopic = \"webhook-event\"",
    );
    fails_at(
        &text,
        "\"webhook-event\"",
        &[
            "`producers[0].topic = \"webhook-event\"`",
            "no such topic",
            r#"declared: ["webhook-events", "other"]"#,
        ],
    );
}

#[test]
fn a_consumer_naming_an_undeclared_topic_is_refused() {
    let text = valid_with(
        "instances = 3\ntopic = \"webhook-events\"",
        "instances = 3\ntopic = \"audit\"",
    );
    fails_at(
        &text,
        "\"audit\"",
        &[
            "`consumers[0].topic = \"audit\"`",
            r#"declared: ["webhook-events"]"#,
        ],
    );
}

#[test]
fn a_bad_size_is_refused() {
    for size in ["\"1 kilobyte\"", "\"1kib\"", "\"-1B\"", "\"1.5B\"", "\"\""] {
        let text = valid_with(r#"size = "1KiB""#, &format!("size = {size}"));
        fails_at(
            &text,
            size,
            &[
                &format!("`producers[0].size = {size}`"),
                "expected a size like \"1KiB\"",
            ],
        );
    }
}

#[test]
fn a_size_below_the_template_minimum_is_refused() {
    let min = Template::Webhook.min_size();
    assert!(min > 10);
    let text = valid_with(r#"size = "1KiB""#, r#"size = "10B""#);
    fails_at(
        &text,
        "\"10B\"",
        &[
            "`producers[0].size = \"10B\"`",
            &format!("the webhook template needs from {min} bytes to 16 MiB"),
        ],
    );
    // The minimum itself is accepted, one byte less is not.
    let plan = parse_ok(&valid_with(
        r#"size = "1KiB""#,
        &format!("size = \"{min}B\""),
    ));
    assert_eq!(plan.producers[0].size, min);
    let less = format!("\"{}B\"", min - 1);
    let text = valid_with(r#"size = "1KiB""#, &format!("size = {less}"));
    fails_at(&text, &less, &["the webhook template needs from"]);
    // And so is anything above 16 MiB.
    let text = valid_with(r#"size = "1KiB""#, r#"size = "17MiB""#);
    fails_at(&text, "\"17MiB\"", &["to 16 MiB"]);
}

#[test]
fn an_unknown_template_is_refused() {
    let text = valid_with(r#"template = "webhook""#, r#"template = "webhooks""#);
    fails_at(
        &text,
        "\"webhooks\"",
        &[
            "`producers[0].template = \"webhooks\"`",
            "expected one of audit, auth, webhook, invoice, compliance, raw",
        ],
    );
}

#[test]
fn an_unknown_key_distribution_is_refused() {
    let text = valid_with(r#"distribution = "zipf""#, r#"distribution = "normal""#);
    fails_at(
        &text,
        "\"normal\"",
        &[
            "`producers[0].keys.distribution = \"normal\"`",
            "expected \"uniform\", \"zipf\" or \"sequential\"",
        ],
    );
}

#[test]
fn a_non_positive_zipf_exponent_is_refused() {
    for exponent in ["0.0", "-1.5", "-0.0", "nan", "inf", "-inf"] {
        let text = valid_with("exponent = 1.1", &format!("exponent = {exponent}"));
        fails_at(
            &text,
            &format!("{exponent} }}"),
            &[
                &format!("`producers[0].keys.exponent = {exponent}`"),
                "the zipf exponent must be a positive number",
            ],
        );
    }
}

#[test]
fn a_key_count_out_of_range_is_refused() {
    let text = valid_with("count = 5000", "count = 0");
    fails_at(
        &text,
        "0,",
        &["`producers[0].keys.count = 0`", "must be from 1 to"],
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    // "ü" is two bytes; the column of `0` is counted in characters.
    let before = "keys = { distribution = \"züpf\", count = ";
    let text = valid_with(
        "keys = { count = 5000, distribution = \"zipf\", exponent = 1.1 }",
        "keys = { distribution = \"züpf\", count = 0 }",
    );
    let e = fails_at(&text, "0 }", &["`producers[0].keys.count = 0`"]);
    assert_eq!(e.column, before.chars().count() + 1);
    assert_eq!(e.column, before.len());
}

#[test]
fn a_bad_rate_is_refused() {
    for rate in ["\"5k/s\"", "\"0/s\"", "\"5000\"", "\"5000/h\"", "\"-1/s\""] {
        let text = valid_with(r#"rate = "1500/s""#, &format!("rate = {rate}"));
        fails_at(
            &text,
            rate,
            &[
                &format!("`producers[0].rate = {rate}`"),
                "expected a number per second like \"5000/s\", or \"max\"",
            ],
        );
    }
}

#[test]
fn instances_and_in_flight_out_of_range_are_refused() {
    let text = valid_with("instances = 2", "instances = 65");
    fails_at(
        &text,
        "65",
        &["`producers[0].instances = 65`", "must be from 1 to 64"],
    );
    let text = valid_with("instances = 3", "instances = 0");
    fails_at(
        &text,
        "0\ntopic",
        &["`consumers[0].instances = 0`", "must be from 1 to 64"],
    );
    let text = valid_with("max_in_flight = 500", "max_in_flight = 0");
    fails_at(
        &text,
        "0\n\n[producers.client]",
        &["`producers[0].max_in_flight = 0`", "must be from 1 to"],
    );
}

#[test]
fn no_producers_are_refused() {
    let text = [HEAD, CLUSTER, TOPICS, CONSUMERS, CHECKS].concat();
    fails_at(
        &text,
        "\"account-ordering\"",
        &["no producers", "[[producers]]"],
    );
}

// ----- [[consumers]] ----------------------------------------------------------------------

#[test]
fn an_rskafka_consumer_with_a_group_is_refused() {
    let text = valid_with(
        "name = \"webhook-workers\"\ndriver = \"rdkafka\"",
        "name = \"webhook-workers\"\ndriver = \"rskafka\"",
    );
    fails_at(
        &text,
        "\"webhook-consumers\"",
        &[
            "`consumers[0].group = \"webhook-consumers\"`",
            "rskafka has no consumer groups",
        ],
    );
}

#[test]
fn an_rskafka_consumer_with_a_commit_mode_or_instances_is_refused() {
    let rskafka = valid_with(
        "name = \"webhook-workers\"\ndriver = \"rdkafka\"",
        "name = \"webhook-workers\"\ndriver = \"rskafka\"",
    );
    let rskafka = edit(&rskafka, "group = \"webhook-consumers\"\n", "");
    fails_at(
        &rskafka,
        "\"after_processing\"",
        &[
            "`consumers[0].commit = \"after_processing\"`",
            "rskafka cannot commit offsets",
        ],
    );
    let text = edit(&rskafka, "commit = \"after_processing\"\n", "");
    fails_at(
        &text,
        "3\ntopic",
        &["`consumers[0].instances = 3`", "use 1 instance"],
    );
    let text = edit(&text, "instances = 3\n", "");
    let plan = parse_ok(&text);
    assert_eq!(plan.consumers[0].group, None);
}

#[test]
fn an_rdkafka_consumer_without_a_group_is_refused() {
    let text = valid_with("group = \"webhook-consumers\"\n", "");
    fails_at(
        &text,
        "\"webhook-workers\"",
        &[
            "`consumers[0].name = \"webhook-workers\"`",
            "an rdkafka consumer needs `group = \"...\"`",
        ],
    );
}

// ----- [checks] ---------------------------------------------------------------------------

#[test]
fn an_unknown_check_name_is_refused() {
    let text = valid_with(r#""order_violation", "#, r#""ordering", "#);
    fails_at(
        &text,
        "\"ordering\"",
        &[
            "`checks.anomalies = \"ordering\"`",
            "expected one of lost_write, duplicate_write, order_violation, key_split, \
             lost_delivery, duplicate_delivery, nonmonotonic_poll, delivery_order, phantom",
        ],
    );
}

#[test]
fn a_delivery_check_without_consumers_is_refused() {
    let checks = r#"
[checks]
anomalies = ["lost_write", "nonmonotonic_poll"]
"#;
    let text = [HEAD, CLUSTER, TOPICS, PRODUCERS, checks].concat();
    fails_at(
        &text,
        "\"nonmonotonic_poll\"",
        &[
            "`checks.anomalies = \"nonmonotonic_poll\"`",
            "this check needs consumers",
        ],
    );
    // Without the delivery checks and the end-to-end SLO, the same scenario is fine.
    let text = [HEAD, CLUSTER, TOPICS, PRODUCERS, CHECKS_NO_CONSUMERS].concat();
    assert_eq!(parse_ok(&text).checks.anomalies.len(), 4);
}

#[test]
fn a_bad_duplicate_delivery_setting_is_refused() {
    let text = valid_with(
        r#"duplicate_delivery = "allowed""#,
        r#"duplicate_delivery = "yes""#,
    );
    fails_at(
        &text,
        "\"yes\"",
        &[
            "`checks.duplicate_delivery = \"yes\"`",
            "expected \"allowed\" (at-least-once) or \"forbidden\"",
        ],
    );
}

#[test]
fn unknown_slos_are_refused() {
    for (key, rule) in [
        ("latency_p99", "unknown SLO: expected ack_pNN"),
        (
            "ack_p95",
            "unknown percentile: expected p50, p90, p99, p999 or max",
        ),
        ("ack", "unknown percentile"),
    ] {
        let text = valid_with(r#"ack_p99 = "250ms""#, &format!("{key} = \"250ms\""));
        fails_at(
            &text,
            "\"250ms\"",
            &[&format!("`checks.slo.{key} = \"250ms\"`"), rule],
        );
    }
}

#[test]
fn bad_slo_values_are_refused() {
    let text = valid_with(r#"ack_p99 = "250ms""#, "ack_p99 = 250");
    fails_at(
        &text,
        "250\n",
        &["`checks.slo.ack_p99 = 250`", "expected a duration like"],
    );
    let text = valid_with(r#"ack_p99 = "250ms""#, r#"ack_p99 = "quick""#);
    fails_at(
        &text,
        "\"quick\"",
        &[
            "`checks.slo.ack_p99 = \"quick\"`",
            "expected a duration like",
        ],
    );
    let text = valid_with(r#"min_throughput = "1300/s""#, r#"min_throughput = "max""#);
    fails_at(
        &text,
        "\"max\"",
        &[
            "`checks.slo.min_throughput = \"max\"`",
            "expected a rate like \"1000/s\"",
        ],
    );
}

#[test]
fn an_end_to_end_slo_without_consumers_is_refused() {
    let checks = r#"
[checks]
anomalies = ["lost_write"]

[checks.slo]
e2e_p99 = "2s"
"#;
    let text = [HEAD, CLUSTER, TOPICS, PRODUCERS, checks].concat();
    fails_at(
        &text,
        "\"2s\"",
        &[
            "`checks.slo.e2e_p99 = \"2s\"`",
            "end-to-end latency needs consumers",
        ],
    );
}

// ----- TOML syntax ------------------------------------------------------------------------

#[test]
fn toml_syntax_errors_are_placed_where_they_are() {
    // (edit, where the error is, a fragment of the message)
    let cases = [
        (("[cluster]", "[cluster"), "\nbrokers", "unclosed table"),
        (("seed = 2", "seed = 2 3"), "2 3", "must be quoted"),
        (("warmup = \"5s\"", "warmup = \"5s"), "\nduration", "string"),
        (
            ("partitions = 12", "partitions 12"),
            "12\nreplication",
            "expected `=`",
        ),
        (
            ("seed = 2\n", "seed = 2\nseed = 3\n"),
            "seed = 3",
            "duplicate key",
        ),
    ];
    for ((from, to), at, fragment) in cases {
        let text = valid_with(from, to);
        let e = fails_at(&text, at, &[fragment]);
        println!("{e}");
    }
}

#[test]
fn empty_and_garbage_text_is_refused_cleanly() {
    for text in ["", "\n\n", "= = =", "[[", "\u{feff}", "name = \"x\"\u{0}"] {
        let e = parse(Path::new(FILE), text).expect_err(text);
        assert!(e.line >= 1 && e.column >= 1 && !e.message.is_empty(), "{e}");
    }
}

// ----- never a panic ----------------------------------------------------------------------

/// Checks the shape of any error `parse` returns for `text`.
fn check_any(text: &str) -> Result<(), TestCaseError> {
    match parse(Path::new(FILE), text) {
        Ok(plan) => prop_assert!(!plan.producers.is_empty() && !plan.topics.is_empty()),
        Err(e) => {
            prop_assert!(e.line >= 1, "line {} in {e}", e.line);
            prop_assert!(e.column >= 1, "column {} in {e}", e.column);
            prop_assert!(
                e.line <= text.split('\n').count(),
                "line {} past the end: {e}",
                e.line
            );
            prop_assert!(!e.message.trim().is_empty(), "empty message: {e}");
            prop_assert_eq!(
                e.to_string(),
                format!("{FILE}:{}:{}: {}", e.line, e.column, e.message)
            );
        }
    }
    Ok(())
}

/// Single-line edits that keep the text near a valid scenario, so validation is reached.
#[derive(Debug, Clone)]
enum LineEdit {
    Delete(usize),
    Duplicate(usize),
    Swap(usize, usize),
    Replace(usize, String),
}

fn line_edit() -> impl Strategy<Value = LineEdit> {
    prop_oneof![
        any::<usize>().prop_map(LineEdit::Delete),
        any::<usize>().prop_map(LineEdit::Duplicate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| LineEdit::Swap(a, b)),
        (
            any::<usize>(),
            r#"[a-z_]{1,12} = ("[a-z0-9/. ]{0,8}"|-?[0-9]{1,6}|[0-9]\.[0-9]|true|\[\])"#
        )
            .prop_map(|(i, l)| LineEdit::Replace(i, l)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        check_any(&text)?;
    }

    #[test]
    fn toml_like_text_never_panics(text in r#"[a-z_\[\]{}=",.#\n 0-9ü-]{0,200}"#) {
        check_any(&text)?;
    }

    #[test]
    fn byte_flips_and_truncations_never_panic(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        keep in any::<usize>(),
    ) {
        let mut bytes = valid().into_bytes();
        for (at, byte) in flips {
            let len = bytes.len();
            bytes[at % len] = byte;
        }
        bytes.truncate(keep % (bytes.len() + 1));
        check_any(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn line_edits_never_panic(edits in proptest::collection::vec(line_edit(), 1..4)) {
        let text = valid();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        for edit in edits {
            let n = lines.len().max(1);
            match edit {
                LineEdit::Delete(i) if !lines.is_empty() => {
                    lines.remove(i % n);
                }
                LineEdit::Duplicate(i) if !lines.is_empty() => {
                    let line = lines[i % n].clone();
                    lines.insert(i % n, line);
                }
                LineEdit::Swap(a, b) if !lines.is_empty() => lines.swap(a % n, b % n),
                LineEdit::Replace(i, line) if !lines.is_empty() => lines[i % n] = line,
                _ => {}
            }
        }
        check_any(&lines.join("\n"))?;
    }
}

#[test]
fn an_exponent_without_zipf_is_refused() {
    let text = r#"name = "x"
messages = 10

[[topics]]
name = "t"
partitions = 1

[[producers]]
name = "p"
driver = "rdkafka"
topic = "t"
template = "raw"
size = "10B"
keys = { count = 5, distribution = "uniform", exponent = 1.2 }
rate = "max"
"#;
    let err = parse(Path::new("x.toml"), text).unwrap_err();
    assert_eq!((err.line, err.column), (14, 58), "{err}");
    assert!(
        err.message.contains("producers[0].keys.exponent = 1.2"),
        "{err}"
    );
    assert!(err.message.contains("zipf"), "{err}");
}

// ----- faults, transactions, stages ----------------------------------------------------

const FAULTS: &str = r#"
[[faults]]
action = "kill"
target = "leader"
topic = "webhook-events"
partition = 3
at = "20s"
every = "10s"
times = 3
restart_after = "5s"

[[faults]]
action = "crash_consumer"
consumer = "webhook-workers"
after_acks = 5000

[[faults]]
action = "pause"
target = 2
at = "1m"
"#;

pub(crate) fn with_faults() -> String {
    [valid().as_str(), FAULTS].concat()
}

#[test]
fn faults_parse_into_the_schedule() {
    let plan = parse_ok(&with_faults());
    assert_eq!(plan.faults.len(), 3);
    let kill = &plan.faults[0];
    assert_eq!(kill.action, FaultAction::Broker(BrokerOp::Kill));
    assert_eq!(
        kill.target,
        FaultTarget::Broker(BrokerTarget::Leader {
            topic: 0,
            partition: 3
        })
    );
    assert_eq!(kill.trigger, Trigger::At(Duration::from_secs(20)));
    assert_eq!(kill.every, Some(Duration::from_secs(10)));
    assert_eq!(kill.times, 3);
    assert_eq!(kill.undo_after, Some(Duration::from_secs(5)));
    assert_eq!(plan.faults[1].action, FaultAction::CrashConsumer);
    assert_eq!(plan.faults[1].target, FaultTarget::Consumer(0));
    assert_eq!(plan.faults[1].trigger, Trigger::AfterAcks(5000));
    assert_eq!(
        plan.faults[2].target,
        FaultTarget::Broker(BrokerTarget::Node(2))
    );
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["faults"][0]["action"], "kill");
    assert_eq!(json["faults"][0]["every"], "10s");
}

#[test]
fn bad_faults_are_refused_where_they_are_written() {
    let f = with_faults();
    fails_at(
        &edit(&f, "action = \"kill\"", "action = \"nuke\""),
        "\"nuke\"",
        &["faults[0].action", "expected kill, terminate"],
    );
    fails_at(
        &edit(&f, "target = 2", "target = 9"),
        "9\nat",
        &["faults[2].target", "from 1 to 3"],
    );
    fails_at(
        &edit(&f, "target = 2", "target = \"primary\""),
        "\"primary\"",
        &[
            "faults[2].target",
            "\"leader\", \"controller\" or \"random\"",
        ],
    );
    fails_at(
        &edit(&f, "partition = 3", "partition = 12"),
        "12\nat",
        &["faults[0].partition", "from 0 to 11"],
    );
    fails_at(
        &edit(
            &f,
            "topic = \"webhook-events\"\npartition",
            "topic = \"nope\"\npartition",
        ),
        "\"nope\"",
        &["faults[0].topic", "no such topic"],
    );
    fails_at(
        &edit(
            &f,
            "consumer = \"webhook-workers\"",
            "consumer = \"ghosts\"",
        ),
        "\"ghosts\"",
        &["faults[1].consumer", "no such consumer table"],
    );
    fails_at(
        &edit(&f, "after_acks = 5000", "after_acks = 5000\nat = \"3s\""),
        "5000\nat",
        &["faults[1].after_acks", "either `at` or `after_acks`"],
    );
    fails_at(
        &edit(&f, "at = \"1m\"", "restart_after = \"1s\""),
        "\"pause\"\ntarget = 2",
        &["faults[2].action", "needs a time"],
    );
    fails_at(
        &edit(&f, "restart_after = \"5s\"", "restart_after = \"10s\""),
        "\"10s\"\n\n",
        &["faults[0].restart_after", "shorter than `every`"],
    );
    fails_at(
        &edit(&f, "every = \"10s\"\n", ""),
        "3\nrestart_after",
        &["faults[0].times", "needs `every"],
    );
    fails_at(
        &edit(
            &f,
            "after_acks = 5000",
            "after_acks = 5000\nrestart_after = \"2s\"",
        ),
        "\"2s\"\n\n",
        &["faults[1].restart_after", "only kill, terminate"],
    );
    fails_at(
        &edit(&f, "at = \"1m\"", "at = \"1m\"\nwhen = 1"),
        "when",
        &["unknown field `when`"],
    );
}

const TRANSACTIONAL: &str = r#"
[producers.transactions]
every = 100
abort = 0.1
"#;

#[test]
fn transactions_and_stages_parse_and_are_checked() {
    let text = valid().replacen(
        "\n[producers.client]",
        &format!("{TRANSACTIONAL}\n[producers.client]"),
        1,
    );
    let text = text.replacen(
        "[[topics]]",
        "[[topics]]\nname = \"ledger\"\npartitions = 3\n\n[[topics]]",
        1,
    );
    let stage = r#"
[[stages]]
name = "enricher"
input = "webhook-events"
output = "ledger"
group = "enricher"
transaction_every = 50
"#;
    let text = [text.as_str(), stage].concat();
    let plan = parse_ok(&text);
    assert!(plan.has_transactions());
    let t = plan.producers[0].transactions.unwrap();
    assert_eq!((t.every, t.abort_ratio), (100, 0.1));
    let s = &plan.stages[0];
    assert_eq!((s.input, s.output, s.transaction_every), (1, 0, 50));
    fails_at(
        &edit(&text, "abort = 0.1", "abort = 1.0"),
        "1.0",
        &["producers[0].transactions.abort", "below 1"],
    );
    fails_at(
        &edit(&text, "every = 100", "every = 0"),
        "0\nabort",
        &["producers[0].transactions.every", "from 1"],
    );
    fails_at(
        &edit(&text, "output = \"ledger\"", "output = \"webhook-events\""),
        "\"webhook-events\"\ngroup = \"enricher\"",
        &["stages[0].output", "must differ"],
    );
    fails_at(
        &edit(
            &text,
            "transaction_every = 50",
            "transaction_every = 50\ndriver = \"rskafka\"",
        ),
        "\"rskafka\"\n",
        &["stages[0].driver", "rdkafka"],
    );
}

#[test]
fn regression_limits_are_percentages_of_known_metrics() {
    let text = format!(
        "{}\n[checks.regression]\nack_p99 = \"20%\"\nthroughput = \"5 %\"\n",
        valid()
    );
    let plan = parse_ok(&text);
    assert_eq!(plan.checks.regression["ack_p99"], 0.2);
    assert_eq!(plan.checks.regression["throughput"], 0.05);
    fails_at(
        &edit(&text, "\"20%\"", "\"20\""),
        "\"20\"",
        &["checks.regression.ack_p99", "a percentage like \"10%\""],
    );
    fails_at(
        &edit(&text, "ack_p99 = \"20%\"", "ack_p98 = \"20%\""),
        "\"20%\"",
        &["checks.regression.ack_p98", "unknown metric", "e2e_p999"],
    );
}

#[test]
fn instances_are_numbered_across_tables() {
    // Their first messages are tested with the workload (`workload::tests`).
    let mut plan = parse_ok(&valid());
    let mut second = plan.producers[0].clone();
    second.name = "second".into();
    second.instances = 3;
    plan.producers.push(second);
    assert_eq!(plan.first_producer_ids(), [0, 2]);
}

// ----- exec tables ---------------------------------------------------------------------

/// The valid scenario with its producer and consumer tables on the exec driver.
fn exec_tables() -> String {
    let text = valid_with(
        "name = \"event-source\"\ndriver = \"rdkafka\"",
        "name = \"event-source\"\ndriver = \"exec\"\n\
         command = [\"./adapters/producer.sh\", \"--fast\"]\n\
         env = { NODE_OPTIONS = \"--max-old-space-size=256\" }\n\
         startup_timeout = \"5s\"",
    );
    let text = edit(
        &text,
        "name = \"webhook-workers\"\ndriver = \"rdkafka\"",
        "name = \"webhook-workers\"\ndriver = \"exec\"\ncommand = [\"node\", \"consumer.js\"]\ncwd = \"adapters\"",
    );
    let text = edit(&text, "commit = \"after_processing\"\n", "");
    edit(&text, "processing_time = \"2ms\"\n", "")
}

#[test]
fn an_exec_program_path_is_taken_from_the_folder_it_runs_in() {
    let text = edit(
        &exec_tables(),
        "startup_timeout = \"5s\"",
        "startup_timeout = \"5s\"\ncwd = \"..\"",
    );
    let plan = parse_ok(&text);
    let cwd = std::path::absolute("scenarios/..").unwrap();
    let exec = plan.producers[0].exec.as_ref().unwrap();
    assert_eq!(exec.cwd, cwd);
    assert_eq!(
        exec.command[0],
        cwd.join("adapters/producer.sh").to_string_lossy()
    );
}

#[test]
fn exec_tables_parse_with_paths_from_the_scenario_folder() {
    let plan = parse_ok(&exec_tables());
    let folder = std::path::absolute("scenarios").unwrap();
    let p = &plan.producers[0];
    assert_eq!(p.driver, DriverKind::Exec);
    let exec = p.exec.as_ref().unwrap();
    // A relative program with a `/` is the scenario folder's; the working folder defaults
    // to the scenario's folder.
    assert_eq!(
        exec.command,
        [
            folder
                .join("adapters/producer.sh")
                .to_string_lossy()
                .into_owned(),
            "--fast".to_owned()
        ]
    );
    assert_eq!(exec.cwd, folder);
    assert_eq!(
        exec.env,
        strings(&[("NODE_OPTIONS", "--max-old-space-size=256")])
    );
    assert_eq!(exec.startup_timeout, Duration::from_secs(5));
    let c = &plan.consumers[0];
    assert_eq!(c.driver, DriverKind::Exec);
    let exec = c.exec.as_ref().unwrap();
    // A bare program name is looked up on the PATH.
    assert_eq!(exec.command, ["node", "consumer.js"]);
    assert_eq!(exec.cwd, folder.join("adapters"));
    assert!(exec.env.is_empty());
    assert_eq!(exec.startup_timeout, Duration::from_secs(30));
    assert_eq!(c.group.as_deref(), Some("webhook-consumers"));
    // The scenario as run (result.json's `plan`) has the exec keys for exec tables only.
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["producers"][0]["exec"]["startup_timeout"], "5s");
    assert!(
        serde_json::to_value(parse_ok(&valid())).unwrap()["producers"][0]
            .get("exec")
            .is_none()
    );
    // An absolute program and folder stay as written.
    let text = edit(
        &exec_tables(),
        "[\"node\", \"consumer.js\"]\ncwd = \"adapters\"",
        "[\"/usr/bin/node\"]\ncwd = \"/srv\"",
    );
    let exec = parse_ok(&text).consumers[0].exec.clone().unwrap();
    assert_eq!(
        (exec.command, exec.cwd),
        (vec!["/usr/bin/node".to_owned()], PathBuf::from("/srv"))
    );
}

#[test]
fn an_exec_table_needs_a_command() {
    let text = edit(
        &exec_tables(),
        "command = [\"node\", \"consumer.js\"]\n",
        "",
    );
    fails_at_nth(
        &text,
        "\"exec\"",
        1,
        &[
            "`consumers[0].driver = \"exec\"`",
            "an exec table needs `command = [",
        ],
    );
    let text = edit(&exec_tables(), "[\"node\", \"consumer.js\"]", "[]");
    fails_at(
        &text,
        "[]",
        &["`consumers[0].command = []`", "must name a program"],
    );
    let text = edit(&exec_tables(), "[\"node\", \"consumer.js\"]", "[\" \"]");
    fails_at(
        &text,
        "\" \"",
        &["`consumers[0].command[0] = \" \"`", "must not be empty"],
    );
    let text = edit(
        &exec_tables(),
        "[\"node\", \"consumer.js\"]",
        "[\"node\", \"a\\u0000b\"]",
    );
    fails_at(&text, "\"a\\u0000b\"", &["`consumers[0].command[1]", "NUL"]);
    let text = edit(
        &exec_tables(),
        "[\"node\", \"consumer.js\"]",
        "\"node consumer.js\"",
    );
    let e = fails_at(&text, "\"node consumer.js\"", &["consumers.command"]);
    assert!(
        e.message.contains("sequence") || e.message.contains("array"),
        "{e}"
    );
}

#[test]
fn exec_tables_refuse_what_they_cannot_use() {
    // Transactions: the protocol has none.
    let text = edit(
        &exec_tables(),
        "max_in_flight = 500\n",
        "max_in_flight = 500\ntransactions = { every = 10 }\n",
    );
    fails_at(
        &text,
        "{ every = 10 }",
        &[
            "`producers[0].transactions`",
            "an exec producer cannot be transactional",
        ],
    );
    let text = [exec_tables().as_str(), TRANSACTIONAL].concat();
    let e = parse(Path::new(FILE), &text).unwrap_err();
    assert!(
        e.message.contains("`producers[0].transactions`")
            && e.message.contains("cannot be transactional"),
        "{e}"
    );
    assert_eq!(
        (e.line, e.column),
        position(&text, "[producers.transactions]", 0),
        "{e}"
    );
    // The consumer's commits and processing are its own code.
    let text = edit(
        &exec_tables(),
        "group = \"webhook-consumers\"\n",
        "group = \"webhook-consumers\"\ncommit = \"after_processing\"\n",
    );
    fails_at(
        &text,
        "\"after_processing\"",
        &[
            "`consumers[0].commit = \"after_processing\"`",
            "commits as its own code does",
        ],
    );
    let text = edit(
        &exec_tables(),
        "group = \"webhook-consumers\"\n",
        "group = \"webhook-consumers\"\nprocessing_time = \"2ms\"\n",
    );
    fails_at(
        &text,
        "\"2ms\"",
        &["`consumers[0].processing_time = \"2ms\"`", "its own code"],
    );
    // A group to join.
    let text = edit(&exec_tables(), "group = \"webhook-consumers\"\n", "");
    fails_at(
        &text,
        "\"webhook-workers\"",
        &[
            "`consumers[0].name = \"webhook-workers\"`",
            "an exec consumer needs `group",
        ],
    );
    // Its own settings, checked.
    for (from, to, at, rule) in [
        (
            "startup_timeout = \"5s\"",
            "startup_timeout = \"soon\"",
            "\"soon\"",
            "producers[0].startup_timeout",
        ),
        (
            "startup_timeout = \"5s\"",
            "startup_timeout = \"0s\"",
            "\"0s\"",
            "longer than 0s",
        ),
        (
            "NODE_OPTIONS = \"--max-old-space-size=256\"",
            "\"A=B\" = \"x\"",
            "\"x\"",
            "a variable name must be non-empty, without `=`",
        ),
        (
            "NODE_OPTIONS = \"--max-old-space-size=256\"",
            "NODE_OPTIONS = 256",
            "256",
            "producers.env.NODE_OPTIONS",
        ),
        (
            "cwd = \"adapters\"",
            "cwd = \"\"",
            "\"\"\n",
            "consumers[0].cwd",
        ),
    ] {
        fails_at(&edit(&exec_tables(), from, to), at, &[rule]);
    }
}

#[test]
fn tables_of_other_drivers_refuse_the_exec_keys() {
    for (key, value) in [
        ("command", "[\"node\", \"p.js\"]"),
        ("env", "{ A = \"1\" }"),
        ("cwd", "\"adapters\""),
        ("startup_timeout", "\"10s\""),
    ] {
        let text = valid_with(
            "name = \"event-source\"\ndriver = \"rdkafka\"",
            &format!("name = \"event-source\"\ndriver = \"rdkafka\"\n{key} = {value}"),
        );
        fails_at(
            &text,
            value,
            &[
                &format!("`producers[0].{key}`"),
                "only an exec table (driver = \"exec\") runs a process",
                "this one's driver is rdkafka",
            ],
        );
    }
    let text = valid_with(
        "commit = \"after_processing\"",
        "commit = \"after_processing\"\ncommand = [\"x\"]",
    );
    fails_at(&text, "[\"x\"]", &["`consumers[0].command`", "rdkafka"]);
    // A stage has no exec driver.
    let text = [
        valid().as_str(),
        "\n[[stages]]\nname = \"s\"\ndriver = \"exec\"\ninput = \"webhook-events\"\noutput = \"webhook-events\"\ngroup = \"s\"\ntransaction_every = 5\n",
    ]
    .concat();
    fails_at_nth(
        &text,
        "\"exec\"",
        0,
        &[
            "stages[0].driver",
            "needs driver = \"rdkafka\" (exec has no transactions)",
        ],
    );
}

#[test]
fn consumer_faults_apply_to_exec_groups() {
    let text = [exec_tables().as_str(), FAULTS].concat();
    let plan = parse_ok(&text);
    assert!(
        plan.faults
            .iter()
            .any(|f| f.action == FaultAction::CrashConsumer && f.target == FaultTarget::Consumer(0))
    );
}

// ----- verifiable tables -----------------------------------------------------------------

/// The valid scenario with its producer and consumer tables on Kafka's verifiable clients.
fn verifiable_tables() -> String {
    let text = valid_with(
        "name = \"event-source\"\ndriver = \"rdkafka\"",
        "name = \"event-source\"\ndriver = \"verifiable\"",
    );
    let text = edit(&text, "template = \"webhook\"\nsize = \"1KiB\"\n", "");
    let text = edit(
        &text,
        "distribution = \"zipf\", exponent = 1.1",
        "distribution = \"uniform\"",
    );
    let text = edit(&text, "max_in_flight = 500\n", "");
    let text = edit(
        &text,
        "name = \"webhook-workers\"\ndriver = \"rdkafka\"",
        "name = \"webhook-workers\"\ndriver = \"verifiable\"",
    );
    edit(&text, "processing_time = \"2ms\"\n", "")
}

#[test]
fn verifiable_tables_take_the_tools_values_and_keys() {
    let plan = parse_ok(&verifiable_tables());
    let p = &plan.producers[0];
    assert_eq!(p.driver, DriverKind::Verifiable);
    assert_eq!((p.template, p.size), (Template::Verifiable, 0));
    assert!(p.exec.as_ref().unwrap().command.is_empty());
    let c = &plan.consumers[0];
    assert_eq!(c.driver, DriverKind::Verifiable);
    assert_eq!(c.commit, CommitMode::AfterProcessing);
    // Without a commit mode, it commits after each batch, as VerifiableConsumer does.
    let text = edit(&verifiable_tables(), "commit = \"after_processing\"\n", "");
    assert_eq!(
        parse_ok(&text).consumers[0].commit,
        CommitMode::AfterProcessing
    );
    // The scenario as run names its template and has no command.
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["producers"][0]["template"], "verifiable");
    assert!(json["producers"][0]["exec"].get("command").is_none());
}

#[test]
fn a_verifiable_table_refuses_what_the_tool_decides_itself() {
    let base = verifiable_tables();
    for (from, to, at, fragments) in [
        (
            "driver = \"verifiable\"\ninstances = 2",
            "driver = \"verifiable\"\ninstances = 2\ntemplate = \"audit\"",
            "\"audit\"",
            &["`producers[0].template`", "its values are its own"][..],
        ),
        (
            "driver = \"verifiable\"\ninstances = 2",
            "driver = \"verifiable\"\ninstances = 2\nsize = \"1KiB\"",
            "\"1KiB\"",
            &["`producers[0].size`", "its values are its own"],
        ),
        (
            "rate = \"1500/s\"",
            "rate = \"1500/s\"\nmax_in_flight = 5",
            "5\n",
            &["`producers[0].max_in_flight`", "keeps its own window"],
        ),
        (
            "distribution = \"uniform\"",
            "distribution = \"zipf\"",
            "\"zipf\"",
            &["`producers[0].keys.distribution", "cycles its keys"],
        ),
        (
            "rate = \"1500/s\"",
            "rate = \"max\"",
            "\"max\"",
            &["`producers[0].rate = \"max\"`", "needs a rate"],
        ),
        (
            "rate = \"1500/s\"",
            "rate = \"1501/s\"",
            "\"1501/s\"",
            &["whole number of messages per second"],
        ),
        (
            "driver = \"verifiable\"\ninstances = 2",
            "driver = \"verifiable\"\ninstances = 2\ncommand = [\"java\"]",
            "[\"java\"]",
            &["`producers[0].command`", "the harness makes"],
        ),
        (
            "commit = \"after_processing\"",
            "commit = \"before_processing\"",
            "\"before_processing\"",
            &["`consumers[0].commit", "after each batch"],
        ),
        (
            "group = \"webhook-consumers\"\n",
            "group = \"webhook-consumers\"\nprocessing_time = \"1ms\"\n",
            "\"1ms\"",
            &["`consumers[0].processing_time", "as Kafka ships it"],
        ),
    ] {
        fails_at(&edit(&base, from, to), at, fragments);
    }
    // A table of another driver still needs its template and size.
    let text = valid_with("template = \"webhook\"\n", "");
    fails_at(
        &text,
        "\"event-source\"",
        &[
            "`producers[0].name",
            "an rdkafka producer needs `template = \"audit\"`",
        ],
    );
    let text = edit(&verifiable_tables(), "group = \"webhook-consumers\"\n", "");
    fails_at(
        &text,
        "\"webhook-workers\"",
        &["a verifiable consumer needs `group = \"...\"`"],
    );
}

// ----- [sweep] ---------------------------------------------------------------------------

#[test]
fn a_sweep_table_parses_into_its_rates() {
    use crate::scenario::sweep::SweepMode;
    let text = format!(
        "{}\n[sweep]\nmode = \"ladder\"\nfrom = \"1000/s\"\nto = \"8000/s\"\nsteps = 4\nstep = \"10s\"\n",
        valid()
    );
    let sweep = parse_ok(&text).sweep.unwrap();
    let SweepMode::Ladder { rates } = sweep.mode else {
        panic!("{:?}", sweep.mode);
    };
    let rounded: Vec<f64> = rates.iter().map(|r| r.round()).collect();
    assert_eq!(rounded, [1000.0, 2000.0, 4000.0, 8000.0]);
    assert_eq!(sweep.step, Duration::from_secs(10));
    let text = format!(
        "{}\n[sweep]\nmode = \"search\"\nfrom = \"1000/s\"\nto = \"8000/s\"\n",
        valid()
    );
    let sweep = parse_ok(&text).sweep.unwrap();
    assert_eq!(
        sweep.mode,
        SweepMode::Search {
            from: 1000.0,
            to: 8000.0,
            precision: 0.05
        }
    );
}

#[test]
fn a_sweep_table_that_cannot_run_is_refused_where_it_is_wrong() {
    let with = |sweep: &str| format!("{}\n[sweep]\n{sweep}\n", valid());
    fails_at(
        &with("mode = \"bisect\""),
        "\"bisect\"",
        &["`sweep.mode", "\"search\"", "\"ladder\""],
    );
    fails_at(
        &with("mode = \"search\"\nfrom = \"1000/s\""),
        "\"search\"",
        &["needs `from` and `to`"],
    );
    fails_at(
        &with("mode = \"search\"\nfrom = \"1000/s\"\nto = \"500/s\""),
        "\"500/s\"",
        &["`sweep.to", "above `from`"],
    );
    fails_at(
        &with("mode = \"search\"\nfrom = \"max\"\nto = \"500/s\""),
        "\"max\"",
        &["`sweep.from", "not \"max\""],
    );
    fails_at(
        &with("mode = \"search\"\nfrom = \"1/s\"\nto = \"5/s\"\nprecision = 2.0"),
        "2.0",
        &["`sweep.precision"],
    );
    fails_at(
        &with("mode = \"ladder\"\nrates = [\"1/s\"]\nprecision = 0.1"),
        "0.1",
        &["`sweep.precision`", "only a search"],
    );
    fails_at(
        &with("mode = \"ladder\"\nrates = []"),
        "[]",
        &["at least one rate"],
    );
    let text = edit(
        &with("mode = \"ladder\"\nrates = [\"1/s\"]"),
        "rate = \"1500/s\"",
        "rate = \"max\"",
    );
    fails_at(&text, "\"account-ordering\"", &["rate = \"max\"", "sweep"]);
}

#[test]
fn a_sweep_grid_is_every_combination_in_order() {
    let text = format!(
        "{}\n[sweep]\nmode = \"search\"\nfrom = \"1000/s\"\nto = \"8000/s\"\n\
         [sweep.grid]\nsize = [\"1KiB\", \"4KiB\"]\npartitions = [1, 6]\n\
         client = {{ \"compression.type\" = [\"none\", \"lz4\"] }}\n",
        valid()
    );
    let grid = parse_ok(&text).sweep.unwrap().grid;
    let labels: Vec<String> = grid.iter().map(|p| p.label()).collect();
    assert_eq!(labels.len(), 8);
    assert_eq!(labels[0], "size=1024B partitions=1 compression.type=none");
    assert_eq!(labels[1], "size=1024B partitions=1 compression.type=lz4");
    assert_eq!(labels[7], "size=4096B partitions=6 compression.type=lz4");
    // Without a grid: one point that changes nothing.
    let text = format!(
        "{}\n[sweep]\nmode = \"ladder\"\nrates = [\"1/s\"]\n",
        valid()
    );
    let grid = parse_ok(&text).sweep.unwrap().grid;
    assert_eq!(grid, vec![crate::scenario::sweep::GridPoint::default()]);
}

#[test]
fn a_sweep_grid_that_cannot_run_is_refused_where_it_is_wrong() {
    let with = |grid: &str| {
        format!(
            "{}\n[sweep]\nmode = \"ladder\"\nrates = [\"1/s\"]\n[sweep.grid]\n{grid}\n",
            valid()
        )
    };
    fails_at(
        &with("size = []"),
        "[]",
        &["`sweep.grid.size`: list at least one"],
    );
    fails_at(
        &with("size = [\"1KiB\", \"2B\"]"),
        "\"2B\"",
        &["sweep.grid.size[1]", "template"],
    );
    fails_at(
        &with("partitions = [-3]"),
        "-3",
        &["sweep.grid.partitions[0]"],
    );
    fails_at(
        &with("instances = [5001]"),
        "5001",
        &["sweep.grid.instances[0]"],
    );
    fails_at(
        &with("client = { \"sasl.password\" = [\"a\", \"b\"] }"),
        "[\"a\", \"b\"]",
        &["a secret is not swept"],
    );
    fails_at(&with("sizes = [\"1KiB\"]"), "sizes", &["unknown field"]);
    fails_at(
        &with("partitions = [1, 2, 3, 4, 5, 6, 7, 8, 9]\ninstances = [1, 2, 3, 4, 5, 6, 7, 8]"),
        "[sweep.grid]",
        &["72 combinations", "at most 64"],
    );
}

/// A scenario with `[cluster.security]` `extra` and a producer table with `table` keys.
fn secured(extra: &str, table: &str) -> String {
    format!(
        "name = \"s\"\nmessages = 10\n\n[cluster.security]\n{extra}\n\n[[topics]]\nname = \"t\"\npartitions = 1\n\n\
         [[producers]]\nname = \"p\"\ndriver = \"rdkafka\"\ntopic = \"t\"\ntemplate = \"raw\"\nsize = \"100B\"\n\
         keys = {{ count = 1, distribution = \"uniform\" }}\nrate = \"10/s\"\n{table}\n"
    )
}

#[test]
fn security_tables_parse_and_log_a_principal_in_with_its_secret_redacted() {
    let text = secured(
        "protocol = \"sasl_ssl\"\n[[cluster.security.users]]\nname = \"svc\"\npassword = \"pw-1\"\nmechanism = \"SCRAM-SHA-256\"\n\
         [[cluster.security.acls]]\nprincipal = \"svc\"\nresource = \"topic\"\nname = \"t\"\noperation = \"write\"",
        "principal = \"svc\"\nexpect = \"refused\"",
    );
    let plan = parse_ok(&text);
    assert!(
        plan.cluster.security.authorizer,
        "ACLs turn the authorizer on"
    );
    let p = &plan.producers[0];
    assert_eq!(p.expect, Expect::Refused);
    assert_eq!(p.login["sasl.username"], "svc");
    assert_eq!(p.login["sasl.mechanism"], "SCRAM-SHA-256");
    let shown = serde_json::to_string(&plan).unwrap();
    assert!(!shown.contains("pw-1"), "{shown}");
}

#[test]
fn security_errors_name_the_place_and_the_fix() {
    let cases = [
        (secured("protocol = \"tls\"", ""), "\"tls\"", "sasl_ssl"),
        (
            secured("protocol = \"plaintext\"", "principal = \"svc\""),
            "\"svc\"",
            "through SASL",
        ),
        (
            secured(
                "protocol = \"sasl_plaintext\"\n[[cluster.security.users]]\nname = \"svc\"\npassword = \"a,b\"",
                "",
            ),
            "\"a,b\"",
            "a password is",
        ),
        (
            secured(
                "protocol = \"sasl_plaintext\"\n[[cluster.security.acls]]\nprincipal = \"nobody\"\nresource = \"topic\"\nname = \"t\"\noperation = \"write\"",
                "",
            ),
            "\"nobody\"",
            "no such user",
        ),
        (
            secured("protocol = \"sasl_ssl\"", "expect = \"denied\""),
            "\"denied\"",
            "\"refused\"",
        ),
    ];
    for (text, at, rule) in cases {
        let e = parse(Path::new("s.toml"), &text).unwrap_err();
        assert_eq!((e.line, e.column), position(&text, at, 0), "{e}");
        assert!(e.message.contains(rule), "{e}");
        assert!(!e.message.contains("a,b"), "a password in an error: {e}");
    }
}
