//! An exec adapter for librdkafka: a client process that speaks the harness's exec protocol
//! (`docs/drivers.md`, version 1) with the rdkafka crate, as a producer or a consumer. The
//! tests and `benches/exec.rs` run it as `driver = "exec"`; it is also a worked example of
//! an adapter.
//!
//! ```text
//!   stdin ──configure──> ClientConfig (bootstrap + security + client; unknown keys dropped)
//!   producer: stdin ──send──> base64-decode ──> ThreadedProducer::send (opaque: the id)
//!             delivery callback ──producer_send_success / _error──> Out ──writer thread──> stdout
//!   consumer: BaseConsumer::poll ──> record_data (or records_consumed with --no-stamps) ──> Out
//!             rebalance callbacks ──> partitions_assigned / partitions_revoked
//!             every second and before a revocation: commit what was processed ──> offsets_committed
//!   `shutdown` or the end of stdin: flush or commit, `shutdown_complete`, exit 0
//! ```
//!
//! Usage: `exec_rdkafka [--no-stamps] [--misbehave MODE]`. Flags are for tests, never
//! settings (those come in `configure`). Modes, each a bug the harness must catch:
//! `ack-without-send` (producer: every 50th send is answered as acknowledged, at partition 0
//! offset 0, and never sent), `send-twice` (producer: every 50th record is sent twice),
//! `commit-first` (consumer: commits each record as it arrives and processes it only when
//! the next one has arrived, or after half a second without one, so while records flow
//! there is always one in hand, committed and not processed, which a crash loses). `--no-stamps` (consumer) reports
//! `records_consumed` summaries without stamps instead of `record_data`.
//!
//! Run it by hand: `cargo run --example exec_rdkafka` and type a configure line.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rdkafka::config::FromClientConfigAndContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};
use serde::Deserialize;

#[derive(Deserialize)]
struct Configure {
    protocol: u32,
    role: String,
    bootstrap_servers: String,
    topic: String,
    group: Option<String>,
    #[serde(default)]
    client: BTreeMap<String, String>,
    #[serde(default)]
    security: BTreeMap<String, String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Misbehave {
    None,
    AckWithoutSend,
    SendTwice,
    CommitFirst,
}

/// Lines for stdout, written in batches by a thread of their own.
struct Out {
    buf: Mutex<Vec<u8>>,
    ready: Condvar,
    done: AtomicBool,
}

impl Out {
    fn start() -> (Arc<Out>, std::thread::JoinHandle<()>) {
        let out = Arc::new(Out {
            buf: Mutex::new(Vec::with_capacity(1 << 16)),
            ready: Condvar::new(),
            done: AtomicBool::new(false),
        });
        let writer = Arc::clone(&out);
        let thread = std::thread::spawn(move || {
            let mut stdout = std::io::stdout().lock();
            let mut batch = Vec::with_capacity(1 << 16);
            loop {
                {
                    let mut buf = writer.buf.lock().unwrap();
                    while buf.is_empty() && !writer.done.load(Ordering::Acquire) {
                        buf = writer.ready.wait(buf).unwrap();
                    }
                    if buf.is_empty() {
                        return;
                    }
                    std::mem::swap(&mut *buf, &mut batch);
                }
                if stdout
                    .write_all(&batch)
                    .and_then(|()| stdout.flush())
                    .is_err()
                {
                    return;
                }
                batch.clear();
            }
        });
        (out, thread)
    }

    /// Appends one line (`line` without its newline).
    fn line(&self, line: impl AsRef<[u8]>) {
        let mut buf = self.buf.lock().unwrap();
        buf.extend_from_slice(line.as_ref());
        buf.push(b'\n');
        drop(buf);
        self.ready.notify_one();
    }

