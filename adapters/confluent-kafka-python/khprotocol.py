"""Protocol plumbing for kafka-harness's `exec` driver, protocol version 1
(docs/drivers.md). Standard library only, nothing Kafka-specific: the adapter
(or your copy of a template) supplies start/send/stop and this module speaks
the newline-delimited JSON with the harness.

    stdin:  configure, send..., shutdown        (harness -> us)
    stdout: startup_complete, answers, events   (us -> harness), one JSON object per line
    stderr: every log line (never print logs to stdout)
"""

import base64
import json
import sys
import threading

PROTOCOL = 1
STAMP_HEADER = "kh-stamp"

_out_lock = threading.Lock()
_started = False
_held = []  # events reported before startup_complete


def emit(event):
    """Writes one event as one line; safe from any thread."""
    global _started
    line = json.dumps(event, separators=(",", ":")) + "\n"
    with _out_lock:
        if not _started and event["name"] != "startup_complete":
            _held.append(line)
            return
        sys.stdout.write(line)
        if event["name"] == "startup_complete":
            _started = True
            sys.stdout.write("".join(_held))
            _held.clear()
        sys.stdout.flush()


def log(message):
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def die(message):
    log(message)
    sys.stdout.flush()
    sys.exit(1)


def b64decode(s):
    return None if s is None else base64.b64decode(s)


def b64encode(b):
    return None if b is None else base64.b64encode(b).decode("ascii")


def _lines():
    """Yields each stdin line as a dict with a string `name`; skips anything else."""
    for raw in sys.stdin.buffer:
        try:
            event = json.loads(raw)
        except ValueError:
            if raw.strip():
                log("kh-adapter: ignoring a stdin line that is not JSON: %.200r" % raw)
            continue
        if isinstance(event, dict) and isinstance(event.get("name"), str):
            yield event
        else:
            log("kh-adapter: ignoring a stdin line without a name: %.200r" % raw)


def _read_configure(lines, role):
    configure = next(lines, None)
    if configure is None:
        die("kh-adapter: stdin closed before the configure line")
    if configure["name"] != "configure":
        die("kh-adapter: expected a configure line first, got %r" % configure["name"])
    if configure.get("protocol") != PROTOCOL:
        die("kh-adapter: protocol version mismatch: harness speaks %r, this adapter speaks %d"
            % (configure.get("protocol"), PROTOCOL))
    if configure.get("role") != role:
        die("kh-adapter: this is a %s adapter but the harness configured role %r" % (role, configure.get("role")))
    configure.setdefault("client", {})
    configure.setdefault("security", {})
    configure["client"] = configure["client"] or {}
    configure["security"] = configure["security"] or {}
    return configure


# ---------------------------------------------------------------------------
# Producer


class Record:
    """One record to send: topic, partition (None: the client chooses), key and
    value (bytes or None), headers [(key, bytes or None)], and the harness's id."""

    __slots__ = ("id", "topic", "partition", "key", "value", "headers")

    def __init__(self, event):
        self.id = event["id"]
        self.topic = event["topic"]
        self.partition = event.get("partition")
        self.key = b64decode(event.get("key"))
        self.value = b64decode(event.get("value"))
        self.headers = [(h["key"], b64decode(h.get("value"))) for h in event.get("headers") or []]


class Answer:
    """Answers one send exactly once, from any thread: success(partition, offset)
    or error(exception, message, retriable). retriable=True: the record may have
    been written (indeterminate); False: it definitely was not."""

    def __init__(self, record, outstanding):
        self._record = record
        self._outstanding = outstanding
        self._done = False
        self._lock = threading.Lock()

    def _finish(self, event):
        with self._lock:
            if self._done:
                log("kh-adapter: send %s answered twice, second answer dropped" % self._record.id)
                return
            self._done = True
        emit(event)
        self._outstanding.release()

    def success(self, partition, offset):
        self._finish({"name": "producer_send_success", "id": self._record.id, "topic": self._record.topic,
                      "partition": partition, "offset": offset})

    def error(self, exception, message, retriable):
        self._finish({"name": "producer_send_error", "id": self._record.id, "topic": self._record.topic,
                      "exception": exception, "message": message, "retriable": bool(retriable)})


