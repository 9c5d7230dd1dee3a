"""confluent-kafka helpers shared by producer.py and consumer.py: building a
client from the harness's settings (librdkafka already spells its configs the
client-neutral way), librdkafka's log to stderr, and errors in the
protocol's terms."""

import logging
import re
import sys

import confluent_kafka
from confluent_kafka import KafkaError, KafkaException

from khprotocol import log

_version = confluent_kafka.version()  # a str in 2.16, a (str, int) tuple in older releases
CLIENT = "confluent-kafka %s" % (_version[0] if isinstance(_version, tuple) else _version)

_logger = logging.getLogger("librdkafka")
_handler = logging.StreamHandler(sys.stderr)
_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [librdkafka] %(message)s"))
_logger.addHandler(_handler)
_logger.setLevel(logging.INFO)


def make_client(cls, base, configure, extra=None):
    """cls(config) with base < the table's client settings < security < extra.
    A setting librdkafka does not know (or rejects) is logged and dropped."""
    config = dict(base)
    config.update(configure["client"])
    config.update(configure["security"])
    config.update(extra or {})
    config["bootstrap.servers"] = configure["bootstrap_servers"]
    config["logger"] = _logger
    for _ in range(len(config) + 1):
        try:
            return cls(config)
        except KafkaException as e:
            err = e.args[0]
            text = err.str() if isinstance(err, KafkaError) else str(err)
            m = re.search(r'property[^"]*"([^"]+)"', text) or re.search(r"property:? (\S+)", text)
            key = m.group(1) if m else None
            if key not in configure["client"]:
                raise
            log("kh-adapter: client setting %s=%s refused by librdkafka (%s), ignored"
                % (key, configure["client"][key], text))
            del config[key]
    raise RuntimeError("could not build a client")


# librdkafka errors that KafkaError.retriable() does not flag, after which the
# record may nevertheless be in the log: indeterminate, not failed.
_MAYBE_WRITTEN = {
    KafkaError._MSG_TIMED_OUT,  # message.timeout.ms ran out, possibly while in flight
    KafkaError._TIMED_OUT,
    KafkaError._TRANSPORT,
    KafkaError._PURGE_INFLIGHT,
    KafkaError._FATAL,  # idempotent producer's fatal error: in-flight outcome unknown
    KafkaError.REQUEST_TIMED_OUT,
    KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
    KafkaError.INVALID_PRODUCER_EPOCH,
    KafkaError.UNKNOWN_PRODUCER_ID,
}


def retriable(err):
    """KafkaError.retriable(), widened to every error after which the record
    may have been written."""
    return err.retriable() or err.code() in _MAYBE_WRITTEN
