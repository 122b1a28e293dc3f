package main

// The cluster scenario: three gateway processes joined over embedded NATS. @connections POSTs to
// connections on node 2, sent to node 2 itself (local owner) and to node 1 (remote owner, one NATS
// request/reply each), first in a closed loop (each path at its own saturation), then both at once at
// one fixed rate (open loop, latency from each request's due time); handshakes per second of a clustered
// node against a single node with the same config (the difference is the connection record written to
// JetStream on every connect and deleted on every close); and one Broadcast to -conns connections spread
// over the three nodes. With -connect-work, the single and the clustered node's handshakes are measured
// again, in the same turns, with a $connect that does real work: the backend's /connect answers only
// after that time, as a $connect that writes to a store does. Beside them, the raw NATS cluster
// (rawnats.go), the least a gateway clustered over NATS does, is measured the same way: its POSTs at the
// same clients and fixed rate, its handshakes in turns with the single and the clustered node's, without
// and with a record sent to another process (one request per record, or batched) or appended to a stream.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-gw/switchboard/internal/loopbackport"
)

// clusterResult is the cluster scenario's figures.
type clusterResult struct {
	// postPaths are Switchboard's: POSTs to node 2's connections via node 2 (local) and via node 1 (remote).
	postPaths
	Clients                       int       // -clients: the closed loop's clients, the open loop's most in flight
	CPUs                          int       // the machine's, which the handshake ceilings share out
	ConnectSingle, ConnectCluster *hsResult // handshakes/s, one node alone / one node of the three
	// ConnectWork is -connect-work; ConnectSingleWork and ConnectClusterWork are the same two nodes'
	// handshakes with a $connect that takes that long (nil when 0).
	ConnectWork                           time.Duration
	ConnectSingleWork, ConnectClusterWork *hsResult
	// Raw is the raw NATS cluster's POSTs (the same clients, the same fixed rate); RawPlain, RawPeer,
	// RawPeerBatch and RawStream its handshakes without a record, with one held by another process (a
	// request each, or batched), and with one appended to a replicated stream (rawnats.go).
	Raw                                        *postPaths
	RawPlain, RawPeer, RawPeerBatch, RawStream *hsResult
	Broadcast                                  *broadcastResult
	BroadcastConns                             int
}

// postPaths are the figures of POSTs to one node's connections sent to that node (local) and to another
// (remote): each path's closed loop, then both at once at one fixed rate.
type postPaths struct {
	Local, Remote *postFigures // closed loop
	// FixedRate is the rate both open-loop runs offered (POSTs per second); LocalFixed and RemoteFixed
	// are their figures, latencies from each request's due time.
	FixedRate               float64
	LocalFixed, RemoteFixed *postFigures
}

// postFigures are one POST loop's figures.
type postFigures struct {
	Rate     float64
	P50, P99 time.Duration
	Other    map[int]int64
	Errors   int64
	// LagP50 and LagP99 are an open-loop run's waits from a POST's due time to its sending: every
	// in-flight slot busy (counted in P50 and P99) or the client's timer waking late (not counted).
	LagP50, LagP99 time.Duration
}

// defaultPostRateShare is the fixed rate of each path's open-loop POSTs, as a share of the remote path's
// closed-loop rate in the same run, when -post-rate does not set it. The two paths run at once, so the
// gateways take about a quarter of the remote path's capacity plus a tenth of the local one's: below
// saturation even when the machine's neighbours take some of it, where the latencies compare the paths
// rather than two queue depths. Half the remote rate each, on a machine at load average 15, was more
// than the cluster could answer, and the backlog grew for the whole run.
const defaultPostRateShare = 0.25

// openLoopSlots is how many POSTs each fixed-rate run may have in flight: far more than it needs at
// its rate (a few), so that a stall shows as the gateway's latency rather than as POSTs queued in the
// client, as it would with -clients slots (with 4, the remote path's own p50 filled them at the first
// hiccup).
const openLoopSlots = 256

// clusterSize is the number of gateway processes of the cluster scenario.
const clusterSize = 3

// handshakeRounds is how many turns the single node and the clustered node take at being measured.
const handshakeRounds = 2

