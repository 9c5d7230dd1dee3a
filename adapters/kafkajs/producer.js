#!/usr/bin/env node
'use strict'
// kafka-harness exec adapter: a KafkaJS producer as the invoice and compliance
// services use it: one shared producer, `producer.send({ topic, messages: [one] })`
// per event, KafkaJS's default (Java-compatible murmur2) partitioner, acks -1.
//
// Sends are pipelined: every `send` line starts its own producer.send() at
// once, without waiting for the ones before it (the harness bounds how many
// are outstanding). One message per send() call, as the services do, also
// makes each reported offset exact: the call's RecordMetadata holds exactly
// that record's partition and offset.
//
// --batch (not what the services do; for more throughput): the send lines
// that arrive together (in one read from stdin) and carry a key or an explicit
// partition go out in one producer.send({ messages: [...] }) call. KafkaJS
// answers such a call with one baseOffset per partition; the partitioner is
// wrapped to note each message's partition, and a message's offset is its
// partition's baseOffset plus its index among that call's messages for that
// partition (KafkaJS keeps their order in one record batch). Messages without
// key or partition still go one per call: KafkaJS's round-robin partitioner
// may place them differently on a retry, and the noted partition would lie.
//
// Usage: node adapters/kafkajs/producer.js [--batch]   (everything else arrives on stdin)

const { Kafka, Partitioners } = require('kafkajs')
const { runProducer } = require('./lib/protocol')
const { KAFKAJS_VERSION, kafkaOptions, producerOptions, classifyError } = require('./lib/kafkajs')

const BATCH = process.argv.includes('--batch')
const MAX_BATCH = 500

let producer
let sendOptions

runProducer({
  client: `kafkajs ${KAFKAJS_VERSION}`,

  async start(configure) {
    const options = producerOptions(configure)
    sendOptions = options.send
    const kafka = new Kafka(kafkaOptions(configure))
    const createPartitioner = BATCH ? notingPartitioner : Partitioners.DefaultPartitioner
    producer = kafka.producer({ createPartitioner, ...options.producer })
    await producer.connect()
  },

  async send(record) {
    const message = {
      key: record.key,
      value: record.value,
      // KafkaJS takes headers as an object; insertion order is kept on the wire.
      // A header name given twice becomes an array of values.
      headers: headersObject(record.headers),
    }
    if (record.partition !== null) message.partition = record.partition
    if (BATCH && (record.key !== null || record.partition !== null)) return enqueue(record.topic, message)
    const metadata = await producer.send({ ...sendOptions, topic: record.topic, messages: [message] })
    if (sendOptions.acks === 0) {
      // acks=0: the broker does not answer, so there is no offset (KafkaJS returns []).
      return { partition: record.partition === null ? -1 : record.partition, offset: -1 }
    }
    const [meta] = metadata
    return { partition: meta.partition, offset: Number(meta.baseOffset) }
  },

  classifyError,

  async stop() {
    await producer.disconnect()
  },
})

// --batch -------------------------------------------------------------------

const partitionOf = new WeakMap() // message -> the partition KafkaJS chose for it
function notingPartitioner() {
  const choose = Partitioners.DefaultPartitioner()
  return args => {
    const partition = choose(args)
    partitionOf.set(args.message, partition)
    return partition
  }
}

let pending = [] // [{ topic, message, resolve, reject }] read in this tick
function enqueue(topic, message) {
  return new Promise((resolve, reject) => {
    pending.push({ topic, message, resolve, reject })
    if (pending.length === 1) setImmediate(flush)
  })
}

function flush() {
  const byTopic = new Map()
  for (const item of pending) byTopic.set(item.topic, [...(byTopic.get(item.topic) || []), item])
  pending = []
  for (const [topic, items] of byTopic) {
    for (let i = 0; i < items.length; i += MAX_BATCH) sendTogether(topic, items.slice(i, i + MAX_BATCH))
  }
}

async function sendTogether(topic, items) {
  let metadata
  try {
    metadata = await producer.send({ ...sendOptions, topic, messages: items.map(item => item.message) })
  } catch (err) {
    // One call spanning several partitions can fail for one partition while
    // another's records were appended: then no record of it is "definitely
    // not written".
    const partitions = new Set(items.map(item => partitionOf.get(item.message)))
    const answer = partitions.size <= 1 ? err : Object.assign(
      new Error(`${err.message} (one send() call for ${partitions.size} partitions: some may have been written)`),
      { name: 'KafkaJSBatchPartlyFailed', retriable: true, cause: err }
    )
    return items.forEach(item => item.reject(answer))
  }
  const baseOffset = new Map(metadata.map(m => [m.partition, Number(m.baseOffset)]))
  const index = new Map()
  for (const item of items) {
    const partition = partitionOf.get(item.message)
    const i = index.get(partition) || 0
    index.set(partition, i + 1)
    if (sendOptions.acks === 0) item.resolve({ partition, offset: -1 })
    else if (baseOffset.has(partition)) item.resolve({ partition, offset: baseOffset.get(partition) + i })
    else item.reject(Object.assign(new Error(`no RecordMetadata for partition ${partition}`), { name: 'KafkaJSMissingMetadata', retriable: true }))
  }
}

function headersObject(headers) {
  const out = {}
  for (const { key, value } of headers) {
    if (key in out) out[key] = [].concat(out[key], value)
    else out[key] = value
  }
  return out
}
