package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/configfile"
	"github.com/switchboard-gw/switchboard/internal/lambda/bootstrap"
)

// built is the tool's binary, built once for the package's tests by buildBench and removed by TestMain.
var built struct {
	once     sync.Once
	dir, exe string
	out      []byte
	err      error
}

// buildBench builds the tool's binary once for every test of the package, and returns its path: the
// binary is also every server the tests start ("switchboard-bench server KIND") and the bench's Go
// function ("switchboard-bench handler").
func buildBench(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "switchboard-bench-test-"); built.err != nil {
			return
		}
		built.exe = filepath.Join(built.dir, "switchboard-bench")
		built.out, built.err = exec.Command("go", "build", "-o", built.exe, ".").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("build the tool (go build into a temporary directory): %v\n%s", built.err, built.out)
	}
	return built.exe
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// TestEndToEnd runs the whole tool at a tiny scale against real server processes (the tool's own binary,
// built here) and checks that every figure was measured. It asserts nothing about speed.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	exe := buildBench(t)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()

	for _, markdown := range []bool{false, true} {
		args := []string{"-conns", "200", "-max-conns", "400", "-clients", "4", "-duration", "500ms", "-msg-size", "100"}
		if markdown {
			args = append(args, "-markdown", "-only", "rtt,mapping")
		}
		var stdout, stderr bytes.Buffer
		res, err := run(ctx, args, runEnv{Exe: exe, Stdout: &stdout, Stderr: &stderr, Command: commandLine(append([]string{"switchboard-bench"}, args...))})
		if err != nil {
			t.Fatalf("run %q: %v\nstderr:\n%s\nstdout:\n%s", args, err, stderr.String(), stdout.String())
		}
		out := stdout.String()
		t.Logf("run %q:\n%s", args, out)
		for _, want := range []string{"MOCK / raw", "HTTP_PROXY / raw", "Round trips/s, MOCK route", "Round trips/s, HTTP_PROXY route",
			"vs the raw proxy bridge", "p50 / p99 / p99.9", "AWS_PROXY ÷ HTTP_PROXY", "mapped / static CPU per message",
			"Round trips/s, Go function route vs the raw Lambda bridge (gws + go1.x RPC)", "(bridge + function processes vs Switchboard's)"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
		if res.ColdStarts["lambda"] <= 0 || !strings.Contains(out, "Cold start of the local Go function") || !strings.Contains(out, "AWS_PROXY (local function) / HTTP_PROXY") {
			t.Errorf("no cold start or AWS_PROXY figures: %v", res.ColdStarts)
		}
		keys := []string{"raw", "bridge", "mock", "proxy", "lambda", "lambda-bridge", "plain", "mapped"}
		for _, f := range langFunctions {
			if _, err := bootstrap.Find(ctx, f.lang); err != nil {
				t.Logf("%s not measured here: %v", f.label, err)
				continue
			}
			keys = append(keys, f.key)
			if res.ColdStarts[f.key] <= 0 || !strings.Contains(out, "Round trips/s, "+f.label+" route") {
				t.Errorf("%s: no cold start (%v) or round-trip row", f.label, res.ColdStarts[f.key])
			}
		}
		for _, key := range keys {
			r := res.RTT[key]
			if r == nil || r.Rate <= 0 || r.P50 <= 0 || r.P99 < r.P50 || r.P999 < r.P99 || r.Bad != 0 || r.Errors != 0 {
				t.Errorf("round trips %s: %+v", key, r)
			}
		}
		for _, key := range []string{"lambda", "lambda-bridge"} {
			if r := res.RTT[key]; r != nil && r.BackendCPU <= 0 {
				t.Errorf("%s: the function processes' CPU was not measured: %+v", key, r)
			}
		}
		if markdown {
			for _, want := range []string{"| Measurement |", "`switchboard-bench -conns 200", "GOMAXPROCS"} {
				if !strings.Contains(out, want) {
					t.Errorf("Markdown output lacks %q", want)
				}
			}
			continue
		}
		for _, key := range []string{"plain", "function", "bridge-plain", "bridge-connect"} {
			h := res.Handshakes[key]
			if h == nil || h.Rate <= 0 || h.P50 <= 0 || h.P999 < h.P50 || h.Errors != 0 {
				t.Errorf("handshakes %s: %+v", key, h)
			}
		}
		for _, key := range []string{"function", "bridge-connect"} {
			if h := res.Handshakes[key]; h != nil && (h.HelperCPUPerConn <= 0 || h.ClientCPUPerConn <= 0 || h.window != 500*time.Millisecond) {
				t.Errorf("handshakes %s: the function processes' or the load tool's CPU was not measured, or not over two turns of half the duration: %+v", key, h)
			}
		}
		for _, want := range []string{"Handshakes/s, $connect → local function vs no $connect",
			"Handshakes/s, raw Lambda bridge (gws + go1.x RPC): $connect → function vs none", "Switchboard's $connect ratio ÷ the bridge's"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks the handshake row %q", want)
			}
		}
		if !strings.Contains(out, "RSS per idle connection, 400 connections") {
			t.Errorf("output lacks the RSS rows")
		}
		for _, key := range []string{"raw", "switchboard"} {
			r := res.RSS[key]
			if r == nil || r.BaselineKiB <= 0 || len(r.Points) != 2 {
				t.Errorf("RSS %s: %+v", key, r)
				continue
			}
			for _, p := range r.Points {
				if p.KiBPerConn <= 0 || p.RSSKiB <= r.BaselineKiB {
					t.Errorf("RSS %s: %+v", key, p)
				}
			}
		}
		if m := res.Mgmt; m == nil || m.Rate <= 0 || m.P50 <= 0 || m.Delivered <= 0 || m.Conns != 4 {
			t.Errorf("@connections: %+v", m)
		}
		for _, key := range []string{"raw", "switchboard"} {
			if r := res.Broadcast[key]; r == nil || r.Conns != 200 || len(r.Rounds) != broadcastRounds || r.median() <= 0 {
				t.Errorf("broadcast %s: %+v", key, r)
			}
		}
		if !strings.Contains(out, "Broadcast to 200 connections") {
			t.Errorf("output lacks the broadcast rows")
		}
	}
}