func (b *bench) cluster(ctx context.Context) error {
	if b.backend == nil {
		return fmt.Errorf("no backend")
	}
	res := &clusterResult{CPUs: runtime.NumCPU()}
	b.res.Cluster = res
	// A single node and the cluster run side by side, with the same config, and their handshake rates are
	// measured in turns (single, cluster, single, cluster): both see the same machine, whatever else it
	// is doing meanwhile, and the ratio comes from one run.
	single, err := b.startGateway(ctx, connectBackend)
	if err != nil {
		return err
	}
	singleStopped := false
	defer func() {
		if !singleStopped {
			_ = single.stop()
		}
	}()
	nodes, err := b.startCluster(ctx)
	defer func() {
		for _, n := range nodes {
			if n != nil {
				_ = n.stop()
			}
		}
	}()
	if err != nil {
		return err
	}
	// The raw NATS cluster runs beside them from here to the POSTs' end (rawnats.go).
	raw, err := b.startRawNATS(ctx)
	defer func() { _ = stopAll(raw) }()
	if err != nil {
		return err
	}
	// In turns, each round: the single node, the clustered node, the raw cluster without a record, with a
	// record held by another process (a request each, then batched) and with one appended to the
	// replicated stream; then, with -connect-work, the single and the clustered node with a $connect
	// that takes that long.
	type turn struct {
		name, url       string
		gw, helper, all *child
		into            *[]*hsResult
	}
	var singles, clustered, rawPlain, rawPeer, rawPeerBatch, rawStream, singlesWork, clusteredWork []*hsResult
	// The clustered node's turns measure the other two nodes' CPU too: their NATS servers hold the
	// connection log's other replicas.
	// Each turn also measures every process serving its handshakes (all): the node or nodes with their
	// NATS servers and the backend, the load tool added by measureHandshakesFor.
	others := &child{name: "nodes 2 and 3", of: nodes[1:]}
	singleAll := &child{name: "the single node and the backend", of: []*child{single, b.backend}}
	clusterAll := &child{name: "the cluster and the backend", of: append(slices.Clone(nodes), b.backend)}
	rawAll := &child{name: "the raw cluster and the backend", of: append(slices.Clone(raw), b.backend)}
	turns := []turn{
		{"single node", stageURL(single.addr), single, nil, singleAll, &singles},
		{"node 1 of a cluster of 3", stageURL(nodes[0].addr), nodes[0], others, clusterAll, &clustered},
		{"raw NATS cluster, no record", rawNATSURL(raw[0].addr, ""), raw[0], nil, rawAll, &rawPlain},
		{"raw NATS cluster, a record held by node 2", rawNATSURL(raw[0].addr, recordPeer), raw[0], raw[1], rawAll, &rawPeer},
		{"raw NATS cluster, batched records held by node 2", rawNATSURL(raw[0].addr, recordPeerBatch), raw[0], raw[1], rawAll, &rawPeerBatch},
		{"raw NATS cluster, a record appended to the stream (R3)", rawNATSURL(raw[0].addr, recordStream), raw[0], nil, rawAll, &rawStream},
	}
	if w := b.s.ConnectWork; w > 0 {
		turns = append(turns,
			turn{fmt.Sprintf("single node, $connect taking %v", w), connectWorkURL(single.addr, w), single, nil, singleAll, &singlesWork},
			turn{fmt.Sprintf("node 1 of a cluster of 3, $connect taking %v", w), connectWorkURL(nodes[0].addr, w), nodes[0], others, clusterAll, &clusteredWork})
	}
	for round := range handshakeRounds {
		for _, t := range turns {
			r, err := b.measureHandshakesFor(ctx, fmt.Sprintf("handshakes, %s (round %d)", t.name, round+1), t.url, t.gw, t.helper, t.all, b.s.Duration)
			if err != nil {
				return err
			}
			*t.into = append(*t.into, r)
		}
	}
	res.ConnectSingle, res.ConnectCluster = mergeHandshakes(singles...), mergeHandshakes(clustered...)
	res.RawPlain, res.RawPeer, res.RawStream = mergeHandshakes(rawPlain...), mergeHandshakes(rawPeer...), mergeHandshakes(rawStream...)
	res.RawPeerBatch = mergeHandshakes(rawPeerBatch...)
	if res.ConnectWork = b.s.ConnectWork; res.ConnectWork > 0 {
		res.ConnectSingleWork, res.ConnectClusterWork = mergeHandshakes(singlesWork...), mergeHandshakes(clusteredWork...)
		logf(b.stderr, "handshakes with $connect taking %v: single node %.0f/s, p50 %v; clustered node %.0f/s, p50 %v",
			res.ConnectWork, res.ConnectSingleWork.Rate, res.ConnectSingleWork.P50, res.ConnectClusterWork.Rate, res.ConnectClusterWork.P50)
	}
	singleStopped = true
	if err := single.stop(); err != nil {
		return err
	}
	if err := b.measureClusterPosts(ctx, nodes, raw, res); err != nil {
		return err
	}
	if err := stopAll(raw); err != nil {
		return err
	}
	return b.measureClusterBroadcast(ctx, nodes, res)
}

