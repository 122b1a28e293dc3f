package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-gw/switchboard/internal/cluster/natsbus"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
	"github.com/switchboard-gw/switchboard/internal/loopbackport"
)

// startRawNATSNodes starts the raw NATS cluster's nodes in this process, each behind an httptest server,
// with backend as their $connect backend.
func startRawNATSNodes(t *testing.T, backend string) ([rawNATSNodes]*rawNATSNode, [rawNATSNodes]*httptest.Server) {
	t.Helper()
	addrs, err := loopbackport.Reserve(rawNATSNodes)
	if err != nil {
		t.Fatal(err)
	}
	var nodes [rawNATSNodes]*rawNATSNode
	var errs [rawNATSNodes]error
	var wg sync.WaitGroup
	for i := range nodes {
		routes := othersOf(addrs, i)
		wg.Go(func() {
			nodes[i], errs[i] = newRawNATSNode(t.Context(), rawNATSOptions{node: i + 1, clusterListen: addrs[i],
				routes: routes, storeDir: filepath.Join(t.TempDir(), "js"), backend: backend})
		})
	}
	wg.Wait()
	var srvs [rawNATSNodes]*httptest.Server
	for i, n := range nodes {
		if errs[i] != nil {
			t.Fatalf("node %d: %v", i+1, errs[i])
		}
		t.Cleanup(n.close)
		srvs[i] = httptest.NewServer(n)
		t.Cleanup(srvs[i].Close)
	}
	return nodes, srvs
}

