// COPY ME: put your own Go producer code under kafka-harness.
//
// Copy this folder into your module (with the protocol package, the
// plumbing, which needs no edits), fill in the parts marked YOUR CODE HERE
// with the way your service builds its writer and sends one event, build it,
// and point a scenario at the binary:
//
//	[[producers]]
//	driver = "exec"
//	command = ["path/to/my-producer"]
//
// Send is called from one goroutine per outstanding record (the harness
// bounds how many) and must return the partition and offset the broker
// acknowledged, or an error. Log to stderr (protocol.Logf), never to stdout.
package main

import (
	"context"
	"errors"
	"strings"

	"github.com/segmentio/kafka-go"

	"khadapter/protocol"
)

type myProducer struct {
	writer *kafka.Writer
}

func main() {
	protocol.RunProducer("kafka-go 0.4.51", &myProducer{})
}

// cfg: BootstrapServers, Topic, Table, Instance, Client (acks, linger.ms, ...), Security.
func (p *myProducer) Start(cfg *protocol.Configure) error {
	// ---- YOUR CODE HERE: build your writer ----------------------------------
	p.writer = &kafka.Writer{
		Addr:         kafka.TCP(strings.Split(cfg.BootstrapServers, ",")...),
		Topic:        cfg.Topic,
		Balancer:     explicitPartition{&kafka.Hash{}},
		RequiredAcks: kafka.RequireAll,
	}
	// --------------------------------------------------------------------------
	// kafka-go reports offsets only through Writer.Completion; the *result in
	// each message's WriterData carries its outcome back to Send.
	p.writer.Completion = func(msgs []kafka.Message, err error) {
		for _, m := range msgs {
			r := m.WriterData.(*result)
			r.done, r.partition, r.offset, r.err = true, m.Partition, m.Offset, err
		}
	}
	return nil
}

type result struct {
	want      *int32 // the partition the harness asked for, if any
	done      bool
	partition int
	offset    int64
	err       error
}

// rec: ID, Topic, Partition (nil: your balancer decides), Key, Value, Headers (send them all).
func (p *myProducer) Send(rec *protocol.Send) (int32, int64, error) {
	// ---- YOUR CODE HERE: send it the way your service does -------------------
	r := &result{want: rec.Partition}
	msg := kafka.Message{Key: rec.Key, Value: rec.Value, WriterData: r}
	for _, h := range rec.Headers {
		msg.Headers = append(msg.Headers, kafka.Header{Key: h.Key, Value: h.Value})
	}
	err := p.writer.WriteMessages(context.Background(), msg)
	// --------------------------------------------------------------------------
	if !r.done {
		if err == nil {
			err = errors.New("no outcome reported")
		}
		return 0, 0, err
	}
	return int32(r.partition), r.offset, r.err
}

// Retriable: true if the record MAY have been written (timeouts, connection
// trouble, unknown errors); false only if it definitely was not.
func (p *myProducer) Classify(err error) protocol.SendError {
	var tooLarge kafka.MessageTooLargeError
	return protocol.SendError{Exception: "error", Message: err.Error(), Retriable: !errors.As(err, &tooLarge)}
}

func (p *myProducer) Stop() error {
	// ---- YOUR CODE HERE: flush and close --------------------------------------
	return p.writer.Close()
}

// explicitPartition honours a partition the harness asks for (a kafka.Writer
// has no per-message partition) and leaves every other choice to your balancer.
type explicitPartition struct{ kafka.Balancer }

func (b explicitPartition) Balance(msg kafka.Message, partitions ...int) int {
	if r, ok := msg.WriterData.(*result); ok && r.want != nil {
		return int(*r.want)
	}
	return b.Balancer.Balance(msg, partitions...)
}
