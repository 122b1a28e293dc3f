package main

// WebSocket handshakes per second: with no $connect route, and with $connect routed to the local function,
// the two gateways side by side and measured in turns; then the raw Lambda bridge the same way.

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// hsResult is one handshake scenario's figures.
type hsResult struct {
	Count            int64         // handshakes completed in the measured window
	Rate             float64       // per second
	P50, P99, P999   time.Duration // time from dialling to the end of the handshake
	Errors           int64         // failed handshakes
	FirstErr         string        // the first failure, for the warning
	ServerCPU        float64       // CPU cores the gateway used during the measured window
	ServerCPUPerConn time.Duration // gateway CPU per handshake
	// HelperCPUPerConn is the CPU per handshake of the gateway's function processes (the $connect
	// function), ClientCPUPerConn that of this process, the load tool, which makes the handshakes.
	HelperCPUPerConn, ClientCPUPerConn time.Duration
	// AllCPU is the CPU every process serving the handshakes used during the measured window, in cores
	// (the processes the caller names — the node or nodes with their NATS servers, the backend — and the
	// load tool), AllCPUPerConn that per handshake: where the machine is what bounds the rate, two
	// turns' rates go as the inverse of their AllCPUPerConn. MachineCPU is the whole machine's busy CPU
	// in the window, in cores (/proc/stat): how near the machine was to its limit, and, less AllCPU,
	// what else ran on it meanwhile.
	AllCPU, MachineCPU float64
	AllCPUPerConn      time.Duration

	samples   []time.Duration // every latency measured, sorted, for merging rounds
	cpu       time.Duration   // gateway CPU time in the measured window
	helperCPU time.Duration   // the function processes' CPU time in the measured window
	clientCPU time.Duration   // the load tool's CPU time in the measured window
	allCPU    time.Duration   // every serving process's CPU time in the measured window (AllCPU)
	machCPU   time.Duration   // the machine's busy CPU time in the measured window
	window    time.Duration   // the measured window
}

// mergeHandshakes combines rounds of one measurement (interleaved with another's): counts, errors, CPU
// and windows add up, percentiles come from every round's samples.
func mergeHandshakes(rounds ...*hsResult) *hsResult {
	out := &hsResult{}
	for _, r := range rounds {
		out.Count += r.Count
		out.Errors += r.Errors
		if out.FirstErr == "" {
			out.FirstErr = r.FirstErr
		}
		out.samples = append(out.samples, r.samples...)
		out.cpu += r.cpu
		out.helperCPU += r.helperCPU
		out.clientCPU += r.clientCPU
		out.allCPU += r.allCPU
		out.machCPU += r.machCPU
		out.window += r.window
	}
	slices.Sort(out.samples)
	if out.window > 0 {
		out.Rate = float64(out.Count) / out.window.Seconds()
		out.ServerCPU = out.cpu.Seconds() / out.window.Seconds()
		out.AllCPU = out.allCPU.Seconds() / out.window.Seconds()
		out.MachineCPU = out.machCPU.Seconds() / out.window.Seconds()
	}
	out.P50, out.P99, out.P999 = percentile(out.samples, 0.50), percentile(out.samples, 0.99), percentile(out.samples, 0.999)
	if out.Count > 0 {
		out.ServerCPUPerConn = out.cpu / time.Duration(out.Count)
		out.HelperCPUPerConn = out.helperCPU / time.Duration(out.Count)
		out.ClientCPUPerConn = out.clientCPU / time.Duration(out.Count)
		out.AllCPUPerConn = out.allCPU / time.Duration(out.Count)
	}
	return out
}

// handshakeTurns is the order in which the connect scenario measures the two servers of a pair (two
// gateways, or two Lambda bridges), each turn for half of -duration: plain, function, function, plain.
// Both run side by side for the whole pair, so both rates come from the same machine, whatever else it
// is doing meanwhile, and a load that rises or falls steadily over the pair weighs on both alike.
var handshakeTurns = []int{0, 1, 1, 0}

// hsServer is one server of the connect scenario: where its figures go, how it is named in the progress
// lines, how it starts and where its clients connect.
type hsServer struct {
	key, name string
	start     func(context.Context) (*child, error)
	url       func(addr string) string
}

