package gateway_test

import (
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-gw/switchboard/internal/awsid"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// TestClusterDuplicateNodeID starts a fourth node with node 1's ID (and its own embedded server routed
// to the others): it never becomes a member and says why, and the three nodes keep serving each
// other's connections, node 1's included.
func TestClusterDuplicateNodeID(t *testing.T) {
	be := gatewaytest.NewBackend(t, nil)
	addrs := gatewaytest.ClusterAddrs(t, 4)
	cl := startClusterWith(t, be, clusterWith{addrs: addrs[:3]})
	nodes := cl.nodes
	clients, ids := cl.dialEach(t, nodes)
	dup := gatewaytest.Start(t, clusterAPI(be), func(o *gateway.Options) {
		o.Node = 1
		o.Cluster = gatewaytest.EmbeddedCluster(t, addrs, 3)
	})
	postEveryWay(t, nodes, clients, ids, "with a duplicate of node 1 around")
	for i, n := range nodes {
		if why := n.ClusterStatus(); why != "" || len(n.ClusterNodes()) != 3 {
			t.Errorf("node %d with a duplicate of node 1 around: status %q, members %v", i+1, why, n.ClusterNodes())
		}
	}
	// The duplicate must say why it is not a member; poll until it has had time to try.
	gatewaytest.Eventually(t, 20*time.Second, func() bool { return strings.Contains(dup.ClusterStatus(), "switchboard-node-1") }, "the duplicate node's status never names the taken ID: %q", dup.ClusterStatus())
	expectHandshake503(t, dup, "on the duplicate node")
	if got := disconnects(be); len(got) != 0 {
		t.Fatalf("$disconnect ran for live connections when a duplicate of node 1 started: %q", got)
	}
}

// TestClusterNATSDownAtStart starts a node whose external NATS does not answer yet: it runs, says so
// on /readyz, refuses handshakes with 503 and answers @connections to another node's connection with
// a 500 at once; when NATS comes up it joins without a restart.
func TestClusterNATSDownAtStart(t *testing.T) {
	ns := newNATS(t)
	be := gatewaytest.NewBackend(t, nil)
	cl := newCluster(t, be, clusterWith{nats: []string{ns.url(), ns.url()}, metrics: true, logs: true})
	t.Cleanup(func() {
		if t.Failed() { // it failed once in a fresh-clone run with nothing to say why
			t.Logf("node 1's log:\n%s\nnode 2's log:\n%s", cl.logs[0], cl.logs[1])
		}
	})
	g := cl.start(t, 0)
	if why := g.ClusterStatus(); !strings.Contains(why, "NATS") {
		t.Errorf("status with NATS down at start: %q, want it to name NATS", why)
	}
	expectNotReady(t, g, "with NATS down at start")
	expectHandshake503(t, g, "with NATS down at start")
	remote := awsid.NewConnectionID(2)
	if code, body := post(t, g.HTTPURL, remote, "x"); code != http.StatusInternalServerError || !strings.Contains(body, "message") {
		t.Errorf("POST to another node's connection with NATS down at start: %d %s, want an AWS-shaped 500", code, body)
	}

	ns.start(t, t.TempDir())
	gatewaytest.Eventually(t, 30*time.Second, func() bool { return g.ClusterStatus() == "" }, "the node did not join once NATS came up: %q", lazy(g.ClusterStatus))
	other := cl.start(t, 1)
	gatewaytest.Eventually(t, 30*time.Second, func() bool { return other.ClusterStatus() == "" && len(g.ClusterNodes()) == 2 }, "the second node did not join")
	c, id := cl.dial(t, other)
	postAndRead(t, g, id, c, "joined", "through the node that started without NATS")
}

// cutProxy forwards TCP connections from a loopback address to target until Cut, which closes every
// forwarded connection and the listener (a node cut off from NATS: dials are refused); Mend listens
// on the same address again. Its goroutines end with Cut and the test.
type cutProxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        []net.Conn
	wg           sync.WaitGroup
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	p := &cutProxy{addr: gatewaytest.ClusterAddrs(t, 1)[0], target: target}
	p.Mend(t)
	t.Cleanup(func() { p.Cut(); p.wg.Wait() })
	return p
}

