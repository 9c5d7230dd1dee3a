package main

// The audit middleware's producer (seed note: "Kafka Integration", ds-health
// middleware): a kafka.Writer built with kafka.NewWriter(kafka.WriterConfig{
// Brokers, Topic, Balancer: &kafka.LeastBytes{}, RequiredAcks: -1}), and a
// Send that calls writer.WriteMessages(ctx, msg) synchronously from each
// request's goroutine. Here each `send` line is such a request: its own
// goroutine, its own blocking WriteMessages call.
//
// Everything else is kafka-go's default, as in the note: the Writer batches
// up to 100 messages per partition and waits up to BatchTimeout = 1 s for a
// batch to fill before writing it, and LeastBytes picks the partition that
// has received the fewest bytes, whatever the key.
//
// Offsets: kafka-go's Writer.Completion callback gets every written batch's
// messages with Partition and Offset set from the Produce response (also in
// synchronous mode, before WriteMessages returns); each message carries its
// harness id in Message.WriterData, so the answer is exact per message.
//
// -balancer hash selects kafka.Hash (FNV-1a of the key, round-robin without a
// key) instead, the variant that keeps a key on one partition.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"khadapter/protocol"
)

func runProducer(args []string) {
	fs := newFlags("producer")
	balancer := fs.String("balancer", "leastbytes", "partitioner: leastbytes (the audit middleware's) or hash")
	fs.Parse(args)
	var b kafka.Balancer
	switch *balancer {
	case "leastbytes":
		b = &kafka.LeastBytes{}
	case "hash":
		b = &kafka.Hash{}
	default:
		protocol.Logf("kh-adapter: unknown -balancer %q (leastbytes or hash)", *balancer)
		usage()
	}
	protocol.RunProducer(clientName(), &auditProducer{balancer: b})
}

type auditProducer struct {
	balancer kafka.Balancer
	writer   *kafka.Writer
	topic    string
	acks0    bool // RequiredAcks 0: the broker does not answer, so there is no offset
}

// sendTag travels with a message through the writer (Message.WriterData).
type sendTag struct {
	partition *int32 // the harness asked for this partition
	// set by the Completion callback:
	done      bool
	gotPart   int
	gotOffset int64
	err       error
}

func (p *auditProducer) Start(cfg *protocol.Configure) error {
	p.topic = cfg.Topic
	d, err := dialer(cfg.Security)
	if err != nil {
		return err
	}
	wc := kafka.WriterConfig{
		Brokers:      strings.Split(cfg.BootstrapServers, ","),
		Topic:        cfg.Topic,
		Balancer:     explicitPartition{p.balancer},
		RequiredAcks: -1,
		Dialer:       d,
		ErrorLogger:  kafka.LoggerFunc(func(f string, a ...interface{}) { protocol.Logf("kafka-go: "+f, a...) }),
	}
	// The note sets nothing else; a scenario's client settings adjust these.
	s := newSettings(cfg.Client)
	if v, ok := s.str("acks"); ok {
		switch v {
		case "all", "-1":
			wc.RequiredAcks = -1
		case "1":
			wc.RequiredAcks = 1
		case "0":
			p.acks0 = true // set on the Writer below: NewWriter turns 0 into "all"
		}
	}
	s.millis("linger.ms", func(d time.Duration) { wc.BatchTimeout = d })
	s.int("batch.num.messages", func(n int) { wc.BatchSize = n })
	s.int("retries", func(n int) { wc.MaxAttempts = n + 1 })
	s.millis("request.timeout.ms", func(d time.Duration) { wc.WriteTimeout = d; wc.ReadTimeout = d })
	if v, ok := s.str("compression.type"); ok {
		codec := map[string]kafka.Compression{"gzip": kafka.Gzip, "snappy": kafka.Snappy, "lz4": kafka.Lz4, "zstd": kafka.Zstd}
		if c, ok := codec[strings.ToLower(v)]; ok {
			wc.CompressionCodec = c.Codec()
		} else if v != "none" {
			return fmt.Errorf("compression.type=%s is not known to kafka-go", v)
		}
	}
	s.logIgnored()

	p.writer = kafka.NewWriter(wc)
	if p.acks0 {
		p.writer.RequiredAcks = kafka.RequireNone
	}
	p.writer.Completion = func(messages []kafka.Message, err error) {
		for i := range messages {
			tag := messages[i].WriterData.(*sendTag)
			tag.done, tag.err = true, err
			tag.gotPart, tag.gotOffset = messages[i].Partition, messages[i].Offset
		}
	}
	return waitForCluster(cfg, d)
}

// Send is the middleware's Producer.Send, with the harness's key, value and
// headers instead of a JSON-marshalled audit entry.
func (p *auditProducer) Send(rec *protocol.Send) (int32, int64, error) {
	if rec.Topic != p.topic {
		return 0, 0, errNotSent{fmt.Sprintf("this writer is bound to topic %s, not %s", p.topic, rec.Topic)}
	}
	tag := &sendTag{partition: rec.Partition}
	msg := kafka.Message{Key: rec.Key, Value: rec.Value, WriterData: tag}
	for _, h := range rec.Headers {
		msg.Headers = append(msg.Headers, kafka.Header{Key: h.Key, Value: h.Value})
	}
	err := p.writer.WriteMessages(context.Background(), msg)
	// Completion ran before WriteMessages returned, if the batch was written
	// (or failed) at all; otherwise err says why it never left.
	if tag.done {
		if tag.err != nil {
			return 0, 0, tag.err
		}
		if p.acks0 {
			return int32(tag.gotPart), -1, nil
		}
		return int32(tag.gotPart), tag.gotOffset, nil
	}
	if err == nil {
		err = fmt.Errorf("kafka-go returned without reporting the message")
	}
	return 0, 0, err
}

func (p *auditProducer) Classify(err error) protocol.SendError { return classify(err) }

func (p *auditProducer) Stop() error { return p.writer.Close() }

// explicitPartition honours a partition the harness asks for (a kafka.Writer
// has no per-message partition) and otherwise leaves the choice to the
// configured balancer, untouched.
type explicitPartition struct{ kafka.Balancer }

func (b explicitPartition) Balance(msg kafka.Message, partitions ...int) int {
	if tag, ok := msg.WriterData.(*sendTag); ok && tag.partition != nil {
		return int(*tag.partition)
	}
	return b.Balancer.Balance(msg, partitions...)
}
