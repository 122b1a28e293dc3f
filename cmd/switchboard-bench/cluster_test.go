package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/loopbackport"
)

// TestClusterScenario runs -only cluster at a tiny scale (three gateway processes over embedded NATS)
// and checks that every figure was measured. It asserts nothing about speed, except that a handshake
// whose $connect does -connect-work takes at least that long.
func TestClusterScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	exe := buildBench(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	const work = 20 * time.Millisecond
	args := []string{"-only", "cluster", "-conns", "60", "-clients", "2", "-duration", "300ms", "-connect-work", work.String()}
	var stdout, stderr bytes.Buffer
	res, err := run(ctx, args, runEnv{Exe: exe, Stdout: &stdout, Stderr: &stderr, Command: "switchboard-bench"})
	if err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	c := res.Cluster
	if c == nil || c.Local == nil || c.Remote == nil || c.LocalFixed == nil || c.RemoteFixed == nil || c.ConnectSingle == nil || c.ConnectCluster == nil || c.Broadcast == nil ||
		c.Raw == nil || c.Raw.Local == nil || c.Raw.Remote == nil || c.Raw.LocalFixed == nil || c.Raw.RemoteFixed == nil || c.RawPlain == nil || c.RawPeer == nil || c.RawStream == nil ||
		c.RawPeerBatch == nil || c.ConnectSingleWork == nil || c.ConnectClusterWork == nil {
		t.Fatalf("figures missing: %+v", c)
	}
	if c.Raw.FixedRate != c.FixedRate {
		t.Errorf("the raw NATS cluster ran at %v/s, the cluster at %v/s", c.Raw.FixedRate, c.FixedRate)
	}
	if c.FixedRate <= 0 {
		t.Errorf("fixed rate %v", c.FixedRate)
	}
	for name, f := range map[string]*postFigures{"local": c.Local, "remote": c.Remote, "local, fixed rate": c.LocalFixed, "remote, fixed rate": c.RemoteFixed,
		"raw local": c.Raw.Local, "raw remote": c.Raw.Remote, "raw local, fixed rate": c.Raw.LocalFixed, "raw remote, fixed rate": c.Raw.RemoteFixed} {
		if f.Rate <= 0 || f.P50 <= 0 || f.P99 < f.P50 || f.Errors != 0 || len(f.Other) != 0 {
			t.Errorf("POSTs, %s owner: %+v", name, f)
		}
	}
	for name, h := range map[string]*hsResult{"single": c.ConnectSingle, "cluster": c.ConnectCluster, "raw, no record": c.RawPlain, "raw, peer record": c.RawPeer,
		"raw, batched peer record": c.RawPeerBatch, "raw, stream record": c.RawStream, "single, $connect working": c.ConnectSingleWork, "cluster, $connect working": c.ConnectClusterWork} {
		if h.Rate <= 0 || h.P50 <= 0 || h.Errors != 0 {
			t.Errorf("handshakes, %s: %+v", name, h)
		}
	}
	if c.ConnectWork != work {
		t.Errorf("$connect work %v, want %v", c.ConnectWork, work)
	}
	// Every handshake through a $connect that works waited for it; those through the instant one did not.
	for name, h := range map[string]*hsResult{"single": c.ConnectSingleWork, "cluster": c.ConnectClusterWork} {
		if len(h.samples) == 0 {
			t.Errorf("handshakes with $connect taking %v, %s: no samples", work, name)
		} else if h.samples[0] < work {
			t.Errorf("handshakes with $connect taking %v, %s: the fastest took %v", work, name, h.samples[0])
		}
	}
	if c.BroadcastConns != 60 || len(c.Broadcast.Rounds) != broadcastRounds || c.Broadcast.median() <= 0 {
		t.Errorf("broadcast: %+v", c.Broadcast)
	}
	out := stdout.String()
	for _, want := range []string{"owner local / remote", "closed loop of 2 clients", "fixed rate", "single node / clustered node", "Broadcast to 60 connections spread over 3 nodes",
		"Raw NATS cluster (one NATS request/reply to another process, nothing else)", "a record held by another process (one core NATS request)", "a record appended to a JetStream stream of 3 replicas",
		"ceiling of the clustered node's ≥ 0.8× target on this machine, any design", "the same with one stream append per handshake",
		"Cluster of 3: handshakes/s, single node / clustered node, $connect → backend taking 20ms before it answers", "p50 / p99 handshake time, single / clustered ($connect taking 20ms)",
		"a record held by another process, batched", "ceiling from the raw cluster's cheapest record (batched peer): its ratio",
		"the same added to the single node's handshake", "the CPU ceiling (any design, as above) with the batched peer record's CPU"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestPostRateFlag checks -post-rate's bounds: 0 (the default, a quarter of the remote closed-loop rate) or a
// positive rate, never a negative or not-a-number one.
func TestPostRateFlag(t *testing.T) {
	tests := []struct {
		name string
		arg  string
		want float64
		ok   bool
	}{
		{name: "default", want: 0, ok: true},
		{name: "set", arg: "2500", want: 2500, ok: true},
		{name: "negative", arg: "-1"},
		{name: "not a number", arg: "NaN"},
		{name: "too high", arg: "1e9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var args []string
			if tt.arg != "" {
				args = []string{"-post-rate", tt.arg}
			}
			s, err := parseFlags(args, io.Discard)
			switch {
			case tt.ok && err != nil:
				t.Fatalf("parseFlags(%q): %v", args, err)
			case !tt.ok && err == nil:
				t.Fatalf("parseFlags(%q) took post rate %v", args, s.PostRate)
			case tt.ok && s.PostRate != tt.want:
				t.Errorf("post rate %v, want %v", s.PostRate, tt.want)
			}
		})
	}
}

// TestConnectWorkFlag checks -connect-work's bounds: 2 ms unless set, 0 (no pair with a working $connect)
// or a duration up to the backend's bound, never a negative one.
func TestConnectWorkFlag(t *testing.T) {
	tests := []struct {
		name string
		arg  string
		want time.Duration
		ok   bool
	}{
		{name: "default", want: 2 * time.Millisecond, ok: true},
		{name: "off", arg: "0", want: 0, ok: true},
		{name: "set", arg: "10ms", want: 10 * time.Millisecond, ok: true},
		{name: "negative", arg: "-1ms"},
		{name: "longer than the backend waits", arg: "2m"},
		{name: "not a duration", arg: "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var args []string
			if tt.arg != "" {
				args = []string{"-connect-work", tt.arg}
			}
			s, err := parseFlags(args, io.Discard)
			switch {
			case tt.ok && err != nil:
				t.Fatalf("parseFlags(%q): %v", args, err)
			case !tt.ok && err == nil:
				t.Fatalf("parseFlags(%q) took $connect work %v", args, s.ConnectWork)
			case tt.ok && s.ConnectWork != tt.want:
				t.Errorf("$connect work %v, want %v", s.ConnectWork, tt.want)
			}
		})
	}
}

