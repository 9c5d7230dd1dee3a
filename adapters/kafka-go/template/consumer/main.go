// COPY ME: put your own Go consumer code under kafka-harness.
//
// Copy this folder into your module (with the protocol package, the
// plumbing, which needs no edits), fill in the parts marked YOUR CODE HERE,
// build it, and point a scenario at the binary:
//
//	[[consumers]]
//	driver = "exec"
//	command = ["path/to/my-consumer"]
//
// Tell the harness what happens through rep (safe from any goroutine):
// rep.Assigned / rep.Revoked, rep.Record when YOUR CODE is done with a
// record, rep.Committed for each commit (offset = next to read). kafka-go's
// Reader has no rebalance callback; the full adapter (../../consumer.go)
// shows how to get assignments and commits from its logger.
// Log to stderr (protocol.Logf), never to stdout.
package main

import (
	"context"
	"strings"

	"github.com/segmentio/kafka-go"

	"khadapter/protocol"
)

type myConsumer struct {
	reader *kafka.Reader
	cancel context.CancelFunc
	done   chan struct{}
}

func main() {
	protocol.RunConsumer("kafka-go 0.4.51", &myConsumer{})
}

// cfg: BootstrapServers, Topic, Group, Client (session.timeout.ms, ...), Security.
func (c *myConsumer) Start(cfg *protocol.Configure, rep *protocol.Reporter) error {
	// ---- YOUR CODE HERE: build your reader -----------------------------------
	c.reader = kafka.NewReader(kafka.ReaderConfig{
		Brokers:     strings.Split(cfg.BootstrapServers, ","),
		GroupID:     *cfg.Group,
		Topic:       cfg.Topic,
		StartOffset: kafka.FirstOffset,
	})
	// --------------------------------------------------------------------------
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	go func() {
		defer close(c.done)
		for {
			msg, err := c.reader.FetchMessage(ctx)
			if err != nil {
				return // cancelled by Stop
			}
			// ---- YOUR CODE HERE: your handler --------------------------------
			// handle(msg)
			// ------------------------------------------------------------------
			var stamp []byte
			for _, h := range msg.Headers {
				if h.Key == protocol.StampHeader {
					stamp = h.Value
				}
			}
			rep.Record(msg.Topic, msg.Partition, msg.Offset, stamp)
			err = c.reader.CommitMessages(context.Background(), msg)
			rep.Committed([]protocol.TopicPartitionOffset{{Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset + 1}}, err)
		}
	}()
	return nil
}

func (c *myConsumer) Stop() error {
	c.cancel()
	<-c.done
	return c.reader.Close() // leaves the group
}
