//! Every event read, every rule broken, and the harness's own lines written.

use super::*;

fn event(line: &str) -> Event<'_> {
    match parse(line) {
        Ok(Line::Event(e)) => e,
        other => panic!("{line}: {other:?}"),
    }
}

/// Asserts `line` is a protocol error whose rule holds every fragment.
#[track_caller]
fn broken(line: &str, fragments: &[&str]) {
    match parse(line) {
        Err(ProtocolError(rule)) => {
            for f in fragments {
                assert!(
                    rule.contains(f),
                    "{f:?} is not in the rule: {rule}\n  line: {line}"
                );
            }
        }
        other => panic!("{line}: expected a protocol error, got {other:?}"),
    }
}

#[test]
fn every_event_is_read() {
    assert_eq!(
        event(r#"{"name":"startup_complete","client":"kafkajs 2.2.4"}"#),
        Event::StartupComplete {
            client: Some("kafkajs 2.2.4".into())
        }
    );
    assert_eq!(
        event(r#"{"name":"startup_complete"}"#),
        Event::StartupComplete { client: None }
    );
    assert_eq!(
        event(r#"{"name":"shutdown_complete"}"#),
        Event::ShutdownComplete
    );
    assert_eq!(
        event(
            r#"{"name":"producer_send_success","id":41,"topic":"t-1","partition":3,"offset":1017}"#
        ),
        Event::SendSuccess {
            id: 41,
            topic: Some("t-1".into()),
            partition: 3,
            offset: 1017
        }
    );
    assert_eq!(
        event(
            r#"{"name":"producer_send_error","id":42,"topic":"t","exception":"RequestTimedOut","message":"request timed out","retriable":true}"#
        ),
        Event::SendError {
            id: 42,
            topic: Some("t".into()),
            exception: Some("RequestTimedOut".into()),
            message: "request timed out".into(),
            retriable: true
        }
    );
    assert_eq!(
        event(
            r#"{"name":"partitions_assigned","partitions":[{"topic":"t","partition":0},{"topic":"t","partition":1}]}"#
        ),
        Event::PartitionsAssigned(vec![("t".into(), 0), ("t".into(), 1)])
    );
    assert_eq!(
        event(r#"{"name":"partitions_revoked","partitions":[]}"#),
        Event::PartitionsRevoked(vec![])
    );
    assert_eq!(
        event(
            r#"{"name":"record_data","topic":"t","partition":0,"offset":17,"stamp":"AQAAAAAAAAAAAAAAEQAAAZN2nq2G"}"#
        ),
        Event::RecordData {
            topic: "t".into(),
            partition: 0,
            offset: 17,
            stamp: Some(STANDARD.decode("AQAAAAAAAAAAAAAAEQAAAZN2nq2G").unwrap())
        }
    );
    assert_eq!(
        event(r#"{"name":"record_data","topic":"t","partition":0,"offset":1,"stamp":null}"#),
        Event::RecordData {
            topic: "t".into(),
            partition: 0,
            offset: 1,
            stamp: None
        }
    );
    assert_eq!(
        event(
            r#"{"name":"records_consumed","count":5,"partitions":[{"topic":"t","partition":1,"count":2,"minOffset":18,"maxOffset":19},{"topic":"t","partition":2,"count":3,"minOffset":4,"maxOffset":9,"offsets":[4,6,9]}]}"#
        ),
        Event::RecordsConsumed(vec![
            Consumed {
                topic: "t".into(),
                partition: 1,
                offsets: Processed::Range { min: 18, max: 19 }
            },
            Consumed {
                topic: "t".into(),
                partition: 2,
                offsets: Processed::List(vec![4, 6, 9])
            },
        ])
    );
    assert_eq!(
        event(
            r#"{"name":"offsets_committed","success":true,"offsets":[{"topic":"t","partition":0,"offset":20}]}"#
        ),
        Event::OffsetsCommitted {
            success: true,
            offsets: vec![("t".into(), 0, 20)],
            error: None
        }
    );
    assert_eq!(
        event(
            r#"{"name":"offsets_committed","success":false,"offsets":[],"error":"RebalanceInProgress"}"#
        ),
        Event::OffsetsCommitted {
            success: false,
            offsets: vec![],
            error: Some("RebalanceInProgress".into())
        }
    );
}

#[test]
fn roles_and_names() {
    assert_eq!(
        event(r#"{"name":"producer_send_success","id":1,"partition":0,"offset":0}"#).role(),
        Some(Role::Producer)
    );
    assert_eq!(
        event(r#"{"name":"record_data","topic":"t","partition":0,"offset":0}"#).role(),
        Some(Role::Consumer)
    );
    assert_eq!(event(r#"{"name":"shutdown_complete"}"#).role(), None);
    for name in KNOWN {
        // Each known name, with the fields its rules need, reads back as itself.
        let line = format!(
            r#"{{"name":"{name}","id":0,"topic":"t","partition":0,"offset":0,"message":"m","retriable":true,"success":true,"partitions":[],"offsets":[]}}"#
        );
        assert_eq!(event(&line).name(), name);
    }
}

#[test]
fn extra_fields_and_escapes_are_fine() {
    // Kafka's verifiable clients write `timestamp`, `key` and `value`: ignored.
    assert_eq!(
        event(
            r#"{"timestamp":1700000000000,"name":"producer_send_success","key":"k","value":"v","id":7,"partition":1,"offset":2}"#
        ),
        Event::SendSuccess {
            id: 7,
            topic: None,
            partition: 1,
            offset: 2
        }
    );
    // Escaped strings are read (owned, not borrowed).
    assert_eq!(
        event(
            r#"{"name":"producer_send_error","id":1,"message":"a \"quoted\"\nline","retriable":false}"#
        ),
        Event::SendError {
            id: 1,
            topic: None,
            exception: None,
            message: "a \"quoted\"\nline".into(),
            retriable: false
        }
    );
    // Whitespace around and inside.
    assert_eq!(
        event("  { \"name\" : \"shutdown_complete\" }  "),
        Event::ShutdownComplete
    );
}

#[test]
fn unknown_names_are_ignored_whatever_their_fields() {
    for line in [
        r#"{"name":"tool_data","stats":{"x":1}}"#,
        r#"{"name":"heartbeat","id":"not a number","partitions":"x"}"#,
        r#"{"name":"STARTUP_COMPLETE"}"#,
    ] {
        assert!(
            matches!(parse(line), Ok(Line::Unknown(_))),
            "{line}: {:?}",
            parse(line)
        );
    }
    assert_eq!(
        parse(r#"{"name":"heartbeat","id":"x"}"#).unwrap(),
        Line::Unknown("heartbeat".into())
    );
}

#[test]
fn what_is_no_event_is_log_text() {
    for line in [
        "",
        "connection reset, retrying",
        "[INFO] producer started",
        "{not json",
        r#"{"name":"producer_send_success","id":1"#, // cut short
        "[1, 2, 3]",
        r#""a string""#,
        "42",
        "null",
        r#"{"event":"startup_complete"}"#, // no `name`
        r#"{"name":17}"#,                  // `name` not a string
        r#"{"name":null,"id":1}"#,
    ] {
        assert_eq!(parse(line), Ok(Line::Log), "{line:?}");
    }
}

#[test]
fn missing_fields_are_named() {
    broken(
        r#"{"name":"producer_send_success","partition":0,"offset":0}"#,
        &["producer_send_success needs `id`"],
    );
    broken(
        r#"{"name":"producer_send_success","id":1,"offset":0}"#,
        &["producer_send_success needs `partition`"],
    );
    broken(
        r#"{"name":"producer_send_success","id":1,"partition":null,"offset":0}"#,
        &["needs `partition`"],
    );
    broken(
        r#"{"name":"producer_send_success","id":1,"partition":0}"#,
        &["needs `offset`"],
    );
    broken(
        r#"{"name":"producer_send_error","message":"m","retriable":true}"#,
        &["producer_send_error needs `id`"],
    );
    broken(
        r#"{"name":"producer_send_error","id":1,"retriable":true}"#,
        &["needs `message`"],
    );
    broken(
        r#"{"name":"producer_send_error","id":1,"message":"m"}"#,
        &["needs `retriable`", "may have been written"],
    );
    broken(
        r#"{"name":"partitions_assigned"}"#,
        &["partitions_assigned needs `partitions`"],
    );
    broken(
        r#"{"name":"partitions_revoked","partitions":[{"partition":0}]}"#,
        &["partitions_revoked needs `partitions[0].topic`"],
    );
    broken(
        r#"{"name":"partitions_assigned","partitions":[{"topic":"t","partition":0},{"topic":"t"}]}"#,
        &["needs `partitions[1].partition`"],
    );
    broken(
        r#"{"name":"record_data","partition":0,"offset":0}"#,
        &["record_data needs `topic`"],
    );
    broken(
        r#"{"name":"record_data","topic":"t","offset":0}"#,
        &["record_data needs `partition`"],
    );
    broken(
        r#"{"name":"record_data","topic":"t","partition":0}"#,
        &["record_data needs `offset`"],
    );
    broken(
        r#"{"name":"records_consumed","count":1}"#,
        &["records_consumed needs `partitions`"],
    );
    broken(
        r#"{"name":"records_consumed","partitions":[{"topic":"t","partition":0,"maxOffset":3}]}"#,
        &["needs `partitions[0].minOffset`"],
    );
    broken(
        r#"{"name":"records_consumed","partitions":[{"topic":"t","partition":0,"minOffset":3}]}"#,
        &["needs `partitions[0].maxOffset`"],
    );
    broken(
        r#"{"name":"offsets_committed","offsets":[]}"#,
        &["offsets_committed needs `success`"],
    );
    broken(
        r#"{"name":"offsets_committed","success":true}"#,
        &["offsets_committed needs `offsets`"],
    );
    broken(
        r#"{"name":"offsets_committed","success":true,"offsets":[{"topic":"t","partition":0}]}"#,
        &["needs `offsets[0].offset`"],
    );
}

#[test]
fn mistyped_fields_are_named_with_what_they_must_be() {
    broken(
        r#"{"name":"producer_send_success","id":"41","partition":0,"offset":0}"#,
        &[
            "producer_send_success: `id` must be an integer",
            "found \"41\"",
        ],
    );
    broken(
        r#"{"name":"producer_send_success","id":-1,"partition":0,"offset":0}"#,
        &["`id` must be an integer from 0"],
    );
    broken(
        r#"{"name":"producer_send_success","id":1.5,"partition":0,"offset":0}"#,
        &["`id` must be an integer", "found 1.5"],
    );
    broken(
        r#"{"name":"producer_send_success","id":1,"partition":"3","offset":0}"#,
        &["`partition` must be an integer partition number"],
    );
    broken(
        r#"{"name":"producer_send_success","id":1,"partition":3000000000,"offset":0}"#,
        &[
            "`partition` must be an integer partition number",
            "3000000000",
        ],
    );
    broken(
        r#"{"name":"producer_send_success","id":1,"partition":0,"offset":"12"}"#,
        &["`offset` must be an integer offset"],
    );
    broken(
        r#"{"name":"producer_send_error","id":1,"message":"m","retriable":"yes"}"#,
        &["`retriable` must be true or false", "found \"yes\""],
    );
    broken(
        r#"{"name":"producer_send_error","id":1,"message":5,"retriable":true}"#,
        &["`message` must be a string"],
    );
    broken(
        r#"{"name":"partitions_assigned","partitions":{"topic":"t"}}"#,
        &["`partitions` must be a list"],
    );
    broken(
        r#"{"name":"partitions_assigned","partitions":["t-0"]}"#,
        &["`partitions[0]` must be an object"],
    );
    broken(
        r#"{"name":"partitions_assigned","partitions":[{"topic":7,"partition":0}]}"#,
        &["`partitions[0].topic` must be a string"],
    );
    broken(
        r#"{"name":"record_data","topic":"t","partition":0,"offset":1,"stamp":12}"#,
        &["`stamp` must be a string"],
    );
    broken(
        r#"{"name":"records_consumed","partitions":[{"topic":"t","partition":0,"minOffset":1,"maxOffset":2,"offsets":[1,"2"]}]}"#,
        &["`partitions[0].offsets[1]` must be an integer offset"],
    );
    broken(
        r#"{"name":"offsets_committed","success":"true","offsets":[]}"#,
        &["`success` must be true or false"],
    );
    broken(
        r#"{"name":"offsets_committed","success":true,"offsets":[{"topic":"t","partition":0,"offset":1.5}]}"#,
        &["`offsets[0].offset` must be an integer offset"],
    );
    broken(
        r#"{"name":"startup_complete","client":["kafkajs"]}"#,
        &["`client` must be a string"],
    );
}

#[test]
fn values_out_of_their_range_are_refused() {
    broken(
        r#"{"name":"producer_send_success","id":1,"partition":-1,"offset":0}"#,
        &["`partition` must not be negative, found -1"],
    );
    broken(
        r#"{"name":"producer_send_success","id":1,"partition":0,"offset":-1}"#,
        &["`offset` must not be negative"],
    );
    broken(
        r#"{"name":"record_data","topic":"t","partition":0,"offset":-5}"#,
        &["`offset` must not be negative, found -5"],
    );
    broken(
        r#"{"name":"records_consumed","partitions":[{"topic":"t","partition":0,"minOffset":5,"maxOffset":4}]}"#,
        &["`partitions[0].minOffset` 5 is above `partitions[0].maxOffset` 4"],
    );
    broken(
        r#"{"name":"records_consumed","partitions":[{"topic":"t","partition":0,"minOffset":1,"maxOffset":3,"offsets":[1,7]}]}"#,
        &["`partitions[0].offsets` holds 7, outside minOffset 1 to maxOffset 3"],
    );
}

#[test]
fn a_range_with_gaps_must_list_its_offsets() {
    broken(
        r#"{"name":"records_consumed","count":2,"partitions":[{"topic":"t","partition":0,"count":2,"minOffset":10,"maxOffset":12}]}"#,
        &[
            "`partitions[0].count` is 2",
            "spans 3 offsets",
            "list them in `partitions[0].offsets`",
        ],
    );
    // Listed, the gap is fine; without a count, a range is every offset in it.
    assert!(matches!(
        event(r#"{"name":"records_consumed","partitions":[{"topic":"t","partition":0,"count":2,"minOffset":10,"maxOffset":12,"offsets":[10,12]}]}"#),
        Event::RecordsConsumed(c) if c[0].offsets == Processed::List(vec![10, 12])
    ));
    assert!(matches!(
        event(r#"{"name":"records_consumed","partitions":[{"topic":"t","partition":0,"minOffset":10,"maxOffset":12}]}"#),
        Event::RecordsConsumed(c) if c[0].offsets == Processed::Range { min: 10, max: 12 }
    ));
}

#[test]
fn stamps_must_be_base64() {
    for bad in ["AQ==AQ", "not base64!", "AQAAAAAAAAAAAAAAEQAAAZN2nq2", "AQ"] {
        broken(
            &format!(
                r#"{{"name":"record_data","topic":"t","partition":0,"offset":0,"stamp":"{bad}"}}"#
            ),
            &["`stamp` must be base64"],
        );
    }
    // The URL-safe alphabet is not the protocol's.
    broken(
        r#"{"name":"record_data","topic":"t","partition":0,"offset":0,"stamp":"-_-_"}"#,
        &["`stamp` must be base64"],
    );
    // Any bytes are base64's to carry, stamp or not (the driver decides what a stamp is).
    assert!(matches!(
        event(r#"{"name":"record_data","topic":"t","partition":0,"offset":0,"stamp":""}"#),
        Event::RecordData { stamp: Some(s), .. } if s.is_empty()
    ));
}

#[test]
fn a_duplicate_field_is_a_protocol_error() {
    broken(
        r#"{"name":"producer_send_success","id":1,"id":2,"partition":0,"offset":0}"#,
        &["producer_send_success", "duplicate field `id`"],
    );
}

#[test]
fn send_lines_carry_every_byte() {
    let mut out = Vec::new();
    let topic = json_string("t-\"1\"");
    let key = [0u8, 255, b'\n', b'"'];
    let value: Vec<u8> = (0..=255).collect();
    encode_send(
        &mut out,
        41,
        &topic,
        None,
        &key,
        &value,
        &[("kh-stamp", &[1, 2, 3]), ("kh-source", &[])],
    );
    encode_send(&mut out, 42, &topic, Some(3), &[], b"", &[]);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    assert_eq!(lines.len(), 2, "{text}");
    let first: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(first["name"], "send");
    assert_eq!(first["id"], 41);
    assert_eq!(first["topic"], "t-\"1\"");
    assert!(first["partition"].is_null());
    let bytes = |v: &Value| STANDARD.decode(v.as_str().unwrap()).unwrap();
    assert_eq!(bytes(&first["key"]), key);
    assert_eq!(bytes(&first["value"]), value);
    assert_eq!(first["headers"][0]["key"], "kh-stamp");
    assert_eq!(bytes(&first["headers"][0]["value"]), [1, 2, 3]);
    assert_eq!(first["headers"][1]["key"], "kh-source");
    assert_eq!(bytes(&first["headers"][1]["value"]), b"");
    let second: Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(
        (second["id"].as_u64(), second["partition"].as_i64()),
        (Some(42), Some(3))
    );
    assert_eq!(second["headers"], serde_json::json!([]));
}

#[test]
fn the_configure_line_holds_every_setting() {
    let configure = Configure {
        role: Role::Consumer,
        table: "webhook-workers".into(),
        instance: 1,
        bootstrap_servers: "127.0.0.1:39421".into(),
        topic: "webhook-events-1a2b3c4d".into(),
        group: Some("webhook-consumers-1a2b3c4d".into()),
        client: [("session.timeout.ms".to_owned(), "6000".to_owned())].into(),
        security: [("security.protocol".to_owned(), "SASL_SSL".to_owned())].into(),
    };
    let line = configure.line();
    assert_eq!(line.last(), Some(&b'\n'));
    assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
    let v: Value = serde_json::from_slice(&line).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "name": "configure", "protocol": 1, "role": "consumer", "table": "webhook-workers",
            "instance": 1, "bootstrap_servers": "127.0.0.1:39421",
            "topic": "webhook-events-1a2b3c4d", "group": "webhook-consumers-1a2b3c4d",
            "client": {"session.timeout.ms": "6000"},
            "security": {"security.protocol": "SASL_SSL"}
        })
    );
    let producer = Configure {
        role: Role::Producer,
        group: None,
        ..configure
    };
    let v: Value = serde_json::from_slice(&producer.line()).unwrap();
    assert!(v["group"].is_null());
    assert_eq!(v["role"], "producer");
    assert_eq!(SHUTDOWN, b"{\"name\":\"shutdown\"}\n");
}

#[test]
fn the_documents_transcripts_read() {
    // Every line the harness reads in docs/drivers.md's worked transcripts.
    let doc = include_str!("../../../../docs/drivers.md");
    let mut events = 0;
    for line in doc.lines() {
        let Some(line) = line.strip_prefix("> ") else {
            continue;
        };
        match parse(line) {
            Ok(Line::Event(_)) => events += 1,
            Ok(Line::Log) => assert!(!line.starts_with('{'), "{line}"),
            other => panic!("{line}: {other:?}"),
        }
    }
    assert!(events >= 12, "only {events} events in the transcripts");
}

#[test]
fn any_text_is_read_without_panicking() {
    use proptest::prelude::*;
    proptest!(|(line in ".{0,200}")| {
        let _ = parse(&line);
    });
    proptest!(|(id in any::<u64>(), p in any::<i32>(), o in any::<i64>())| {
        let line = format!(r#"{{"name":"producer_send_success","id":{id},"partition":{p},"offset":{o}}}"#);
        match parse(&line) {
            Ok(Line::Event(Event::SendSuccess { id: i, partition, offset, .. })) => {
                prop_assert_eq!((i, partition, offset), (id, p, o));
            }
            Err(_) => prop_assert!(p < 0 || o < 0),
            other => prop_assert!(false, "{:?}", other),
        }
    });
}
