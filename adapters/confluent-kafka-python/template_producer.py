#!/usr/bin/env python3
"""COPY ME: put your own confluent-kafka producer code under kafka-harness.

Copy this file and khprotocol.py (the protocol plumbing, no need to edit)
next to your service's code, fill in the parts marked YOUR CODE HERE with the
way your service creates its producer and publishes one event, and point a
scenario at it:

    [[producers]]
    driver = "exec"
    command = ["path/to/venv/bin/python", "path/to/template_producer.py"]

send() is called for every record as it arrives, without waiting for earlier
ones; answer each exactly once, from any thread, with answer.success(partition,
offset) or answer.error(exception, message, retriable). Log to stderr, never
print to stdout: stdout is the protocol's.
"""

import threading

from confluent_kafka import KafkaException, Producer

import khprotocol

producer = None
polling = threading.Event()


def start(configure):
    """configure: bootstrap_servers, topic, table, instance, client (acks,
    linger.ms, ... in librdkafka's spelling), security."""
    global producer
    # ---- YOUR CODE HERE: create your producer ---------------------------------
    config = {"bootstrap.servers": configure["bootstrap_servers"]}
    config.update(configure["client"])    # or only the settings your service reads
    config.update(configure["security"])
    producer = Producer(config)
    # ----------------------------------------------------------------------------
    producer.list_topics(configure["topic"], timeout=10)  # connected
    polling.set()
    threading.Thread(target=poll_loop, daemon=True).start()


def poll_loop():
    # serves the delivery callbacks
    while polling.is_set():
        producer.poll(0.05)


def send(record, answer):
    """record: id, topic, partition (None: your partitioner decides), key and
    value (bytes or None), headers [(key, bytes)] -- send every header."""
    def on_delivery(err, msg):
        if err is None:
            answer.success(msg.partition(), msg.offset())
        else:
            # retriable: True if it MAY have been written (timeouts, ...), False only if definitely not
            answer.error(err.name(), err.str(), err.retriable() or err.code() == err._MSG_TIMED_OUT)

    # ---- YOUR CODE HERE: publish it the way your service does -------------------
    extra = {} if record.partition is None else {"partition": record.partition}
    try:
        producer.produce(record.topic, key=record.key, value=record.value, headers=record.headers,
                         on_delivery=on_delivery, **extra)
    except KafkaException as e:
        answer.error(e.args[0].name(), e.args[0].str(), False)  # refused before it left
    # ------------------------------------------------------------------------------


def stop():
    polling.clear()
    # ---- YOUR CODE HERE: flush and close ----------------------------------------
    while producer.flush(1.0) > 0:
        pass


if __name__ == "__main__":
    khprotocol.run_producer("confluent-kafka 2.16.1", start, send, stop)
