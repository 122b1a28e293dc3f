package main

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestClusterScenario runs -only cluster at a tiny scale (three gateway processes over embedded NATS)
// and checks that every figure was measured. It asserts nothing about speed.
func TestClusterScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	exe := filepath.Join(t.TempDir(), "switchboard-bench")
	if out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	args := []string{"-only", "cluster", "-conns", "60", "-clients", "2", "-duration", "300ms"}
	var stdout, stderr bytes.Buffer
	res, err := run(ctx, args, runEnv{Exe: exe, Stdout: &stdout, Stderr: &stderr, Command: "switchboard-bench"})
	if err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	c := res.Cluster
	if c == nil || c.Local == nil || c.Remote == nil || c.LocalFixed == nil || c.RemoteFixed == nil || c.ConnectSingle == nil || c.ConnectCluster == nil || c.Broadcast == nil ||
		c.Pair == nil || c.Pair.Local == nil || c.Pair.Remote == nil || c.Pair.LocalFixed == nil || c.Pair.RemoteFixed == nil || c.PairPlain == nil || c.PairRecord == nil {
		t.Fatalf("figures missing: %+v", c)
	}
	if c.Pair.FixedRate != c.FixedRate {
		t.Errorf("the raw NATS pair ran at %v/s, the cluster at %v/s", c.Pair.FixedRate, c.FixedRate)
	}
	if c.FixedRate <= 0 {
		t.Errorf("fixed rate %v", c.FixedRate)
	}
	for name, f := range map[string]*postFigures{"local": c.Local, "remote": c.Remote, "local, fixed rate": c.LocalFixed, "remote, fixed rate": c.RemoteFixed,
		"pair local": c.Pair.Local, "pair remote": c.Pair.Remote, "pair local, fixed rate": c.Pair.LocalFixed, "pair remote, fixed rate": c.Pair.RemoteFixed} {
		if f.Rate <= 0 || f.P50 <= 0 || f.P99 < f.P50 || f.Errors != 0 || len(f.Other) != 0 {
			t.Errorf("POSTs, %s owner: %+v", name, f)
		}
	}
	for name, h := range map[string]*hsResult{"single": c.ConnectSingle, "cluster": c.ConnectCluster, "pair, no record": c.PairPlain, "pair, record": c.PairRecord} {
		if h.Rate <= 0 || h.P50 <= 0 || h.Errors != 0 {
			t.Errorf("handshakes, %s: %+v", name, h)
		}
	}
	if c.BroadcastConns != 60 || len(c.Broadcast.Rounds) != broadcastRounds || c.Broadcast.median() <= 0 {
		t.Errorf("broadcast: %+v", c.Broadcast)
	}
	out := stdout.String()
	for _, want := range []string{"owner local / remote", "closed loop of 2 clients", "fixed rate", "single node / clustered node", "Broadcast to 60 connections spread over 3 nodes",
		"Raw NATS pair (one NATS request/reply to another process, nothing else)", "Raw NATS pair: handshakes/s", "ceiling of the clustered node's ≥ 0.8× target"} {
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