// TestRawNATS drives the raw NATS cluster with real clients: a POST to a connection of node 2 answered by
// node 2 alone (local) or forwarded over NATS by node 1 (remote); handshakes whose record node 2 holds,
// or the stream stores, while the connection is open, and whose removal follows the close; a refused
// $connect that leaves no record behind.
func TestRawNATS(t *testing.T) {
	var connectStatus atomic.Int32
	connectStatus.Store(http.StatusOK)
	var connects atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/connect" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		connects.Add(1)
		w.WriteHeader(int(connectStatus.Load()))
	}))
	defer backend.Close()
	nodes, srvs := startRawNATSNodes(t, backend.URL)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Second}

	t.Run("POSTs", func(t *testing.T) {
		for _, tc := range []struct {
			name       string
			via        int // index of the node the POST is sent to
			id         string
			wantStatus int
			wantFwd    int64 // POSTs node 2 answers for another node
		}{
			{name: "local: node 2 answers alone", via: 1, id: "2", wantStatus: http.StatusOK},
			{name: "remote: node 1 asks node 2", via: 0, id: "2", wantStatus: http.StatusOK, wantFwd: 1},
			{name: "remote: node 3 asks node 2", via: 2, id: "2", wantStatus: http.StatusOK, wantFwd: 1},
			{name: "an owner that is no node", via: 0, id: "4", wantStatus: http.StatusNotFound},
			{name: "not a number", via: 0, id: "x", wantStatus: http.StatusNotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := nodes[1].posts.Load()
				status, err := post(ctx, client, connectionURL(strings.TrimPrefix(srvs[tc.via].URL, "http://"), tc.id), []byte("hello"))
				if err != nil {
					t.Fatal(err)
				}
				if status != tc.wantStatus {
					t.Fatalf("status %d, want %d", status, tc.wantStatus)
				}
				if got := nodes[1].posts.Load() - before; got != tc.wantFwd {
					t.Errorf("node 2 answered %d forwarded POSTs, want %d", got, tc.wantFwd)
				}
			})
		}
	})

	stream, err := nodes[0].js.Stream(ctx, rawNATSStream)
	if err != nil {
		t.Fatal(err)
	}
	// stored is how many messages node 1's subject of the stream holds: records and removals.
	stored := func(t *testing.T) uint64 {
		t.Helper()
		info, err := stream.Info(ctx, jetstream.WithSubjectFilter(rawNATSStreamSubject(1)))
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Subjects[rawNATSStreamSubject(1)]
	}
	if info, err := stream.Info(ctx); err != nil || info.Config.Replicas != rawNATSNodes {
		t.Fatalf("stream: %v, %+v; want %d replicas", err, info, rawNATSNodes)
	}
	wsURL := "ws" + strings.TrimPrefix(srvs[0].URL, "http") + "/ws"
	poll := func(t *testing.T, what string, ok func() bool) {
		t.Helper()
		gatewaytest.Eventually(t, 10*time.Second, ok, "never: %s", what)
	}
	for _, tc := range []struct {
		name   string
		record string
		// held and appended: node 2's peer records and the stream's new messages once the connection is
		// open (checked at once: the record is written before the 101), then after its close (polled).
		heldOpen, heldClosed         int
		appendedOpen, appendedClosed uint64
	}{
		{name: "no record"},
		{name: "a record held by node 2", record: recordPeer, heldOpen: 1},
		{name: "a batched record held by node 2", record: recordPeerBatch, heldOpen: 1},
		{name: "a record in the stream", record: recordStream, appendedOpen: 1, appendedClosed: 2},
	} {
		t.Run("handshake with "+tc.name, func(t *testing.T) {
			connectsBefore, storedBefore := connects.Load(), stored(t)
			url := wsURL
			if tc.record != "" {
				url += "?record=" + tc.record
			}
			conn, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := nodes[1].held(); got != tc.heldOpen {
				t.Errorf("node 2 holds %d records once the connection is open, want %d", got, tc.heldOpen)
			}
			if got := stored(t) - storedBefore; got != tc.appendedOpen {
				t.Errorf("the stream has %d new messages once the connection is open, want %d", got, tc.appendedOpen)
			}
			if connects.Load() != connectsBefore+1 {
				t.Errorf("$connect called %d times, want 1", connects.Load()-connectsBefore)
			}
			_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
			_ = conn.Close()
			poll(t, fmt.Sprintf("node 2 holds %d records after the close", tc.heldClosed), func() bool { return nodes[1].held() == tc.heldClosed })
			poll(t, fmt.Sprintf("%d new messages in the stream after the close", tc.appendedClosed), func() bool { return stored(t)-storedBefore == tc.appendedClosed })
		})
	}
	for _, kind := range []string{recordPeer, recordPeerBatch} {
		t.Run("a refused $connect leaves no "+kind+" record", func(t *testing.T) {
			connectStatus.Store(http.StatusForbidden)
			defer connectStatus.Store(http.StatusOK)
			batches := nodes[1].batches.Load()
			conn, resp, err := websocket.DefaultDialer.DialContext(ctx, wsURL+"?record="+kind, nil)
			if err == nil {
				conn.Close()
				t.Fatal("upgraded after $connect answered 403")
			}
			if resp == nil || resp.StatusCode != http.StatusInternalServerError {
				t.Fatalf("handshake: %v, %+v; want 500", err, resp)
			}
			if kind == recordPeerBatch {
				// The record was held before its removal came: the holder saw both, in two batches or one.
				poll(t, "node 2 got the record and its removal", func() bool { return nodes[1].batches.Load() > batches })
			}
			poll(t, "node 2 holds no record", func() bool { return nodes[1].held() == 0 })
		})
	}
	// A client that leaves while its record is on its way: the record reaches node 2, but node 1 stops
	// waiting for the answer (the handshake's context ends) and refuses the handshake; the record must not
	// stay held for a connection that never opened.
	// Handshakes with batched records: the first one's record goes to node 2 at once, and node 2 holds it
	// unanswered (its lock taken here) while the others start and their records wait at node 1 for that
	// reply; then they go together, in one request. Node 2 counts the requests.
	t.Run("concurrent handshakes' batched records travel in fewer requests than handshakes", func(t *testing.T) {
		const handshakes = 8
		batches, entries := nodes[1].batches.Load(), nodes[1].batchEntries.Load()
		nodes[1].mu.Lock()
		locked := true
		defer func() {
			if locked {
				nodes[1].mu.Unlock()
			}
		}()
		type dialed struct {
			conn *websocket.Conn
			err  error
		}
		results := make(chan dialed, handshakes)
		dial := func() {
			conn, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL+"?record="+recordPeerBatch, nil)
			results <- dialed{conn, err}
		}
		go dial()
		poll(t, "the first record alone at node 2", func() bool {
			return nodes[1].batches.Load() == batches+1 && nodes[1].batchEntries.Load() == entries+1
		})
		for range handshakes - 1 {
			go dial()
		}
		poll(t, fmt.Sprintf("the other %d records waiting at node 1", handshakes-1), func() bool { return nodes[0].batch.waiting() == handshakes-1 })
		nodes[1].mu.Unlock()
		locked = false
		var conns []*websocket.Conn
		for range handshakes {
			d := <-results
			if d.err != nil {
				t.Errorf("handshake: %v", d.err)
				continue
			}
			conns = append(conns, d.conn)
		}
		if got := nodes[1].batches.Load() - batches; got != 2 {
			t.Errorf("node 2 got %d requests for %d handshakes' records, want 2 (the first record, then the others together)", got, handshakes)
		}
		if got := nodes[1].held(); got != len(conns) {
			t.Errorf("node 2 holds %d records with %d connections open", got, len(conns))
		}
		for _, c := range conns {
			_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
			_ = c.Close()
		}
		poll(t, "node 2 holds no record after the closes", func() bool { return nodes[1].held() == 0 })
		if got := nodes[1].batchFailures.Load(); got != 0 {
			t.Errorf("node 2 refused %d batches", got)
		}
	})
	for _, kind := range []string{recordPeer, recordPeerBatch} {
		t.Run("a "+kind+" record whose answer the handshake stopped waiting for leaves none", func(t *testing.T) {
			abandonRecord(ctx, t, nodes, kind, poll)
		})
	}
	t.Run("a batch that does not parse is refused with its reason", func(t *testing.T) {
		failures := nodes[1].batchFailures.Load()
		reply, err := nodes[0].bus.Request(ctx, 2, append([]byte{rawNATSBatch}, "r1\n\x05abc"...))
		if err != nil {
			t.Fatal(err)
		}
		if want := "batch entry 1 at byte 0: 5 bytes of data, 3 left"; string(reply) != want {
			t.Errorf("reply %q, want %q", reply, want)
		}
		if got := nodes[1].batchFailures.Load() - failures; got != 1 {
			t.Errorf("node 2 counted %d refused batches, want 1", got)
		}
		if got := nodes[1].held(); got != 0 {
			t.Errorf("node 2 holds %d records", got)
		}
	})
	t.Run("an unknown record kind", func(t *testing.T) {
		_, resp, err := websocket.DefaultDialer.DialContext(ctx, wsURL+"?record=disk", nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("handshake: %v, %+v; want 400", err, resp)
		}
	})
}

