#!/usr/bin/env python3
"""kafka-harness exec adapter: the event bridge's confluent-kafka consumer
(seed note: Kafka-DDD integration, src/infrastructure/kafka/consumer.py):
a consumer group member with "batch processing support" that commits
manually after processing.

The loop: Consumer.consume() a batch (up to --batch-size records, 1 s),
hand each record to the bridge's handler (the local event bus), then commit
the batch's next offsets synchronously. enable.auto.commit is off and
auto.offset.reset is earliest unless the table's client settings say
otherwise. on_assign / on_revoke / on_lost report the assignment.

Usage: python adapters/confluent-kafka-python/consumer.py [--batch-size N] [--processing-ms N]
"""

import argparse
import threading
import time

from confluent_kafka import Consumer, KafkaException, TopicPartition

import khprotocol
from ckhelpers import CLIENT, make_client
from khprotocol import log

parser = argparse.ArgumentParser()
parser.add_argument("--batch-size", type=int, default=100, help="records per consume() call")
parser.add_argument("--processing-ms", type=float, default=0, help="stand-in for the handler's work per record")
args = parser.parse_args()

BASE_CONFIG = {
    "enable.auto.commit": False,  # manual commit after processing
    "auto.offset.reset": "earliest",
}

consumer = None
report = None
_running = threading.Event()
_loop = None
_assigned = set()  # (topic, partition) this member owns now
_assigned_lock = threading.Lock()


def start(configure, reporter):
    global consumer, report, _loop
    report = reporter
    consumer = make_client(Consumer, BASE_CONFIG, configure, {"group.id": configure["group"]})
    consumer.subscribe([configure["topic"]], on_assign=_on_assign, on_revoke=_on_revoke, on_lost=_on_lost)
    _running.set()
    _loop = threading.Thread(target=_consume_loop, name="consume")
    _loop.start()


def _on_assign(_consumer, partitions):
    tps = [(tp.topic, tp.partition) for tp in partitions]
    with _assigned_lock:
        _assigned.update(tps)
    if tps:
        report.assigned(tps)


def _on_revoke(_consumer, partitions):
    tps = [(tp.topic, tp.partition) for tp in partitions]
    with _assigned_lock:
        _assigned.difference_update(tps)
    if tps:
        report.revoked(tps)


_on_lost = _on_revoke  # the group took them away without asking (session timeout)


def _consume_loop():
    while _running.is_set():
        try:
            messages = consumer.consume(num_messages=args.batch_size, timeout=1.0)
        except KafkaException as e:
            log("kh-adapter: consume failed: %s" % e)
            time.sleep(0.1)
            continue
        next_offsets = {}
        for msg in messages:
            if msg.error() is not None:
                log("kh-adapter: consume error: %s" % msg.error())
                continue
            handle_event(msg)
            report.record(msg.topic(), msg.partition(), msg.offset(), msg.headers())
            next_offsets[(msg.topic(), msg.partition())] = msg.offset() + 1
        if next_offsets:
            commit(next_offsets)


def handle_event(msg):
    """The bridge deserialises the event and publishes it on the local DDD
    event bus; the harness only needs to know when that is done."""
    if args.processing_ms > 0:
        time.sleep(args.processing_ms / 1000.0)


def commit(next_offsets):
    offsets = [TopicPartition(t, p, o) for (t, p), o in next_offsets.items()]
    triples = [(t, p, o) for (t, p), o in next_offsets.items()]
    try:
        result = consumer.commit(offsets=offsets, asynchronous=False)
    except KafkaException as e:
        report.committed(triples, error=e.args[0].str())
        return
    ok = [(tp.topic, tp.partition, tp.offset) for tp in result if tp.error is None]
    failed = [(tp.topic, tp.partition, tp.offset, tp.error) for tp in result if tp.error is not None]
    if ok:
        report.committed(ok)
    if failed:
        report.committed([f[:3] for f in failed], error="; ".join(str(f[3]) for f in failed))


def stop():
    # The loop finishes (processes and commits) the batch in hand, then close()
    # leaves the group; librdkafka calls on_revoke on the way out.
    _running.clear()
    _loop.join()
    consumer.close()
    with _assigned_lock:
        left = sorted(_assigned)
        _assigned.clear()
    if left:  # in case close() revoked without calling back
        report.revoked(left)


if __name__ == "__main__":
    khprotocol.run_consumer(CLIENT, start, stop)