// Mend listens again and forwards what it accepts.
func (p *cutProxy) Mend(t *testing.T) {
	t.Helper()
	var ln net.Listener
	gatewaytest.Eventually(t, 10*time.Second, func() bool {
		var err error
		ln, err = net.Listen("tcp", p.addr)
		return err == nil
	}, "listen on %s again", p.addr)
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			p.wg.Go(func() { _, _ = io.Copy(up, c); up.Close() })
			p.wg.Go(func() { _, _ = io.Copy(c, up); c.Close() })
		}
	})
}

// Cut closes the listener and every forwarded connection.
func (p *cutProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestClusterCutOffNodeComesBack: node 3 reaches NATS through a proxy that is cut, then mended. While
// cut, node 3 answers an AWS-shaped 500 for another node's connection; the others declare it dead,
// answer 410 for its connections and run their $disconnect once; node 3 closes its clients. When it
// is back it rejoins without a restart and does not bring its old connections back: GET and POST
// answer 410 for them on every node, and routing works both ways again.
func TestClusterCutOffNodeComesBack(t *testing.T) {
	ns := startNATS(t)
	proxy := newCutProxy(t, ns.addr)
	be := gatewaytest.NewBackend(t, nil)
	var lost []string
	expectOneDisconnect1006(t, be, &lost)
	cl := startClusterWith(t, be, clusterWith{nats: []string{ns.url(), ns.url(), "nats://" + proxy.addr}})
	nodes := cl.nodes
	var clients []*gatewaytest.Client
	clients, lost = cl.dialN(t, nodes[2], 2)
	keep, keepID := cl.dial(t, nodes[0])

	proxy.Cut()
	gatewaytest.Eventually(t, 10*time.Second, func() bool { return strings.Contains(nodes[2].ClusterStatus(), "NATS") }, "node 3 does not notice it is cut off")
	if code, body := post(t, nodes[2].HTTPURL, keepID, "unroutable"); code != http.StatusInternalServerError || !strings.Contains(body, `"message"`) {
		t.Errorf("POST through the cut-off node to another node's connection: %d %s, want an AWS-shaped 500", code, body)
	}
	waitGone(t, nodes[:2], lost, "while cut off", "POST to a cut-off node's connection never answered 410")
	for _, c := range clients {
		if code := c.ExpectClose(); code != 1001 {
			t.Errorf("a client of the cut-off node: close %d, want 1001", code)
		}
	}
	// Long past three heartbeats: node 3 knows nothing of the others, which does not make their
	// connections gone.
	for _, path := range []string{"POST", "GET"} {
		code, body := post(t, nodes[2].HTTPURL, keepID, "still unroutable")
		if path == "GET" {
			code, body = get(t, nodes[2].HTTPURL, keepID)
		}
		if code != http.StatusInternalServerError {
			t.Errorf("%s through the node cut off for seconds to another node's live connection: %d %s, want 500, not 410", path, code, body)
		}
	}

	proxy.Mend(t)
	cl.waitJoined(t, "node 3 did not rejoin, or a node does not see it")
	for j, n := range nodes {
		for _, id := range lost {
			if code, body := post(t, n.HTTPURL, id, "resurrected?"); code != http.StatusGone {
				t.Errorf("POST via node %d to a connection node 3 had before it was cut off: %d %s, want 410", j+1, code, body)
			}
			if code, body := get(t, n.HTTPURL, id); code != http.StatusGone {
				t.Errorf("GET via node %d of a connection node 3 had before it was cut off: %d %s, want 410", j+1, code, body)
			}
		}
	}
	postAndRead(t, nodes[2], keepID, keep, "back", "through node 3 after it rejoined")
	c, id := cl.dial(t, nodes[2])
	postAndRead(t, nodes[1], id, c, "new", "via node 2 to a connection made on node 3 after it rejoined")
}

// TestClusterGracefulLeaveUnderPosts stops node 3 as on SIGTERM while @connections POSTs to its
// connections keep arriving through nodes 1 and 2: each is answered 200 or 410 (never a 5xx, never a
// hang), and every message answered 200 reached its client before the close.
func TestClusterGracefulLeaveUnderPosts(t *testing.T) {
	cl := startClusterWith(t, gatewaytest.NewBackend(t, nil), clusterWith{})
	nodes := cl.nodes
	const conns = 4
	clients, ids := cl.dialN(t, nodes[2], conns)
	// Each client reads until its close, counting what it got.
	received := make([]map[string]bool, conns)
	var readers sync.WaitGroup
	for i, c := range clients {
		received[i] = map[string]bool{}
		readers.Go(func() {
			for {
				msg, err := c.TryRead(30 * time.Second)
				if err != nil {
					return
				}
				received[i][msg] = true
			}
		})
	}
	hc := &http.Client{Timeout: 15 * time.Second}
	stop := make(chan struct{})
	var mu sync.Mutex
	ok := make([]map[string]bool, conns)
	codes := map[int]int{}
	var posters sync.WaitGroup
	for i, id := range ids {
		ok[i] = map[string]bool{}
		for v, via := range nodes[:2] {
			posters.Go(func() {
				gone := 0
				for n := 0; gone < 3; n++ {
					select {
					case <-stop:
						return
					default:
					}
					body := fmt.Sprintf("via %d #%d", v+1, n)
					resp, err := hc.Post(via.HTTPURL+"/c/dev/@connections/"+strings.ReplaceAll(id, "=", "%3D"), "text/plain", strings.NewReader(body))
					if err != nil {
						t.Errorf("POST %s: %v", body, err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					mu.Lock()
					codes[resp.StatusCode]++
					if resp.StatusCode == http.StatusOK {
						ok[i][body] = true
					}
					mu.Unlock()
					switch resp.StatusCode {
					case http.StatusOK:
					case http.StatusGone:
						gone++
					default:
						t.Errorf("POST %s to a connection of the node leaving: %d, want 200 or 410", body, resp.StatusCode)
					}
				}
			})
		}
	}
	// Let some POSTs through before the leave.
	gatewaytest.Eventually(t, 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return codes[http.StatusOK] >= 20 }, "no POSTs answered 200")
	if err := nodes[2].Stop(); err != nil {
		t.Fatalf("stop node 3: %v", err)
	}
	done := make(chan struct{})
	go func() { posters.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		close(stop)
		<-done
		t.Fatal("POSTs to the connections of the node that left never all answered 410")
	}
	readers.Wait()
	t.Logf("answers: %v", codes)
	for i := range ids {
		for body := range ok[i] {
			if !received[i][body] {
				t.Errorf("connection %d: POST %q answered 200 but its client never got it before the close", i, body)
			}
		}
	}
}

// TestClusterStoreGoneWhileConnected: the NATS server stays up but its JetStream goes away (as when the
// servers holding the store's quorum are out of reach): the node, still connected, stops saying it is
// ready and names the cause and refuses handshakes with 503; the other node's heartbeats fail alike, so
// it keeps it as a member (never 410 for its connection) and still routes a POST to it over NATS; past
// twice the TTL node 2 takes itself for cut off and closes its connection with 1001.
func TestClusterStoreGoneWhileConnected(t *testing.T) {
	ns := startNATS(t)
	cl := startClusterWith(t, gatewaytest.NewBackend(t, nil), clusterWith{nats: []string{ns.url(), ns.url()}})
	nodes := cl.nodes
	client, id := cl.dial(t, nodes[1])
	if err := ns.s.DisableJetStream(); err != nil {
		t.Fatal(err)
	}
	gatewaytest.Eventually(t, 15*time.Second, func() bool { return strings.Contains(nodes[0].ClusterStatus(), "heartbeat") },
		"node 1 still says %q with the store gone", nodes[0].ClusterStatus())
	if !nodes[0].NATS().IsConnected() {
		t.Fatal("node 1 lost its NATS connection: the test no longer tries a store gone behind a live connection")
	}
	expectHandshake503(t, nodes[0], "with the store gone")
	// Node 2's heartbeats fail too: its silence cannot be told from the store's, so node 1 neither
	// declares it dead nor answers 410 for its connection, and the POST still reaches it over NATS.
	if got := len(nodes[0].ClusterNodes()); got != 2 {
		t.Errorf("node 1 lists %d nodes with the store gone, want 2: it cannot tell node 2 is gone", got)
	}
	if code, body := post(t, nodes[0].HTTPURL, id, "x"); code != http.StatusOK {
		t.Errorf("POST to node 2's connection with the store gone: %d %s, want 200 (routed over NATS)", code, body)
	} else if got := client.Read(); got != "x" {
		t.Errorf("node 2's client read %q, want x", got)
	}
	// Past twice the TTL with the store still silent, a node cannot tell a stall from being cut off from
	// the store's quorum (where the others have declared it dead and run its $disconnects): node 2 gives
	// its connection up with 1001.
	if code := client.ExpectClose(); code != websocket.StatusGoingAway {
		t.Errorf("node 2's client closed with %d, want 1001", code)
	}
}

// streamReplicas is each cluster stream's replica count, read through nc.
func streamReplicas(t *testing.T, nc *nats.Conn) map[string]int {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, name := range []string{"KV_switchboard_members", "switchboard_connlog", "KV_switchboard_catalog", "KV_switchboard_usage"} {
		s, err := js.Stream(t.Context(), name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		out[name] = s.CachedInfo().Config.Replicas
	}
	return out
}

// TestClusterRestartKeepsReplicas: three embedded nodes keep every cluster stream, the shared catalog's
// and the usage counts' included, on three replicas, and still do after node 3 restarts as in a rolling
// upgrade. A node counts the NATS servers it knows to choose replicas, and one whose embedded server has
// no routes yet knows only itself: the catalog and usage buckets were made then, with one replica.
func TestClusterRestartKeepsReplicas(t *testing.T) {
	cl := startClusterWith(t, gatewaytest.NewBackend(t, nil), clusterWith{})
	want := map[string]int{"KV_switchboard_members": 3, "switchboard_connlog": 3, "KV_switchboard_catalog": 3, "KV_switchboard_usage": 3}
	gatewaytest.Eventually(t, 30*time.Second, func() bool { return maps.Equal(streamReplicas(t, cl.nodes[0].NATS()), want) },
		"the streams do not have three replicas once three nodes run: %v", streamReplicas(t, cl.nodes[0].NATS()))
	cl.restart(t, 2)
	cl.waitJoined(t, "node 3 did not rejoin")
	if got := streamReplicas(t, cl.nodes[0].NATS()); !maps.Equal(got, want) {
		t.Fatalf("replicas after node 3 restarted: %v, want %v", got, want)
	}
}

// TestClusterDuplicateNodeIDOnExternalNATS starts a third node with node 1's ID on the same external
// NATS: it waits, not ready, and answers nothing meant for node 1 — every @connections call to node 1's
// connection, through either node, reaches node 1 and answers 200. The waiting node once subscribed to
// node 1's subject before it found the ID taken, and its 410s raced node 1's answers.
func TestClusterDuplicateNodeIDOnExternalNATS(t *testing.T) {
	ns := startNATS(t)
	cl := startClusterWith(t, gatewaytest.NewBackend(t, nil), clusterWith{nats: []string{ns.url(), ns.url()}})
	nodes := cl.nodes
	c, id := cl.dial(t, nodes[0])
	dup := cl.start(t, 0) // node 1's options: its ID on the same NATS
	gatewaytest.Eventually(t, 20*time.Second, func() bool { return strings.Contains(dup.ClusterStatus(), "node ID 1 is held") },
		"the duplicate node does not say its ID is held: %q", dup.ClusterStatus())
	for i := range 20 {
		via := nodes[i%2]
		msg := fmt.Sprintf("to node 1 #%d", i)
		if code, body := post(t, via.HTTPURL, id, msg); code != http.StatusOK {
			t.Fatalf("POST %d via node %d with a duplicate of node 1 waiting: %d %s", i, i%2+1, code, body)
		}
		if got := c.Read(); got != msg {
			t.Fatalf("read %q, want %q", got, msg)
		}
		if code, body := get(t, via.HTTPURL, id); code != http.StatusOK {
			t.Fatalf("GET %d via node %d with a duplicate of node 1 waiting: %d %s", i, i%2+1, code, body)
		}
	}
}
