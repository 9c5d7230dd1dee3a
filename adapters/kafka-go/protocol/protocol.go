// Package protocol is the plumbing of kafka-harness's `exec` driver, protocol
// version 1 (docs/drivers.md): it reads the harness's lines on stdin, writes
// events to stdout (one JSON object per line, never interleaved) and leaves
// stderr to the program's logs. Nothing in it is Kafka-specific: a program
// implements Producer or Consumer and calls RunProducer or RunConsumer.
package protocol

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
)

// Version is the protocol version this package speaks.
const Version = 1

// StampHeader names the header whose value identifies a message for the checkers.
const StampHeader = "kh-stamp"

// Configure is the harness's first line.
type Configure struct {
	Name             string            `json:"name"`
	Protocol         int               `json:"protocol"`
	Role             string            `json:"role"`
	Table            string            `json:"table"`
	Instance         int               `json:"instance"`
	BootstrapServers string            `json:"bootstrap_servers"`
	Topic            string            `json:"topic"`
	Group            *string           `json:"group"`
	Client           map[string]string `json:"client"`
	Security         map[string]string `json:"security"`
}

// Header is one record header; Value nil means a null value.
type Header struct {
	Key   string `json:"key"`
	Value []byte `json:"value"` // base64 on the wire; encoding/json does that for []byte
}

// Send is one record to produce. Key nil means no key; Partition nil means the
// client chooses.
type Send struct {
	ID        int64    `json:"id"`
	Topic     string   `json:"topic"`
	Partition *int32   `json:"partition"`
	Key       []byte   `json:"key"`
	Value     []byte   `json:"value"`
	Headers   []Header `json:"headers"`
}

// SendError is how a failed send is reported. Retriable true: the record may
// or may not have been written (indeterminate); false: it definitely was not.
type SendError struct {
	Exception string
	Message   string
	Retriable bool
}

// Producer is what a producer program implements.
type Producer interface {
	// Start connects; it returns when the producer is ready to send.
	Start(cfg *Configure) error
	// Send produces one record and blocks until the client reports its
	// outcome. It is called from many goroutines at once (one per
	// outstanding send; the harness bounds how many).
	Send(rec *Send) (partition int32, offset int64, err error)
	// Classify turns an error returned by Send into the protocol's terms.
	Classify(err error) SendError
	// Stop flushes and closes; every Send has returned before it is called.
	Stop() error
}

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
}

// TopicPartitionOffset is a committed position: the next offset to read.
type TopicPartitionOffset struct {
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	Offset    int64  `json:"offset"`
}

// Consumer is what a consumer program implements.
type Consumer interface {
	// Start joins the group and starts consuming; it returns once subscribed.
	// From then on the consumer reports what happens through rep, from any
	// goroutine.
	Start(cfg *Configure, rep *Reporter) error
	// Stop finishes what is in flight, commits as the code does on close and
	// leaves the group; the consumer's last reports happen before it returns.
	Stop() error
}

// ---------------------------------------------------------------------------

var out struct {
	sync.Mutex
	started bool
	held    [][]byte // events reported before startup_complete
}

// emit writes one event as one line in one write; safe from any goroutine.
func emit(event map[string]any) {
	line, err := json.Marshal(event)
	if err != nil {
		Logf("kh-adapter: cannot encode %v: %v", event, err)
		return
	}
	line = append(line, '\n')
	out.Lock()
	defer out.Unlock()
	if !out.started && event["name"] != "startup_complete" {
		out.held = append(out.held, line)
		return
	}
	os.Stdout.Write(line)
	if event["name"] == "startup_complete" {
		out.started = true
		for _, l := range out.held {
			os.Stdout.Write(l)
		}
		out.held = nil
	}
}

// Logf writes a log line to stderr.
func Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func die(format string, args ...any) {
	Logf(format, args...)
	os.Exit(1)
}

type stdin struct{ r *bufio.Reader }

// next returns the next line as a JSON object with its name; io.EOF at the end.
func (s *stdin) next() (string, []byte, error) {
	for {
		line, err := s.r.ReadBytes('\n')
		if len(line) == 0 && err != nil {
			return "", nil, err
		}
		var head struct {
			Name string `json:"name"`
		}
		if jerr := json.Unmarshal(line, &head); jerr != nil || head.Name == "" {
			if len(line) > 1 {
				Logf("kh-adapter: ignoring a stdin line that is not a named JSON object: %.200s", line)
			}
			continue
		}
		return head.Name, line, nil
	}
}

