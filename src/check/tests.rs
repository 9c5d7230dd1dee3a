//! Hand-written histories, one or more per anomaly: the empty run, a definite anomaly with
//! its count and example fields, the indeterminate and unreadable cases, and inputs that
//! break the contracts (unsorted log, unknown topics and keys, extreme numbers).

use super::*;
use crate::history::{Delivery, GroupEvent, LogRecord, MsgId, Outcome, Send, Txn, TxnOutcome};

fn id(producer: u32, seq: u64) -> MsgId {
    MsgId { producer, seq }
}

fn ok(partition: i32, offset: i64) -> Outcome {
    Outcome::Ok { partition, offset }
}

fn send(producer: u32, seq: u64, key: KeyId, outcome: Outcome) -> Send {
    Send {
        id: id(producer, seq),
        topic: 0,
        key,
        intended: seq.wrapping_mul(10),
        completed: seq.wrapping_mul(10).wrapping_add(5),
        outcome,
    }
}

fn rec(partition: i32, offset: i64, msg: Option<MsgId>, key: Option<KeyId>) -> LogRecord {
    LogRecord {
        topic: 0,
        partition,
        offset,
        id: msg,
        key,
    }
}

fn del(consumer: u32, partition: i32, offset: i64, msg: Option<MsgId>, at: Micros) -> Delivery {
    Delivery {
        consumer,
        topic: 0,
        partition,
        offset,
        id: msg,
        at,
    }
}

fn history(sends: Vec<Send>, deliveries: Vec<Delivery>) -> History {
    History {
        faults: Vec::new(),
        txns: Vec::new(),
        failures: Vec::new(),
        topics: vec!["t".into()],
        keys: vec![b"a".to_vec(), b"b".to_vec(), vec![0xff, b'c']],
        sends,
        deliveries,
        group_events: Vec::new(),
    }
}

fn log(records: Vec<LogRecord>) -> Log {
    Log {
        isolation: crate::history::Isolation::ReadCommitted,
        sources: Vec::new(),
        records,
        unreadable: Vec::new(),
    }
}

fn consumed() -> CheckSettings {
    CheckSettings {
        consumed_topics: vec![0],
        pipelines: Vec::new(),
        ..CheckSettings::default()
    }
}

#[test]
fn empty_history_passes_every_check() {
    for settings in [CheckSettings::default(), consumed()] {
        let results = run_all(
            &History::default(),
            &Log::default(),
            &settings,
            &CheckName::ALL,
        );
        assert_eq!(results.len(), CheckName::ALL.len());
        for (r, name) in results.iter().zip(CheckName::ALL) {
            assert_eq!(r.name, name.as_str());
            assert_eq!((r.verdict, r.count), (Verdict::Pass, 0), "{r:?}");
            assert!(r.examples.is_empty());
        }
    }
}

#[test]
fn verdicts_combine_and_serialise_lowercase() {
    use Verdict::*;
    assert_eq!(Pass.combine(Unknown), Unknown);
    assert_eq!(Unknown.combine(Pass), Unknown);
    assert_eq!(Unknown.combine(Fail), Fail);
    assert_eq!(Fail.combine(Pass), Fail);
    assert_eq!(Pass.combine(Pass), Pass);
    assert_eq!(
        [Pass, Unknown, Pass].into_iter().collect::<Verdict>(),
        Unknown
    );
    assert_eq!(std::iter::empty().collect::<Verdict>(), Pass);
    assert_eq!(
        serde_json::to_string(&Fail).ok().as_deref(),
        Some("\"fail\"")
    );
    assert_eq!(
        serde_json::to_string(&Unknown).ok().as_deref(),
        Some("\"unknown\"")
    );
    assert_eq!(Pass.to_string(), "pass");
}

#[test]
fn check_names_round_trip() {
    for name in CheckName::ALL {
        assert_eq!(name.to_string().parse::<CheckName>(), Ok(name));
        assert_eq!(
            serde_json::to_string(&name).ok(),
            Some(format!("\"{}\"", name.as_str()))
        );
    }
    assert_eq!(
        "nonmonotonic_poll".parse::<CheckName>(),
        Ok(CheckName::NonmonotonicPoll)
    );
    assert_eq!(
        "torn_write".parse::<CheckName>(),
        Err(UnknownCheck("torn_write".into()))
    );
}

#[test]
fn check_result_serialises_its_fields() {
    let h = history(vec![send(0, 0, 0, ok(0, 0))], Vec::new());
    let r = lost_write(&h, &Log::default());
    let json = serde_json::to_value(&r).unwrap_or_default();
    assert_eq!(json["name"], "lost_write");
    assert_eq!(json["verdict"], "fail");
    assert_eq!(json["count"], 1);
    assert_eq!(json["examples"][0]["key"], "a");
    assert_eq!(json["examples"][0]["time_us"], 5);
}

