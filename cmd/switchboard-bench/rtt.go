package main

// Round trips per second and latency, closed loop.

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// rttResult is one round-trip scenario's figures.
type rttResult struct {
	Count      int64         // round trips completed in the measured window
	Rate       float64       // per second
	P50, P99   time.Duration // latency
	P999       time.Duration // latency, 99.9th percentile
	Errors     int64         // clients that lost their connection
	Bad        int64         // replies that were not the expected one
	ServerCPU  float64       // CPU cores the server (echo or gateway) used during the measured window
	BackendCPU float64       // CPU cores the HTTP backend (HTTP_PROXY, bridge) or the function processes (AWS_PROXY) used
}

// maxSamplesPerClient bounds the latency samples one client keeps.
const maxSamplesPerClient = 4 << 20

// warmup is how long a throughput scenario runs before it is measured.
func (s *settings) warmup() time.Duration { return min(time.Second, s.Duration/4) }

func (b *bench) rttRaw(ctx context.Context) error {
	c, err := b.start(ctx, "echo")
	if err != nil {
		return err
	}
	msg := message("echo", b.s.MsgSize)
	r, err := b.measureRTT(ctx, "raw echo", "ws://"+c.addr+"/", msg, msg, c)
	if r != nil {
		b.res.RTT["raw"] = r
	}
	return joinErr(err, c.stop())
}

// rttBridge measures the raw proxy bridge in front of the same backend as HTTP_PROXY.
func (b *bench) rttBridge(ctx context.Context) error {
	if b.backend == nil {
		return fmt.Errorf("no backend")
	}
	c, err := b.start(ctx, "bridge", "-backend", "http://"+b.backend.addr+"/echo")
	if err != nil {
		return err
	}
	msg := message("proxy", b.s.MsgSize)
	r, err := b.measureRTT(ctx, "proxy bridge", "ws://"+c.addr+"/", msg, msg, c, b.backend)
	if r != nil {
		b.res.RTT["bridge"] = r
	}
	return joinErr(err, c.stop())
}

func (b *bench) rttGateway(ctx context.Context) error {
	c, err := b.startGateway(ctx, connectNone)
	if err != nil {
		return err
	}
	for _, route := range append([]string{"lambda"}, langKeys(b.langs)...) {
		cold, err := b.coldStart(ctx, stageURL(c.addr), route)
		if err != nil {
			return joinErr(err, c.stop())
		}
		b.res.ColdStarts[route] = cold
	}
	r, err := b.measureRTT(ctx, "Switchboard MOCK", stageURL(c.addr), message("mock", b.s.MsgSize), []byte(mockReply), c)
	if r != nil {
		b.res.RTT["mock"] = r
	}
	msg := message("proxy", b.s.MsgSize)
	r, err2 := b.measureRTT(ctx, "Switchboard HTTP_PROXY", stageURL(c.addr), msg, msg, c, b.backend)
	if r != nil {
		b.res.RTT["proxy"] = r
	}
	msg = message("lambda", b.s.MsgSize)
	r, err3 := b.measureRTT(ctx, "Switchboard AWS_PROXY (local function)", stageURL(c.addr), msg, msg, c, &child{name: "functions", childrenOf: c.pid()})
	if r != nil {
		b.res.RTT["lambda"] = r
	}
	errs := joinErr(joinErr(err, err2), err3)
	for _, f := range b.langs {
		msg = message(f.key, b.s.MsgSize)
		r, err := b.measureRTT(ctx, "Switchboard "+f.label, stageURL(c.addr), msg, msg, c, &child{name: "functions", childrenOf: c.pid()})
		if r != nil {
			b.res.RTT[f.key] = r
		}
		errs = joinErr(errs, err)
	}
	return joinErr(errs, c.stop())
}

// rttLambdaBridge measures the raw Lambda bridge with the lambda route's client and message: the same
// function binary, as many processes, driven the way Switchboard drives them, with nothing else around.
// The bridge's function processes are its children, counted like the route's.
func (b *bench) rttLambdaBridge(ctx context.Context) error {
	c, err := b.startLambdaBridge(ctx, false)
	if err != nil {
		return err
	}
	msg := message("lambda", b.s.MsgSize)
	r, err := b.measureRTT(ctx, "raw Lambda bridge (gws + go1.x RPC)", bridgeURL(c.addr), msg, msg, c, &child{name: "functions", childrenOf: c.pid()})
	if r != nil {
		b.res.RTT["lambda-bridge"] = r
	}
	return joinErr(err, c.stop())
}

// startLambdaBridge starts a raw Lambda bridge child running this binary as its function, with as many
// processes as the gateway's local function may run; with connect, it invokes the function at $connect.
// With -profile, it writes lambdabridge-N.pprof and lambdabridge-N.allocs.pprof there, and its function
// processes write theirs as the gateway's do.
func (b *bench) startLambdaBridge(ctx context.Context, connect bool) (*child, error) {
	b.bridges++
	prof, err := b.profileArgs(fmt.Sprintf("lambdabridge-%d", b.bridges))
	if err != nil {
		return nil, err
	}
	args := append([]string{"-function", b.env.Exe, "-procs", strconv.Itoa(functionConcurrency)}, prof...)
	if dir := b.functionEnv()[functionProfileEnv]; dir != "" {
		args = append(args, "-function-profile", dir)
	}
	if connect {
		args = append(args, "-connect")
	}
	return b.start(ctx, "lambdabridge", args...)
}

// bridgeURL is the WebSocket URL of a bridge or raw server.
func bridgeURL(addr string) string { return "ws://" + addr + "/" }

