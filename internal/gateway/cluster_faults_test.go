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
	"github.com/switchboard-gw/switchboard/internal/cluster"
	"github.com/switchboard-gw/switchboard/internal/cluster/natsbus"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// TestClusterDuplicateNodeID starts a fourth node with node 1's ID (and its own embedded server routed
// to the others): it never becomes a member and says why, and the three nodes keep serving each
// other's connections, node 1's included.
func TestClusterDuplicateNodeID(t *testing.T) {
	be := gatewaytest.NewBackend(t, nil)
	addrs := gatewaytest.ClusterAddrs(t, 4)
	nodes := gatewaytest.StartCluster(t, clusterAPI(be), addrs[:3])
	seen := map[string]bool{}
	var clients []*gatewaytest.Client
	var ids []string
	for _, n := range nodes {
		clients = append(clients, gatewaytest.Dial(t, n.WSURL+"/c/dev", nil))
		ids = append(ids, connIDOf(t, be, seen))
	}
	dup := gatewaytest.Start(t, clusterAPI(be), func(o *gateway.Options) {
		o.Node = 1
		o.Cluster = gatewaytest.EmbeddedCluster(t, addrs, 3)
	})
	for i, id := range ids {
		for j, via := range nodes {
			if code, body := post(t, via.HTTPURL, id, "still one node 1"); code != http.StatusOK {
				t.Fatalf("POST via node %d to node %d's connection with a duplicate of node 1 around: %d %s", j+1, i+1, code, body)
			}
			if got := clients[i].Read(); got != "still one node 1" {
				t.Fatalf("client of node %d: read %q", i+1, got)
			}
		}
	}
	for i, n := range nodes {
		if why := n.ClusterStatus(); why != "" || len(n.ClusterNodes()) != 3 {
			t.Errorf("node %d with a duplicate of node 1 around: status %q, members %v", i+1, why, n.ClusterNodes())
		}
	}
	// The duplicate must say why it is not a member; poll until it has had time to try.
	gatewaytest.Eventually(t, 20*time.Second, func() bool { return strings.Contains(dup.ClusterStatus(), "switchboard-node-1") }, "the duplicate node's status never names the taken ID: %q", dup.ClusterStatus())
	if _, err := gatewaytest.TryDial(t, dup.WSURL+"/c/dev", nil); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("handshake on the duplicate node: %v, want a 503 refusal", err)
	}
	if got := disconnects(be); len(got) != 0 {
		t.Fatalf("$disconnect ran for live connections when a duplicate of node 1 started: %q", got)
	}
}