#[test]
fn lost_write_counts_acknowledged_sends_only() {
    let h = history(
        vec![
            send(0, 0, 0, ok(0, 0)),
            send(0, 1, 1, ok(0, 1)),
            send(0, 2, 0, Outcome::Indeterminate),
            send(0, 3, 0, Outcome::Fail),
        ],
        Vec::new(),
    );
    let l = log(vec![rec(0, 0, Some(id(0, 0)), Some(0))]);
    let r = lost_write(&h, &l);
    assert_eq!((r.verdict, r.count), (Verdict::Fail, 1));
    assert_eq!(r.examples.len(), 1);
    let e = &r.examples[0];
    assert_eq!(e.key.as_deref(), Some("b"));
    assert_eq!((e.producer, e.seq), (Some(0), Some(1)));
    assert_eq!(e.topic.as_deref(), Some("t"));
    assert_eq!(
        (e.partition, e.offset, e.time_us),
        (Some(0), Some(1), Some(15))
    );
    assert!(r.detail.starts_with("1 of 2 acknowledged"), "{}", r.detail);
}

#[test]
fn indeterminate_sends_are_neither_lost_nor_duplicated_unless_twice() {
    let h = history(
        vec![
            send(0, 0, 0, Outcome::Indeterminate),
            send(0, 1, 0, Outcome::Indeterminate),
            send(0, 2, 0, Outcome::Indeterminate),
        ],
        Vec::new(),
    );
    // seq 0 missing, seq 1 present once: nothing wrong.
    let once = log(vec![rec(0, 0, Some(id(0, 1)), Some(0))]);
    assert_eq!(lost_write(&h, &once).verdict, Verdict::Pass);
    assert_eq!(duplicate_write(&h, &once).verdict, Verdict::Pass);
    // seq 2 present twice: one duplicate.
    let twice = log(vec![
        rec(0, 0, Some(id(0, 1)), Some(0)),
        rec(0, 1, Some(id(0, 2)), Some(0)),
        rec(0, 2, Some(id(0, 2)), Some(0)),
    ]);
    assert_eq!(lost_write(&h, &twice).verdict, Verdict::Pass);
    let r = duplicate_write(&h, &twice);
    assert_eq!((r.verdict, r.count), (Verdict::Fail, 1));
    assert_eq!(
        (r.examples[0].seq, r.examples[0].offset),
        (Some(2), Some(2))
    );
    assert!(
        r.examples[0].note.contains("offset 1"),
        "{}",
        r.examples[0].note
    );
}

#[test]
fn lost_write_in_an_unreadable_partition_is_unknown() {
    let h = history(
        vec![send(0, 0, 0, ok(0, 0)), send(0, 1, 0, ok(1, 0))],
        Vec::new(),
    );
    let mut l = log(vec![]);
    l.unreadable.push((0, 0, "leader unavailable".into()));
    l.unreadable.push((0, 1, "leader unavailable".into()));
    let r = lost_write(&h, &l);
    assert_eq!((r.verdict, r.count), (Verdict::Unknown, 0));
    assert_eq!(r.examples.len(), 2);
    assert!(r.detail.contains("2 more"), "{}", r.detail);
    // A definite loss elsewhere makes it a failure.
    l.unreadable.pop();
    let r = lost_write(&h, &l);
    assert_eq!((r.verdict, r.count), (Verdict::Fail, 1));
    assert_eq!(r.examples[0].partition, Some(1));
}

#[test]
fn duplicate_write_counts_extra_copies_including_unsent_messages() {
    let h = history(vec![send(0, 0, 0, ok(0, 0))], Vec::new());
    let l = log(vec![
        rec(0, 0, Some(id(0, 0)), Some(0)),
        rec(0, 1, Some(id(0, 0)), Some(0)),
        rec(0, 2, Some(id(0, 0)), Some(0)),
        rec(0, 3, Some(id(9, 9)), None),
        rec(0, 4, Some(id(9, 9)), None),
        rec(0, 5, None, None),
        rec(0, 6, None, None),
    ]);
    let r = duplicate_write(&h, &l);
    assert_eq!((r.verdict, r.count), (Verdict::Fail, 3));
    assert_eq!(r.examples.len(), 3);
    assert_eq!(r.examples[2].producer, Some(9));
}

#[test]
fn order_violation_compares_one_producer_and_key_per_partition() {
    let h = history(
        vec![
            send(0, 0, 0, ok(0, 0)),
            send(0, 1, 0, ok(0, 3)),
            send(0, 2, 0, ok(0, 1)),
            send(1, 0, 0, ok(0, 2)),
        ],
        Vec::new(),
    );
    let l = log(vec![
        rec(0, 0, Some(id(0, 0)), Some(0)),
        rec(0, 1, Some(id(0, 2)), Some(0)),
        rec(0, 2, Some(id(1, 0)), Some(0)),
        rec(0, 3, Some(id(0, 1)), Some(0)),
    ]);
    let r = order_violation(&h, &l);
    assert_eq!((r.verdict, r.count), (Verdict::Fail, 1));
    let e = &r.examples[0];
    assert_eq!((e.producer, e.seq, e.offset), (Some(0), Some(1), Some(3)));
    assert_eq!(e.key.as_deref(), Some("a"));
    assert!(
        e.note.contains("seq 2") && e.note.contains("offset 1"),
        "{}",
        e.note
    );

    // Other keys, other partitions and copies do not count.
    let l = log(vec![
        rec(0, 0, Some(id(0, 2)), Some(0)),
        rec(0, 1, Some(id(0, 1)), Some(1)),
        rec(0, 2, Some(id(0, 2)), Some(0)),
        rec(1, 0, Some(id(0, 0)), Some(0)),
        rec(1, 1, Some(id(0, 1)), None),
    ]);
    assert_eq!(order_violation(&h, &l).verdict, Verdict::Pass);
}

