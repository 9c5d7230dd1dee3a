#!/usr/bin/env python3
"""A stand-in for kafka-harness's `exec` driver, for adapter authors.

Plays the harness's side of docs/drivers.md (protocol 1) against a real
broker and checks what an adapter answers, using confluent-kafka to create
topics, produce test data and read the log back:

  producer adapters: configure, N sends (random keys, some null; a 21-byte
    kh-stamp header plus a second header; a few sends to an explicit
    partition) with at most --window unanswered, then shutdown. Checks that
    every id is answered exactly once, that every reported (partition,
    offset) holds exactly that record (key, value, headers in order), and
    that shutdown_complete arrives and the process exits 0.
  consumer adapters: produces N records, starts one consumer process, starts
    a second once the first is under way (a rebalance) while the rest of the
    records are produced, waits until every record is reported, shuts both
    down. Checks every record_data against the log (offset exists, stamp
    matches), that nothing is missing, the commits' offsets, and shutdown.

Findings that are properties of the client or of the code under test
(partitions a key was spread over, per-key reordering, out-of-order
processing, commits going backwards or ahead of processing, work after a
revocation) are reported, not failed: finding them is the real harness's job.

Run it with the Python adapter's venv (it has confluent-kafka):

  adapters/confluent-kafka-python/.venv/bin/python adapters/test/fake_harness.py
  ... --only kafkajs-producer,kafka-go-consumer --records 500
  ... --producer-command 'node my/producer.js' --only custom-producer
  ... --bootstrap 127.0.0.1:9092            (use a running cluster)

Without --bootstrap it starts `kafka-harness cluster up` (--kafka-harness
PATH, default target/debug/kafka-harness of this repository) and stops it at
the end. Every process it starts is stopped by its id before it exits.
Exit status: 0 when every adapter passed the hard checks, 1 otherwise.
"""

import argparse
import base64
import json
import os
import queue
import random
import shlex
import signal
import subprocess
import sys
import threading
import time
import uuid

try:
    from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:
    sys.exit("fake_harness.py needs confluent-kafka: run it with adapters/confluent-kafka-python/.venv/bin/python "
             "(adapters/install.sh makes that venv)")

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PYTHON = sys.executable

PRODUCERS = {
    "kafkajs-producer": ["node", "adapters/kafkajs/producer.js"],
    "kafkajs-producer-batch": ["node", "adapters/kafkajs/producer.js", "--batch"],
    "kafka-go-producer-leastbytes": ["adapters/kafka-go/bin/kafka-go-adapter", "producer", "-balancer", "leastbytes"],
    "kafka-go-producer-hash": ["adapters/kafka-go/bin/kafka-go-adapter", "producer", "-balancer", "hash"],
    "confluent-kafka-python-producer": [PYTHON, "adapters/confluent-kafka-python/producer.py"],
}
CONSUMERS = {
    "kafkajs-consumer": ["node", "adapters/kafkajs/consumer.js"],
    "kafka-go-consumer": ["adapters/kafka-go/bin/kafka-go-adapter", "consumer"],
    "confluent-kafka-python-consumer": [PYTHON, "adapters/confluent-kafka-python/consumer.py"],
}

GRACE = 10.0  # seconds between shutdown and SIGTERM, as the harness
STARTUP_TIMEOUT = 30.0

_children = []  # every Popen this script started, stopped on exit


def say(msg):
    print(msg, flush=True)


def b64(b):
    return None if b is None else base64.b64encode(b).decode("ascii")