// startRawNATS starts the processes of the raw NATS cluster at once (each waits for the others), with
// the backend's /connect as their $connect.
func (b *bench) startRawNATS(ctx context.Context) ([]*child, error) {
	addrs, err := loopbackport.Reserve(rawNATSNodes)
	if err != nil {
		return nil, err
	}
	b.configs++
	args := make([][]string, rawNATSNodes)
	for i := range args {
		routes := othersOf(addrs, i)
		args[i] = []string{"-node", strconv.Itoa(i + 1), "-cluster-listen", addrs[i], "-cluster-routes", strings.Join(routes, ","),
			"-cluster-store", filepath.Join(b.dir, fmt.Sprintf("raw-nats-%d-%d", b.configs, i+1)), "-backend", "http://" + b.backend.addr}
	}
	return b.startTogether(ctx, "rawnats", args)
}

// rawNATSURL is the WebSocket URL of a raw NATS cluster node, with a record of that kind ("": none).
func rawNATSURL(addr, record string) string {
	if record == "" {
		return "ws://" + addr + "/ws"
	}
	return "ws://" + addr + "/ws?record=" + record
}

// connectWorkURL is the bench stage's WebSocket URL on a gateway with ?work=d: the gateway passes a
// $connect request's query string on to its HTTP_PROXY integration, so the backend's /connect takes d
// before it answers. The same gateways serve both pairs of handshakes.
func connectWorkURL(addr string, d time.Duration) string {
	return stageURL(addr) + "?work=" + d.String()
}

// othersOf is addrs without its i-th: the routes of node i+1.
func othersOf(addrs []string, i int) []string {
	return append(slices.Clone(addrs[:i]), addrs[i+1:]...)
}

// stopAll stops the children that started and forgets them, so that a second call does nothing.
func stopAll(cs []*child) error {
	var err error
	for i, c := range cs {
		if c != nil {
			err = joinErr(err, c.stop())
			cs[i] = nil
		}
	}
	return err
}

// startCluster starts clusterSize gateway processes at once (JetStream needs a majority of them before
// any can join) with the backend $connect config, each printing its address once it sees every node.
func (b *bench) startCluster(ctx context.Context) ([]*child, error) {
	b.configs++
	path := filepath.Join(b.dir, fmt.Sprintf("gateway-%d.yaml", b.configs))
	if err := os.WriteFile(path, []byte(gatewayConfig(b.backend.addr, b.env.Exe, connectBackend, b.functionEnv(), nil)), 0o600); err != nil {
		return nil, err
	}
	addrs, err := loopbackport.Reserve(clusterSize)
	if err != nil {
		return nil, err
	}
	args := make([][]string, clusterSize)
	for i := range args {
		routes := othersOf(addrs, i)
		prof, err := b.profileArgs(fmt.Sprintf("gateway-%d-node-%d", b.configs, i+1))
		if err != nil {
			return nil, err
		}
		args[i] = append([]string{"-config", path, "-node", strconv.Itoa(i + 1), "-cluster-listen", addrs[i],
			"-cluster-routes", strings.Join(routes, ","), "-cluster-store", filepath.Join(b.dir, fmt.Sprintf("nats-%d-%d", b.configs, i+1)),
			"-cluster-size", strconv.Itoa(clusterSize)}, prof...)
	}
	return b.startTogether(ctx, "gateway", args)
}

// measureClusterPosts connects -clients clients to node 2 and measures POSTs to them through node 2 and
// through node 1 (measurePostPaths); then the raw NATS cluster's, the same way, at the same fixed rate.
func (b *bench) measureClusterPosts(ctx context.Context, nodes, raw []*child, res *clusterResult) error {
	_, before, err := b.connectionIDs(ctx, 0)
	if err != nil {
		return err
	}
	conns := make([]*websocket.Conn, b.s.Clients)
	var readers sync.WaitGroup
	defer readers.Wait()
	defer closeAll(conns)
	if n, err := b.dialer.dialMany(ctx, stageURL(nodes[1].addr), 4096, conns, 0, len(conns), 16); err != nil {
		return fmt.Errorf("connecting clients to node 2 (%d open): %w", n, err)
	}
	var delivered atomic.Int64
	countDeliveries(&readers, conns, &delivered)
	ids, _, err := b.connectionIDs(ctx, before)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return fmt.Errorf("the backend saw no connection ID of node 2's clients")
	}
	res.Clients = b.s.Clients
	if err := b.measurePostPaths(ctx, "cluster", nodes[1].addr, nodes[0].addr, ids, b.s.PostRate, &res.postPaths); err != nil {
		return err
	}
	logf(b.stderr, "cluster: %d messages delivered to node 2's clients", delivered.Load())
	// The raw NATS cluster at the same fixed rate, its node 2 owning the connections.
	res.Raw = &postPaths{}
	return b.measurePostPaths(ctx, "raw NATS cluster", raw[1].addr, raw[0].addr, []string{"2"}, res.FixedRate, res.Raw)
}