// mapping measures the cost of mapping templates and request validation: a MOCK route with a request
// template that reads the message and $context, a JSON Schema model chosen by the model selection
// expression and a response template ("mapped"), against a MOCK route with static templates ("plain"),
// on one gateway. The figure that matters is the gateway's CPU per message.
func (b *bench) mapping(ctx context.Context) error {
	c, err := b.startGateway(ctx, connectNone)
	if err != nil {
		return err
	}
	r, err := b.measureRTT(ctx, "Switchboard MOCK, static templates", stageURL(c.addr), message("plain", b.s.MsgSize), []byte(plainReply), c)
	if r != nil {
		b.res.RTT["plain"] = r
	}
	r, err2 := b.measureRTT(ctx, "Switchboard MOCK, templates + validation", stageURL(c.addr), message("mapped", b.s.MsgSize), []byte(mappedReply), c)
	if r != nil {
		b.res.RTT["mapped"] = r
	}
	return joinErr(joinErr(err, err2), c.stop())
}

// cpuPerMessage is the server's CPU time per round trip.
func (r *rttResult) cpuPerMessage() time.Duration {
	if r == nil || r.Rate <= 0 {
		return 0
	}
	return time.Duration(r.ServerCPU / r.Rate * float64(time.Second))
}

// langKeys are the routes of langs.
func langKeys(langs []langFunction) []string {
	keys := make([]string, len(langs))
	for i, f := range langs {
		keys[i] = f.key
	}
	return keys
}

// coldStart times the first message through the local function behind route of a fresh gateway.
func (b *bench) coldStart(ctx context.Context, url, route string) (time.Duration, error) {
	conns := make([]*websocket.Conn, 1)
	defer closeAll(conns)
	if _, err := b.dialer.dialMany(ctx, url, 4096, conns, 0, 1, 1); err != nil {
		return 0, fmt.Errorf("cold start: %w", err)
	}
	msg := message(route, b.s.MsgSize)
	t0 := time.Now()
	if err := roundTrip(conns[0], msg, msg, 30*time.Second); err != nil {
		return 0, fmt.Errorf("cold start of %s: %w", route, err)
	}
	d := time.Since(t0)
	logf(b.stderr, "%s: local function cold start: %v", route, d)
	return d, nil
}

// measureRTT runs b.s.Clients clients in a closed loop against url for the warm-up and then the measured
// duration. servers are the processes whose CPU time is reported.
func (b *bench) measureRTT(ctx context.Context, name, url string, msg, want []byte, servers ...*child) (*rttResult, error) {
	conns := make([]*websocket.Conn, b.s.Clients)
	defer closeAll(conns)
	if n, err := b.dialer.dialMany(ctx, url, 4096, conns, 0, len(conns), 16); err != nil {
		return nil, fmt.Errorf("%s: connecting clients (%d open): %w", name, n, err)
	}
	type clientResult struct {
		lat      []time.Duration
		bad      int64
		err      error
		firstBad error
	}
	out := make([]clientResult, len(conns))
	start := time.Now()
	from := start.Add(b.s.warmup())
	end := from.Add(b.s.Duration)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			r := &out[i]
			r.lat = make([]time.Duration, 0, 4096)
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				err := roundTrip(c, msg, want, 10*time.Second)
				lat := time.Since(t0)
				if err != nil {
					if !isBadReply(err) {
						r.err = err
						return
					}
					r.bad++
					if r.firstBad == nil {
						r.firstBad = err
					}
					continue
				}
				if !t0.Before(from) && len(r.lat) < maxSamplesPerClient {
					r.lat = append(r.lat, lat)
				}
			}
		})
	}
	cpu0 := waitUntil(ctx, from, servers)
	cpu1 := waitUntil(ctx, end, servers)
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	res := &rttResult{ServerCPU: cores(cpu0[0], cpu1[0], b.s.Duration)}
	for i := 1; i < len(servers); i++ {
		res.BackendCPU += cores(cpu0[i], cpu1[i], b.s.Duration)
	}
	var all []time.Duration
	for _, r := range out {
		all = append(all, r.lat...)
		res.Bad += r.bad
		if r.err != nil {
			res.Errors++
			if res.Errors == 1 {
				b.res.warnf(b.stderr, "%s: a client failed: %v", name, r.err)
			}
		}
		if r.firstBad != nil && res.Bad == r.bad {
			b.res.warnf(b.stderr, "%s: %v", name, r.firstBad)
		}
	}
	slices.Sort(all)
	res.Count = int64(len(all))
	res.Rate = float64(len(all)) / b.s.Duration.Seconds()
	res.P50, res.P99, res.P999 = percentile(all, 0.50), percentile(all, 0.99), percentile(all, 0.999)
	logf(b.stderr, "%s: %.0f round trips/s, p50 %v, p99 %v, p99.9 %v, server CPU %.2f cores, backend CPU %.2f cores, %d bad replies, %d failed clients",
		name, res.Rate, res.P50, res.P99, res.P999, res.ServerCPU, res.BackendCPU, res.Bad, res.Errors)
	if res.Count == 0 {
		return res, fmt.Errorf("%s: no round trip completed", name)
	}
	return res, nil
}

// waitUntil sleeps until t (or ctx is done) and returns the CPU time each server has used so far.
func waitUntil(ctx context.Context, t time.Time, servers []*child) []time.Duration {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
	cpu := make([]time.Duration, len(servers))
	for i, s := range servers {
		cpu[i] = s.cpu()
	}
	return cpu
}

// cores is the CPU used between two readings over d, in cores.
func cores(before, after, d time.Duration) float64 { return (after - before).Seconds() / d.Seconds() }

// percentile returns the q-quantile of sorted samples (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
