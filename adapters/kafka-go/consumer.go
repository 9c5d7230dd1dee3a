package main

// The webhook delivery service's consumer (seed note: "Kafka Integration for
// Webhook Delivery"), as the note describes it:
//   - a kafka.Reader in consumer group mode on the topic, StartOffset earliest;
//   - one fetch loop handing messages to a pool of 10 workers
//     (webhookConsumer.New(kafkaConsumer, webhookSvc, logger, 10));
//   - each worker delivers the webhook and, after a successful delivery,
//     commits that message: reader.CommitMessages(ctx, msg) (synchronous
//     commits, CommitInterval 0).
//
// This reproduces the design, hazards included; they are what the harness is
// for, and they are deliberately NOT fixed here:
//   - workers finish out of order, so records of one partition (one account)
//     are delivered out of order;
//   - each worker commits its own message's offset+1, so a fast worker can
//     commit past a message a slow worker still holds (lost on a crash), and
//     a slow worker can move the committed offset backwards (redelivery);
//   - after a rebalance, messages already fetched for partitions this member
//     lost are still delivered and committed.
//
// The webhook POST is simulated: each delivery takes a random 0..2x
// -delivery-ms milliseconds and always succeeds.
//
// kafka-go's Reader has no rebalance listener. Its logger reports each new
// generation's assignment ("subscribed to topics and partitions"), the end of
// a generation (its commit loop stops) and every successful commit with its
// offsets; this file listens to those three log lines to report
// partitions_assigned, partitions_revoked and offsets_committed exactly.

import (
	"context"
	"errors"
	"math/rand"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"khadapter/protocol"
)

func runConsumer(args []string) {
	fs := newFlags("consumer")
	workers := fs.Int("workers", 10, "size of the worker pool (the webhook service uses 10)")
	deliveryMs := fs.Float64("delivery-ms", 5, "mean simulated webhook delivery time, ms (uniform 0..2x)")
	verbose := fs.Bool("v", false, "copy kafka-go's own (chatty) log to stderr")
	fs.Parse(args)
	protocol.RunConsumer(clientName(), &webhookConsumer{
		workers: *workers, delivery: time.Duration(*deliveryMs * float64(time.Millisecond)), verbose: *verbose,
	})
}

type webhookConsumer struct {
	workers  int
	delivery time.Duration
	verbose  bool

	reader   *kafka.Reader
	rep      *protocol.Reporter
	cancel   context.CancelFunc
	fetching sync.WaitGroup
	working  sync.WaitGroup

	mu       sync.Mutex
	assigned []protocol.TopicPartition // this generation's assignment
}

func (c *webhookConsumer) Start(cfg *protocol.Configure, rep *protocol.Reporter) error {
	c.rep = rep
	if cfg.Group == nil {
		return errors.New("the webhook consumer needs a group")
	}
	d, err := dialer(cfg.Security)
	if err != nil {
		return err
	}
	rc := kafka.ReaderConfig{
		Brokers:     strings.Split(cfg.BootstrapServers, ","),
		GroupID:     *cfg.Group,
		Topic:       cfg.Topic,
		StartOffset: kafka.FirstOffset, // "Start Offset: Earliest"
		Dialer:      d,
		Logger:      kafka.LoggerFunc(c.kafkaLog),
		ErrorLogger: kafka.LoggerFunc(func(f string, a ...interface{}) { protocol.Logf("kafka-go: "+f, a...) }),
	}
	s := newSettings(cfg.Client)
	s.millis("session.timeout.ms", func(d time.Duration) { rc.SessionTimeout = d })
	s.millis("heartbeat.interval.ms", func(d time.Duration) { rc.HeartbeatInterval = d })
	s.millis("max.poll.interval.ms", func(d time.Duration) { rc.RebalanceTimeout = d })
	s.millis("fetch.max.wait.ms", func(d time.Duration) { rc.MaxWait = d })
	s.int("fetch.min.bytes", func(n int) { rc.MinBytes = n })
	s.int("fetch.max.bytes", func(n int) { rc.MaxBytes = n })
	if v, ok := s.str("auto.offset.reset"); ok && v == "latest" {
		rc.StartOffset = kafka.LastOffset
	}
	if v, ok := s.str("isolation.level"); ok && v == "read_committed" {
		rc.IsolationLevel = kafka.ReadCommitted
	}
	if v, ok := s.str("partition.assignment.strategy"); ok {
		switch {
		case strings.Contains(v, "roundrobin"):
			rc.GroupBalancers = []kafka.GroupBalancer{kafka.RoundRobinGroupBalancer{}}
		case strings.Contains(v, "range"):
			rc.GroupBalancers = []kafka.GroupBalancer{kafka.RangeGroupBalancer{}}
		}
	}
	s.logIgnored()
	if err := waitForCluster(cfg, d); err != nil {
		return err
	}
	c.reader = kafka.NewReader(rc)

	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	jobs := make(chan kafka.Message)
	for i := 0; i < c.workers; i++ {
		c.working.Add(1)
		go c.worker(jobs)
	}
	c.fetching.Add(1)
	go c.fetchLoop(ctx, jobs)
	return nil
}