    /// Writes what is left and stops the writer.
    fn finish(&self, thread: std::thread::JoinHandle<()>) {
        self.done.store(true, Ordering::Release);
        self.ready.notify_one();
        let _ = thread.join();
    }
}

fn json(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

/// A ClientConfig from the settings; keys librdkafka does not know are dropped (and said so
/// on stderr), as the protocol asks: map what your client knows and ignore the rest.
fn create<T, C>(mut settings: BTreeMap<String, String>, context: impl Fn() -> C) -> T
where
    T: FromClientConfigAndContext<C>,
    C: ClientContext,
{
    loop {
        let mut config = ClientConfig::new();
        for (k, v) in &settings {
            config.set(k, v);
        }
        match config.create_with_context(context()) {
            Ok(client) => return client,
            Err(KafkaError::ClientCreation(message)) => {
                let unknown = message
                    .split("No such configuration property: \"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .map(str::to_owned);
                match unknown {
                    Some(key) if settings.remove(&key).is_some() => {
                        eprintln!("exec_rdkafka: ignoring `{key}`: librdkafka does not know it");
                    }
                    _ => fail(&format!("creating the client: {message}")),
                }
            }
            Err(e) => fail(&format!("creating the client: {e}")),
        }
    }
}

/// Says why on stderr and exits 1, as the protocol asks of a process that cannot go on.
// An adapter owns no broker: exiting at once is right here, unlike in the harness.
#[allow(clippy::disallowed_methods)]
fn fail(message: &str) -> ! {
    eprintln!("exec_rdkafka: {message}");
    std::process::exit(1)
}

fn main() -> ExitCode {
    let mut misbehave = Misbehave::None;
    let mut stamps = true;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--no-stamps" => stamps = false,
            "--misbehave" => {
                misbehave = match args.next().as_deref() {
                    Some("ack-without-send") => Misbehave::AckWithoutSend,
                    Some("send-twice") => Misbehave::SendTwice,
                    Some("commit-first") => Misbehave::CommitFirst,
                    other => fail(&format!("--misbehave {other:?}: unknown mode")),
                }
            }
            other => fail(&format!("unknown argument {other:?}")),
        }
    }
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line = String::new();
    if input.read_line(&mut line).unwrap_or(0) == 0 {
        fail("no configure line on stdin");
    }
    let configure: Configure = serde_json::from_str(&line)
        .unwrap_or_else(|e| fail(&format!("the first line is not a configure line: {e}")));
    if configure.protocol != 1 {
        fail(&format!(
            "protocol {} asked; this adapter speaks protocol 1",
            configure.protocol
        ));
    }
    let mut settings = configure.security.clone();
    settings.extend(configure.client.clone());
    settings.insert(
        "bootstrap.servers".into(),
        configure.bootstrap_servers.clone(),
    );
    let (out, writer) = Out::start();
    match configure.role.as_str() {
        "producer" => produce(&configure, settings, &out, input, misbehave),
        "consumer" => {
            // Stdin's buffer is shared: the consumer's stdin thread reads on from here.
            drop(input);
            consume(&configure, settings, &out, misbehave, stamps)
        }
        other => fail(&format!("unknown role {other:?}")),
    }
    out.line(r#"{"name":"shutdown_complete"}"#);
    out.finish(writer);
    ExitCode::SUCCESS
}

// ----- producer --------------------------------------------------------------------------

struct Answers {
    out: Arc<Out>,
    topic: String,
}

impl ClientContext for Answers {}

impl ProducerContext for Answers {
    /// The send's id; `None` for a copy nobody waits for (`send-twice`).
    type DeliveryOpaque = Box<Option<u64>>;

    fn delivery(&self, result: &DeliveryResult<'_>, id: Box<Option<u64>>) {
        let Some(id) = *id else { return };
        let line = match result {
            Ok(m) => format!(
                r#"{{"name":"producer_send_success","id":{id},"topic":{},"partition":{},"offset":{}}}"#,
                self.topic,
                m.partition(),
                m.offset()
            ),
            Err((e, _)) => {
                let not_written = matches!(
                    e.rdkafka_error_code(),
                    Some(
                        RDKafkaErrorCode::MessageSizeTooLarge
                            | RDKafkaErrorCode::InvalidMessageSize
                            | RDKafkaErrorCode::TopicAuthorizationFailed
                            | RDKafkaErrorCode::ClusterAuthorizationFailed
                            | RDKafkaErrorCode::InvalidRecord
                            | RDKafkaErrorCode::UnknownTopic
                            | RDKafkaErrorCode::UnknownPartition
                    )
                );
                format!(
                    r#"{{"name":"producer_send_error","id":{id},"topic":{},"exception":{},"message":{},"retriable":{}}}"#,
                    self.topic,
                    json(&format!("{:?}", e.rdkafka_error_code())),
                    json(&e.to_string()),
                    !not_written
                )
            }
        };
        self.out.line(line);
    }
}

#[derive(Deserialize)]
struct SendLine<'a> {
    name: &'a str,
    #[serde(default)]
    id: u64,
    #[serde(default, borrow)]
    topic: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    partition: Option<i32>,
    #[serde(default, borrow)]
    key: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    value: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    headers: Vec<SendHeader<'a>>,
}

#[derive(Deserialize)]
struct SendHeader<'a> {
    #[serde(borrow)]
    key: std::borrow::Cow<'a, str>,
    #[serde(default, borrow)]
    value: Option<std::borrow::Cow<'a, str>>,
}