// handshakes measures the handshake rate of a gateway without a $connect route and of one whose $connect
// runs the local function, both started at once and measured in turns (handshakeTurns); then, the same
// way, of the raw Lambda bridge without and with its $connect invocation. Each figure merges its turns.
func (b *bench) handshakes(ctx context.Context) error {
	gateway := func(connect string) func(context.Context) (*child, error) {
		return func(ctx context.Context) (*child, error) { return b.startGateway(ctx, connect) }
	}
	bridge := func(connect bool) func(context.Context) (*child, error) {
		return func(ctx context.Context) (*child, error) { return b.startLambdaBridge(ctx, connect) }
	}
	err := b.handshakePair(ctx, [2]hsServer{
		{"plain", "handshakes, no $connect", gateway(connectNone), stageURL},
		{"function", "handshakes, $connect → local function", gateway(connectFunction), stageURL},
	})
	if ctx.Err() != nil {
		return err
	}
	return joinErr(err, b.handshakePair(ctx, [2]hsServer{
		{"bridge-plain", "handshakes, raw Lambda bridge, no $connect", bridge(false), bridgeURL},
		{"bridge-connect", "handshakes, raw Lambda bridge, $connect → function", bridge(true), bridgeURL},
	}))
}

// handshakePair starts both servers of scs and measures their handshakes in turns (handshakeTurns).
func (b *bench) handshakePair(ctx context.Context, scs [2]hsServer) error {
	var servers [2]*child
	defer func() {
		for _, c := range servers {
			if c != nil {
				_ = c.stop()
			}
		}
	}()
	for i, sc := range scs {
		c, err := sc.start(ctx)
		if err != nil {
			return err
		}
		servers[i] = c
	}
	turns := make([][]*hsResult, len(scs))
	for n, i := range handshakeTurns {
		sc := scs[i]
		r, err := b.measureHandshakesFor(ctx, fmt.Sprintf("%s (turn %d)", sc.name, n+1), sc.url(servers[i].addr), servers[i],
			&child{name: "functions", childrenOf: servers[i].pid()}, nil, b.s.Duration/2)
		if err != nil {
			return err
		}
		turns[i] = append(turns[i], r)
	}
	var errs error
	for i, sc := range scs {
		r := mergeHandshakes(turns[i]...)
		b.res.Handshakes[sc.key] = r
		logf(b.stderr, "%s, every turn: %.0f handshakes/s, p50 %v, p99 %v, p99.9 %v, server CPU %.2f cores, CPU per handshake: server %v, function processes %v, load tool %v, %d failed",
			sc.name, r.Rate, r.P50, r.P99, r.P999, r.ServerCPU, r.ServerCPUPerConn, r.HelperCPUPerConn, r.ClientCPUPerConn, r.Errors)
		err := servers[i].stop()
		servers[i] = nil
		errs = joinErr(errs, err)
	}
	return errs
}

// maxHandshakeErrors stops a handshake scenario that only fails.
const maxHandshakeErrors = 100

// measureHandshakes runs b.s.Clients workers that each open a WebSocket connection and close it again, in
// a closed loop, for the warm-up and the measured duration.
func (b *bench) measureHandshakes(ctx context.Context, name, url string, gw *child) (*hsResult, error) {
	return b.measureHandshakesFor(ctx, name, url, gw, nil, nil, b.s.Duration)
}