// abandonRecord opens a handshake with a record of kind to node 1 whose client leaves while node 2 holds
// the record but has not answered yet, and checks that node 2 holds no record once it has.
func abandonRecord(ctx context.Context, t *testing.T, nodes [rawNATSNodes]*rawNATSNode, kind string, poll func(*testing.T, string, func() bool)) {
	t.Helper()
	returned := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(returned)
		nodes[0].ServeHTTP(w, r)
	}))
	defer srv.Close()
	received, err := nodes[1].sub.Delivered()
	if err != nil {
		t.Fatal(err)
	}
	nodes[1].mu.Lock() // node 2 takes the record off the wire, then waits here to hold it
	locked := true
	defer func() {
		if locked {
			nodes[1].mu.Unlock()
		}
	}()
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(c, "GET /ws?record=%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", kind); err != nil {
		t.Fatal(err)
	}
	poll(t, "the record reached node 2", func() bool { n, _ := nodes[1].sub.Delivered(); return n > received })
	_ = c.Close()
	select {
	case <-returned:
	case <-ctx.Done():
		t.Fatal("node 1's handshake did not end when its client left")
	}
	answered := nodes[1].nc.Stats().OutMsgs
	nodes[1].mu.Unlock()
	locked = false
	poll(t, "node 2 held the record and answered", func() bool { return nodes[1].nc.Stats().OutMsgs > answered })
	poll(t, "node 2 holds no record", func() bool { return nodes[1].held() == 0 })
}