def pct(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


# ---------------------------------------------------------------------------
# processes


class Adapter:
    """One adapter process: its stdin, a reader thread for its stdout, a log
    file for its stderr, and the protocol rules every line must follow."""

    def __init__(self, name, argv, logdir, events):
        self.name = name
        self.log_path = os.path.join(logdir, name + ".log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, start_new_session=True)
        _children.append(self.proc)
        self.events = events  # queue of (time, adapter, event)
        self.lineno = 0
        self.protocol_errors = []
        self.started = False
        self.shutdown_complete = False
        self.nonjson_lines = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            now = time.monotonic()
            self.lineno += 1
            try:
                event = json.loads(raw)
            except ValueError:
                event = None
            if not isinstance(event, dict) or not isinstance(event.get("name"), str):
                self.nonjson_lines += 1  # the process's log, allowed
                self.log.write(b"[stdout] " + raw)
                continue
            if not self.started and event["name"] != "startup_complete":
                self.error("%s before startup_complete" % event["name"], raw)
            if event["name"] == "startup_complete":
                if self.started:
                    self.error("second startup_complete", raw)
                self.started = True
            if event["name"] == "shutdown_complete":
                self.shutdown_complete = True
            self.events.put((now, self, event))
        self.events.put((time.monotonic(), self, {"name": "__eof__"}))

    def error(self, rule, raw=b""):
        line = raw.decode("utf-8", "replace").rstrip() if isinstance(raw, bytes) else json.dumps(raw)
        self.protocol_errors.append("line %d: %s: %s" % (self.lineno, rule, line[:300]))

    def send(self, event):
        try:
            self.proc.stdin.write((json.dumps(event, separators=(",", ":")) + "\n").encode())
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, ValueError):
            return False

    def shutdown(self):
        """shutdown; then, as the harness, SIGTERM after the grace and SIGKILL after another."""
        t0 = time.monotonic()
        self.send({"name": "shutdown"})
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        how = "exit"
        try:
            self.proc.wait(GRACE)
        except subprocess.TimeoutExpired:
            how = "SIGTERM"
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(GRACE)
            except subprocess.TimeoutExpired:
                how = "SIGKILL"
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return how, self.proc.returncode, time.monotonic() - t0

    def stderr_tail(self, n=5):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return b"".join(f.readlines()[-n:]).decode("utf-8", "replace")


def stop_children():
    for p in _children:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()


def start_cluster(binary, logdir):
    say("starting a broker: %s cluster up" % binary)
    log = open(os.path.join(logdir, "cluster.log"), "wb")
    proc = subprocess.Popen([binary, "cluster", "up"], stdout=subprocess.PIPE, stderr=log, start_new_session=True)
    _children.append(proc)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        line = proc.stdout.readline().decode()
        if not line:
            sys.exit("the cluster exited before it was ready; see %s" % log.name)
        if line.startswith("bootstrap="):
            return proc, line.strip().split("=", 1)[1]
    sys.exit("the cluster was not ready in 180 s")


def stop_cluster(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # the cluster stops and cleans up on SIGTERM
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# ---------------------------------------------------------------------------
# Kafka helpers


def create_topic(bootstrap, name, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for _, f in admin.create_topics([NewTopic(name, partitions, 1)]).items():
        f.result()
    # wait until every partition has a leader
    for _ in range(100):
        md = admin.list_topics(name, timeout=5).topics[name]
        if md.error is None and len(md.partitions) == partitions and all(p.leader >= 0 for p in md.partitions.values()):
            return
        time.sleep(0.1)


def read_log(bootstrap, topic):
    """{(partition, offset): (key, value, headers)} for the whole topic."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "fake-harness-reader-" + uuid.uuid4().hex,
                  "enable.auto.commit": False, "enable.partition.eof": True})
    md = c.list_topics(topic, timeout=10).topics[topic]
    ends = {}
    tps = []
    for p in md.partitions:
        low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        ends[p] = high
        if high > low:
            tps.append(TopicPartition(topic, p, low))
    out = {}
    c.assign(tps)
    remaining = {tp.partition for tp in tps}
    deadline = time.monotonic() + 60
    while remaining and time.monotonic() < deadline:
        for m in c.consume(1000, 1.0):
            if m.error() is not None:
                if m.error().code() == KafkaError._PARTITION_EOF:
                    remaining.discard(m.partition())
                continue
            out[(m.partition(), m.offset())] = (m.key(), m.value(), [(k, v) for k, v in (m.headers() or [])])
            if m.offset() + 1 >= ends[m.partition()]:
                remaining.discard(m.partition())
    c.close()
    return out, ends


def committed_offsets(bootstrap, group, topic, partitions):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    res = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
    c.close()
    return {tp.partition: tp.offset for tp in res}


# ---------------------------------------------------------------------------
# producer test


def configure_line(role, table, topic, bootstrap, group=None, client=None, instance=0):
    return {"name": "configure", "protocol": 1, "role": role, "table": table, "instance": instance,
            "bootstrap_servers": bootstrap, "topic": topic, "group": group,
            "client": client or {}, "security": {}}


def wait_startup(adapter, events, timeout=STARTUP_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, a, ev = events.get(timeout=0.2)
        except queue.Empty:
            if adapter.proc.poll() is not None:
                break
            continue
        if a is adapter and ev["name"] == "startup_complete":
            return ev
        if ev["name"] == "__eof__":
            break
    return None


def test_producer(name, argv, bootstrap, args, logdir):
    topic = "fake-%s-%s" % (name, uuid.uuid4().hex[:8])
    partitions = args.partitions
    create_topic(bootstrap, topic, partitions)
    events = queue.Queue()
    ad = Adapter(name, argv, logdir, events)
    ad.send(configure_line("producer", name, topic, bootstrap, client=args.producer_client))
    t0 = time.monotonic()
    st = wait_startup(ad, events)
    result = {"adapter": name, "role": "producer", "topic": topic, "hard": []}
    if st is None:
        result["hard"].append("no startup_complete within %ds (exit %s): %s"
                              % (STARTUP_TIMEOUT, ad.proc.poll(), ad.stderr_tail()))
        ad.shutdown()
        return result
    result["client"] = st.get("client")
    result["startup_s"] = round(time.monotonic() - t0, 2)

    rng = random.Random(args.seed)
    keys = [("acct-%03d" % i).encode() for i in range(50)]
    sends = {}  # id -> (record fields, time sent)
    answers = {}  # id -> (event, time)
    latencies = []
    next_id = 0
    outstanding = 0
    eof = False

    def handle(ev, now):
        nonlocal outstanding, eof
        n = ev["name"]
        if n == "__eof__":
            eof = True
            return
        if n not in ("producer_send_success", "producer_send_error"):
            return
        i = ev.get("id")
        if not isinstance(i, int) or i not in sends:
            ad.error("answer for an id never sent", ev)
            return
        if i in answers:
            ad.error("second answer for id %d" % i, ev)
            return
        if n == "producer_send_success":
            if not isinstance(ev.get("partition"), int) or not isinstance(ev.get("offset"), int):
                ad.error("producer_send_success without integer partition/offset", ev)
        else:
            if not isinstance(ev.get("message"), str) or not isinstance(ev.get("retriable"), bool):
                ad.error("producer_send_error without message/retriable", ev)
        answers[i] = (ev, now)
        latencies.append(now - sends[i][1])
        outstanding -= 1

    t_send = time.monotonic()
    while (next_id < args.records or outstanding > 0) and not eof:
        while next_id < args.records and outstanding < args.window:
            key = None if rng.random() < 0.1 else rng.choice(keys)
            value = rng.randbytes(rng.randint(0, 300))
            if next_id == args.records // 2:
                value = rng.randbytes(1_500_000)  # over the broker's 1 MB default: must fail, not be written
            stamp = rng.randbytes(21)
            headers = [("kh-stamp", stamp), ("trace", ("t-%d" % next_id).encode())]
            partition = rng.randrange(partitions) if rng.random() < 0.05 else None
            rec = {"name": "send", "id": next_id, "topic": topic, "partition": partition, "key": b64(key),
                   "value": b64(value), "headers": [{"key": k, "value": b64(v)} for k, v in headers]}
            sends[next_id] = ((partition, key, value, headers), time.monotonic())
            if not ad.send(rec):
                eof = True
                break
            next_id += 1
            outstanding += 1
        try:
            now, a, ev = events.get(timeout=args.answer_timeout)
        except queue.Empty:
            result["hard"].append("no answer for %ds with %d outstanding" % (args.answer_timeout, outstanding))
            break
        handle(ev, now)
        while True:  # drain what is there
            try:
                now, a, ev = events.get_nowait()
            except queue.Empty:
                break
            handle(ev, now)
    send_s = time.monotonic() - t_send
    how, code, took = ad.shutdown()
    # lines written during shutdown
    while True:
        try:
            now, a, ev = events.get(timeout=0.5)
        except queue.Empty:
            break
        if ev["name"] == "__eof__":
            break
        handle(ev, now)

    unanswered = sorted(set(sends) - set(answers))
    if unanswered:
        result["hard"].append("%d sends never answered (first ids %s)" % (len(unanswered), unanswered[:5]))
    if not ad.shutdown_complete:
        result["hard"].append("no shutdown_complete")
    if how != "exit" or code != 0:
        result["hard"].append("shutdown ended by %s, exit code %s" % (how, code))
    result["hard"] += ["protocol: " + e for e in ad.protocol_errors]

    # read the log back and compare
    log_records, ends = read_log(bootstrap, topic)
    ok = [i for i, (ev, _) in answers.items() if ev["name"] == "producer_send_success"]
    errors = [ev for ev, _ in answers.values() if ev["name"] == "producer_send_error"]
    mismatched = []
    unverifiable = []
    wrong_partition = []
    positions = {}
    for i in ok:
        ev = answers[i][0]
        (want_part, key, value, headers), _ = sends[i]
        pos = (ev["partition"], ev["offset"])
        if ev["offset"] == -1:
            unverifiable.append(i)  # acks=0: no offset to check
            continue
        if pos in positions:
            mismatched.append("ids %d and %d both reported at %s" % (positions[pos], i, pos))
            continue
        positions[pos] = i
        got = log_records.get(pos)
        if got is None:
            mismatched.append("id %d: nothing at partition %d offset %d" % (i, pos[0], pos[1]))
        elif got != (key, value, headers):
            mismatched.append("id %d: partition %d offset %d holds another record" % (i, pos[0], pos[1]))
        if want_part is not None and ev["partition"] != want_part:
            wrong_partition.append(i)
    if mismatched:
        result["hard"].append("%d reported positions do not hold the record, e.g. %s" % (len(mismatched), mismatched[:3]))
    if wrong_partition:
        result["hard"].append("%d sends to an explicit partition landed elsewhere" % len(wrong_partition))
    # a send answered retriable:false was definitely not written: its stamp must not be in the log
    logged_stamps = {dict(h).get("kh-stamp") for _, _, h in log_records.values()}
    failed_but_written = [i for i, (ev, _) in answers.items() if ev["name"] == "producer_send_error"
                          and ev.get("retriable") is False and dict(sends[i][0][3])["kh-stamp"] in logged_stamps]
    if failed_but_written:
        result["hard"].append("%d sends answered retriable:false are in the log, e.g. ids %s"
                              % (len(failed_but_written), failed_but_written[:5]))

    # findings: where keys went, and whether a key's records kept their send order
    key_parts = {}
    reorders = 0
    last_by_key = {}
    for i in sorted(ok):
        (want_part, key, _, _), _ = sends[i]
        if key is None or want_part is not None:
            continue
        ev = answers[i][0]
        key_parts.setdefault(key, set()).add(ev["partition"])
        prev = last_by_key.get(key)
        if prev is not None and prev[0] == ev["partition"] and ev["offset"] < prev[1]:
            reorders += 1
        last_by_key[key] = (ev["partition"], ev["offset"])
    spread = sum(1 for parts in key_parts.values() if len(parts) > 1)
    result.update({
        "sent": len(sends), "answered": len(answers), "success": len(ok), "errors": len(errors),
        "errors_not_retriable": sum(1 for e in errors if e.get("retriable") is False),
        "verified": len(ok) - len(mismatched) - len(unverifiable), "log_records": len(log_records),
        "offset_-1_not_verified": len(unverifiable),
        "explicit_partition_sends": sum(1 for (p, *_), _ in sends.values() if p is not None),
        "keys_on_several_partitions": "%d of %d" % (spread, len(key_parts)),
        "same_key_reordered_in_partition": reorders,
        "ack_latency_ms_p50_p99": (round(pct(latencies, 0.5) * 1000, 1), round(pct(latencies, 0.99) * 1000, 1)),
        "send_phase_s": round(send_s, 2), "throughput_per_s": round(len(answers) / send_s, 1) if send_s else None,
        "shutdown": "%s %s in %.2fs" % (how, code, took),
    })
    if errors:
        result["error_examples"] = [(e.get("exception"), e.get("message"), e.get("retriable")) for e in errors[:3]]
    return result


# ---------------------------------------------------------------------------
# consumer test


def produce_records(bootstrap, topic, n, rng, start_index, stamps, seconds=0.0):
    """Produces n records (keys from 50 accounts, a unique 21-byte kh-stamp),
    spread evenly over `seconds`, and records {(partition, offset): stamp}."""
    t0 = time.monotonic()
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    failures = []

    def delivered(stamp):
        # (a delivery report carries no headers: remember the stamp here)
        def cb(err, msg):
            if err is not None:
                failures.append(err)
            else:
                stamps[(msg.partition(), msg.offset())] = stamp
        return cb

    for i in range(start_index, start_index + n):
        due = t0 + seconds * (i - start_index) / n
        while time.monotonic() < due:
            p.poll(min(0.05, max(0.0, due - time.monotonic())))
        key = ("acct-%03d" % rng.randrange(50)).encode()
        stamp = i.to_bytes(8, "big") + rng.randbytes(13)
        while True:
            try:
                p.produce(topic, key=key, value=rng.randbytes(rng.randint(10, 200)),
                          headers=[("kh-stamp", stamp)], on_delivery=delivered(stamp))
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    p.flush(30)
    if failures:
        raise RuntimeError("test data not produced: %s" % failures[:3])


class ConsumerView:
    """What one consumer process reported, checked as it arrives."""

    def __init__(self, adapter):
        self.adapter = adapter
        self.assigned = set()
        self.ever_assigned = set()
        self.records = []  # (time, partition, offset)
        self.last_offset = {}  # partition -> last offset reported
        self.out_of_order = 0
        self.outside_assignment = 0
        self.commits = []  # (time, partition, offset, success)
        self.assign_events = 0
        self.revoke_events = 0


def test_consumer(name, argv, bootstrap, args, logdir):
    topic = "fake-%s-%s" % (name, uuid.uuid4().hex[:8])
    group = "fake-group-" + uuid.uuid4().hex[:8]
    partitions = args.partitions
    create_topic(bootstrap, topic, partitions)
    rng = random.Random(args.seed)
    stamps = {}
    n_first = args.records // 3
    produce_records(bootstrap, topic, n_first, rng, 0, stamps)
    result = {"adapter": name, "role": "consumer", "topic": topic, "hard": []}
    client = args.consumer_client
    events = queue.Queue()
    views = {}
    processed = set()  # (partition, offset) reported by anyone
    reported = []  # (partition, offset, stamp or None) of every record_data
    commit_ahead = 0
    commit_backwards = 0
    last_commit = {}  # partition -> last successful committed offset (any process)
    duplicates = 0

    def handle(now, ad, ev):
        nonlocal commit_ahead, commit_backwards, duplicates
        v = views[ad]
        n = ev["name"]
        if n == "partitions_assigned" or n == "partitions_revoked":
            parts = ev.get("partitions")
            if not isinstance(parts, list) or not all(isinstance(x, dict) and x.get("topic") == topic
                                                      and isinstance(x.get("partition"), int) for x in parts):
                ad.error("%s with a bad partitions list" % n, ev)
                return
            ps = {x["partition"] for x in parts}
            if n == "partitions_assigned":
                v.assigned |= ps
                v.ever_assigned |= ps
                v.assign_events += 1
            else:
                v.assigned -= ps
                v.revoke_events += 1
        elif n == "record_data":
            p, o = ev.get("partition"), ev.get("offset")
            if ev.get("topic") != topic or not isinstance(p, int) or not isinstance(o, int):
                ad.error("record_data without topic/partition/offset", ev)
                return
            # checked against the log at the end (a delivery report may come after the record is read)
            reported.append((p, o, ev.get("stamp")))
            if (p, o) in processed:
                duplicates += 1
            processed.add((p, o))
            if p not in v.assigned:
                v.outside_assignment += 1
            if p in v.last_offset and o < v.last_offset[p]:
                v.out_of_order += 1
            v.last_offset[p] = o
            v.records.append((now, p, o))
        elif n == "offsets_committed":
            offs = ev.get("offsets")
            if not isinstance(ev.get("success"), bool) or not isinstance(offs, list):
                ad.error("offsets_committed without success/offsets", ev)
                return
            for x in offs:
                p, o = x.get("partition"), x.get("offset")
                if not isinstance(p, int) or not isinstance(o, int):
                    ad.error("offsets_committed entry without partition/offset", ev)
                    continue
                v.commits.append((now, p, o, ev["success"]))
                if not ev["success"]:
                    continue
                if any((p, q) not in processed for q in range(max(0, o - 200), o)):
                    commit_ahead += 1  # a record below the commit was not processed yet
                if p in last_commit and o < last_commit[p]:
                    commit_backwards += 1
                last_commit[p] = o
        elif n == "records_consumed":
            pass  # summarised form; record_data is what these adapters send

    def pump(timeout):
        try:
            now, ad, ev = events.get(timeout=timeout)
        except queue.Empty:
            return False
        if ev["name"] != "__eof__":
            handle(now, ad, ev)
        return True

    first = Adapter(name + "-0", argv, logdir, events)
    views[first] = ConsumerView(first)
    first.send(configure_line("consumer", name, topic, bootstrap, group=group, client=client, instance=0))
    t0 = time.monotonic()
    st = wait_startup(first, events)
    if st is None:
        result["hard"].append("no startup_complete (exit %s): %s" % (first.proc.poll(), first.stderr_tail()))
        first.shutdown()
        return result
    result["client"] = st.get("client")
    result["startup_s"] = round(time.monotonic() - t0, 2)

    # let the first member get going, then add a second and the rest of the records
    deadline = time.monotonic() + 60
    while len(processed) < n_first // 2 and time.monotonic() < deadline:
        pump(0.2)
    second = Adapter(name + "-1", argv, logdir, events)
    views[second] = ConsumerView(second)
    second.send(configure_line("consumer", name, topic, bootstrap, group=group, client=client, instance=1))
    # the rest arrives while the group rebalances, reported events pumped meanwhile
    producing = threading.Thread(target=produce_records, args=(bootstrap, topic, args.records - n_first, rng, n_first, stamps,
                                                                args.produce_seconds))
    producing.start()
    while producing.is_alive():
        pump(0.1)
    total = len(stamps)
    deadline = time.monotonic() + args.consume_timeout
    while len(processed & set(stamps)) < total and time.monotonic() < deadline:
        pump(0.2)
    t_all = time.monotonic() - t0
    # let the last commits land, then stop both (the second first)
    end = time.monotonic() + 2
    while time.monotonic() < end:
        pump(0.1)
    shutdowns = []
    for ad in (second, first):
        how, code, took = ad.shutdown()
        shutdowns.append("%s: %s %s in %.2fs" % (ad.name, how, code, took))
        if how != "exit" or code != 0:
            result["hard"].append("%s shutdown ended by %s, exit code %s" % (ad.name, how, code))
        if not ad.shutdown_complete:
            result["hard"].append("%s: no shutdown_complete" % ad.name)
    while pump(0.5):
        pass

    unknown_offsets = [(p, o) for p, o, _ in reported if (p, o) not in stamps]
    stamp_mismatch = [(p, o) for p, o, st in reported
                      if (p, o) in stamps and st is not None and base64.b64decode(st) != stamps[(p, o)]]
    missing = set(stamps) - processed
    if missing:
        result["hard"].append("%d records never reported processed" % len(missing))
    if unknown_offsets:
        result["hard"].append("%d record_data at offsets not in the log" % len(unknown_offsets))
    if stamp_mismatch:
        result["hard"].append("%d record_data whose stamp is not the record's" % len(stamp_mismatch))
    for ad in views:
        result["hard"] += ["%s protocol: %s" % (ad.name, e) for e in ad.protocol_errors]
    final = committed_offsets(bootstrap, group, topic, partitions)
    _, ends = read_log(bootstrap, topic)
    behind = {p: (final.get(p), ends[p]) for p in ends if final.get(p) != ends[p]}

    result.update({
        "records": total, "processed_distinct": len(processed & set(stamps)),
        "duplicates": duplicates, "all_processed_after_s": round(t_all, 1),
        "stamps_checked": sum(1 for _, _, st in reported if st is not None),
        "per_process": {ad.name: {"records": len(v.records), "assigned_events": v.assign_events,
                                  "revoked_events": v.revoke_events, "partitions_ever": sorted(v.ever_assigned),
                                  "out_of_order_in_partition": v.out_of_order,
                                  "records_outside_assignment": v.outside_assignment,
                                  "commits": len(v.commits),
                                  "failed_commits": sum(1 for c in v.commits if not c[3])}
                        for ad, v in views.items()},
        "commits_backwards": commit_backwards, "commits_ahead_of_processing": commit_ahead,
        "final_committed_not_at_end": behind or "none",
        "shutdown": shutdowns,
    })
    return result


# ---------------------------------------------------------------------------


def settings(text):
    return dict(kv.split("=", 1) for kv in text.split(",") if kv)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bootstrap", help="use this running cluster instead of starting one")
    ap.add_argument("--kafka-harness", default=os.path.join(REPO, "target", "debug", "kafka-harness"),
                    help="the kafka-harness binary whose `cluster up` starts a broker")
    ap.add_argument("--only", help="comma-separated adapter names (default: all); see --list")
    ap.add_argument("--list", action="store_true", help="list the adapters and exit")
    ap.add_argument("--producer-command", help="test this producer command line too, as custom-producer")
    ap.add_argument("--consumer-command", help="test this consumer command line too, as custom-consumer")
    ap.add_argument("--producer-client", default="acks=all", type=settings,
                    help="the producer table's client settings, k=v,k=v (default acks=all)")
    ap.add_argument("--consumer-client", default="session.timeout.ms=10000,heartbeat.interval.ms=1000", type=settings,
                    help="the consumer table's client settings, k=v,k=v")
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--produce-seconds", type=float, default=10.0,
                    help="consumer tests: the last 2/3 of the records are produced over this long")
    ap.add_argument("--window", type=int, default=100, help="max unanswered sends (max_in_flight)")
    ap.add_argument("--answer-timeout", type=int, default=60)
    ap.add_argument("--consume-timeout", type=int, default=120)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--logs", default=None, help="folder for the adapters' stderr (default: a temp folder)")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()

    producers, consumers = dict(PRODUCERS), dict(CONSUMERS)
    if args.producer_command:
        producers["custom-producer"] = shlex.split(args.producer_command)
    if args.consumer_command:
        consumers["custom-consumer"] = shlex.split(args.consumer_command)
    if args.list:
        for n, a in list(producers.items()) + list(consumers.items()):
            say("%-34s %s" % (n, " ".join(a)))
        return 0
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - set(producers) - set(consumers)
        if unknown:
            sys.exit("unknown adapters: %s (see --list)" % ", ".join(sorted(unknown)))
        producers = {k: v for k, v in producers.items() if k in wanted}
        consumers = {k: v for k, v in consumers.items() if k in wanted}

    logdir = args.logs or os.path.join("/tmp", "fake-harness-" + uuid.uuid4().hex[:8])
    os.makedirs(logdir, exist_ok=True)
    say("adapter logs in %s" % logdir)
    cluster = None
    results = []

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    try:
        bootstrap = args.bootstrap
        if not bootstrap:
            cluster, bootstrap = start_cluster(args.kafka_harness, logdir)
        say("bootstrap=%s" % bootstrap)
        for name, argv in producers.items():
            say("--- %s: %s" % (name, " ".join(argv)))
            r = test_producer(name, argv, bootstrap, args, logdir)
            results.append(r)
            say(json.dumps(r, indent=2, default=str))
        for name, argv in consumers.items():
            say("--- %s: %s" % (name, " ".join(argv)))
            r = test_consumer(name, argv, bootstrap, args, logdir)
            results.append(r)
            say(json.dumps(r, indent=2, default=str))
    finally:
        stop_children_except = [cluster.pid] if cluster else []
        for p in _children:
            if p.pid not in stop_children_except and p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        if cluster:
            stop_cluster(cluster)
        stop_children()

    say("\n=== summary")
    failed = 0
    for r in results:
        status = "PASS" if not r["hard"] else "FAIL"
        failed += status == "FAIL"
        if r["role"] == "producer":
            detail = "%s sent, %s ok, %s errors (%s retriable:false), %s verified in the log" % (
                r.get("sent"), r.get("success"), r.get("errors"), r.get("errors_not_retriable"), r.get("verified"))
        else:
            detail = "%s records, %s processed, %s duplicates" % (
                r.get("records"), r.get("processed_distinct"), r.get("duplicates"))
        say("%s %-34s %s" % (status, r["adapter"], detail))
        for h in r["hard"]:
            say("     - " + h)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2, default=str)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