fn decode(text: &str, into: &mut Vec<u8>) {
    into.clear();
    if let Err(e) = STANDARD.decode_vec(text.as_bytes(), into) {
        fail(&format!("not base64: {e}"));
    }
}

fn produce(
    configure: &Configure,
    mut settings: BTreeMap<String, String>,
    out: &Arc<Out>,
    input: impl BufRead,
    misbehave: Misbehave,
) {
    // Keys go where the Java client puts them, as with the harness's own rdkafka driver.
    settings
        .entry("partitioner".into())
        .or_insert_with(|| "murmur2_random".into());
    let topic = json(&configure.topic);
    let producer: ThreadedProducer<Answers> = create(settings, || Answers {
        out: Arc::clone(out),
        topic: topic.clone(),
    });
    out.line(format!(
        r#"{{"name":"startup_complete","client":{}}}"#,
        json(&format!(
            "exec_rdkafka (librdkafka {})",
            rdkafka::util::get_rdkafka_version().1
        ))
    ));
    let (mut key, mut value) = (Vec::new(), Vec::new());
    let mut header_values: Vec<Vec<u8>> = Vec::new();
    // Send lines are about 1.4 times their value's size: read them in large chunks.
    let mut input = std::io::BufReader::with_capacity(1 << 20, input);
    let mut line = Vec::with_capacity(4096);
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
            break;
        }
        let send: SendLine<'_> = match serde_json::from_slice(&line) {
            Ok(s) => s,
            Err(e) => fail(&format!(
                "a line that is no send: {e}: {}",
                String::from_utf8_lossy(&line)
            )),
        };
        match send.name {
            "send" => {}
            "shutdown" => break,
            _ => continue,
        }
        let id = send.id;
        if misbehave == Misbehave::AckWithoutSend && id % 50 == 7 {
            out.line(format!(
                r#"{{"name":"producer_send_success","id":{id},"topic":{topic},"partition":0,"offset":0}}"#
            ));
            continue;
        }
        let to = send.topic.as_deref().unwrap_or(&configure.topic);
        decode(send.key.as_deref().unwrap_or(""), &mut key);
        decode(send.value.as_deref().unwrap_or(""), &mut value);
        header_values.resize_with(send.headers.len(), Vec::new);
        for (h, v) in send.headers.iter().zip(&mut header_values) {
            decode(h.value.as_deref().unwrap_or(""), v);
        }
        let copies = if misbehave == Misbehave::SendTwice && id % 50 == 7 {
            2
        } else {
            1
        };
        for copy in 0..copies {
            let mut headers = OwnedHeaders::new_with_capacity(send.headers.len());
            for (h, v) in send.headers.iter().zip(&header_values) {
                headers = headers.insert(Header {
                    key: &h.key,
                    value: Some(&v[..]),
                });
            }
            let opaque = Box::new((copy == 0).then_some(id));
            let mut record = BaseRecord::with_opaque_to(to, opaque)
                .key(&key[..])
                .payload(&value[..])
                .headers(headers);
            record.partition = send.partition;
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        record = r;
                        producer.poll(Duration::from_millis(5));
                    }
                    Err((e, r)) => {
                        // Refused at once: answered as the delivery callback would.
                        if let Some(id) = *r.delivery_opaque {
                            out.line(format!(
                                r#"{{"name":"producer_send_error","id":{id},"topic":{topic},"message":{},"retriable":false}}"#,
                                json(&e.to_string())
                            ));
                        }
                        break;
                    }
                }
            }
        }
    }
    // Every outcome reported before `shutdown_complete`.
    if let Err(e) = producer.flush(Duration::from_secs(60)) {
        eprintln!("exec_rdkafka: flushing: {e}");
    }
}

// ----- consumer --------------------------------------------------------------------------

