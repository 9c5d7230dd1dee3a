#!/usr/bin/env node
'use strict'
// COPY ME: put your own KafkaJS consumer code under kafka-harness.
//
// Copy this file and lib/protocol.js (the protocol plumbing, no need to edit)
// next to your service's code, fill in the parts marked YOUR CODE HERE, and
// point a scenario at it:
//
//   [[consumers]]
//   driver = "exec"
//   command = ["node", "path/to/template-consumer.js"]
//
// Tell the harness what happens, as it happens, through `report`:
//   report.assigned([{ topic, partition }]) / report.revoked([...])
//   report.record({ topic, partition, offset, headers })  -- when YOUR CODE is done with it
//   report.committed([{ topic, partition, offset }], error) -- offset = next to read
// Log to stderr (console.error), never to stdout.

const { Kafka, logLevel } = require('kafkajs')
const { runConsumer, log } = require('./lib/protocol')

let consumer
let report
let assigned = []

runConsumer({
  client: `kafkajs ${require('kafkajs/package.json').version}`,

  // configure: { bootstrap_servers, topic, group, table, instance, client: {...}, security: {...} }
  async start(configure, reporter) {
    report = reporter
    const kafka = new Kafka({
      clientId: 'my-service',
      brokers: configure.bootstrap_servers.split(','),
      logLevel: logLevel.WARN,
      logCreator: () => ({ label, log: entry }) => log(`${label} ${entry.message}`), // stderr
    })
    // ---- YOUR CODE HERE: create the consumer as your service does --------
    consumer = kafka.consumer({ groupId: configure.group })
    // -----------------------------------------------------------------------

    // KafkaJS has no rebalance callback: its instrumentation events tell.
    consumer.on(consumer.events.REBALANCING, () => {
      if (assigned.length) report.revoked(assigned)
      assigned = []
    })
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      if (assigned.length) report.revoked(assigned)
      assigned = Object.entries(payload.memberAssignment).flatMap(([topic, ps]) => ps.map(partition => ({ topic, partition })))
      if (assigned.length) report.assigned(assigned)
    })
    consumer.on(consumer.events.COMMIT_OFFSETS, ({ payload }) => {
      report.committed(payload.topics.flatMap(({ topic, partitions }) => partitions.map(p => ({ topic, ...p }))))
    })

    await consumer.connect()
    await consumer.subscribe({ topic: configure.topic, fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        // ---- YOUR CODE HERE: your handler --------------------------------
        // await handleInvoiceEvent(JSON.parse(message.value.toString()))
        // -------------------------------------------------------------------
        report.record({ topic, partition, offset: message.offset, headers: message.headers })
      },
    })
  },

  async stop() {
    await consumer.disconnect() // commits what was processed, leaves the group
    if (assigned.length) report.revoked(assigned) // no event for this one
    assigned = []
  },
})