// TestRawNATSOptions checks the raw cluster's refusals of bad options.
func TestRawNATSOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts rawNATSOptions
		want string
	}{
		{"node 0", rawNATSOptions{node: 0, clusterListen: "127.0.0.1:1", storeDir: "x"}, "-node must be 1 to 3"},
		{"node 4", rawNATSOptions{node: 4, clusterListen: "127.0.0.1:1", storeDir: "x"}, "-node must be 1 to 3"},
		{"not loopback", rawNATSOptions{node: 1, clusterListen: "10.0.0.1:4248", storeDir: "x"}, "only 127.0.0.0/8"},
		{"no port", rawNATSOptions{node: 1, clusterListen: "127.0.0.1", storeDir: "x"}, "-cluster-listen"},
		{"no store", rawNATSOptions{node: 1, clusterListen: "127.0.0.1:1"}, "-cluster-store is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newRawNATSNode(t.Context(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

// TestRawNATSRows checks the raw cluster's report rows and the ceilings they put on the cluster's targets,
// on a machine of two cores. A handshake's CPU is the node's (and the record holder's) plus the load
// tool's; hs gives each figure in microseconds.
func TestRawNATSRows(t *testing.T) {
	posts := func(rate float64, p99 time.Duration) *postFigures {
		return &postFigures{Rate: rate, P50: time.Millisecond / 2, P99: p99, Other: map[int]int64{}}
	}
	hs := func(rate float64, node, holder, client int) *hsResult {
		return &hsResult{Rate: rate, P50: time.Millisecond, P99: 2 * time.Millisecond, ServerCPUPerConn: time.Duration(node) * time.Microsecond,
			HelperCPUPerConn: time.Duration(holder) * time.Microsecond, ClientCPUPerConn: time.Duration(client) * time.Microsecond}
	}
	for _, tc := range []struct {
		name                               string
		remoteP99                          time.Duration // the raw cluster's remote p99 in both regimes; its local one is 2 ms
		single, plain, peer, batch, stream *hsResult
		want, not                          []string
	}{
		// The single node uses the whole machine: 2 cores ÷ (300 + 200 µs) = 4,000 handshakes/s.
		{"both out of reach", 3500 * time.Microsecond, hs(4000, 300, 0, 200), hs(4000, 200, 0, 200), hs(2000, 300, 150, 200), hs(3000, 250, 30, 200), hs(1000, 700, 0, 200), []string{
			"| Raw NATS cluster (one NATS request/reply to another process, nothing else), closed loop of the same clients: POSTs/s local / remote | 20,000 | 8,000 | 0.40 |",
			"| ceiling of the remote p99 ≤ local + 1 ms target on this machine (closed loop of the same clients) | — | out of reach here: the raw cluster's own remote p99 is +1.50 ms above its local one |",
			"the same fixed rate of 1,500/s to each path, both at once) | — | out of reach here",
			"| Raw NATS cluster: handshakes/s, no record / a record held by another process (one core NATS request) before the upgrade ($connect → backend in both, the record sent alongside) | 4,000 | 2,000 | 0.50 |",
			"| Raw NATS cluster: handshakes/s, no record / a record appended to a JetStream stream of 3 replicas before the upgrade (one append per handshake, alongside $connect) | 4,000 | 1,000 | 0.25 |",
			// A peer's record: 300 + 150 − 200 = 250 µs more CPU; 2 cores ÷ 750 µs = 2,667/s of 4,000.
			"any design (the single node's CPU per handshake plus the least a record adds to it: a peer's, on 2 cores) | — | out of reach here: at most 0.67 |",
			// The stream's: 500 µs more, 2 ÷ 1,000 µs = 2,000/s.
			"(records in the cluster store, unbatched; its replicas' CPU not counted) | — | 0.50 |",
			"| Raw NATS cluster: handshakes/s, no record / a record held by another process, batched (the records that arrive while a request is in flight go together in the next one, each handshake waiting for the reply that covers its own) before the upgrade ($connect → backend in both, the record sent alongside) | 4,000 | 3,000 | 0.75 |",
			"| node CPU per handshake + the holder's | 200 µs | 250 µs + 30 µs |",
			"| ceiling from the raw cluster's cheapest record (batched peer): its ratio (a bound only for a handshake as short as the raw node's) | — | 0.75 |",
			// 1 ÷ 3,000 − 1 ÷ 4,000 = 83 µs of the closed loop's time per handshake (333 µs of one of 4
			// clients'); the single node's 4,000/s become 1 ÷ (1 ÷ 4,000 + 83 µs) = 3,000/s.
			"the time the batched record adds to the raw node's (0.33 ms per handshake with 4 clients), as the single node's rate allows | — | out of reach here: at most 0.75 |",
			// 250 + 30 − 200 = 80 µs more CPU: 2 cores ÷ 580 µs = 3,448/s of 4,000.
			"with the batched peer record's CPU, node and holder, on 2 cores | — | within reach (0.86) |",
		}, nil},
		// The single node is bound by its latency (2,000/s where its CPU allows 4,000): the CPU a record
		// adds fits in what is left.
		{"both within reach", 2500 * time.Microsecond, hs(2000, 300, 0, 200), hs(4000, 200, 0, 200), hs(3000, 250, 50, 200), hs(3600, 220, 20, 200), hs(1000, 1200, 0, 200), []string{
			"(closed loop of the same clients) | — | within reach (the raw cluster's remote p99 is +0.50 ms above its local one) |",
			// 100 µs more: 2 ÷ 600 µs = 3,333/s, more than the single node's 2,000: no bound below 1.
			"a peer's, on 2 cores) | — | within reach (1.00) |",
			// 1,000 µs more: 2 ÷ 1,500 µs = 1,333/s of 2,000.
			"its replicas' CPU not counted) | — | 0.67 |",
			"its ratio (a bound only for a handshake as short as the raw node's) | — | 0.90 |",
			// 1 ÷ 3,600 − 1 ÷ 4,000 = 28 µs: 1 ÷ (1 ÷ 2,000 + 28 µs) = 1,895/s of 2,000.
			"(0.11 ms per handshake with 4 clients), as the single node's rate allows | — | within reach (0.95) |",
			"node and holder, on 2 cores | — | within reach (1.00) |",
			// The same two nodes with a $connect that works.
			"| Cluster of 3: handshakes/s, single node / clustered node, $connect → backend taking 2ms before it answers (a store write, as a DynamoDB PutItem) | 1,000 | 900 | 0.90 |",
			"| p50 / p99 handshake time, single / clustered ($connect taking 2ms) | 1.00 ms / 2.00 ms | 1.00 ms / 2.00 ms |",
			"| gateway CPU per handshake, single / clustered ($connect taking 2ms) | 310 µs | 420 µs |",
		}, nil},
		// Few clients: the raw node's $connect takes 2 ms and its record 5 ms alongside, so its rate falls
		// from 2,000 to 800/s (4 clients); the single node's $connect takes 10 ms (400/s), long enough to
		// hide the same record entirely. The time the raw node loses per handshake is latency a design can
		// overlap, not a cost every design pays: only CPU is, and 100 µs more per handshake is far from
		// what two cores give.
		{"latency-bound: a record hidden behind a longer $connect", 2 * time.Millisecond, hs(400, 300, 0, 100), hs(2000, 200, 0, 100), hs(800, 250, 50, 100), hs(1000, 230, 20, 100), hs(800, 300, 0, 100),
			[]string{"a peer's, on 2 cores) | — | within reach (1.00) |", "its replicas' CPU not counted) | — | 1.00 |",
				// The batched record halves the raw node's rate (0.50), but the 500 µs it adds per handshake
				// (2 ms of one of 4 clients') weigh less on the single node's longer one: 1 ÷ (1 ÷ 400 +
				// 500 µs) = 333/s of 400.
				"its ratio (a bound only for a handshake as short as the raw node's) | — | 0.50 |",
				"(2.00 ms per handshake with 4 clients), as the single node's rate allows | — | within reach (0.83) |"},
			[]string{"out of reach here: at most"}},
		{"a record that costs nothing", 2 * time.Millisecond, hs(2000, 300, 0, 200), hs(3000, 200, 0, 200), hs(3100, 150, 40, 200), hs(3100, 150, 20, 200), hs(3000, 190, 0, 200),
			[]string{"as the single node's rate allows | — | within reach (1.00) |", "a peer's, on 2 cores) | — | within reach (1.00) |", "unbatched; its replicas' CPU not counted) | — | 1.00 |"}, nil},
		// A run too short for the CPU clocks to tick: no ceiling is drawn from nothing.
		{"no CPU measured", 2 * time.Millisecond, hs(2000, 0, 0, 0), hs(3000, 0, 0, 0), hs(1000, 0, 0, 0), hs(1000, 0, 0, 0), hs(1000, 0, 0, 0),
			[]string{"a peer's, on 2 cores) | — | not measured (no CPU time recorded for the single node) |",
				"with the batched peer record's CPU, node and holder, on 2 cores | — | not measured (no CPU time recorded for the single node) |"},
			[]string{"a peer's, on 2 cores) | — | within", "a peer's, on 2 cores) | — | out of reach here: at most"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &clusterResult{
				postPaths:     postPaths{Local: posts(20000, 2*time.Millisecond), Remote: posts(8000, 3*time.Millisecond), FixedRate: 1500, LocalFixed: posts(1500, 2*time.Millisecond), RemoteFixed: posts(1500, 3*time.Millisecond)},
				Raw:           &postPaths{Local: posts(20000, 2*time.Millisecond), Remote: posts(8000, tc.remoteP99), FixedRate: 1500, LocalFixed: posts(1500, 2*time.Millisecond), RemoteFixed: posts(1500, tc.remoteP99)},
				Clients:       4,
				CPUs:          2,
				ConnectSingle: tc.single, ConnectCluster: hs(tc.single.Rate/2, 400, 0, 200),
				RawPlain: tc.plain, RawPeer: tc.peer, RawPeerBatch: tc.batch, RawStream: tc.stream,
			}
			if tc.name == "both within reach" {
				c.ConnectWork, c.ConnectSingleWork, c.ConnectClusterWork = 2*time.Millisecond, hs(1000, 310, 0, 200), hs(900, 420, 0, 200)
			}
			out := clusterReport(t, c)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Errorf("output has %q:\n%s", n, out)
				}
			}
		})
	}
}