// measurePostPaths measures POSTs to ids through localAddr (their owner) and remoteAddr (another node):
// each path's closed loop of -clients, one after the other, then both at once at rate per second (0:
// defaultPostRateShare of the remote path's closed-loop rate).
func (b *bench) measurePostPaths(ctx context.Context, name, localAddr, remoteAddr string, ids []string, rate float64, res *postPaths) error {
	var err error
	if res.Local, err = b.postLoop(ctx, localAddr, ids); err != nil {
		return fmt.Errorf("%s: POSTs via the owner: %w", name, err)
	}
	if res.Remote, err = b.postLoop(ctx, remoteAddr, ids); err != nil {
		return fmt.Errorf("%s: POSTs via another node: %w", name, err)
	}
	logf(b.stderr, "%s @connections, closed loop of %d clients: local owner %.0f/s p50 %v p99 %v; remote owner %.0f/s p50 %v p99 %v",
		name, b.s.Clients, res.Local.Rate, res.Local.P50, res.Local.P99, res.Remote.Rate, res.Remote.P50, res.Remote.P99)
	res.FixedRate = rate
	if res.FixedRate == 0 {
		res.FixedRate = defaultPostRateShare * res.Remote.Rate
	}
	// Both paths at once, each at the fixed rate, the remote one's schedule half a period after the
	// local one's: whatever else the machine does meanwhile (a stall, a neighbour's build) hits both
	// alike, so the difference between their tails is the path's.
	start := time.Now().Add(10 * time.Millisecond)
	half := time.Duration(float64(time.Second) / res.FixedRate / 2)
	var lerr, rerr error
	var both sync.WaitGroup
	both.Go(func() { res.LocalFixed, lerr = b.postFixedRate(ctx, localAddr, ids, res.FixedRate, start) })
	both.Go(func() {
		res.RemoteFixed, rerr = b.postFixedRate(ctx, remoteAddr, ids, res.FixedRate, start.Add(half))
	})
	both.Wait()
	if lerr != nil {
		return fmt.Errorf("%s: POSTs via the owner at %.0f/s: %w", name, res.FixedRate, lerr)
	}
	if rerr != nil {
		return fmt.Errorf("%s: POSTs via another node at %.0f/s: %w", name, res.FixedRate, rerr)
	}
	logf(b.stderr, "%s @connections, fixed rate of %.0f/s to each path at once (open loop, up to %d in flight each): local owner p50 %v p99 %v; remote owner p50 %v p99 %v",
		name, res.FixedRate, openLoopSlots, res.LocalFixed.P50, res.LocalFixed.P99, res.RemoteFixed.P50, res.RemoteFixed.P99)
	return nil
}

// postFixedRate POSTs to ids through the gateway at addr at rate per second from start, for the
// warm-up and -duration, from up to openLoopSlots requests in flight (open loop: see openLoop).
func (b *bench) postFixedRate(ctx context.Context, addr string, ids []string, rate float64, start time.Time) (*postFigures, error) {
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: openLoopSlots, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	body := message("push", b.s.MsgSize)
	f := &postFigures{Other: map[int]int64{}}
	var mu sync.Mutex // guards f.Other and f.Errors
	do := func(ctx context.Context, i int) bool {
		status, err := post(ctx, client, connectionURL(addr, ids[i%len(ids)]), body)
		if err == nil && status == http.StatusOK {
			return true
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			f.Errors++
		} else {
			f.Other[status]++
		}
		return false
	}
	from := start.Add(b.s.warmup())
	res, err := openLoop(ctx, rate, start, from, from.Add(b.s.Duration), openLoopSlots, do)
	if err != nil {
		return nil, err
	}
	f.Rate = float64(len(res.Lat)) / b.s.Duration.Seconds()
	f.P50, f.P99 = percentile(res.Lat, 0.50), percentile(res.Lat, 0.99)
	f.LagP50, f.LagP99 = percentile(res.Lag, 0.50), percentile(res.Lag, 0.99)
	if len(res.Lat) == 0 {
		return f, fmt.Errorf("no POST answered 200 (other statuses %v, %d errors)", f.Other, f.Errors)
	}
	return f, nil
}

