package main

// kafka-go helpers shared by the producer and the consumer: connection
// security, kafka-go's errors in the protocol's terms, client settings.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"khadapter/protocol"
)

// dialer returns a kafka.Dialer for the cluster's security settings, or nil
// for a plaintext cluster (kafka-go's defaults then apply, as in the services).
func dialer(security map[string]string) (*kafka.Dialer, error) {
	proto := strings.ToUpper(security["security.protocol"])
	if proto == "" || proto == "PLAINTEXT" {
		return nil, nil
	}
	d := &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true}
	if proto == "SSL" || proto == "SASL_SSL" {
		cfg := &tls.Config{}
		if ca := security["ssl.ca.location"]; ca != "" {
			pem, err := os.ReadFile(ca)
			if err != nil {
				return nil, err
			}
			cfg.RootCAs = x509.NewCertPool()
			cfg.RootCAs.AppendCertsFromPEM(pem)
		}
		if cert, key := security["ssl.certificate.location"], security["ssl.key.location"]; cert != "" && key != "" {
			pair, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				return nil, err
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		if security["ssl.endpoint.identification.algorithm"] == "none" {
			cfg.InsecureSkipVerify = true
		}
		d.TLS = cfg
	}
	if proto == "SASL_PLAINTEXT" || proto == "SASL_SSL" {
		var mech sasl.Mechanism
		var err error
		user, pass := security["sasl.username"], security["sasl.password"]
		switch strings.ToUpper(security["sasl.mechanism"]) {
		case "", "PLAIN":
			mech = plain.Mechanism{Username: user, Password: pass}
		case "SCRAM-SHA-256":
			mech, err = scram.Mechanism(scram.SHA256, user, pass)
		case "SCRAM-SHA-512":
			mech, err = scram.Mechanism(scram.SHA512, user, pass)
		default:
			err = fmt.Errorf("sasl.mechanism %q is not supported by this adapter", security["sasl.mechanism"])
		}
		if err != nil {
			return nil, err
		}
		d.SASLMechanism = mech
	}
	return d, nil
}

// waitForCluster returns once the cluster has answered a metadata request for
// the topic (kafka-go connects lazily: this makes "ready" mean something), or
// fails after 20 s.
func waitForCluster(cfg *protocol.Configure, d *kafka.Dialer) error {
	if d == nil {
		d = kafka.DefaultDialer
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		conn, err := d.DialContext(ctx, "tcp", strings.Split(cfg.BootstrapServers, ",")[0])
		if err == nil {
			_, err = conn.ReadPartitions(cfg.Topic)
			conn.Close()
			if err == nil {
				return nil
			}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("cluster not reachable: %w", err)
		}
		protocol.Logf("kh-adapter: waiting for the cluster: %v", err)
		time.Sleep(500 * time.Millisecond)
	}
}

// settings reads the table's client settings, and logs every one it was not asked about.
type settings struct {
	m    map[string]string
	used map[string]bool
}

func newSettings(m map[string]string) *settings { return &settings{m: m, used: map[string]bool{}} }

func (s *settings) str(key string) (string, bool) {
	s.used[key] = true
	v, ok := s.m[key]
	return v, ok
}

func (s *settings) millis(key string, set func(time.Duration)) {
	if v, ok := s.str(key); ok {
		if n, err := strconv.Atoi(v); err == nil {
			set(time.Duration(n) * time.Millisecond)
		} else {
			protocol.Logf("kh-adapter: client setting %s=%q is not a number, ignored", key, v)
		}
	}
}

func (s *settings) int(key string, set func(int)) {
	if v, ok := s.str(key); ok {
		if n, err := strconv.Atoi(v); err == nil {
			set(n)
		} else {
			protocol.Logf("kh-adapter: client setting %s=%q is not a number, ignored", key, v)
		}
	}
}

func (s *settings) logIgnored() {
	var keys []string
	for k := range s.m {
		if !s.used[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		protocol.Logf("kh-adapter: client setting %s=%s has no kafka-go equivalent here, ignored", k, s.m[k])
	}
}

// errNotSent marks an error raised before anything was sent.
type errNotSent struct{ msg string }

func (e errNotSent) Error() string { return e.msg }

// Broker errors kafka-go does not retry although the record may already be
// in the log (an earlier attempt may have landed): indeterminate.
var maybeWritten = map[kafka.Error]bool{
	kafka.OutOfOrderSequenceNumber:     true,
	kafka.DuplicateSequenceNumber:      true,
	kafka.InvalidProducerEpoch:         true,
	kafka.NotEnoughReplicasAfterAppend: true,
	kafka.RequestTimedOut:              true,
}

// classify turns an error from a write into the protocol's terms: retriable
// false only when the record was definitely not written (the broker rejected
// it for good, or it never left the process); anything unknown, every network
// error and timeout, is indeterminate.
func classify(err error) protocol.SendError {
	var writeErrs kafka.WriteErrors
	if errors.As(err, &writeErrs) {
		for _, e := range writeErrs {
			if e != nil {
				err = e
				break
			}
		}
	}
	se := protocol.SendError{Exception: fmt.Sprintf("%T", err), Message: err.Error(), Retriable: true}
	var kerr kafka.Error
	var tooLarge kafka.MessageTooLargeError
	var notSent errNotSent
	switch {
	case errors.As(err, &notSent), errors.As(err, &tooLarge):
		se.Retriable = false
	case errors.As(err, &kerr):
		se.Exception = "kafka.Error(" + kerr.Title() + ")"
		se.Retriable = kerr.Temporary() || maybeWritten[kerr]
	}
	return se
}
