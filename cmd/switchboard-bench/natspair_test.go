package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-gw/switchboard/internal/loopbackport"
)

// startNATSPairNodes starts both nodes of the raw NATS pair in this process, each behind an httptest
// server, with backend as their $connect backend.
func startNATSPairNodes(t *testing.T, backend string) ([2]*natsPairNode, [2]*httptest.Server) {
	t.Helper()
	addrs, err := loopbackport.Reserve(2)
	if err != nil {
		t.Fatal(err)
	}
	var nodes [2]*natsPairNode
	var errs [2]error
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() {
			nodes[i], errs[i] = newNATSPairNode(t.Context(), natsPairOptions{node: i + 1, clusterListen: addrs[i],
				routes: []string{addrs[1-i]}, backend: backend})
		})
	}
	wg.Wait()
	var srvs [2]*httptest.Server
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

// TestNATSPair drives the raw NATS pair with real clients: a POST to a connection of node 2 answered by
// node 2 alone (local) or forwarded over NATS by node 1 (remote); a handshake whose record node 2 holds
// while the connection is open; a refused $connect that leaves no record behind.
func TestNATSPair(t *testing.T) {
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
	nodes, srvs := startNATSPairNodes(t, backend.URL)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Second}

	t.Run("POSTs", func(t *testing.T) {
		for _, tc := range []struct {
			name       string
			via        int // node index the POST is sent to
			id         string
			wantStatus int
			wantFwd    int64 // POSTs node 2 answers for node 1
		}{
			{name: "local: node 2 answers alone", via: 1, id: "2", wantStatus: http.StatusOK},
			{name: "remote: node 1 asks node 2", via: 0, id: "2", wantStatus: http.StatusOK, wantFwd: 1},
			{name: "an owner that is no node", via: 0, id: "3", wantStatus: http.StatusNotFound},
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

	wsURL := "ws" + strings.TrimPrefix(srvs[0].URL, "http") + "/ws"
	waitHeld := func(t *testing.T, want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for nodes[1].held() != want {
			if time.Now().After(deadline) {
				t.Fatalf("node 2 holds %d records, want %d", nodes[1].held(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Run("handshake without a record", func(t *testing.T) {
		before := connects.Load()
		conn, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if nodes[1].held() != 0 {
			t.Errorf("node 2 holds %d records", nodes[1].held())
		}
		if connects.Load() != before+1 {
			t.Errorf("$connect called %d times, want 1", connects.Load()-before)
		}
	})
	t.Run("handshake with a record", func(t *testing.T) {
		conn, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL+"?record=1", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := nodes[1].held(); got != 1 { // held before the 101: no polling
			t.Fatalf("node 2 holds %d records once the connection is open, want 1", got)
		}
		_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		_ = conn.Close()
		waitHeld(t, 0)
	})
	t.Run("a refused $connect leaves no record", func(t *testing.T) {
		connectStatus.Store(http.StatusForbidden)
		defer connectStatus.Store(http.StatusOK)
		conn, resp, err := websocket.DefaultDialer.DialContext(ctx, wsURL+"?record=1", nil)
		if err == nil {
			conn.Close()
			t.Fatal("upgraded after $connect answered 403")
		}
		if resp == nil || resp.StatusCode != http.StatusInternalServerError {
			t.Fatalf("handshake: %v, %+v; want 500", err, resp)
		}
		waitHeld(t, 0)
	})
}

// TestNATSPairOptions checks the pair's refusals of bad options.
func TestNATSPairOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts natsPairOptions
		want string
	}{
		{"node 0", natsPairOptions{node: 0, clusterListen: "127.0.0.1:1"}, "-node must be 1 or 2"},
		{"node 3", natsPairOptions{node: 3, clusterListen: "127.0.0.1:1"}, "-node must be 1 or 2"},
		{"not loopback", natsPairOptions{node: 1, clusterListen: "10.0.0.1:4248"}, "only 127.0.0.0/8"},
		{"no port", natsPairOptions{node: 1, clusterListen: "127.0.0.1"}, "-cluster-listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newNATSPairNode(t.Context(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

// TestNATSPairRows checks the pair's report rows and the ceilings they put on the cluster's targets.
func TestNATSPairRows(t *testing.T) {
	posts := func(rate float64, p99 time.Duration) *postFigures {
		return &postFigures{Rate: rate, P50: time.Millisecond / 2, P99: p99, Other: map[int]int64{}}
	}
	hs := func(rate float64) *hsResult {
		return &hsResult{Rate: rate, P50: time.Millisecond, P99: 2 * time.Millisecond}
	}
	for _, tc := range []struct {
		name                  string
		remoteP99             time.Duration // the pair's remote p99 in both regimes; its local one is 2 ms
		single, plain, record float64
		want                  []string
	}{
		{"both out of reach", 3500 * time.Microsecond, 4000, 4000, 2000, []string{
			"| Raw NATS pair (one NATS request/reply to another process, nothing else), closed loop of the same clients: POSTs/s local / remote | 20,000 | 8,000 | 0.40 |",
			"| ceiling of the remote p99 ≤ local + 1 ms target on this machine (closed loop of the same clients) | — | out of reach here: the pair's own remote p99 is +1.50 ms above its local one |",
			"the same fixed rate of 1,500/s to each path, both at once) | — | out of reach here",
			"| Raw NATS pair: handshakes/s, no record / a record held by the other process before the upgrade ($connect → backend in both, the record sent alongside) | 4,000 | 2,000 | 0.50 |",
			// 1/4000 s per handshake alone, 1/2000 − 1/4000 more with a record: 0.5.
			"target on this machine (the single node plus the pair's least record cost) | — | out of reach here: at most 0.50 |",
		}},
		{"both within reach", 2500 * time.Microsecond, 2000, 4000, 3000, []string{
			"(closed loop of the same clients) | — | within reach (the pair's remote p99 is +0.50 ms above its local one) |",
			// 1/2000 alone, 1/3000 − 1/4000 = 1/12000 more: 6/7.
			"| — | within reach (0.86) |",
		}},
		{"a record that costs nothing", 2 * time.Millisecond, 2000, 3000, 3100, []string{"| — | within reach (1.00) |"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &clusterResult{
				postPaths:     postPaths{Local: posts(20000, 2*time.Millisecond), Remote: posts(8000, 3*time.Millisecond), FixedRate: 1500, LocalFixed: posts(1500, 2*time.Millisecond), RemoteFixed: posts(1500, 3*time.Millisecond)},
				Pair:          &postPaths{Local: posts(20000, 2*time.Millisecond), Remote: posts(8000, tc.remoteP99), FixedRate: 1500, LocalFixed: posts(1500, 2*time.Millisecond), RemoteFixed: posts(1500, tc.remoteP99)},
				Clients:       4,
				ConnectSingle: hs(tc.single), ConnectCluster: hs(tc.single / 2),
				PairPlain: hs(tc.plain), PairRecord: hs(tc.record),
			}
			res := &results{Settings: &settings{Markdown: true}, RSS: map[string]*rssResult{}, Broadcast: map[string]*broadcastResult{},
				RTT: map[string]*rttResult{}, Handshakes: map[string]*hsResult{}, Cluster: c}
			var out strings.Builder
			if err := report(&out, res, "switchboard-bench"); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