class _Outstanding:
    """Counts sends not answered yet."""

    def __init__(self):
        self._n = 0
        self._cond = threading.Condition()

    def acquire(self):
        with self._cond:
            self._n += 1

    def release(self):
        with self._cond:
            self._n -= 1
            self._cond.notify_all()

    def wait_zero(self, timeout):
        with self._cond:
            return self._cond.wait_for(lambda: self._n == 0, timeout)


def run_producer(client, start, send, stop):
    """start(configure): connect, return when ready.
    send(record, answer): start sending; call answer.success/answer.error later, from any thread.
    stop(): flush (every answer given) and close.
    Exits the process after shutdown (or the end of stdin)."""
    lines = _lines()
    configure = _read_configure(lines, "producer")
    try:
        start(configure)
    except Exception as e:  # noqa: BLE001 - any startup failure ends the process
        die("kh-adapter: startup failed: %r" % e)
    emit({"name": "startup_complete", "client": client})
    outstanding = _Outstanding()
    for event in lines:
        if event["name"] == "shutdown":
            break
        if event["name"] != "send":
            log("kh-adapter: ignoring unknown event %r" % event["name"])
            continue
        record = Record(event)
        answer = Answer(record, outstanding)
        outstanding.acquire()
        try:
            send(record, answer)
        except Exception as e:  # noqa: BLE001 - an unexpected failure before sending
            answer.error(type(e).__name__, str(e), False)
    try:
        stop()
    except Exception as e:  # noqa: BLE001
        log("kh-adapter: error while stopping: %r" % e)
    if not outstanding.wait_zero(timeout=30):
        log("kh-adapter: some sends were never answered")
    emit({"name": "shutdown_complete"})
    sys.exit(0)


# ---------------------------------------------------------------------------
# Consumer


class Reporter:
    """How a consumer tells the harness what happened; safe from any thread.
    Partitions are (topic, partition) pairs; offsets (topic, partition, offset)
    with offset the next to read, as Kafka commits it."""

    @staticmethod
    def assigned(partitions):
        emit({"name": "partitions_assigned", "partitions": [{"topic": t, "partition": p} for t, p in partitions]})

    @staticmethod
    def revoked(partitions):
        emit({"name": "partitions_revoked", "partitions": [{"topic": t, "partition": p} for t, p in partitions]})

    @staticmethod
    def record(topic, partition, offset, headers):
        """Your code is done with this record; headers as [(key, bytes)] (kh-stamp is picked out)."""
        event = {"name": "record_data", "topic": topic, "partition": partition, "offset": offset}
        for key, value in headers or []:
            if key == STAMP_HEADER and value is not None:
                event["stamp"] = b64encode(value)
                break
        emit(event)

    @staticmethod
    def committed(offsets, error=None):
        event = {"name": "offsets_committed", "success": error is None,
                 "offsets": [{"topic": t, "partition": p, "offset": o} for t, p, o in offsets]}
        if error is not None:
            event["error"] = str(error)
        emit(event)


def run_consumer(client, start, stop):
    """start(configure, reporter): join the group, start consuming (in your own
    thread), return once subscribed. stop(): finish what is in flight, commit as
    your code does on close, leave the group, make the last reports.
    Exits the process after shutdown (or the end of stdin)."""
    lines = _lines()
    configure = _read_configure(lines, "consumer")
    try:
        start(configure, Reporter())
    except Exception as e:  # noqa: BLE001
        die("kh-adapter: startup failed: %r" % e)
    emit({"name": "startup_complete", "client": client})
    for event in lines:
        if event["name"] == "shutdown":
            break
        log("kh-adapter: ignoring unknown event %r" % event["name"])
    try:
        stop()
    except Exception as e:  # noqa: BLE001
        log("kh-adapter: error while stopping: %r" % e)
    emit({"name": "shutdown_complete"})
    sys.exit(0)