#[test]
fn order_violation_sorts_a_log_that_breaks_its_contract() {
    let h = history(
        vec![send(0, 0, 0, ok(0, 0)), send(0, 1, 0, ok(0, 1))],
        Vec::new(),
    );
    // Offsets descending in the vector, yet in offset order seq 0 precedes seq 1.
    let l = log(vec![
        rec(0, 1, Some(id(0, 1)), Some(0)),
        rec(1, 0, None, None),
        rec(0, 0, Some(id(0, 0)), Some(0)),
    ]);
    assert_eq!(order_violation(&h, &l).verdict, Verdict::Pass);
    let l = log(vec![
        rec(0, 1, Some(id(0, 0)), Some(0)),
        rec(1, 0, None, None),
        rec(0, 0, Some(id(0, 1)), Some(0)),
    ]);
    assert_eq!(order_violation(&h, &l).count, 1);
}

#[test]
fn key_split_names_each_split_key_with_its_partitions_and_producers() {
    let h = history(Vec::new(), Vec::new());
    let l = log(vec![
        rec(1, 0, Some(id(0, 0)), Some(0)),
        rec(1, 1, Some(id(1, 0)), Some(0)),
        rec(1, 2, Some(id(0, 1)), Some(1)),
        rec(1, 3, Some(id(0, 2)), Some(2)),
        rec(4, 0, Some(id(2, 0)), Some(0)),
        rec(4, 1, Some(id(2, 1)), None),
        rec(4, 2, None, Some(1)),
        rec(4, 3, Some(id(2, 2)), Some(1)),
    ]);
    let r = key_split(&h, &l);
    assert_eq!((r.verdict, r.count), (Verdict::Fail, 2));
    assert_eq!(r.name, "key_split");
    assert_eq!(
        r.detail,
        "2 of 3 keys on more than one partition of their topic"
    );
    assert_eq!(r.examples.len(), 2);
    let (a, b) = (&r.examples[0], &r.examples[1]);
    assert_eq!(
        (a.key.as_deref(), a.topic.as_deref()),
        (Some("a"), Some("t"))
    );
    assert_eq!(
        a.note,
        "on partitions 1 (producers 0, 1: 2 records), 4 (producer 2: 1 record)"
    );
    assert_eq!((a.producer, a.partition, a.offset), (None, None, None));
    assert_eq!(b.key.as_deref(), Some("b"));
    assert_eq!(
        b.note,
        "on partitions 1 (producer 0: 1 record), 4 (producer 2, 1 unstamped: 2 records)"
    );
    // The same through run_all.
    let all = run_all(&h, &l, &CheckSettings::default(), &[CheckName::KeySplit]);
    assert_eq!(all, [r]);
}

#[test]
fn key_split_keeps_examples_to_the_first_split_keys() {
    let h = history(Vec::new(), Vec::new());
    let mut records: Vec<LogRecord> = (0..8)
        .map(|k| rec(0, i64::from(k), Some(id(0, u64::from(k))), Some(k)))
        .collect();
    records.extend((0..8).map(|k| rec(1, i64::from(k), Some(id(1, u64::from(k))), Some(k))));
    let r = key_split(&h, &log(records));
    assert_eq!((r.verdict, r.count), (Verdict::Fail, 8));
    assert_eq!(r.examples.len(), MAX_EXAMPLES);
    assert_eq!(r.examples[0].key.as_deref(), Some("a"));
    // Key ids the history has no bytes for are shown without a key, not skipped.
    assert_eq!(r.examples[4].key, None);
    assert_eq!(
        r.examples[4].note,
        "on partitions 0 (producer 0: 1 record), 1 (producer 1: 1 record)"
    );
}

#[test]
fn keys_on_one_partition_each_pass_and_null_keys_are_ignored() {
    let h = history(Vec::new(), Vec::new());
    let l = log(vec![
        rec(0, 0, Some(id(0, 0)), Some(0)),
        rec(0, 1, Some(id(1, 0)), None),
        rec(0, 2, Some(id(1, 1)), Some(0)),
        rec(1, 0, Some(id(0, 1)), None),
        rec(1, 1, Some(id(0, 2)), Some(1)),
        rec(2, 0, None, None),
        rec(2, 1, Some(id(1, 2)), Some(1)),
    ]);
    let r = key_split(&h, &l);
    assert_eq!((r.verdict, r.count), (Verdict::Fail, 1));
    assert_eq!(r.examples[0].key.as_deref(), Some("b"));
    let l = log(l.records.into_iter().filter(|r| r.partition < 2).collect());
    let r = key_split(&h, &l);
    assert_eq!((r.verdict, r.count), (Verdict::Pass, 0));
    assert!(r.examples.is_empty());
    assert_eq!(
        r.detail,
        "0 of 2 keys on more than one partition of their topic"
    );
    // Only keyless records, spread everywhere: nothing to judge.
    let l = log((0..6)
        .map(|p| rec(p, 0, Some(id(0, p as u64)), None))
        .collect());
    let r = key_split(&h, &l);
    assert_eq!((r.verdict, r.count), (Verdict::Pass, 0));
}