// TestPeers runs the serverless-offline peer scenario at a tiny scale. It needs node, and serverless-offline
// already installed in the directory SWITCHBOARD_BENCH_PEER_CACHE names (the tool installs it there with
// npm on first use: switchboard-bench -only peers -peer-cache DIR); CI provides neither, so there it is
// skipped and says so.
func TestPeers(t *testing.T) {
	cache := os.Getenv("SWITCHBOARD_BENCH_PEER_CACHE")
	if _, err := exec.LookPath("node"); err != nil || cache == "" {
		t.Skip("needs node and SWITCHBOARD_BENCH_PEER_CACHE with serverless-offline installed")
	}
	if _, err := os.Stat(filepath.Join(cache, "node_modules", "serverless-offline", "package.json")); err != nil {
		t.Skipf("serverless-offline is not installed in %s: %v", cache, err)
	}
	exe := buildBench(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	args := []string{"-only", "rtt,peers", "-peer-cache", cache, "-clients", "2", "-duration", "300ms"}
	var stdout, stderr bytes.Buffer
	res, err := run(ctx, args, runEnv{Exe: exe, Stdout: &stdout, Stderr: &stderr, Command: "switchboard-bench"})
	if err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	for _, m := range peerModes {
		if r := res.RTT[m.key]; r == nil || r.Rate <= 0 || r.Bad != 0 || r.Errors != 0 || r.ServerCPU <= 0 {
			t.Errorf("%s: %+v", m.name, r)
		}
	}
	out := stdout.String()
	for _, want := range []string{"AWS_PROXY local Go function vs serverless-offline --useInProcess",
		"raw Lambda bridge (gws + go1.x RPC) vs serverless-offline --useInProcess", "ceiling of the Go route's ≥ 2.0× serverless-offline target"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks the peer row %q:\n%s", want, out)
		}
	}
}

// TestGatewayConfig checks that the configs the tool writes are valid Switchboard configs.
func TestGatewayConfig(t *testing.T) {
	var langs []langFunction
	for _, f := range langFunctions {
		f.dir = filepath.Join(t.TempDir(), "dir with: a space")
		if err := os.MkdirAll(f.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(f.dir, f.file), []byte(f.code), 0o644); err != nil {
			t.Fatal(err)
		}
		langs = append(langs, f)
	}
	for _, tc := range []struct {
		name, connect, target string
		langs                 []langFunction
		routes, functions     int
	}{
		{"no $connect", connectNone, "", nil, 5, 1},
		{"$connect to the backend", connectBackend, "integrations/connect", nil, 6, 1},
		{"$connect to the function", connectFunction, "integrations/fn", nil, 6, 1},
		{"Node.js and Python functions", connectNone, "", langs, 7, 3},
	} {
		f, err := configfile.Parse(filepath.Join(t.TempDir(), "bench.yaml"), []byte(gatewayConfig("127.0.0.1:8080", "/usr/local/bin/switchboard-bench", tc.connect, map[string]string{"A": "b: c"}, tc.langs)))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		api := f.Bundle.APIs[0]
		if len(api.Routes) != tc.routes || len(f.Bundle.Functions) != tc.functions {
			t.Errorf("%s: %d routes and %d functions, want %d and %d", tc.name, len(api.Routes), len(f.Bundle.Functions), tc.routes, tc.functions)
		}
		for _, fn := range f.Bundle.Functions[1:] {
			if fn.Handler != "echo.handler" || fn.CodeURI != langs[0].dir && fn.CodeURI != langs[1].dir || fn.Runtime == "" {
				t.Errorf("%s: function %+v", tc.name, fn)
			}
		}
		for _, r := range api.Routes {
			if r.RouteKey == "$connect" && r.Target != tc.target {
				t.Errorf("%s: $connect targets %q, want %q", tc.name, r.Target, tc.target)
			}
		}
	}
}