// TestOthersOf checks the routes a node gets: every address but its own, the list itself untouched.
func TestOthersOf(t *testing.T) {
	addrs := []string{"a", "b", "c"}
	for _, tc := range []struct {
		name string
		i    int
		want []string
	}{
		{"first", 0, []string{"b", "c"}},
		{"middle", 1, []string{"a", "c"}},
		{"last", 2, []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := othersOf(addrs, tc.i); !slices.Equal(got, tc.want) {
				t.Errorf("othersOf(%v, %d) = %v, want %v", addrs, tc.i, got, tc.want)
			}
			if !slices.Equal(addrs, []string{"a", "b", "c"}) {
				t.Fatalf("othersOf changed its input: %v", addrs)
			}
		})
	}
}

// Servers started together that wait for one another (a cluster's) are stopped as soon as one of them
// fails to start, and the error names that one: the others used to wait out startChild's 30 s for a
// peer that would never come, and said only that they had not started listening.
func TestStartTogetherStopsTheRestWhenOneFails(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	exe := buildBench(t)
	addrs, err := loopbackport.Reserve(rawNATSNodes)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var stderr bytes.Buffer
	b := &bench{env: runEnv{Exe: exe}, stderr: &lockedWriter{w: &stderr}}
	args := make([][]string, rawNATSNodes)
	for i := range args {
		args[i] = []string{"-node", strconv.Itoa(i + 1), "-cluster-listen", addrs[i], "-cluster-routes", strings.Join(othersOf(addrs, i), ","),
			"-cluster-store", filepath.Join(dir, strconv.Itoa(i+1)), "-backend", "http://127.0.0.1:9"}
	}
	args[0] = append(args[0], "-no-such-flag") // node 1 exits at once; nodes 2 and 3 wait for it
	// Less than startChild's 30 s: servers left waiting for node 1 end with this ctx, and say so.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cs, err := b.startTogether(ctx, "rawnats", args)
	if err == nil {
		_ = stopAll(cs)
		t.Fatal("three raw NATS nodes started with node 1's command line refused")
	}
	msg := err.Error()
	if !strings.Contains(msg, "rawnats 1 of 3") || strings.Contains(msg, "rawnats 2 of 3") || strings.Contains(msg, "rawnats 3 of 3") {
		t.Errorf("error %q, want node 1's failure alone", msg)
	}
	if cs != nil {
		t.Errorf("servers returned after a failed start: %v", cs)
	}
	if ctx.Err() != nil {
		t.Errorf("the start waited for its ctx to end (%v): %v", ctx.Err(), err)
	}
}