#[test]
fn key_split_with_an_unreadable_partition_is_unknown_unless_a_split_is_found() {
    let h = history(Vec::new(), Vec::new());
    let mut l = log(vec![
        rec(0, 0, Some(id(0, 0)), Some(0)),
        rec(1, 0, Some(id(0, 1)), Some(1)),
    ]);
    l.unreadable.push((0, 2, "leader not available".into()));
    l.unreadable.push((0, 2, "again".into()));
    let r = key_split(&h, &l);
    assert_eq!((r.verdict, r.count), (Verdict::Unknown, 0));
    assert!(r.examples.is_empty());
    assert!(
        r.detail
            .ends_with("; 1 unreadable partition(s) may hold more of any key"),
        "{}",
        r.detail
    );
    // A split found is a failure whatever could not be read.
    l.records.push(rec(1, 1, Some(id(0, 2)), Some(0)));
    let r = key_split(&h, &l);
    assert_eq!((r.verdict, r.count), (Verdict::Fail, 1));
}

#[test]
fn one_key_in_two_topics_is_two_keys_not_a_split() {
    let mut h = history(Vec::new(), Vec::new());
    h.topics.push("u".into());
    let l = log(vec![
        rec(0, 0, Some(id(0, 0)), Some(0)),
        rec(0, 1, Some(id(0, 1)), Some(0)),
        LogRecord {
            topic: 1,
            ..rec(3, 0, Some(id(1, 0)), Some(0))
        },
        LogRecord {
            topic: 1,
            ..rec(3, 1, Some(id(1, 1)), Some(0))
        },
    ]);
    let r = key_split(&h, &l);
    assert_eq!((r.verdict, r.count), (Verdict::Pass, 0));
    assert_eq!(
        r.detail,
        "0 of 2 keys on more than one partition of their topic"
    );
    // Within topic u, partition 5 as well: that is a split, named with its topic.
    let mut l = l;
    l.records.push(LogRecord {
        topic: 1,
        ..rec(5, 0, Some(id(1, 2)), Some(0))
    });
    let r = key_split(&h, &l);
    assert_eq!((r.verdict, r.count), (Verdict::Fail, 1));
    assert_eq!(r.examples[0].topic.as_deref(), Some("u"));
    assert_eq!(
        r.examples[0].note,
        "on partitions 3 (producer 1: 2 records), 5 (producer 1: 1 record)"
    );
}

#[test]
fn lost_delivery_matches_by_position_or_message() {
    let sends = vec![
        send(0, 0, 0, ok(0, 0)),
        send(0, 1, 0, ok(0, 1)),
        send(0, 2, 0, ok(0, 2)),
        send(0, 3, 0, ok(0, 3)),
    ];
    let l = log(vec![
        rec(0, 0, Some(id(0, 0)), Some(0)),
        rec(0, 1, Some(id(0, 1)), Some(0)),
        rec(0, 2, Some(id(0, 2)), Some(0)),
        rec(0, 3, Some(id(0, 3)), Some(0)),
        rec(0, 4, None, None),
    ]);
    let h = history(
        sends,
        vec![
            del(0, 0, 0, Some(id(0, 0)), 1),
            del(0, 0, 2, None, 2),
            // Same message, reported at another position: it was delivered.
            del(0, 5, 7, Some(id(0, 3)), 3),
        ],
    );
    let r = lost_delivery(&h, &l, &consumed());
    assert_eq!((r.verdict, r.count), (Verdict::Fail, 1));
    assert_eq!(
        (r.examples[0].seq, r.examples[0].offset),
        (Some(1), Some(1))
    );
    assert!(r.detail.starts_with("1 of 4"), "{}", r.detail);
    // Topics nobody consumed are not checked.
    let r = lost_delivery(&h, &l, &CheckSettings::default());
    assert_eq!(r.verdict, Verdict::Pass);
    assert!(r.detail.contains("nothing to check"));
    let other = CheckSettings {
        consumed_topics: vec![3],
        pipelines: Vec::new(),
        ..CheckSettings::default()
    };
    assert_eq!(lost_delivery(&h, &l, &other).count, 0);
}

