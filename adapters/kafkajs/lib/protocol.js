'use strict'
// Protocol plumbing for kafka-harness's `exec` driver, protocol version 1
// (docs/drivers.md). No dependencies, nothing Kafka-specific: the adapter (or
// your copy of a template) supplies start/send/stop and this file speaks the
// newline-delimited JSON with the harness.
//
//   stdin:  configure, send..., shutdown          (harness -> us)
//   stdout: startup_complete, answers, events     (us -> harness), one JSON object per line
//   stderr: every log line (never write logs to stdout)

const readline = require('readline')

const PROTOCOL = 1
const STAMP_HEADER = 'kh-stamp'

// One write per event: a line is never split or interleaved with another.
function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n')
}

function log(...parts) {
  process.stderr.write(parts.join(' ') + '\n')
}

function die(message) {
  log(message)
  process.exit(1)
}

const fromB64 = s => (s === null || s === undefined ? null : Buffer.from(s, 'base64'))
const toB64 = b => (b === null || b === undefined ? null : Buffer.from(b).toString('base64'))

// Reads stdin line by line. The first line must be `configure` for `role`;
// every later line goes to onLine(event). Returns the parsed configure line.
function openStdin(role, onLine, onEnd) {
  const rl = readline.createInterface({ input: process.stdin, terminal: false, crlfDelay: Infinity })
  let configure = null
  let resolveConfigure
  const configured = new Promise(resolve => (resolveConfigure = resolve))

  rl.on('line', line => {
    if (line.trim() === '') return
    let event
    try {
      event = JSON.parse(line)
    } catch (e) {
      log(`kh-adapter: ignoring a stdin line that is not JSON: ${line.slice(0, 200)}`)
      return
    }
    if (configure === null) {
      if (!event || event.name !== 'configure') die(`kh-adapter: expected a configure line first, got: ${line.slice(0, 200)}`)
      if (event.protocol !== PROTOCOL) die(`kh-adapter: protocol version mismatch: harness speaks ${event.protocol}, this adapter speaks ${PROTOCOL}`)
      if (event.role !== role) die(`kh-adapter: this is a ${role} adapter but the harness configured role ${event.role}`)
      configure = event
      resolveConfigure(event)
      return
    }
    onLine(event)
  })
  rl.on('close', () => {
    if (configure === null) die('kh-adapter: stdin closed before the configure line')
    onEnd()
  })
  return configured
}

// ---------------------------------------------------------------------------
// Producer
//
// adapter = {
//   client: 'kafkajs 2.2.4',                 // shown in the report
//   start: async configure => {},            // connect; resolve when ready to send
//   send: async record => ({ partition, offset }),
//        // record = { id, topic, partition (null|int), key (Buffer|null),
//        //            value (Buffer|null), headers: [{ key, value (Buffer|null) }] }
//        // throw on failure; the thrown error goes through classifyError
//   classifyError: err => ({ exception, message, retriable }),
//        // retriable: true = may have been written (indeterminate),
//        //            false = definitely not written
//   stop: async () => {},                    // flush and disconnect
// }
// Sends run concurrently: the harness bounds how many are outstanding
// (max_in_flight), every one is answered exactly once, in completion order.
function runProducer(adapter) {
  const inFlight = new Set()
  let stopping = null
  let started = false
  const early = [] // lines that arrive before startup_complete

  const handle = event => {
    if (!started) return early.push(event)
    switch (event.name) {
      case 'send':
        return startSend(event)
      case 'shutdown':
        return shutdown()
      default:
        log(`kh-adapter: ignoring unknown event ${JSON.stringify(event.name)}`)
    }
  }

  const startSend = event => {
    if (stopping) return log(`kh-adapter: send ${event.id} after shutdown, ignored`)
    const record = {
      id: event.id,
      topic: event.topic,
      partition: event.partition === undefined ? null : event.partition,
      key: fromB64(event.key),
      value: fromB64(event.value),
      headers: (event.headers || []).map(h => ({ key: h.key, value: fromB64(h.value) })),
    }
    const p = Promise.resolve()
      .then(() => adapter.send(record))
      .then(
        ({ partition, offset }) =>
          emit({ name: 'producer_send_success', id: record.id, topic: record.topic, partition, offset }),
        err => {
          const { exception, message, retriable } = adapter.classifyError(err)
          emit({ name: 'producer_send_error', id: record.id, topic: record.topic, exception, message, retriable })
        }
      )
      .finally(() => inFlight.delete(p))
    inFlight.add(p)
  }

  const shutdown = () => {
    if (stopping) return stopping
    stopping = (async () => {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight])
      try {
        await adapter.stop()
      } catch (e) {
        log(`kh-adapter: error while stopping: ${e && e.stack ? e.stack : e}`)
      }
      emit({ name: 'shutdown_complete' })
      process.exit(0)
    })()
    return stopping
  }

  openStdin('producer', handle, () => shutdown()).then(async configure => {
    try {
      await adapter.start(configure)
    } catch (e) {
      die(`kh-adapter: startup failed: ${e && e.stack ? e.stack : e}`)
    }
    emit({ name: 'startup_complete', client: adapter.client })
    started = true
    early.splice(0).forEach(handle)
  })
}