// fetchLoop is the service's consumer loop: fetch, hand to the pool.
func (c *webhookConsumer) fetchLoop(ctx context.Context, jobs chan<- kafka.Message) {
	defer c.fetching.Done()
	defer close(jobs)
	for {
		msg, err := c.reader.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			protocol.Logf("kh-adapter: fetch failed: %v", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		select {
		case jobs <- msg:
		case <-ctx.Done():
			return // fetched, never delivered nor committed
		}
	}
}

// worker delivers one event at a time and commits it after a successful delivery.
func (c *webhookConsumer) worker(jobs <-chan kafka.Message) {
	defer c.working.Done()
	for msg := range jobs {
		c.deliverWebhook(msg)
		var stamp []byte
		for _, h := range msg.Headers {
			if h.Key == protocol.StampHeader {
				stamp = h.Value
				break
			}
		}
		c.rep.Record(msg.Topic, msg.Partition, msg.Offset, stamp)
		if err := c.reader.CommitMessages(context.Background(), msg); err != nil {
			// Successful commits are reported from kafka-go's log, with the
			// offsets it really sent (see kafkaLog); a failed one from here.
			c.rep.Committed([]protocol.TopicPartitionOffset{{Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset + 1}}, err)
		}
	}
}

// deliverWebhook stands in for the HTTP POST to each subscribed webhook.
func (c *webhookConsumer) deliverWebhook(kafka.Message) {
	if c.delivery > 0 {
		time.Sleep(time.Duration(rand.Int63n(int64(2 * c.delivery))))
	}
}

// Stop: stop fetching, let the workers finish (and commit) what they hold,
// then close the reader, which leaves the group.
func (c *webhookConsumer) Stop() error {
	c.cancel()
	c.fetching.Wait()
	c.working.Wait()
	return c.reader.Close() // ends the generation: partitions_revoked comes from kafkaLog
}

// kafkaLog receives kafka-go's informational log and turns three of its
// lines into protocol events.
func (c *webhookConsumer) kafkaLog(format string, args ...interface{}) {
	switch {
	case strings.HasPrefix(format, "subscribed to topics and partitions") && len(args) == 1:
		// args[0] is the new generation's map[topicPartition]int64
		assigned := assignmentFromLog(args[0])
		c.mu.Lock()
		c.assigned = assigned
		c.mu.Unlock()
		if len(assigned) > 0 {
			c.rep.Assigned(assigned)
		}
	case strings.HasPrefix(format, "stopped commit for group"):
		// the generation's commit loop ends with the generation
		c.mu.Lock()
		revoked := c.assigned
		c.assigned = nil
		c.mu.Unlock()
		if len(revoked) > 0 {
			c.rep.Revoked(revoked)
		}
	case strings.HasPrefix(format, "committed offsets for group") && len(args) == 2:
		if report, ok := args[1].(string); ok {
			if offsets := offsetsFromLog(report); len(offsets) > 0 {
				c.rep.Committed(offsets, nil)
			}
		}
	}
	if c.verbose {
		protocol.Logf("kafka-go: "+format, args...)
	}
}

// assignmentFromLog reads kafka-go's map[topicPartition]int64, whose key type
// is unexported: struct{ topic string; partition int32 }.
func assignmentFromLog(arg interface{}) []protocol.TopicPartition {
	v := reflect.ValueOf(arg)
	if v.Kind() != reflect.Map {
		return nil
	}
	var out []protocol.TopicPartition
	for _, k := range v.MapKeys() {
		if k.Kind() != reflect.Struct {
			continue
		}
		topic, partition := k.FieldByName("topic"), k.FieldByName("partition")
		if topic.IsValid() && partition.IsValid() {
			out = append(out, protocol.TopicPartition{Topic: topic.String(), Partition: int(partition.Int())})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

// offsetsFromLog reads the report lines of "committed offsets for group":
// "\ttopic: T" followed by "\t\tpartition P: O" lines.
func offsetsFromLog(report string) []protocol.TopicPartitionOffset {
	var out []protocol.TopicPartitionOffset
	topic := ""
	for _, line := range strings.Split(report, "\n") {
		line = strings.TrimSpace(line)
		if t, ok := strings.CutPrefix(line, "topic: "); ok {
			topic = t
		} else if rest, ok := strings.CutPrefix(line, "partition "); ok {
			p, o, found := strings.Cut(rest, ": ")
			pn, err1 := strconv.Atoi(p)
			on, err2 := strconv.ParseInt(o, 10, 64)
			if found && err1 == nil && err2 == nil {
				out = append(out, protocol.TopicPartitionOffset{Topic: topic, Partition: pn, Offset: on})
			}
		}
	}
	return out
}