#[test]
fn duplicate_delivery_follows_the_settings() {
    let sends = vec![send(0, 0, 0, ok(0, 0)), send(0, 1, 0, ok(0, 1))];
    let deliveries = vec![
        del(0, 0, 0, Some(id(0, 0)), 1),
        del(0, 0, 1, Some(id(0, 1)), 2),
        del(1, 0, 1, Some(id(0, 1)), 3),
        del(1, 0, 2, None, 4),
    ];
    let h = history(sends, deliveries);
    let l = Log::default();
    let allowed = CheckSettings::default();
    let r = duplicate_delivery(&h, &l, &allowed);
    assert_eq!((r.verdict, r.count), (Verdict::Pass, 1));
    let e = &r.examples[0];
    assert_eq!(
        (e.consumer, e.offset, e.time_us),
        (Some(1), Some(1), Some(3))
    );
    assert!(e.note.contains("consumer 0 at 2"), "{}", e.note);
    let forbidden = CheckSettings {
        duplicate_delivery_allowed: false,
        ..CheckSettings::default()
    };
    assert_eq!(
        duplicate_delivery(&h, &l, &forbidden).verdict,
        Verdict::Fail
    );
    let capped = |m| CheckSettings {
        max_duplicate_deliveries: Some(m),
        ..CheckSettings::default()
    };
    assert_eq!(
        duplicate_delivery(&h, &l, &capped(0)).verdict,
        Verdict::Fail
    );
    assert_eq!(
        duplicate_delivery(&h, &l, &capped(1)).verdict,
        Verdict::Pass
    );
}

#[test]
fn nonmonotonic_poll_resets_at_each_assignment() {
    let mut h = history(
        Vec::new(),
        vec![
            del(0, 0, 0, None, 1),
            del(0, 0, 1, None, 2),
            del(0, 0, 1, None, 3),
            del(0, 0, 0, None, 6),
            // Another consumer and another partition are tracked apart.
            del(1, 0, 0, None, 6),
            del(0, 1, 0, None, 7),
        ],
    );
    h.group_events = vec![
        GroupEvent::Assigned {
            consumer: 0,
            at: 0,
            partitions: vec![(0, 0), (0, 1)],
        },
        GroupEvent::Committed {
            consumer: 0,
            at: 3,
            topic: 0,
            partition: 0,
            offset: 2,
        },
        GroupEvent::Revoked {
            consumer: 0,
            at: 4,
            partitions: vec![(0, 0)],
        },
        GroupEvent::Assigned {
            consumer: 0,
            at: 5,
            partitions: vec![(0, 0)],
        },
    ];
    let r = nonmonotonic_poll(&h, &Log::default());
    assert_eq!((r.verdict, r.count), (Verdict::Fail, 1));
    let e = &r.examples[0];
    assert_eq!(
        (e.consumer, e.offset, e.time_us),
        (Some(0), Some(1), Some(3))
    );

    // Without group events, the whole run is one assignment: going back to 0 counts too.
    h.group_events.clear();
    assert_eq!(nonmonotonic_poll(&h, &Log::default()).count, 2);

    // An event at the same microsecond as a delivery comes first.
    let mut h = history(
        Vec::new(),
        vec![del(0, 0, 5, None, 1), del(0, 0, 3, None, 2)],
    );
    h.group_events = vec![GroupEvent::Assigned {
        consumer: 0,
        at: 2,
        partitions: vec![(0, 0)],
    }];
    assert_eq!(nonmonotonic_poll(&h, &Log::default()).count, 0);
}

#[test]
fn phantom_counts_unsent_unstamped_and_delivered_phantoms() {
    let h = history(
        vec![send(0, 0, 0, ok(0, 0))],
        vec![
            del(0, 0, 0, Some(id(0, 0)), 1),
            del(0, 0, 1, Some(id(9, 0)), 2),
            del(0, 0, 5, Some(id(7, 3)), 3),
            del(0, 0, 2, None, 4),
            del(0, 0, 6, None, 5),
        ],
    );
    let l = log(vec![
        rec(0, 0, Some(id(0, 0)), Some(0)),
        rec(0, 1, Some(id(9, 0)), Some(2)),
        rec(0, 2, None, None),
    ]);
    let r = phantom(&h, &l);
    // p9:0 in the log, the unstamped record, p7:3 delivered, the unstamped delivery at @6.
    assert_eq!((r.verdict, r.count), (Verdict::Fail, 4));
    assert_eq!(r.examples.len(), 4);
    assert_eq!(r.examples[0].key.as_deref(), Some("\u{fffd}c"));
    assert_eq!(
        (r.examples[0].producer, r.examples[0].offset),
        (Some(9), Some(1))
    );
    assert_eq!(
        (r.examples[1].producer, r.examples[1].offset),
        (None, Some(2))
    );
    assert_eq!(
        (r.examples[2].producer, r.examples[2].consumer),
        (Some(7), Some(0))
    );
    assert_eq!(r.examples[3].offset, Some(6));
    assert!(
        r.detail.starts_with("1 log records name") && r.detail.contains("1 log records carry"),
        "{}",
        r.detail
    );
}

#[test]
fn examples_are_capped_per_kind() {
    let mut sends: Vec<Send> = (0..20).map(|s| send(0, s, 0, ok(0, s as i64))).collect();
    let mut l = log(Vec::new());
    l.unreadable.push((0, 1, "gone".into()));
    sends.extend((20..40).map(|s| send(0, s, 0, ok(1, s as i64))));
    let h = history(sends, Vec::new());
    let r = lost_write(&h, &l);
    assert_eq!((r.verdict, r.count), (Verdict::Fail, 20));
    assert_eq!(r.examples.len(), 2 * MAX_EXAMPLES);
}