// TestRawNATSConnectionIsSwitchboards checks that each raw node's in-process NATS connection is set up
// as a Switchboard node's (natsbus.Connect) and that its requests take a Switchboard node's path
// (natsbus.Bus): a raw cluster whose every flush or request costs more than the gateway's (nats.go's
// default write deadline on the in-process pipe makes two timers per flush; its request mux was slower
// on the remote path) would measure a ceiling below what the gateway itself can reach.
func TestRawNATSConnectionIsSwitchboards(t *testing.T) {
	nodes, _ := startRawNATSNodes(t, "")
	gw, err := natsbus.Connect(natsbus.ClientConfig{Name: "reference", Embedded: nodes[0].ns})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	// The raw nodes' requests to one another take a Switchboard node's request path (natsbus.Bus, its
	// own reply inbox), not nats.go's request mux, whose one reply callback takes the connection's lock
	// and which the bus replaced for being slower on the remote path: a bus on this connection reaches
	// node 2 on the bus's subject, with the raw nodes' own requests.
	bus, err := natsbus.Attach(t.Context(), gw, 99, func(context.Context, []byte) ([]byte, error) { return nil, nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bus.Detach() }()
	before := nodes[1].posts.Load()
	if _, err := bus.Request(t.Context(), 2, rawNATSRequest(rawNATSPost, "", []byte("hello"))); err != nil {
		t.Fatalf("a Switchboard bus's request to raw node 2: %v", err)
	}
	if got := nodes[1].posts.Load() - before; got != 1 {
		t.Errorf("raw node 2 answered %d POSTs, want 1", got)
	}
	for i, n := range nodes {
		if got, want := n.nc.Opts.FlusherTimeout, gw.Opts.FlusherTimeout; got != want {
			t.Errorf("node %d: its NATS connection's write deadline is %v, a Switchboard node's %v", i+1, got, want)
		}
		if !n.nc.Opts.InProcessServer.(*server.Server).Running() {
			t.Errorf("node %d: its NATS connection is not in process", i+1)
		}
	}
}

// TestServerKinds checks that the server command's refusals name the kinds it serves, the raw NATS
// cluster's among them, and no other.
func TestServerKinds(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no kind", nil, "server: want a kind: echo, bridge, lambdabridge, backend, revproxy, fanout, rawnats or gateway"},
		{"a kind that is not one", []string{"natspair"}, `server: unknown kind "natspair" (want echo, bridge, lambdabridge, backend, revproxy, fanout, rawnats or gateway)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := serverMain(t.Context(), tc.args, strings.NewReader(""), io.Discard)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	// -node, -cluster-listen and -cluster-routes reach the raw NATS cluster: a bad one is its refusal.
	err := serverMain(t.Context(), []string{"rawnats", "-node", "4", "-cluster-listen", "127.0.0.1:1", "-cluster-store", t.TempDir()}, strings.NewReader(""), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "rawnats: -node must be 1 to 3, not 4") {
		t.Fatalf("err %v, want the raw NATS cluster's refusal of -node 4", err)
	}
}

// TestProcStatBusy checks the machine's busy time read from /proc/stat's first line.
func TestProcStatBusy(t *testing.T) {
	for _, tc := range []struct {
		name string
		stat string
		want time.Duration
		ok   bool
	}{
		// user 100, nice 20, system 30, idle 1000, iowait 50, irq 5, softirq 5, steal 40: 200 ticks busy.
		{"a kernel with guest fields", "cpu  100 20 30 1000 50 5 5 40 7 0\ncpu0 50 10 15 500 25 2 3 20 0 0\n", 2 * time.Second, true},
		{"eight fields exactly", "cpu 1 1 1 1 1 1 1 1\n", 6 * time.Second / 100, true},
		// 10^10 ticks: 1,157 CPU-days, what 96 cores half busy reach in 24 days of uptime. Ticks times
		// a second in nanoseconds does not fit in an int64 any more.
		{"a large machine up for weeks", "cpu 10000000000 0 0 0 0 0 0 0\n", 100_000_000 * time.Second, true},
		{"too few fields", "cpu 1 2 3 4 5 6 7\n", 0, false},
		{"not the total line", "cpu0 1 1 1 1 1 1 1 1\n", 0, false},
		{"not a number", "cpu 1 x 1 1 1 1 1 1\n", 0, false},
		{"empty", "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := procStatBusy(tc.stat)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("procStatBusy = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
	if _, err := os.Stat("/proc/stat"); err == nil {
		a := machineCPU()
		if a <= 0 {
			t.Fatalf("machineCPU on this machine = %v, want more than 0", a)
		}
	}
}

// TestMachineCPURows checks the rows drawn from the CPU of every process serving a turn's handshakes:
// the single and the clustered node's, the machine's busy cores, and the ceiling each raw record puts on
// the connect target on two cores (the single node's CPU per handshake plus what the record adds to
// the raw cluster's). hs gives a turn's rate, its serving processes' CPU per handshake in microseconds,
// and the cores they and the machine used.
func TestMachineCPURows(t *testing.T) {
	hs := func(rate float64, perConn int, all, machine float64) *hsResult {
		return &hsResult{Rate: rate, AllCPUPerConn: time.Duration(perConn) * time.Microsecond, AllCPU: all, MachineCPU: machine}
	}
	for _, tc := range []struct {
		name                                        string
		single, cluster, plain, peer, batch, stream *hsResult
		want                                        []string
		noCeiling                                   bool
		singleWork, clusterWork                     *hsResult // the pair with a $connect taking 2 ms
	}{
		// The single node keeps both cores busy at 4,000/s: 500 µs each. A peer's record adds 200 µs
		// (2 ÷ 700 µs = 2,857/s of 4,000), the batched one 100 µs (2 ÷ 600 µs: 0.83), the stream's 500.
		{"machine-bound, batched peer within reach", hs(4000, 500, 2, 2), hs(2000, 1000, 1.9, 2), hs(4000, 450, 1.8, 1.8), hs(2800, 650, 1.8, 1.8), hs(3200, 550, 1.76, 1.8), hs(1800, 950, 1.71, 1.8), []string{
			"| CPU per handshake of every process serving it (nodes with their NATS servers, backend, load tool), single / clustered | 500 µs | 1000 µs | 0.50 |",
			"| the machine's busy cores of 2, single / clustered turns | 2.00 (other work 0.00) | 2.00 (other work 0.10) |",
			"what each adds) | — | 0.71 (+200 µs) / 0.83 (+100 µs) / 0.50 (+500 µs): within reach |",
		}, false, nil, nil},
		{"every record out of reach", hs(4000, 500, 2, 2), hs(2000, 1000, 2, 2), hs(4000, 450, 1.8, 1.8), hs(2800, 650, 1.8, 1.8), hs(3000, 630, 1.76, 1.8), hs(1800, 950, 1.71, 1.8), []string{
			"0.71 (+200 µs) / 0.74 (+180 µs) / 0.50 (+500 µs): out of reach here for every record measured: at most 0.74 |",
		}, false, nil, nil},
		// The single node leaves the machine half idle (latency-bound): 2 ÷ (500 + 200 µs) = 2,857/s is
		// more than its 1,000/s, so no record's CPU bounds it.
		{"latency-bound single node", hs(1000, 500, 0.5, 0.6), hs(900, 700, 0.63, 0.7), hs(4000, 450, 1.8, 1.8), hs(2800, 650, 1.8, 1.8), hs(3200, 550, 1.76, 1.8), hs(1800, 950, 1.71, 1.8), []string{
			"| 500 µs | 700 µs | 0.71 |",
			"| 0.60 (other work 0.10) | 0.70 (other work 0.07) |",
			"1.00 (+200 µs) / 1.00 (+100 µs) / 1.00 (+500 µs): within reach |",
		}, false, nil, nil},
		// A record that costs less than no record (noise) adds nothing, never a negative.
		{"a record cheaper than none", hs(4000, 500, 2, 2), hs(3600, 550, 2, 2), hs(4000, 450, 1.8, 1.8), hs(4000, 440, 1.8, 1.8), hs(4000, 445, 1.8, 1.8), hs(4000, 460, 1.8, 1.8), []string{
			"1.00 (+0 µs) / 1.00 (+0 µs) / 0.98 (+10 µs): within reach |",
		}, false, nil, nil},
		{"no CPU measured", hs(4000, 0, 0, 0), hs(2000, 0, 0, 0), hs(4000, 0, 0, 0), nil, nil, nil, nil, true, nil, nil},
		// The pair with a $connect that works has rows of its own, named for it.
		{"a $connect taking 2 ms", hs(4000, 500, 2, 2), hs(2000, 1000, 1.9, 2), hs(4000, 450, 1.8, 1.8), hs(2800, 650, 1.8, 1.8), hs(3200, 550, 1.76, 1.8), hs(1800, 950, 1.71, 1.8), []string{
			"| CPU per handshake of every process serving it (nodes with their NATS servers, backend, load tool), single / clustered | 500 µs | 1000 µs | 0.50 |",
			"| CPU per handshake of every process serving it (nodes with their NATS servers, backend, load tool), single / clustered ($connect taking 2ms) | 600 µs | 660 µs | 0.91 |",
			"| the machine's busy cores of 2, single / clustered turns ($connect taking 2ms) | 1.50 (other work 0.30) | 1.40 (other work 0.00) |",
		}, false, hs(2000, 600, 1.2, 1.5), hs(1800, 660, 1.4, 1.4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &clusterResult{CPUs: 2, ConnectSingle: tc.single, ConnectCluster: tc.cluster, RawPlain: tc.plain, RawPeer: tc.peer, RawPeerBatch: tc.batch, RawStream: tc.stream}
			if tc.singleWork != nil {
				c.ConnectWork, c.ConnectSingleWork, c.ConnectClusterWork = 2*time.Millisecond, tc.singleWork, tc.clusterWork
			}
			out := clusterReport(t, c)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if got := strings.Contains(out, "ceiling on the CPU of every serving process"); got == tc.noCeiling {
				t.Errorf("the CPU ceiling drawn: %v, want %v:\n%s", got, !tc.noCeiling, out)
			}
		})
	}
}

// clusterReport is the markdown report of a run that measured the cluster scenario alone, with c's figures.
func clusterReport(t *testing.T, c *clusterResult) string {
	t.Helper()
	res := &results{Settings: &settings{Markdown: true}, RSS: map[string]*rssResult{}, Broadcast: map[string]*broadcastResult{},
		RTT: map[string]*rttResult{}, Handshakes: map[string]*hsResult{}, Cluster: c}
	var out strings.Builder
	if err := report(&out, res, "switchboard-bench"); err != nil {
		t.Fatal(err)
	}
	return out.String()
}