func TestMessage(t *testing.T) {
	for _, size := range []int{1, 30, 100, 1000} {
		m := message("proxy", size)
		if size >= 30 && len(m) != size {
			t.Errorf("message(%d) has %d bytes", size, len(m))
		}
		if !bytes.HasPrefix(m, []byte(`{"action":"proxy","data":"`)) || !bytes.HasSuffix(m, []byte(`"}`)) {
			t.Errorf("message(%d) = %s", size, m)
		}
	}
}

func TestConnectionURL(t *testing.T) {
	got := connectionURL("127.0.0.1:1", "L0SM9cOFvHcCIhw=")
	if want := "http://127.0.0.1:1/b/@connections/L0SM9cOFvHcCIhw%3D"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestSourceIPs(t *testing.T) {
	d := &wsDialer{}
	first := d.sourceIP().String()
	for range connsPerSourceIP - 1 {
		d.sourceIP()
	}
	if first != "127.0.0.2" || d.sourceIP().String() != "127.0.0.3" {
		t.Errorf("source addresses do not advance as expected")
	}
	d.dialed.Store(connsPerSourceIP * 250)
	if got := d.sourceIP().String(); got != "127.0.1.2" {
		t.Errorf("address 251 is %s", got)
	}
}

func TestCheckLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:0": true, "127.3.4.5:80": true, "0.0.0.0:0": false, "10.0.0.1:1": false, "[::1]:0": false, "localhost:0": false} {
		if err := checkLoopback(addr); (err == nil) != ok {
			t.Errorf("checkLoopback(%s) = %v", addr, err)
		}
	}
}

// The rows against the raw Lambda bridge: Switchboard ÷ bridge, bridge ÷ serverless-offline with the
// verdict on the 2× target, and the bridge's $connect ratio next to Switchboard's.
func TestLambdaBridgeRows(t *testing.T) {
	rtt := func(rate float64) *rttResult {
		return &rttResult{Rate: rate, P50: time.Millisecond, P99: 2 * time.Millisecond, P999: 3 * time.Millisecond, ServerCPU: 0.5, BackendCPU: 0.5}
	}
	hs := func(rate float64) *hsResult {
		return &hsResult{Rate: rate, ServerCPUPerConn: 100 * time.Microsecond, HelperCPUPerConn: 50 * time.Microsecond}
	}
	for _, tc := range []struct {
		name   string
		bridge float64
		want   []string
	}{
		{"bridge below 2×", 9000, []string{
			"| Round trips/s, Go function route vs the raw Lambda bridge (gws + go1.x RPC) | 9,000 | 6,000 | 0.67 |",
			"| Round trips/s, raw Lambda bridge (gws + go1.x RPC) vs serverless-offline --useInProcess (Node) | 5,000 | 9,000 | 1.80 |",
			"out of reach here: the bridge itself does 1.80×",
			"server CPU per round trip (node vs the bridge's + function processes') | 100 + 100 µs | 56 + 56 µs |",
		}},
		{"bridge at 2×", 10000, []string{"| 5,000 | 10,000 | 2.00 |", "within reach (the bridge does 2.00×)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := &results{Settings: &settings{Markdown: true}, RSS: map[string]*rssResult{}, Broadcast: map[string]*broadcastResult{},
				RTT:        map[string]*rttResult{"lambda": rtt(6000), "lambda-bridge": rtt(tc.bridge), "sls-inprocess": rtt(5000)},
				Handshakes: map[string]*hsResult{"plain": hs(4000), "function": hs(1800), "bridge-plain": hs(5000), "bridge-connect": hs(3000)}}
			var out strings.Builder
			if err := report(&out, res, "switchboard-bench"); err != nil {
				t.Fatal(err)
			}
			want := append(tc.want,
				"| Handshakes/s, raw Lambda bridge (gws + go1.x RPC): $connect → function vs none | 5,000 | 3,000 | 0.60 |",
				"| Switchboard's $connect ratio ÷ the bridge's | — | 0.75 (0.45 vs 0.60) |")
			for _, w := range want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