/// What a consumer processed and has not committed yet: partition to the next offset.
type Processed = Arc<Mutex<HashMap<i32, i64>>>;

struct Group {
    out: Arc<Out>,
    topic: String,
    processed: Processed,
}

fn partitions(list: &TopicPartitionList) -> String {
    let items: Vec<String> = list
        .elements()
        .iter()
        .map(|e| {
            format!(
                r#"{{"topic":{},"partition":{}}}"#,
                json(e.topic()),
                e.partition()
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

impl Group {
    /// Commits what was processed of `only` (every partition when `None`), synchronously,
    /// and reports the commit.
    fn commit(&self, consumer: &BaseConsumer<Group>, only: Option<&[i32]>) {
        let offsets: Vec<(i32, i64)> = {
            let mut processed = self.processed.lock().unwrap();
            let keys: Vec<i32> = processed
                .keys()
                .copied()
                .filter(|p| only.is_none_or(|o| o.contains(p)))
                .collect();
            keys.into_iter()
                .filter_map(|p| processed.remove(&p).map(|o| (p, o)))
                .collect()
        };
        self.commit_offsets(consumer, &offsets);
    }

    fn commit_offsets(&self, consumer: &BaseConsumer<Group>, offsets: &[(i32, i64)]) {
        if offsets.is_empty() {
            return;
        }
        let mut list = TopicPartitionList::new();
        for &(p, o) in offsets {
            let _ = list.add_partition_offset(&self.topic, p, Offset::Offset(o));
        }
        let result = consumer.commit(&list, rdkafka::consumer::CommitMode::Sync);
        let items: Vec<String> = offsets
            .iter()
            .map(|(p, o)| {
                format!(
                    r#"{{"topic":{},"partition":{p},"offset":{o}}}"#,
                    json(&self.topic)
                )
            })
            .collect();
        self.out.line(match result {
            Ok(()) => format!(
                r#"{{"name":"offsets_committed","success":true,"offsets":[{}]}}"#,
                items.join(",")
            ),
            Err(e) => format!(
                r#"{{"name":"offsets_committed","success":false,"offsets":[{}],"error":{}}}"#,
                items.join(","),
                json(&e.to_string())
            ),
        });
    }
}

impl ClientContext for Group {}

impl ConsumerContext for Group {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            // At-least-once: what was processed is committed before the partitions go.
            let revoked: Vec<i32> = list.elements().iter().map(|e| e.partition()).collect();
            self.commit(consumer, Some(&revoked));
            self.out.line(format!(
                r#"{{"name":"partitions_revoked","partitions":{}}}"#,
                partitions(list)
            ));
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            self.out.line(format!(
                r#"{{"name":"partitions_assigned","partitions":{}}}"#,
                partitions(list)
            ));
        }
    }
}

fn consume(
    configure: &Configure,
    mut settings: BTreeMap<String, String>,
    out: &Arc<Out>,
    misbehave: Misbehave,
    stamps: bool,
) {
    let group = configure
        .group
        .clone()
        .unwrap_or_else(|| fail("a consumer needs a group"));
    settings.insert("group.id".into(), group);
    settings
        .entry("auto.offset.reset".into())
        .or_insert_with(|| "earliest".into());
    settings.insert("enable.auto.commit".into(), "false".into());
    let processed: Processed = Arc::default();
    let consumer: BaseConsumer<Group> = create(settings, || Group {
        out: Arc::clone(out),
        topic: configure.topic.clone(),
        processed: Arc::clone(&processed),
    });
    consumer
        .subscribe(&[&configure.topic])
        .unwrap_or_else(|e| fail(&format!("subscribing: {e}")));
    out.line(format!(
        r#"{{"name":"startup_complete","client":{}}}"#,
        json(&format!(
            "exec_rdkafka (librdkafka {})",
            rdkafka::util::get_rdkafka_version().1
        ))
    ));
    // `shutdown` (or the end of stdin) ends the loop.
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut input = std::io::stdin().lock();
            let mut line = String::new();
            loop {
                line.clear();
                if input.read_line(&mut line).unwrap_or(0) == 0 || line.contains("\"shutdown\"") {
                    break;
                }
            }
            stop.store(true, Ordering::Release);
        });
    }
    let topic = json(&configure.topic);
    let mut last_commit = Instant::now();
    // --no-stamps: per partition, the offsets processed since the last summary.
    let mut batch: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    // commit-first: the record committed and not yet processed, and the polls since a
    // record came.
    let mut in_hand: Option<Record> = None;
    let mut idle_polls = 0;
    while !stop.load(Ordering::Acquire) {
        let message = consumer.poll(Duration::from_millis(100));
        if matches!(message, Some(Ok(_))) {
            idle_polls = 0;
        } else {
            idle_polls += 1;
            // Records stopped coming: the one in hand is processed at last.
            if idle_polls >= 5
                && let Some(record) = in_hand.take()
            {
                report(out, &topic, &record, stamps, &mut batch);
            }
        }
        if let Some(Ok(m)) = &message {
            let record = Record {
                partition: m.partition(),
                offset: m.offset(),
                stamp: m.headers().and_then(|h| {
                    h.iter()
                        .find(|h| h.key == "kh-stamp")
                        .and_then(|h| h.value)
                        .map(|v| STANDARD.encode(v))
                }),
            };
            let record = if misbehave == Misbehave::CommitFirst {
                consumer
                    .context()
                    .commit_offsets(&consumer, &[(record.partition, record.offset + 1)]);
                in_hand.replace(record)
            } else {
                processed
                    .lock()
                    .unwrap()
                    .insert(record.partition, record.offset + 1);
                Some(record)
            };
            if let Some(record) = record {
                report(out, &topic, &record, stamps, &mut batch);
            }
        }
        let idle = !matches!(message, Some(Ok(_)));
        if !batch.is_empty() && (idle || batch.values().map(Vec::len).sum::<usize>() >= 100) {
            summarise(out, &topic, &mut batch);
        }
        if last_commit.elapsed() >= Duration::from_secs(1) {
            consumer.context().commit(&consumer, None);
            last_commit = Instant::now();
        }
    }
    if let Some(record) = in_hand.take() {
        report(out, &topic, &record, stamps, &mut batch);
    }
    summarise(out, &topic, &mut batch);
    consumer.context().commit(&consumer, None);
    // Leaves the group: the revocation is reported by the rebalance callback.
    consumer.unsubscribe();
    let deadline = Instant::now() + Duration::from_secs(5);
    while consumer.assignment().is_ok_and(|a| a.count() > 0) && Instant::now() < deadline {
        consumer.poll(Duration::from_millis(50));
    }
}