func readConfigure(role string) (*stdin, *Configure) {
	in := &stdin{bufio.NewReaderSize(os.Stdin, 1<<20)}
	name, line, err := in.next()
	if err != nil {
		die("kh-adapter: stdin closed before the configure line")
	}
	if name != "configure" {
		die("kh-adapter: expected a configure line first, got: %.200s", line)
	}
	var cfg Configure
	if err := json.Unmarshal(line, &cfg); err != nil {
		die("kh-adapter: bad configure line: %v", err)
	}
	if cfg.Protocol != Version {
		die("kh-adapter: protocol version mismatch: harness speaks %d, this adapter speaks %d", cfg.Protocol, Version)
	}
	if cfg.Role != role {
		die("kh-adapter: this is a %s adapter but the harness configured role %q", role, cfg.Role)
	}
	if cfg.Client == nil {
		cfg.Client = map[string]string{}
	}
	if cfg.Security == nil {
		cfg.Security = map[string]string{}
	}
	return in, &cfg
}

// RunProducer speaks the protocol for p until shutdown (or the end of stdin),
// then exits the process.
func RunProducer(client string, p Producer) {
	in, cfg := readConfigure("producer")
	if err := p.Start(cfg); err != nil {
		die("kh-adapter: startup failed: %v", err)
	}
	emit(map[string]any{"name": "startup_complete", "client": client})

	var inFlight sync.WaitGroup
	for {
		name, line, err := in.next()
		if err == io.EOF || name == "shutdown" {
			break
		} else if err != nil {
			Logf("kh-adapter: reading stdin: %v", err)
			break
		}
		if name != "send" {
			Logf("kh-adapter: ignoring unknown event %q", name)
			continue
		}
		var rec Send
		if err := json.Unmarshal(line, &rec); err != nil {
			Logf("kh-adapter: bad send line, ignored: %v: %.200s", err, line)
			continue
		}
		inFlight.Add(1)
		go func() {
			defer inFlight.Done()
			partition, offset, err := p.Send(&rec)
			if err != nil {
				e := p.Classify(err)
				emit(map[string]any{"name": "producer_send_error", "id": rec.ID, "topic": rec.Topic,
					"exception": e.Exception, "message": e.Message, "retriable": e.Retriable})
				return
			}
			emit(map[string]any{"name": "producer_send_success", "id": rec.ID, "topic": rec.Topic,
				"partition": partition, "offset": offset})
		}()
	}
	inFlight.Wait()
	if err := p.Stop(); err != nil {
		Logf("kh-adapter: error while stopping: %v", err)
	}
	emit(map[string]any{"name": "shutdown_complete"})
	os.Exit(0)
}

// RunConsumer speaks the protocol for c until shutdown (or the end of stdin),
// then exits the process.
func RunConsumer(client string, c Consumer) {
	in, cfg := readConfigure("consumer")
	if err := c.Start(cfg, &Reporter{}); err != nil {
		die("kh-adapter: startup failed: %v", err)
	}
	emit(map[string]any{"name": "startup_complete", "client": client})
	for {
		name, _, err := in.next()
		if err == io.EOF || name == "shutdown" {
			break
		} else if err != nil {
			Logf("kh-adapter: reading stdin: %v", err)
			break
		}
		Logf("kh-adapter: ignoring unknown event %q", name)
	}
	if err := c.Stop(); err != nil {
		Logf("kh-adapter: error while stopping: %v", err)
	}
	emit(map[string]any{"name": "shutdown_complete"})
	os.Exit(0)
}

// Reporter is how a consumer tells the harness what happened. Its methods are
// safe from any goroutine; each writes one line.
type Reporter struct{}

// Assigned: the group gave this member these partitions.
func (*Reporter) Assigned(partitions []TopicPartition) {
	emit(map[string]any{"name": "partitions_assigned", "partitions": partitions})
}

// Revoked: the group took these partitions away.
func (*Reporter) Revoked(partitions []TopicPartition) {
	emit(map[string]any{"name": "partitions_revoked", "partitions": partitions})
}

// Record: your code is done with this record. stamp is the value of its
// kh-stamp header, nil if it has none.
func (*Reporter) Record(topic string, partition int, offset int64, stamp []byte) {
	event := map[string]any{"name": "record_data", "topic": topic, "partition": partition, "offset": offset}
	if stamp != nil {
		event["stamp"] = stamp // []byte: standard base64 with padding
	}
	emit(event)
}

// Committed: a commit and its outcome (err nil: it succeeded). Offsets are the
// next offsets to read, as Kafka commits them.
func (*Reporter) Committed(offsets []TopicPartitionOffset, err error) {
	event := map[string]any{"name": "offsets_committed", "success": err == nil, "offsets": offsets}
	if err != nil {
		event["error"] = err.Error()
	}
	emit(event)
}
