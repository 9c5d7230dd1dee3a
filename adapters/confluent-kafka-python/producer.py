#!/usr/bin/env python3
"""kafka-harness exec adapter: the event bridge's confluent-kafka producer
(seed note: Kafka-DDD integration, src/infrastructure/kafka/producer.py):
"reliable event publishing with delivery callbacks".

Each `send` line becomes Producer.produce(..., on_delivery=callback); a poll
thread calls Producer.poll() so librdkafka serves the callbacks, and each
callback answers its send with the partition and offset librdkafka reports.
Sends are pipelined (produce() only queues); librdkafka batches them
(linger.ms, acks=all and idempotence as the table's client settings say,
librdkafka's defaults otherwise).

Usage: python adapters/confluent-kafka-python/producer.py
"""

import threading
import time

from confluent_kafka import KafkaException, Producer

import khprotocol
from ckhelpers import CLIENT, make_client, retriable
from khprotocol import log

producer = None
_polling = threading.Event()
_poller = None


def start(configure):
    global producer, _poller
    producer = make_client(Producer, {}, configure)
    # "Connected": the cluster answered a metadata request for the topic.
    deadline = time.monotonic() + 20
    while True:
        try:
            producer.list_topics(configure["topic"], timeout=5)
            break
        except KafkaException as e:
            if time.monotonic() > deadline:
                raise
            log("kh-adapter: waiting for the cluster: %s" % e)
    _polling.set()
    _poller = threading.Thread(target=_poll_loop, name="poll", daemon=True)
    _poller.start()


def _poll_loop():
    # Serves delivery callbacks until stop().
    while _polling.is_set():
        producer.poll(0.05)


def send(record, answer):
    def on_delivery(err, msg):
        try:
            if err is not None:
                answer.error(err.name(), err.str(), retriable(err))
            else:
                # acks=0: librdkafka reports no offset (None)
                offset = msg.offset()
                answer.success(msg.partition(), offset if offset is not None and offset >= 0 else -1)
        except Exception as e:  # noqa: BLE001 - an exception here would stop the poll thread
            log("kh-adapter: delivery callback failed: %r" % e)
            answer.error(type(e).__name__, str(e), True)

    kwargs = dict(topic=record.topic, key=record.key, value=record.value,
                  headers=record.headers, on_delivery=on_delivery)
    if record.partition is not None:
        kwargs["partition"] = record.partition
    while True:
        try:
            producer.produce(**kwargs)
            return
        except BufferError:
            # librdkafka's queue is full: wait for deliveries to drain it
            time.sleep(0.01)
        except KafkaException as e:
            # refused before it was queued (too large, unknown partition, ...):
            # it never left the process
            err = e.args[0]
            answer.error(err.name(), err.str(), False)
            return


def stop():
    _polling.clear()
    _poller.join()
    # flush() serves the remaining delivery callbacks; every queued message
    # ends in one, at the latest after message.timeout.ms.
    while producer.flush(1.0) > 0:
        pass


if __name__ == "__main__":
    khprotocol.run_producer(CLIENT, start, send, stop)