// ---------------------------------------------------------------------------
// Consumer
//
// adapter = {
//   client: 'kafkajs 2.2.4',
//   start: async (configure, report) => {},  // join the group; resolve once subscribed
//   stop: async () => {},                    // commit as your code does on close, leave the group
// }
// and your code calls, as things happen:
//   report.assigned([{ topic, partition }])
//   report.revoked([{ topic, partition }])
//   report.record({ topic, partition, offset, headers })   // once processed; headers as
//        // KafkaJS gives them ({name: Buffer}) or as [{ key, value }]: kh-stamp is picked out
//   report.committed([{ topic, partition, offset }], error) // offset = next to read; error if it failed
function runConsumer(adapter) {
  let stopping = null
  let started = false
  const early = []
  // Events that happen while start() runs (a first assignment, say) are held
  // back until startup_complete is out, so that line is always the first.
  const held = []
  const send = event => (started ? emit(event) : held.push(event))

  const report = {
    assigned: partitions => send({ name: 'partitions_assigned', partitions: tps(partitions) }),
    revoked: partitions => send({ name: 'partitions_revoked', partitions: tps(partitions) }),
    record: ({ topic, partition, offset, headers }) => {
      const event = { name: 'record_data', topic, partition: Number(partition), offset: Number(offset) }
      const stamp = findHeader(headers, STAMP_HEADER)
      if (stamp !== null && stamp !== undefined) event.stamp = toB64(stamp)
      send(event)
    },
    committed: (offsets, error) => {
      const event = { name: 'offsets_committed', success: !error, offsets: tpos(offsets) }
      if (error) event.error = String(error && error.message ? error.message : error)
      send(event)
    },
  }

  const handle = event => {
    if (!started) return early.push(event)
    if (event.name === 'shutdown') return shutdown()
    log(`kh-adapter: ignoring unknown event ${JSON.stringify(event.name)}`)
  }

  const shutdown = () => {
    if (stopping) return stopping
    stopping = (async () => {
      try {
        await adapter.stop()
      } catch (e) {
        log(`kh-adapter: error while stopping: ${e && e.stack ? e.stack : e}`)
      }
      emit({ name: 'shutdown_complete' })
      process.exit(0)
    })()
    return stopping
  }

  openStdin('consumer', handle, () => shutdown()).then(async configure => {
    try {
      await adapter.start(configure, report)
    } catch (e) {
      die(`kh-adapter: startup failed: ${e && e.stack ? e.stack : e}`)
    }
    emit({ name: 'startup_complete', client: adapter.client })
    started = true
    held.splice(0).forEach(emit)
    early.splice(0).forEach(handle)
  })
}

const tps = partitions => partitions.map(({ topic, partition }) => ({ topic, partition: Number(partition) }))
const tpos = offsets =>
  offsets.map(({ topic, partition, offset }) => ({ topic, partition: Number(partition), offset: Number(offset) }))

function findHeader(headers, name) {
  if (!headers) return null
  if (Array.isArray(headers)) {
    const h = headers.find(h => h.key === name)
    return h ? h.value : null
  }
  const v = headers[name] // KafkaJS: { name: Buffer | Buffer[] }
  return Array.isArray(v) ? v[0] : v
}

module.exports = { runProducer, runConsumer, emit, log, fromB64, toB64, STAMP_HEADER }
