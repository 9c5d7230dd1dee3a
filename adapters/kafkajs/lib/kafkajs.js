'use strict'
// KafkaJS helpers shared by producer.js and consumer.js: the harness's
// client-neutral settings -> KafkaJS options, a logger that writes to stderr,
// and KafkaJS errors -> the protocol's `retriable`.

const fs = require('fs')
const { logLevel, CompressionTypes } = require('kafkajs')
const { log } = require('./protocol')

const KAFKAJS_VERSION = require('kafkajs/package.json').version

// KafkaJS's default logger writes to stdout; the protocol owns stdout.
const logCreator = () => ({ namespace, level, log: entry }) => {
  const { message, timestamp, logger, ...extra } = entry
  const name = { [logLevel.ERROR]: 'ERROR', [logLevel.WARN]: 'WARN', [logLevel.INFO]: 'INFO', [logLevel.DEBUG]: 'DEBUG' }[level]
  log(`${timestamp} ${name} [kafkajs ${namespace}] ${message} ${JSON.stringify(extra)}`)
}

const bool = v => String(v).toLowerCase() === 'true'
const int = v => parseInt(v, 10)

// Settings this adapter maps; every other `client` key is logged and ignored.
const COMMON = ['client.id', 'request.timeout.ms', 'retries', 'retry.backoff.ms', 'socket.connection.setup.timeout.ms']
const PRODUCER = ['acks', 'enable.idempotence', 'compression.type', 'max.in.flight.requests.per.connection']
const CONSUMER = [
  'session.timeout.ms', 'heartbeat.interval.ms', 'max.poll.interval.ms', 'auto.offset.reset',
  'enable.auto.commit', 'auto.commit.interval.ms', 'fetch.min.bytes', 'fetch.max.bytes',
  'fetch.max.wait.ms', 'max.partition.fetch.bytes', 'isolation.level',
]

function warnIgnored(client, known) {
  for (const k of Object.keys(client)) {
    if (!known.includes(k)) log(`kh-adapter: client setting ${k}=${client[k]} has no KafkaJS equivalent here, ignored`)
  }
}

// new Kafka(options) for this configure line.
function kafkaOptions(configure) {
  const c = configure.client || {}
  const options = {
    clientId: c['client.id'] || `kh-${configure.table}-${configure.instance}`,
    brokers: configure.bootstrap_servers.split(','),
    logLevel: logLevel.INFO,
    logCreator,
  }
  if (c['request.timeout.ms']) options.requestTimeout = int(c['request.timeout.ms'])
  if (c['socket.connection.setup.timeout.ms']) options.connectionTimeout = int(c['socket.connection.setup.timeout.ms'])
  const retry = {}
  if (c['retries']) retry.retries = int(c['retries'])
  if (c['retry.backoff.ms']) retry.initialRetryTime = int(c['retry.backoff.ms'])
  if (Object.keys(retry).length) options.retry = retry
  Object.assign(options, security(configure.security || {}))
  return options
}

function security(s) {
  const protocol = (s['security.protocol'] || 'PLAINTEXT').toUpperCase()
  const out = {}
  if (protocol === 'SSL' || protocol === 'SASL_SSL') {
    const ssl = {}
    if (s['ssl.ca.location']) ssl.ca = [fs.readFileSync(s['ssl.ca.location'], 'utf-8')]
    if (s['ssl.certificate.location']) ssl.cert = fs.readFileSync(s['ssl.certificate.location'], 'utf-8')
    if (s['ssl.key.location']) ssl.key = fs.readFileSync(s['ssl.key.location'], 'utf-8')
    if (s['ssl.key.password']) ssl.passphrase = s['ssl.key.password']
    if (s['ssl.endpoint.identification.algorithm'] === 'none') ssl.checkServerIdentity = () => undefined
    out.ssl = Object.keys(ssl).length ? ssl : true
  }
  if (protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL') {
    out.sasl = {
      mechanism: (s['sasl.mechanism'] || 'PLAIN').toLowerCase(),
      username: s['sasl.username'],
      password: s['sasl.password'],
    }
  }
  return out
}