/// A record consumed.
struct Record {
    partition: i32,
    offset: i64,
    /// Its `kh-stamp` header, base64.
    stamp: Option<String>,
}

/// Reports a record processed: a `record_data` line, or (`--no-stamps`) into the next
/// `records_consumed` summary.
fn report(
    out: &Out,
    topic: &str,
    record: &Record,
    stamps: bool,
    batch: &mut BTreeMap<i32, Vec<i64>>,
) {
    let Record {
        partition,
        offset,
        stamp,
    } = record;
    if !stamps {
        batch.entry(*partition).or_default().push(*offset);
        return;
    }
    out.line(match stamp {
        Some(s) => format!(
            r#"{{"name":"record_data","topic":{topic},"partition":{partition},"offset":{offset},"stamp":"{s}"}}"#
        ),
        None => format!(
            r#"{{"name":"record_data","topic":{topic},"partition":{partition},"offset":{offset}}}"#
        ),
    });
}

/// One `records_consumed` line for what `batch` holds (offsets listed where they have gaps).
fn summarise(out: &Out, topic: &str, batch: &mut BTreeMap<i32, Vec<i64>>) {
    if batch.is_empty() {
        return;
    }
    let mut count = 0;
    let entries: Vec<String> = batch
        .iter()
        .map(|(p, offsets)| {
            let (min, max) = (offsets[0], offsets[offsets.len() - 1]);
            count += offsets.len();
            let contiguous = (max - min + 1) as usize == offsets.len();
            let list = if contiguous {
                String::new()
            } else {
                format!(
                    r#","offsets":[{}]"#,
                    offsets
                        .iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                )
            };
            format!(
                r#"{{"topic":{topic},"partition":{p},"count":{},"minOffset":{min},"maxOffset":{max}{list}}}"#,
                offsets.len()
            )
        })
        .collect();
    out.line(format!(
        r#"{{"name":"records_consumed","count":{count},"partitions":[{}]}}"#,
        entries.join(",")
    ));
    batch.clear();
}
