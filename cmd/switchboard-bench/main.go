// Command switchboard-bench measures Switchboard against baselines in one run, and prints the figures with
// their ratios: a raw WebSocket echo server built with the same WebSocket library (github.com/lxzan/gws),
// a raw proxy bridge, a raw Lambda bridge, and optionally serverless-offline.
//
// It measures these, each against server processes it starts itself (it re-executes its own binary as
// "switchboard-bench server KIND", so every server's memory is its own and nothing else's):
//
//   - rss: resident memory per idle connection of the server process, at -conns connections and at
//     -max-conns connections (the most one process can hold under the open-files limit), for the raw echo
//     server and for Switchboard. The client spreads its connections over the source addresses 127.0.0.2,
//     127.0.0.3, … so that ephemeral ports never run out.
//   - rtt: round trips per second, p50/p99/p99.9 latency and server CPU of -clients WebSocket clients in a
//     closed loop, each sending a -msg-size byte JSON message and waiting for the reply, for -duration:
//     raw echo, the proxy bridge (gws forwarding each message to the HTTP backend with Go's HTTP client),
//     Switchboard with a MOCK route, with an HTTP_PROXY route to a trivial HTTP backend (a child process
//     too) that answers the request body back, and with an AWS_PROXY route to a local Go function (this
//     binary run as "switchboard-bench handler"); then the raw Lambda bridge: gws running the same
//     function, as many processes, over the go1.x runtime's RPC, with the same MESSAGE event bytes.
//   - connect: WebSocket handshakes per second of -clients clients opening and closing connections, to an
//     API without $connect and to one whose $connect runs the local function; then to the raw Lambda
//     bridge without and with its $connect invocation.
//   - mgmt: @connections POSTs per second: -clients HTTP clients POST to the management API for
//     -duration, each message addressed to one of -clients connected WebSocket clients.
//   - peers (not run by default): serverless-offline, installed with npm into -peer-cache on first use,
//     running an equivalent Node.js echo handler, with --useInProcess and in its default mode, measured
//     like the AWS_PROXY route. It needs node and npm.
//   - broadcast: one message to -conns connections per round, through the management extension's
//     Broadcast, against raw gws fan-out (gws.Broadcaster) to as many connections.
//   - cluster (not run by default): three gateway processes joined over embedded NATS. @connections
//     POSTs/s and p50/p99 to connections on node 2 sent via node 2 (local owner) and via node 1 (remote
//     owner), from -clients clients in a closed loop (each path at its own saturation), then p50/p99 of
//     both paths at once, each at -post-rate POSTs per second (open loop, a POST sent late counted from
//     its due time; default a quarter of the remote closed-loop rate); handshakes/s of node 1 against a
//     single node with the same config, then again with a $connect that does real work (the backend's
//     /connect answers after -connect-work, what a $connect that writes to a store such as DynamoDB
//     takes; 0 leaves this pair out); and a Broadcast to -conns connections spread over the three nodes,
//     sent to node 1. Beside them, the raw NATS cluster (three processes doing the least a gateway over
//     NATS does) is measured the same way, its handshakes without a record and with one held by another
//     process (a request each, or batched), or appended to a replicated stream.
//
// Usage:
//
//	switchboard-bench [run] [-conns 10000] [-max-conns 19000] [-clients 64] [-duration 10s]
//	                  [-msg-size 100] [-only rss,rtt,connect,mapping,mgmt,broadcast[,peers,cluster]] [-peer-cache DIR]
//	                  [-post-rate 0] [-connect-work 2ms] [-profile DIR] [-markdown]
//
// Progress goes to standard error; the results table (Markdown with -markdown) goes to standard output.
// Everything runs on the loopback interface only.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "handler" {
		// Before any signal handling: SIGTERM ends a function process at once, as it ends an
		// aws-lambda-go function that did not ask for it.
		functionMain()
		return
	}
	raiseFileLimit()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(args) > 0 && args[0] == "server" {
		err = serverMain(ctx, args[1:], os.Stdin, os.Stdout)
	} else {
		if len(args) > 0 && args[0] == "run" {
			args = args[1:]
		}
		var exe string
		exe, err = os.Executable()
		if err == nil {
			_, err = run(ctx, args, runEnv{Exe: exe, Stdout: os.Stdout, Stderr: os.Stderr, Command: commandLine(os.Args)})
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "switchboard-bench:", err)
		stop()
		os.Exit(1)
	}
}

// raiseFileLimit raises the soft limit on open files to the hard limit: every connection costs one file
// descriptor on each side.
func raiseFileLimit() {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

// fileLimit returns the current soft limit on open files.
func fileLimit() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 1024
	}
	if lim.Cur > 1<<30 {
		return 1 << 30
	}
	return int(lim.Cur)
}

// logf writes one progress line.
func logf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "switchboard-bench: "+format+"\n", args...)
}
