#!/usr/bin/env node
'use strict'
// COPY ME: put your own KafkaJS producer code under kafka-harness.
//
// Copy this file and lib/protocol.js (the protocol plumbing, no need to edit)
// next to your service's code, fill in the three functions marked YOUR CODE
// HERE with the way your service creates its producer and sends one event,
// and point a scenario at it:
//
//   [[producers]]
//   driver = "exec"
//   command = ["node", "path/to/template-producer.js"]
//
// The harness sends one `send` per record, several at once; send() is called
// for each without waiting for the previous ones, and must resolve with the
// partition and offset the broker acknowledged, or throw. Log to stderr
// (console.error), never to stdout: stdout is the protocol's.

const { Kafka, logLevel } = require('kafkajs')
const { runProducer, log } = require('./lib/protocol')

let producer

runProducer({
  client: `kafkajs ${require('kafkajs/package.json').version}`,

  // configure: { bootstrap_servers, topic, table, instance,
  //              client: { acks, 'linger.ms', ... }, security: { ... } }
  async start(configure) {
    // ---- YOUR CODE HERE: create and connect your producer ----------------
    const kafka = new Kafka({
      clientId: 'my-service',
      brokers: configure.bootstrap_servers.split(','),
      logLevel: logLevel.WARN,
      logCreator: () => ({ label, log: entry }) => log(`${label} ${entry.message}`), // stderr
    })
    producer = kafka.producer()
    await producer.connect()
    // -----------------------------------------------------------------------
  },

  // record: { id, topic, partition (null: your partitioner decides), key (Buffer|null),
  //           value (Buffer|null), headers: [{ key, value (Buffer) }] }  -- send every header
  async send(record) {
    // ---- YOUR CODE HERE: send it the way your service does ---------------
    const message = { key: record.key, value: record.value, headers: {} }
    for (const h of record.headers) message.headers[h.key] = h.value
    if (record.partition !== null) message.partition = record.partition
    const [meta] = await producer.send({ topic: record.topic, messages: [message] })
    return { partition: meta.partition, offset: Number(meta.baseOffset) }
    // -----------------------------------------------------------------------
  },

  // retriable: true if the record MAY have been written (timeout, retries ran
  // out, connection lost), false only if it definitely was not.
  classifyError(err) {
    // ---- YOUR CODE HERE (or use classifyError from lib/kafkajs.js) -------
    const retriable = err.name === 'KafkaJSNumberOfRetriesExceeded' || err.name === 'KafkaJSRequestTimeoutError' || err.retriable === true
    return { exception: err.name, message: err.message, retriable }
    // -----------------------------------------------------------------------
  },

  async stop() {
    // ---- YOUR CODE HERE: flush and close ----------------------------------
    await producer.disconnect()
    // -----------------------------------------------------------------------
  },
})