// measureHandshakesFor is measureHandshakes with a measured window of d, measuring the CPU of the
// gateway's helper processes too when helpers is not nil, the load tool's own, that of every process
// serving the handshakes when all is not nil (AllCPU: all's and the load tool's) and the machine's.
func (b *bench) measureHandshakesFor(ctx context.Context, name, url string, gw, helpers, all *child, d time.Duration) (*hsResult, error) {
	type workerResult struct {
		lat  []time.Duration
		errs int64
		err  error
	}
	// One handshake first, outside the measurement: it starts the $connect function's first process, whose
	// cold start (reported on its own) would otherwise eat a short window on a busy machine.
	warm, err := b.dialer.dial(ctx, url, 1024)
	if err != nil {
		return nil, fmt.Errorf("%s: the first handshake: %w", name, err)
	}
	_ = warm.Close()
	out := make([]workerResult, b.s.Clients)
	start := time.Now()
	from := start.Add(b.s.warmup())
	end := from.Add(d)
	var wg sync.WaitGroup
	for i := range out {
		wg.Go(func() {
			r := &out[i]
			for ctx.Err() == nil && r.errs < maxHandshakeErrors {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				c, err := b.dialer.dial(ctx, url, 1024)
				lat := time.Since(t0)
				if err != nil {
					r.errs++
					if r.err == nil {
						r.err = err
					}
					continue
				}
				_ = c.Close()
				if !t0.Before(from) && len(r.lat) < maxSamplesPerClient {
					r.lat = append(r.lat, lat)
				}
			}
		})
	}
	servers := []*child{gw, helpers, all}
	servers = slices.DeleteFunc(servers, func(c *child) bool { return c == nil })
	cpu0 := waitUntil(ctx, from, servers)
	client0, mach0 := selfCPU(), machineCPU()
	cpu1 := waitUntil(ctx, end, servers)
	client1, mach1 := selfCPU(), machineCPU()
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	res := &hsResult{ServerCPU: cores(cpu0[0], cpu1[0], d)}
	var lats []time.Duration
	for _, r := range out {
		lats = append(lats, r.lat...)
		res.Errors += r.errs
		if r.err != nil && res.FirstErr == "" {
			res.FirstErr = r.err.Error()
		}
	}
	slices.Sort(lats)
	res.Count = int64(len(lats))
	res.Rate = float64(len(lats)) / d.Seconds()
	res.P50, res.P99, res.P999 = percentile(lats, 0.50), percentile(lats, 0.99), percentile(lats, 0.999)
	res.samples, res.cpu, res.clientCPU, res.window = lats, cpu1[0]-cpu0[0], client1-client0, d
	res.machCPU, res.MachineCPU = mach1-mach0, cores(mach0, mach1, d)
	if helpers != nil {
		res.helperCPU = cpu1[1] - cpu0[1]
	}
	if all != nil {
		last := len(servers) - 1
		res.allCPU = cpu1[last] - cpu0[last] + res.clientCPU
		res.AllCPU = cores(0, res.allCPU, d)
	}
	if res.Count > 0 {
		res.ServerCPUPerConn = res.cpu / time.Duration(res.Count)
		res.HelperCPUPerConn = res.helperCPU / time.Duration(res.Count)
		res.ClientCPUPerConn = res.clientCPU / time.Duration(res.Count)
		res.AllCPUPerConn = res.allCPU / time.Duration(res.Count)
	}
	logf(b.stderr, "%s: %.0f handshakes/s, p50 %v, p99 %v, p99.9 %v, gateway CPU %.2f cores, every serving process %.2f cores (%v per handshake), machine busy %.2f cores, %d failed",
		name, res.Rate, res.P50, res.P99, res.P999, res.ServerCPU, res.AllCPU, res.AllCPUPerConn, res.MachineCPU, res.Errors)
	if res.Errors > 0 {
		b.res.warnf(b.stderr, "%s: %d handshakes failed, the first: %s", name, res.Errors, res.FirstErr)
	}
	if res.Count == 0 {
		return res, fmt.Errorf("%s: no handshake completed", name)
	}
	return res, nil
}

// machineCPU is the busy CPU time of the whole machine so far (procStatBusy of /proc/stat), or 0 where
// there is no /proc/stat.
func machineCPU() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	busy, _ := procStatBusy(string(data))
	return busy
}

// procStatBusy reads the busy time of every CPU together from /proc/stat's first line: user, nice,
// system, irq, softirq and steal (idle and iowait are not busy; guest time is in user already).
func procStatBusy(stat string) (time.Duration, bool) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, false
	}
	var busy int64
	for i, v := range f[1:9] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, false
		}
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return time.Duration(busy) * clockTick, true
}

// selfCPU is the CPU time this process (the load tool: its clients, timers and readers) has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
