#!/usr/bin/env node
'use strict'
// kafka-harness exec adapter: a KafkaJS consumer group member as the invoice
// events processor runs it: subscribe({ fromBeginning: true }), run({ eachMessage }),
// and KafkaJS's default auto-commit (after each fetched batch is processed,
// and before a rebalance).
//
// KafkaJS has no rebalance listener, so assignments come from its
// instrumentation events: GROUP_JOIN carries the new assignment; REBALANCING
// (or a re-join) means the previous one was revoked (KafkaJS's eager protocol
// gives up every partition on a rebalance). COMMIT_OFFSETS reports each
// successful commit; KafkaJS emits no event for a failed one.
//
// Usage: node adapters/kafkajs/consumer.js [--processing-ms N]
//   --processing-ms N   stand-in for the service's work per message (default 0)

const { Kafka } = require('kafkajs')
const { runConsumer, log } = require('./lib/protocol')
const { KAFKAJS_VERSION, kafkaOptions, consumerOptions } = require('./lib/kafkajs')

const processingMs = Number(argValue('--processing-ms', '0'))

let consumer
let report
let assigned = [] // [{ topic, partition }] this member owns now

runConsumer({
  client: `kafkajs ${KAFKAJS_VERSION}`,

  async start(configure, reporter) {
    report = reporter
    const options = consumerOptions(configure)
    const kafka = new Kafka(kafkaOptions(configure))
    consumer = kafka.consumer(options.consumer)
    const { GROUP_JOIN, REBALANCING, COMMIT_OFFSETS, CRASH } = consumer.events

    const revokeAll = () => {
      if (assigned.length) report.revoked(assigned)
      assigned = []
    }
    consumer.on(REBALANCING, revokeAll)
    consumer.on(GROUP_JOIN, ({ payload }) => {
      revokeAll() // a re-join without a REBALANCING event (unknown member id) also revokes
      assigned = Object.entries(payload.memberAssignment).flatMap(([topic, partitions]) =>
        partitions.map(partition => ({ topic, partition }))
      )
      if (assigned.length) report.assigned(assigned)
    })
    consumer.on(COMMIT_OFFSETS, ({ payload }) => {
      const offsets = payload.topics.flatMap(({ topic, partitions }) =>
        partitions.map(({ partition, offset }) => ({ topic, partition, offset }))
      )
      if (offsets.length) report.committed(offsets)
    })
    consumer.on(CRASH, ({ payload }) => log(`kh-adapter: consumer crashed: ${payload.error}, restart=${payload.restart}`))

    await consumer.connect()
    await consumer.subscribe({ topic: configure.topic, ...options.subscribe })
    // run() resolves once the member has joined and synced.
    await consumer.run({
      ...options.run,
      eachMessage: async ({ topic, partition, message }) => {
        await processEvent(message)
        report.record({ topic, partition, offset: message.offset, headers: message.headers })
      },
    })
  },

  async stop() {
    // Stops fetching, waits for the message in hand, commits what was
    // processed, leaves the group.
    await consumer.disconnect()
    // Leaving the group gave everything back; KafkaJS emits no event for it.
    if (assigned.length) report.revoked(assigned)
    assigned = []
  },
})

// The service's handler (sending emails, updating analytics, ...) would run
// here; the harness only needs to know when it is done.
async function processEvent(message) {
  if (processingMs > 0) await new Promise(resolve => setTimeout(resolve, processingMs))
}

function argValue(flag, fallback) {
  const i = process.argv.indexOf(flag)
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback
}