#[test]
fn run_all_runs_each_enabled_check_once_in_order() {
    let names = [CheckName::Phantom, CheckName::LostWrite, CheckName::Phantom];
    let results = run_all(&History::default(), &Log::default(), &consumed(), &names);
    let got: Vec<&str> = results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(got, ["phantom", "lost_write"]);
}

#[test]
fn odd_inputs_do_not_panic() {
    let sends = vec![
        send(u32::MAX, u64::MAX, 99, ok(i32::MIN, i64::MIN)),
        send(0, 1 << 50, 0, ok(-1, -1)),
        send(0, 0, 0, ok(0, i64::MAX)),
    ];
    let mut h = history(
        sends,
        vec![
            Delivery {
                topic: 40,
                ..del(
                    u32::MAX,
                    i32::MIN,
                    i64::MIN,
                    Some(id(u32::MAX, u64::MAX)),
                    0,
                )
            },
            del(0, 0, i64::MAX, None, u64::MAX),
            del(0, 0, i64::MIN, None, 0),
        ],
    );
    h.group_events.push(GroupEvent::Revoked {
        consumer: 0,
        at: u64::MAX,
        partitions: vec![(u16::MAX, i32::MAX)],
    });
    let l = Log {
        isolation: crate::history::Isolation::ReadCommitted,
        sources: Vec::new(),
        records: vec![
            LogRecord {
                topic: u16::MAX,
                ..rec(i32::MAX, i64::MAX, Some(id(0, 1 << 50)), Some(u32::MAX))
            },
            rec(0, i64::MIN, Some(id(0, 0)), Some(0)),
            rec(0, -5, Some(id(u32::MAX, u64::MAX)), Some(0)),
            rec(0, -6, Some(id(3, 3)), None),
        ],
        unreadable: vec![(7, 7, String::new())],
    };
    let settings = CheckSettings {
        consumed_topics: vec![0, u16::MAX],
        pipelines: Vec::new(),
        ..CheckSettings::default()
    };
    let results = run_all(&h, &l, &settings, &CheckName::ALL);
    assert_eq!(results.len(), CheckName::ALL.len());
    let topics: Vec<_> = results
        .iter()
        .flat_map(|r| r.examples.iter().filter_map(|e| e.topic.clone()))
        .collect();
    assert!(topics.iter().any(|t| t == "#65535"), "{topics:?}");
}

// ----- transactions ---------------------------------------------------------------------

fn txn(producer: u32, seqs: std::ops::RangeInclusive<u64>, outcome: TxnOutcome) -> Txn {
    Txn {
        producer,
        first_seq: *seqs.start(),
        last_seq: *seqs.end(),
        outcome,
        at: 100,
    }
}

/// Producer 0 sends seqs 0..6 in three transactions: committed, aborted, undecided.
fn transactional() -> History {
    let mut h = history(
        (0..6).map(|s| send(0, s, 0, ok(0, s as i64))).collect(),
        Vec::new(),
    );
    h.txns = vec![
        txn(0, 4..=5, TxnOutcome::Indeterminate),
        txn(0, 0..=1, TxnOutcome::Committed),
        txn(0, 2..=3, TxnOutcome::Aborted),
    ];
    h
}

#[test]
fn aborted_records_may_vanish_and_must_not_be_seen() {
    let h = transactional();
    // The committed transaction is there; the aborted and undecided ones are not.
    let visible = log(vec![
        rec(0, 0, Some(id(0, 0)), Some(0)),
        rec(0, 1, Some(id(0, 1)), Some(0)),
    ]);
    assert_eq!(lost_write(&h, &visible).count, 0);
    assert_eq!(aborted_read(&h, &visible).verdict, Verdict::Pass);
    assert_eq!(torn_transaction(&h, &visible).verdict, Verdict::Pass);

    // An aborted record in the committed log, and delivered: both count.
    let mut seen = h.clone();
    seen.deliveries = vec![del(0, 0, 2, Some(id(0, 2)), 50)];
    let leaked = log(vec![
        rec(0, 0, Some(id(0, 0)), Some(0)),
        rec(0, 1, Some(id(0, 1)), Some(0)),
        rec(0, 3, Some(id(0, 3)), Some(0)),
    ]);
    let r = aborted_read(&seen, &leaked);
    assert_eq!((r.verdict, r.count), (Verdict::Fail, 2), "{r:?}");
    assert_eq!(r.examples.len(), 2);
    assert_eq!(r.examples[0].consumer, Some(0));
    assert_eq!(r.examples[1].offset, Some(3));

    // Without the committed transaction's records, they are lost writes, not torn.
    let none = log(Vec::new());
    assert_eq!(lost_write(&h, &none).count, 2);
    assert_eq!(torn_transaction(&h, &none).count, 0);
}

