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
// Usage: node adapters/kafkajs/producer.js   (everything else arrives on stdin)

const { Kafka, Partitioners } = require('kafkajs')
const { runProducer } = require('./lib/protocol')
const { KAFKAJS_VERSION, kafkaOptions, producerOptions, classifyError } = require('./lib/kafkajs')

let producer
let sendOptions

runProducer({
  client: `kafkajs ${KAFKAJS_VERSION}`,

  async start(configure) {
    const options = producerOptions(configure)
    sendOptions = options.send
    const kafka = new Kafka(kafkaOptions(configure))
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, ...options.producer })
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

function headersObject(headers) {
  const out = {}
  for (const { key, value } of headers) {
    if (key in out) out[key] = [].concat(out[key], value)
    else out[key] = value
  }
  return out
}