// TestClusterNATSDownAtStart starts a node whose external NATS does not answer yet: it runs, says so
// on /readyz, refuses handshakes with 503 and answers @connections to another node's connection with
// a 500 at once; when NATS comes up it joins without a restart.
func TestClusterNATSDownAtStart(t *testing.T) {
	addr := gatewaytest.ClusterAddrs(t, 1)[0]
	be := gatewaytest.NewBackend(t, nil)
	g := gatewaytest.Start(t, clusterAPI(be), func(o *gateway.Options) {
		o.Node = 1
		o.MetricsListen = "127.0.0.1:0"
		o.Cluster = &gateway.ClusterOptions{NATS: "nats://" + addr}
	})
	if why := g.ClusterStatus(); !strings.Contains(why, "NATS") {
		t.Errorf("status with NATS down at start: %q, want it to name NATS", why)
	}
	resp, err := http.Get("http://" + g.MetricsAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "NATS") {
		t.Errorf("/readyz with NATS down at start: %d %q", resp.StatusCode, body)
	}
	if _, err := gatewaytest.TryDial(t, g.WSURL+"/c/dev", nil); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("handshake with NATS down at start: %v, want a 503 refusal", err)
	}
	remote := awsid.NewConnectionID(2)
	if code, body := post(t, g.HTTPURL, remote, "x"); code != http.StatusInternalServerError || !strings.Contains(body, "message") {
		t.Errorf("POST to another node's connection with NATS down at start: %d %s, want an AWS-shaped 500", code, body)
	}

	ns, err := natsbus.StartEmbedded(natsbus.EmbeddedConfig{Name: "external", ClientListen: addr, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	gatewaytest.Eventually(t, 30*time.Second, func() bool { return g.ClusterStatus() == "" }, "the node did not join once NATS came up: %q", g.ClusterStatus())
	other := gatewaytest.Start(t, clusterAPI(be), func(o *gateway.Options) {
		o.Node = 2
		o.Cluster = &gateway.ClusterOptions{NATS: "nats://" + addr}
	})
	gatewaytest.Eventually(t, 30*time.Second, func() bool { return other.ClusterStatus() == "" && len(g.ClusterNodes()) == 2 }, "the second node did not join")
	seen := map[string]bool{}
	c := gatewaytest.Dial(t, other.WSURL+"/c/dev", nil)
	id := connIDOf(t, be, seen)
	if code, body := post(t, g.HTTPURL, id, "joined"); code != http.StatusOK {
		t.Fatalf("POST through the node that started without NATS: %d %s", code, body)
	}
	if got := c.Read(); got != "joined" {
		t.Fatalf("read %q", got)
	}
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

// get is GET @connections/id through base.
func get(t *testing.T, base, id string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + "/c/dev/@connections/" + strings.ReplaceAll(id, "=", "%3D"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestClusterCutOffNodeComesBack: node 3 reaches NATS through a proxy that is cut, then mended. While
// cut, node 3 answers an AWS-shaped 500 for another node's connection; the others declare it dead,
// answer 410 for its connections and run their $disconnect once; node 3 closes its clients. When it
// is back it rejoins without a restart and does not bring its old connections back: GET and POST
// answer 410 for them on every node, and routing works both ways again.
func TestClusterCutOffNodeComesBack(t *testing.T) {
	addr := gatewaytest.ClusterAddrs(t, 1)[0]
	ns, err := natsbus.StartEmbedded(natsbus.EmbeddedConfig{Name: "external", ClientListen: addr, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	proxy := newCutProxy(t, addr)
	be := gatewaytest.NewBackend(t, nil)
	var lost []string
	t.Cleanup(func() {
		got := disconnects(be)
		for _, id := range lost {
			if len(got[id]) != 1 || got[id][0] != "1006 127.0.0.1" {
				t.Errorf("connection %s: $disconnect events %q, want exactly one \"1006 127.0.0.1\"", id, got[id])
			}
		}
	})
	var nodes []*gatewaytest.Gateway
	for i, url := range []string{addr, addr, proxy.addr} {
		nodes = append(nodes, gatewaytest.Start(t, clusterAPI(be), func(o *gateway.Options) {
			o.Node = cluster.NodeID(i + 1)
			o.Cluster = &gateway.ClusterOptions{NATS: "nats://" + url}
		}))
	}
	for _, n := range nodes {
		gatewaytest.Eventually(t, 30*time.Second, func() bool { return n.ClusterStatus() == "" && len(n.ClusterNodes()) == 3 }, "nodes did not join")
	}
	seen := map[string]bool{}
	var clients []*gatewaytest.Client
	for range 2 {
		clients = append(clients, gatewaytest.Dial(t, nodes[2].WSURL+"/c/dev", nil))
		lost = append(lost, connIDOf(t, be, seen))
	}
	keep := gatewaytest.Dial(t, nodes[0].WSURL+"/c/dev", nil)
	keepID := connIDOf(t, be, seen)

	proxy.Cut()
	gatewaytest.Eventually(t, 10*time.Second, func() bool { return strings.Contains(nodes[2].ClusterStatus(), "NATS") }, "node 3 does not notice it is cut off")
	if code, body := post(t, nodes[2].HTTPURL, keepID, "unroutable"); code != http.StatusInternalServerError || !strings.Contains(body, `"message"`) {
		t.Errorf("POST through the cut-off node to another node's connection: %d %s, want an AWS-shaped 500", code, body)
	}
	for _, n := range nodes[:2] {
		for _, id := range lost {
			gatewaytest.Eventually(t, 15*time.Second, func() bool {
				code, _ := post(t, n.HTTPURL, id, "while cut off")
				return code == http.StatusGone
			}, "POST to a cut-off node's connection never answered 410")
		}
	}
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
	for _, n := range nodes {
		gatewaytest.Eventually(t, 30*time.Second, func() bool { return n.ClusterStatus() == "" && len(n.ClusterNodes()) == 3 },
			"node 3 did not rejoin, or a node does not see it: %q", n.ClusterStatus())
	}
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
	if code, body := post(t, nodes[2].HTTPURL, keepID, "back"); code != http.StatusOK {
		t.Fatalf("POST through node 3 after it rejoined: %d %s", code, body)
	}
	if got := keep.Read(); got != "back" {
		t.Fatalf("read %q", got)
	}
	c := gatewaytest.Dial(t, nodes[2].WSURL+"/c/dev", nil)
	id := connIDOf(t, be, seen)
	if code, body := post(t, nodes[1].HTTPURL, id, "new"); code != http.StatusOK {
		t.Fatalf("POST via node 2 to a connection made on node 3 after it rejoined: %d %s", code, body)
	}
	if got := c.Read(); got != "new" {
		t.Fatalf("read %q", got)
	}
}

// TestClusterGracefulLeaveUnderPosts stops node 3 as on SIGTERM while @connections POSTs to its
// connections keep arriving through nodes 1 and 2: each is answered 200 or 410 (never a 5xx, never a
// hang), and every message answered 200 reached its client before the close.
func TestClusterGracefulLeaveUnderPosts(t *testing.T) {
	be := gatewaytest.NewBackend(t, nil)
	nodes := gatewaytest.StartCluster(t, clusterAPI(be), gatewaytest.ClusterAddrs(t, 3))
	seen := map[string]bool{}
	const conns = 4
	var clients []*gatewaytest.Client
	var ids []string
	for range conns {
		clients = append(clients, gatewaytest.Dial(t, nodes[2].WSURL+"/c/dev", nil))
		ids = append(ids, connIDOf(t, be, seen))
	}
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
	addr := gatewaytest.ClusterAddrs(t, 1)[0]
	ns, err := natsbus.StartEmbedded(natsbus.EmbeddedConfig{Name: "external", ClientListen: addr, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	be := gatewaytest.NewBackend(t, nil)
	var nodes []*gatewaytest.Gateway
	for i := range 2 {
		nodes = append(nodes, gatewaytest.Start(t, clusterAPI(be), func(o *gateway.Options) {
			o.Node = cluster.NodeID(i + 1)
			o.Cluster = &gateway.ClusterOptions{NATS: "nats://" + addr}
		}))
	}
	for _, n := range nodes {
		gatewaytest.Eventually(t, 30*time.Second, func() bool { return n.ClusterStatus() == "" && len(n.ClusterNodes()) == 2 }, "nodes did not join")
	}
	seen := map[string]bool{}
	client := gatewaytest.Dial(t, nodes[1].WSURL+"/c/dev", nil)
	id := connIDOf(t, be, seen)
	if err := ns.DisableJetStream(); err != nil {
		t.Fatal(err)
	}
	gatewaytest.Eventually(t, 15*time.Second, func() bool { return strings.Contains(nodes[0].ClusterStatus(), "heartbeat") },
		"node 1 still says %q with the store gone", nodes[0].ClusterStatus())
	if !nodes[0].NATS().IsConnected() {
		t.Fatal("node 1 lost its NATS connection: the test no longer tries a store gone behind a live connection")
	}
	if _, err := gatewaytest.TryDial(t, nodes[0].WSURL+"/c/dev", nil); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("handshake with the store gone: %v, want a 503 refusal", err)
	}
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
	be := gatewaytest.NewBackend(t, nil)
	addrs := gatewaytest.ClusterAddrs(t, 3)
	opts := make([]*gateway.ClusterOptions, len(addrs))
	start := func(i int) *gatewaytest.Gateway {
		return gatewaytest.Start(t, clusterAPI(be), func(o *gateway.Options) {
			o.Node = cluster.NodeID(i + 1)
			o.Cluster = opts[i]
		})
	}
	var nodes []*gatewaytest.Gateway
	for i := range addrs {
		opts[i] = gatewaytest.EmbeddedCluster(t, addrs, i)
		nodes = append(nodes, start(i))
	}
	for _, g := range nodes {
		gatewaytest.Eventually(t, 30*time.Second, func() bool { return g.ClusterStatus() == "" && len(g.ClusterNodes()) == 3 }, "nodes did not join")
	}
	want := map[string]int{"KV_switchboard_members": 3, "switchboard_connlog": 3, "KV_switchboard_catalog": 3, "KV_switchboard_usage": 3}
	gatewaytest.Eventually(t, 30*time.Second, func() bool { return maps.Equal(streamReplicas(t, nodes[0].NATS()), want) },
		"the streams do not have three replicas once three nodes run: %v", streamReplicas(t, nodes[0].NATS()))
	if err := nodes[2].Stop(); err != nil {
		t.Fatalf("stop node 3: %v", err)
	}
	nodes[2] = start(2)
	for _, g := range nodes {
		gatewaytest.Eventually(t, 30*time.Second, func() bool { return g.ClusterStatus() == "" && len(g.ClusterNodes()) == 3 }, "node 3 did not rejoin")
	}
	if got := streamReplicas(t, nodes[0].NATS()); !maps.Equal(got, want) {
		t.Fatalf("replicas after node 3 restarted: %v, want %v", got, want)
	}
}

// TestClusterDuplicateNodeIDOnExternalNATS starts a third node with node 1's ID on the same external
// NATS: it waits, not ready, and answers nothing meant for node 1 — every @connections call to node 1's
// connection, through either node, reaches node 1 and answers 200. The waiting node once subscribed to
// node 1's subject before it found the ID taken, and its 410s raced node 1's answers.
func TestClusterDuplicateNodeIDOnExternalNATS(t *testing.T) {
	addr := gatewaytest.ClusterAddrs(t, 1)[0]
	ns, err := natsbus.StartEmbedded(natsbus.EmbeddedConfig{Name: "external", ClientListen: addr, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	be := gatewaytest.NewBackend(t, nil)
	start := func(node cluster.NodeID) *gatewaytest.Gateway {
		return gatewaytest.Start(t, clusterAPI(be), func(o *gateway.Options) {
			o.Node = node
			o.Cluster = &gateway.ClusterOptions{NATS: "nats://" + addr}
		})
	}
	nodes := []*gatewaytest.Gateway{start(1), start(2)}
	for _, n := range nodes {
		gatewaytest.Eventually(t, 30*time.Second, func() bool { return n.ClusterStatus() == "" && len(n.ClusterNodes()) == 2 }, "nodes did not join")
	}
	seen := map[string]bool{}
	c := gatewaytest.Dial(t, nodes[0].WSURL+"/c/dev", nil)
	id := connIDOf(t, be, seen)
	dup := start(1)
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
