// Command kafka-go-adapter runs segmentio/kafka-go under kafka-harness's
// `exec` driver (docs/drivers.md): everything arrives on stdin, events leave
// on stdout, logs go to stderr.
//
//	kafka-go-adapter producer [-balancer leastbytes|hash]
//	kafka-go-adapter consumer [-workers 10] [-delivery-ms 5] [-v]
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/debug"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "producer":
		runProducer(os.Args[2:])
	case "consumer":
		runConsumer(os.Args[2:])
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: kafka-go-adapter producer [-balancer leastbytes|hash]")
	fmt.Fprintln(os.Stderr, "       kafka-go-adapter consumer [-workers 10] [-delivery-ms 5] [-v]")
	os.Exit(2)
}

func newFlags(name string) *flag.FlagSet {
	return flag.NewFlagSet("kafka-go-adapter "+name, flag.ExitOnError)
}

// clientName is what startup_complete reports, e.g. "kafka-go 0.4.51".
func clientName() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/segmentio/kafka-go" {
				return "kafka-go " + dep.Version[1:]
			}
		}
	}
	return "kafka-go"
}