#[test]
fn a_partly_visible_committed_transaction_is_torn() {
    let h = transactional();
    let half = log(vec![
        rec(0, 0, Some(id(0, 0)), Some(0)),
        rec(0, 7, Some(id(0, 0)), Some(0)),
    ]);
    let r = torn_transaction(&h, &half);
    assert_eq!((r.verdict, r.count), (Verdict::Fail, 1), "{r:?}");
    assert!(
        r.examples[0].note.contains("1 of 2 records visible"),
        "{r:?}"
    );
    assert_eq!(lost_write(&h, &half).count, 1);
}

#[test]
fn exactly_once_counts_missing_and_repeated_outputs() {
    let mut h = transactional();
    h.topics.push("out".into());
    let settings = CheckSettings {
        pipelines: vec![(0, 1)],
        ..CheckSettings::default()
    };
    let out = |offset: i64, seq: u64| LogRecord {
        topic: 1,
        partition: 0,
        offset,
        id: Some(id(9, seq)),
        key: None,
    };
    let mut l = log(vec![
        rec(0, 0, Some(id(0, 0)), Some(0)),
        rec(0, 1, Some(id(0, 1)), Some(0)),
        rec(0, 2, Some(id(0, 4)), Some(0)),
        out(0, 0),
        out(1, 1),
        out(2, 2),
    ]);
    // p0:0 twice, p0:1 never, p0:4 once.
    l.sources = vec![(3, id(0, 0)), (4, id(0, 0)), (5, id(0, 4))];
    let r = exactly_once(&h, &l, &settings);
    assert_eq!((r.verdict, r.count), (Verdict::Fail, 2), "{r:?}");
    assert_eq!(r.examples.len(), 2);
    assert!(r.examples[1].note.contains("2 times"));
    l.sources = vec![(3, id(0, 0)), (4, id(0, 1)), (5, id(0, 4))];
    assert_eq!(exactly_once(&h, &l, &settings).verdict, Verdict::Pass);
    // No stage: nothing to check, said so.
    let r = exactly_once(&h, &l, &CheckSettings::default());
    assert!(r.detail.contains("no consume-transform-produce stage"));
}

#[test]
fn a_log_read_uncommitted_is_not_judged_for_aborted_records() {
    let h = transactional();
    let mut l = log(vec![
        rec(0, 0, Some(id(0, 0)), Some(0)),
        rec(0, 1, Some(id(0, 1)), Some(0)),
        rec(0, 2, Some(id(0, 2)), Some(0)),
    ]);
    l.isolation = crate::history::Isolation::ReadUncommitted;
    let r = aborted_read(&h, &l);
    assert_eq!((r.verdict, r.count), (Verdict::Pass, 0), "{r:?}");
    assert!(r.detail.contains("read_uncommitted"), "{r:?}");
    l.isolation = crate::history::Isolation::ReadCommitted;
    assert_eq!(aborted_read(&h, &l).count, 1);
}

#[test]
fn a_torn_transaction_beside_an_unreadable_partition_is_undecided() {
    let mut h = transactional();
    // Seq 1 of the committed transaction went to partition 1, which could not be read.
    h.sends[1].outcome = ok(1, 0);
    let mut l = log(vec![rec(0, 0, Some(id(0, 0)), Some(0))]);
    l.unreadable = vec![(0, 1, "timed out".into())];
    let r = torn_transaction(&h, &l);
    assert_eq!((r.verdict, r.count), (Verdict::Unknown, 0), "{r:?}");
    assert!(r.detail.contains("undecided"), "{r:?}");
    l.unreadable.clear();
    assert_eq!(torn_transaction(&h, &l).verdict, Verdict::Fail);
}

#[test]
fn an_output_made_from_no_input_counts() {
    let mut h = transactional();
    h.topics.push("out".into());
    let settings = CheckSettings {
        pipelines: vec![(0, 1)],
        ..CheckSettings::default()
    };
    let mut l = log(vec![
        rec(0, 0, Some(id(0, 0)), Some(0)),
        LogRecord {
            topic: 1,
            partition: 0,
            offset: 0,
            id: Some(id(9, 0)),
            key: None,
        },
        LogRecord {
            topic: 1,
            partition: 0,
            offset: 1,
            id: Some(id(9, 1)),
            key: None,
        },
    ]);
    // p0:0 once as it should be; p0:2 is of an aborted transaction, so never an input.
    l.sources = vec![(1, id(0, 0)), (2, id(0, 2))];
    let r = exactly_once(&h, &l, &settings);
    assert_eq!((r.verdict, r.count), (Verdict::Fail, 1), "{r:?}");
    assert!(r.examples[0].note.contains("aborted transaction"), "{r:?}");
}

#[test]
fn a_checker_that_panics_gives_unknown_with_its_message() {
    let r = super::guarded(CheckName::Phantom, || panic!("index out of bounds: 7"));
    assert_eq!(r.name, "phantom");
    assert_eq!(r.verdict, Verdict::Unknown);
    assert!(r.detail.contains("index out of bounds: 7"), "{}", r.detail);
    let owned = super::guarded(CheckName::LostWrite, || panic!("{}", String::from("owned")));
    assert!(owned.detail.contains("owned"), "{}", owned.detail);
    let fine = super::guarded(CheckName::LostWrite, || {
        CheckResult::unknown("lost_write", "ok".into())
    });
    assert_eq!(fine.detail, "ok");
}

