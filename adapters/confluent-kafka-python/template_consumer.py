#!/usr/bin/env python3
"""COPY ME: put your own confluent-kafka consumer code under kafka-harness.

Copy this file and khprotocol.py (the protocol plumbing, no need to edit)
next to your service's code, fill in the parts marked YOUR CODE HERE, and
point a scenario at it:

    [[consumers]]
    driver = "exec"
    command = ["path/to/venv/bin/python", "path/to/template_consumer.py"]

Tell the harness what happens through `report` (safe from any thread):
report.assigned / report.revoked ([(topic, partition)]), report.record(topic,
partition, offset, headers) when YOUR CODE is done with a record, and
report.committed([(topic, partition, next_offset)], error=None) per commit.
Log to stderr, never print to stdout.
"""

import threading

from confluent_kafka import Consumer, KafkaException, TopicPartition

import khprotocol

consumer = None
report = None
running = threading.Event()
loop = None


def start(configure, reporter):
    global consumer, report, loop
    report = reporter
    # ---- YOUR CODE HERE: create your consumer -----------------------------------
    config = {"bootstrap.servers": configure["bootstrap_servers"], "group.id": configure["group"],
              "enable.auto.commit": False, "auto.offset.reset": "earliest"}
    config.update(configure["client"])
    config.update(configure["security"])
    consumer = Consumer(config)
    # ------------------------------------------------------------------------------
    consumer.subscribe([configure["topic"]],
                       on_assign=lambda c, ps: report.assigned([(p.topic, p.partition) for p in ps]),
                       on_revoke=lambda c, ps: report.revoked([(p.topic, p.partition) for p in ps]))
    running.set()
    loop = threading.Thread(target=consume_loop)
    loop.start()


def consume_loop():
    while running.is_set():
        msg = consumer.poll(1.0)
        if msg is None or msg.error() is not None:
            continue
        # ---- YOUR CODE HERE: your handler ---------------------------------------
        # handle(msg)
        # --------------------------------------------------------------------------
        report.record(msg.topic(), msg.partition(), msg.offset(), msg.headers())
        offsets = [TopicPartition(msg.topic(), msg.partition(), msg.offset() + 1)]
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
            report.committed([(msg.topic(), msg.partition(), msg.offset() + 1)])
        except KafkaException as e:
            report.committed([(msg.topic(), msg.partition(), msg.offset() + 1)], error=e.args[0].str())


def stop():
    running.clear()
    loop.join()
    consumer.close()  # leaves the group (on_revoke is called on the way out)


if __name__ == "__main__":
    khprotocol.run_consumer("confluent-kafka 2.16.1", start, stop)