// postLoop POSTs to ids through the gateway at addr from -clients workers for the warm-up and -duration.
func (b *bench) postLoop(ctx context.Context, addr string, ids []string) (*postFigures, error) {
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: b.s.Clients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	body := message("push", b.s.MsgSize)
	from := time.Now().Add(b.s.warmup())
	end := from.Add(b.s.Duration)
	type worker struct {
		lat   []time.Duration
		other map[int]int64
		errs  int64
	}
	out := make([]worker, b.s.Clients)
	var wg sync.WaitGroup
	for w := range out {
		wg.Go(func() {
			r := &out[w]
			r.other = map[int]int64{}
			for k := 0; ctx.Err() == nil; k++ {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				status, err := post(ctx, client, connectionURL(addr, ids[(w+k)%len(ids)]), body)
				lat := time.Since(t0)
				switch {
				case err != nil:
					r.errs++
					time.Sleep(10 * time.Millisecond) // a dead gateway must not make this spin
				case status == http.StatusOK:
					if !t0.Before(from) && len(r.lat) < maxSamplesPerClient {
						r.lat = append(r.lat, lat)
					}
				default:
					r.other[status]++
				}
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	f := &postFigures{Other: map[int]int64{}}
	var lat []time.Duration
	for _, r := range out {
		lat = append(lat, r.lat...)
		f.Errors += r.errs
		for k, v := range r.other {
			f.Other[k] += v
		}
	}
	slices.Sort(lat)
	f.Rate = float64(len(lat)) / b.s.Duration.Seconds()
	f.P50, f.P99 = percentile(lat, 0.50), percentile(lat, 0.99)
	if len(lat) == 0 {
		return f, fmt.Errorf("no POST answered 200 (other statuses %v, %d errors)", f.Other, f.Errors)
	}
	return f, nil
}

// measureClusterBroadcast opens -conns connections spread over the nodes and times Broadcasts to the
// whole stage sent to node 1, which queues its own connections' copies and asks each other node, with one
// request, to queue its own.
func (b *bench) measureClusterBroadcast(ctx context.Context, nodes []*child, res *clusterResult) error {
	_, before, err := b.connectionIDs(ctx, 0)
	if err != nil {
		return err
	}
	n := b.s.Conns
	conns := make([]*websocket.Conn, n)
	var readers sync.WaitGroup
	defer readers.Wait()
	defer closeAll(conns)
	per := (n + len(nodes) - 1) / len(nodes)
	for i, node := range nodes {
		lo, hi := i*per, min((i+1)*per, n)
		if lo >= hi {
			break
		}
		if got, err := b.dialer.dialMany(ctx, stageURL(node.addr), idleBufSize, conns, lo, hi, 16); err != nil {
			return fmt.Errorf("connecting broadcast clients to node %d (%d open): %w", i+1, got, err)
		}
	}
	var delivered atomic.Int64
	countDeliveries(&readers, conns, &delivered)
	ids, _, err := b.connectionIDs(ctx, before)
	if err != nil {
		return err
	}
	if len(ids) != n {
		return fmt.Errorf("broadcast: the backend saw %d connection IDs for %d clients", len(ids), n)
	}
	body, _ := json.Marshal(map[string]any{"data": string(message("push", b.s.MsgSize))})
	client := &http.Client{Timeout: 120 * time.Second}
	r := &broadcastResult{Conns: n}
	postURL := "http://" + nodes[0].addr + "/" + benchAPIID + "/" + benchStage + "/@connections"
	for round := range broadcastWarmup + broadcastRounds {
		want := int64(n) * int64(round+1)
		start := time.Now()
		resp, err := client.Post(postURL, "application/json", bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("cluster broadcast round %d: %w", round, err)
		}
		reply, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("cluster broadcast round %d: %d %s", round, resp.StatusCode, reply)
		}
		deadline := start.Add(120 * time.Second)
		for delivered.Load() < want {
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("cluster broadcast round %d: %d of %d delivered after 120s (reply %s)", round, delivered.Load()-want+int64(n), n, reply)
			}
			time.Sleep(100 * time.Microsecond) // polling the counter; the figure's resolution
		}
		if round >= broadcastWarmup {
			r.Rounds = append(r.Rounds, time.Since(start))
		}
	}
	res.Broadcast, res.BroadcastConns = r, n
	logf(b.stderr, "cluster broadcast to %d connections over %d nodes: median %v", n, len(nodes), r.median())
	return nil
}