#[test]
fn a_keys_record_processed_after_a_later_one_is_out_of_delivery_order() {
    // log t/0: @0 key a, @1 key b, @2 key a, @3 no key.
    let l = log(vec![
        rec(0, 0, Some(id(0, 0)), Some(0)),
        rec(0, 1, Some(id(0, 1)), Some(1)),
        rec(0, 2, Some(id(0, 2)), Some(0)),
        rec(0, 3, Some(id(0, 3)), None),
    ]);
    // Workers 1 and 0: b before a is fine, a@2 before a@0 is not; the keyless record and
    // the redelivery of @2 (after @0) are not counted. Listed out of time order on purpose.
    let h = history(
        Vec::new(),
        vec![
            del(1, 0, 0, None, 30),
            del(1, 0, 1, None, 10),
            del(0, 0, 3, None, 5),
            del(0, 0, 2, None, 20),
            del(0, 0, 2, None, 40),
        ],
    );
    let r = delivery_order(&h, &l);
    assert_eq!((r.verdict, r.count), (Verdict::Fail, 1), "{r:?}");
    let e = &r.examples[0];
    assert_eq!(
        (e.key.as_deref(), e.offset, e.consumer, e.time_us),
        (Some("a"), Some(0), Some(1), Some(30))
    );
    assert!(e.note.contains("after offset 2"), "{}", e.note);
    // In key order (whatever the other key does) it passes, at least once included.
    let fine = history(
        Vec::new(),
        vec![
            del(0, 0, 1, None, 1),
            del(1, 0, 0, None, 2),
            del(1, 0, 2, None, 3),
            del(0, 0, 0, None, 4),
        ],
    );
    let r = delivery_order(&fine, &l);
    assert_eq!((r.verdict, r.count), (Verdict::Pass, 0), "{r:?}");
}

// ----- consumers that give less evidence (exec consumers) --------------------------------

#[test]
fn backward_offsets_of_a_consumer_without_assignments_are_undecided() {
    // Consumer 1 reported no assignment at all: its repeat may follow a rebalance.
    let deliveries = vec![
        del(1, 0, 5, None, 1),
        del(1, 0, 6, None, 2),
        del(1, 0, 5, None, 3),
    ];
    let h = history(Vec::new(), deliveries);
    let empty = Log::default();
    let unknown = CheckSettings {
        assignments_unknown: vec![1],
        ..CheckSettings::default()
    };
    let cx = Context::new(&h, &empty);
    let r = reads::nonmonotonic_poll_in(&cx, &unknown);
    assert_eq!((r.verdict, r.count), (Verdict::Unknown, 0), "{r:?}");
    assert!(r.detail.contains("1 more by consumers [1]"), "{}", r.detail);
    assert!(r.examples[0].note.contains("cannot be ruled out"));
    // Through run_all too.
    let results = run_all(
        &h,
        &Log::default(),
        &unknown,
        &[CheckName::NonmonotonicPoll],
    );
    assert_eq!(results[0].verdict, Verdict::Unknown);
    // Without that knowledge the same deliveries fail; with none backward, it passes.
    assert_eq!(
        nonmonotonic_poll(&h, &Log::default()).verdict,
        Verdict::Fail
    );
    let forward = history(
        Vec::new(),
        vec![del(1, 0, 5, None, 1), del(1, 0, 6, None, 2)],
    );
    let cx = Context::new(&forward, &empty);
    assert_eq!(
        reads::nonmonotonic_poll_in(&cx, &unknown).verdict,
        Verdict::Pass
    );
    // A definite violation by another consumer still fails.
    let mut both = h.clone();
    both.deliveries
        .extend([del(0, 0, 9, None, 4), del(0, 0, 8, None, 5)]);
    let cx = Context::new(&both, &empty);
    let r = reads::nonmonotonic_poll_in(&cx, &unknown);
    assert_eq!((r.verdict, r.count), (Verdict::Fail, 1), "{r:?}");
}

#[test]
fn unstamped_deliveries_where_the_committed_log_has_nothing_may_be_aborted_reads() {
    let mut h = transactional();
    // Offsets 2 and 3 held the aborted transaction: the committed log lacks them. A
    // consumer without stamps reports offset 2 (and 0, which the log holds).
    h.deliveries = vec![del(0, 0, 0, None, 10), del(0, 0, 2, None, 11)];
    let visible = log(vec![
        rec(0, 0, Some(id(0, 0)), Some(0)),
        rec(0, 1, Some(id(0, 1)), Some(0)),
    ]);
    let r = aborted_read(&h, &visible);
    assert_eq!((r.verdict, r.count), (Verdict::Unknown, 0), "{r:?}");
    assert!(
        r.detail.contains("1 deliveries without a stamp"),
        "{}",
        r.detail
    );
    assert_eq!(r.examples[0].offset, Some(2));
    // Without aborted transactions there is nothing such a delivery could have read.
    let mut committed = h.clone();
    committed.txns = vec![txn(0, 0..=5, TxnOutcome::Committed)];
    assert_eq!(aborted_read(&committed, &visible).verdict, Verdict::Pass);
}