// Options for kafka.producer() and for each producer.send().
function producerOptions(configure) {
  const c = configure.client || {}
  warnIgnored(c, [...COMMON, ...PRODUCER])
  const producer = {}
  if (c['enable.idempotence']) producer.idempotent = bool(c['enable.idempotence'])
  if (c['max.in.flight.requests.per.connection']) producer.maxInFlightRequests = int(c['max.in.flight.requests.per.connection'])

  const send = { acks: -1 } // KafkaJS's default, as the invoice and compliance services use it
  if (c['acks'] !== undefined) send.acks = c['acks'] === 'all' ? -1 : int(c['acks'])
  const compression = (c['compression.type'] || 'none').toLowerCase()
  if (compression === 'gzip') send.compression = CompressionTypes.GZIP
  else if (compression !== 'none') {
    // KafkaJS ships only gzip; snappy/lz4/zstd need a codec package the services do not use.
    throw new Error(`compression.type=${compression} is not available in plain KafkaJS (gzip or none only)`)
  }
  return { producer, send }
}

// Options for kafka.consumer(), subscribe() and run().
function consumerOptions(configure) {
  const c = configure.client || {}
  warnIgnored(c, [...COMMON, ...CONSUMER])
  const consumer = { groupId: configure.group }
  if (c['session.timeout.ms']) consumer.sessionTimeout = int(c['session.timeout.ms'])
  if (c['heartbeat.interval.ms']) consumer.heartbeatInterval = int(c['heartbeat.interval.ms'])
  if (c['max.poll.interval.ms']) consumer.rebalanceTimeout = int(c['max.poll.interval.ms'])
  if (c['fetch.min.bytes']) consumer.minBytes = int(c['fetch.min.bytes'])
  if (c['fetch.max.bytes']) consumer.maxBytes = int(c['fetch.max.bytes'])
  if (c['fetch.max.wait.ms']) consumer.maxWaitTimeInMs = int(c['fetch.max.wait.ms'])
  if (c['max.partition.fetch.bytes']) consumer.maxBytesPerPartition = int(c['max.partition.fetch.bytes'])
  if (c['isolation.level']) consumer.readUncommitted = c['isolation.level'] === 'read_uncommitted'

  // The invoice processor subscribes with fromBeginning: true.
  const subscribe = { fromBeginning: (c['auto.offset.reset'] || 'earliest') === 'earliest' }
  const run = {} // KafkaJS defaults: autoCommit true, commit after each batch
  if (c['enable.auto.commit']) run.autoCommit = bool(c['enable.auto.commit'])
  if (c['auto.commit.interval.ms']) run.autoCommitInterval = int(c['auto.commit.interval.ms'])
  return { consumer, subscribe, run }
}

// Protocol errors KafkaJS calls non-retriable although the record may be in
// the log already (an earlier attempt may have landed): indeterminate.
const MAYBE_WRITTEN = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER', 'DUPLICATE_SEQUENCE_NUMBER', 'INVALID_PRODUCER_EPOCH',
  'UNKNOWN_PRODUCER_ID', 'NOT_ENOUGH_REPLICAS_AFTER_APPEND', 'REQUEST_TIMED_OUT',
])

// producer.send() rejects with KafkaJSNumberOfRetriesExceeded (a retriable
// error kept failing) or KafkaJSNonRetriableError (a non-retriable one,
// in `cause`), or with a plain error raised before anything was sent.
function classifyError(err) {
  const cause = err && (err.cause || err.originalError)
  const names = [err && err.name, cause && cause.name]
  const message = cause && cause !== err && cause.message !== err.message ? `${err.message}: ${cause.message}` : String(err && err.message)
  const exception = cause && cause !== err && cause.name && cause.name !== err.name ? `${err.name}(${cause.name})` : String(err && err.name)
  let retriable
  if (names.includes('KafkaJSNumberOfRetriesExceeded') || names.includes('KafkaJSRequestTimeoutError')) retriable = true
  else if (cause && MAYBE_WRITTEN.has(cause.type)) retriable = true
  else if (err && err.name === 'KafkaJSNonRetriableError') retriable = false
  else retriable = Boolean(err && err.retriable)
  return { exception, message, retriable }
}

module.exports = { KAFKAJS_VERSION, kafkaOptions, producerOptions, consumerOptions, classifyError, logCreator }
