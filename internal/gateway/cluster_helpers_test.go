package gateway_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/switchboard-gw/switchboard/internal/cluster"
	"github.com/switchboard-gw/switchboard/internal/cluster/natsbus"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// clusterWith says how a test cluster runs its nodes; the zero value is three nodes, each with an
// embedded NATS server routed to the others'.
type clusterWith struct {
	// nats, when set, puts node i+1 on the NATS server at nats[i] (an external one) instead of an
	// embedded server; its length is the number of nodes.
	nats []string
	// heartbeat is the nodes' heartbeat on an external NATS (0: the default).
	heartbeat time.Duration
	// addrs are the embedded NATS servers' addresses, one per node (default: three new ones).
	addrs []string
	// metrics gives each node a metrics listener (/readyz).
	metrics bool
	// logs keeps each node's log lines, in testCluster.logs; debug keeps its debug lines too.
	logs, debug bool
	// options adjust every node's options after the cluster's own (gatewaytest.WithControlPlane).
	options []func(*gateway.Options)
}

// testCluster is a set of gateway nodes serving clusterAPI through one backend.
type testCluster struct {
	be    *gatewaytest.Backend
	nodes []*gatewaytest.Gateway
	logs  []*syncBuffer            // each node's log lines, with clusterWith.logs
	opts  []func(*gateway.Options) // node i's options, kept to start it again
	seen  map[string]bool          // the connection IDs dial has taken from be
}

// newCluster prepares the nodes of a cluster serving clusterAPI(be) without starting any.
func newCluster(t *testing.T, be *gatewaytest.Backend, with clusterWith) *testCluster {
	t.Helper()
	c := &testCluster{be: be, seen: map[string]bool{}}
	n := len(with.nats)
	if n == 0 {
		if with.addrs == nil {
			with.addrs = gatewaytest.ClusterAddrs(t, 3)
		}
		n = len(with.addrs)
	}
	for i := range n {
		var co *gateway.ClusterOptions
		if with.nats == nil {
			co = gatewaytest.EmbeddedCluster(t, with.addrs, i)
		} else {
			co = &gateway.ClusterOptions{NATS: with.nats[i], Heartbeat: with.heartbeat}
		}
		var log *slog.Logger
		if with.logs {
			buf := &syncBuffer{}
			c.logs = append(c.logs, buf)
			var ho *slog.HandlerOptions
			if with.debug {
				ho = &slog.HandlerOptions{Level: slog.LevelDebug}
			}
			log = slog.New(slog.NewTextHandler(buf, ho))
		}
		c.opts = append(c.opts, func(o *gateway.Options) {
			o.Node = nodeID(i)
			o.Cluster = co
			if with.metrics {
				o.MetricsListen = "127.0.0.1:0"
			}
			if log != nil {
				o.Logger = log
			}
			for _, opt := range with.options {
				opt(o)
			}
		})
	}
	return c
}

// startClusterWith starts a cluster serving clusterAPI(be) and waits until every node has joined it
// and sees every other.
func startClusterWith(t *testing.T, be *gatewaytest.Backend, with clusterWith) *testCluster {
	t.Helper()
	c := newCluster(t, be, with)
	for i := range c.opts {
		c.nodes = append(c.nodes, c.start(t, i))
	}
	c.waitJoined(t, "a node did not join the cluster or does not see every node")
	return c
}

// nodeID is the ID of the cluster's node i (0-based).
func nodeID(i int) cluster.NodeID { return cluster.NodeID(i + 1) }

// start starts node i with its options: the same node ID, NATS and store each time, so a second start
// is the node restarted, or a duplicate of it while it runs. It does not wait for the node to join.
func (c *testCluster) start(t *testing.T, i int) *gatewaytest.Gateway {
	t.Helper()
	return gatewaytest.Start(t, clusterAPI(c.be), c.opts[i])
}

// restart stops node i as on SIGTERM and starts it again (as in a rolling upgrade), without waiting
// for it to join.
func (c *testCluster) restart(t *testing.T, i int) {
	t.Helper()
	if err := c.nodes[i].Stop(); err != nil {
		t.Fatalf("stop node %d: %v", i+1, err)
	}
	c.nodes[i] = c.start(t, i)
}

// waitJoined waits up to 30 s until every node says it is part of the cluster and lists every node;
// failing, it says what and the node's status and members then.
func (c *testCluster) waitJoined(t *testing.T, what string) {
	t.Helper()
	for i, n := range c.nodes {
		gatewaytest.Eventually(t, 30*time.Second, func() bool { return n.ClusterStatus() == "" && len(n.ClusterNodes()) == len(c.nodes) },
			"%s: node %d says %q and lists %v", what, i+1, lazy(n.ClusterStatus), lazy(func() string { return fmt.Sprint(n.ClusterNodes()) }))
	}
}

// lazy is a value formatted when a failure message is: what a node says then, not when the wait began.
type lazy func() string

func (f lazy) String() string { return f() }

// dial opens a connection to the stage c/dev through node g and returns it with its connection ID,
// which the $connect integration reported to the backend.
func (c *testCluster) dial(t *testing.T, g *gatewaytest.Gateway) (*gatewaytest.Client, string) {
	t.Helper()
	client := gatewaytest.Dial(t, g.WSURL+"/c/dev", nil)
	return client, connIDOf(t, c.be, c.seen)
}

// dialN opens n connections through node g, as dial does.
func (c *testCluster) dialN(t *testing.T, g *gatewaytest.Gateway, n int) ([]*gatewaytest.Client, []string) {
	t.Helper()
	return c.dialEach(t, slices.Repeat([]*gatewaytest.Gateway{g}, n))
}

// dialEach opens one connection through each node of nodes, as dial does.
func (c *testCluster) dialEach(t *testing.T, nodes []*gatewaytest.Gateway) ([]*gatewaytest.Client, []string) {
	t.Helper()
	var clients []*gatewaytest.Client
	var ids []string
	for _, g := range nodes {
		client, id := c.dial(t, g)
		clients = append(clients, client)
		ids = append(ids, id)
	}
	return clients, ids
}

// postAndRead POSTs msg to connection id through via and fails the test unless it is answered 200 and
// client reads msg; what names the POST in the failure.
func postAndRead(t *testing.T, via *gatewaytest.Gateway, id string, client *gatewaytest.Client, msg, what string) {
	t.Helper()
	if code, body := post(t, via.HTTPURL, id, msg); code != http.StatusOK {
		t.Fatalf("POST %s: %d %s", what, code, body)
	}
	if got := client.Read(); got != msg {
		t.Fatalf("POST %s: read %q, want %q", what, got, msg)
	}
}

// postEveryWay POSTs to each connection of ids (that of clients[i], made on node i+1) through each
// node of vias, as postAndRead does; the messages name the sender, the receiver and when.
func postEveryWay(t *testing.T, vias []*gatewaytest.Gateway, clients []*gatewaytest.Client, ids []string, when string) {
	t.Helper()
	for i, id := range ids {
		for j, via := range vias {
			what := fmt.Sprintf("via node %d to node %d's connection", j+1, i+1)
			if when != "" {
				what += " " + when
			}
			postAndRead(t, via, id, clients[i], what, what)
		}
	}
}

// waitGone waits up to 15 s, for each node of vias and each connection of ids, until a POST of body
// there answers 410; failing, it says msg.
func waitGone(t *testing.T, vias []*gatewaytest.Gateway, ids []string, body, msg string) {
	t.Helper()
	for _, n := range vias {
		for _, id := range ids {
			gatewaytest.Eventually(t, 15*time.Second, func() bool {
				code, _ := post(t, n.HTTPURL, id, body)
				return code == http.StatusGone
			}, msg)
		}
	}
}

// allDisconnected reports whether the $disconnect of every connection of ids has reached be.
func allDisconnected(be *gatewaytest.Backend, ids []string) bool {
	got := disconnects(be)
	for _, id := range ids {
		if len(got[id]) == 0 {
			return false
		}
	}
	return true
}

// expectOneDisconnect1006 checks, when the test ends, that each connection of *ids got exactly one
// $disconnect, with 1006 and the client's address. Called before the cluster starts, the check runs
// once every node has stopped: a second claim would be in by then.
func expectOneDisconnect1006(t *testing.T, be *gatewaytest.Backend, ids *[]string) {
	t.Cleanup(func() {
		got := disconnects(be)
		for _, id := range *ids {
			if len(got[id]) != 1 || got[id][0] != "1006 127.0.0.1" {
				t.Errorf("connection %s: $disconnect events %q, want exactly one \"1006 127.0.0.1\"", id, got[id])
			}
		}
	})
}

// expectHandshake503 fails the test unless a handshake through g is refused with 503; when says in
// which state.
func expectHandshake503(t *testing.T, g *gatewaytest.Gateway, when string) {
	t.Helper()
	if _, err := gatewaytest.TryDial(t, g.WSURL+"/c/dev", nil); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("handshake %s: %v, want a 503 refusal", when, err)
	}
}

// expectNotReady fails the test unless g's /readyz answers 503 naming NATS; when says in which state.
func expectNotReady(t *testing.T, g *gatewaytest.Gateway, when string) {
	t.Helper()
	resp, err := http.Get("http://" + g.MetricsAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "NATS") {
		t.Errorf("/readyz %s: %d %q", when, resp.StatusCode, body)
	}
}

// natsServer stands for a NATS server outside the nodes, on an address of its own, which a test stops
// and starts again there.
type natsServer struct {
	addr string
	s    *server.Server // the server running, or the last one
}

// newNATS reserves a NATS server's address without starting it.
func newNATS(t *testing.T) *natsServer {
	t.Helper()
	return &natsServer{addr: gatewaytest.ClusterAddrs(t, 1)[0]}
}

// startNATS starts a NATS server on a new address with its store in a new directory.
func startNATS(t *testing.T) *natsServer {
	t.Helper()
	n := newNATS(t)
	n.start(t, t.TempDir())
	return n
}

// url is the server's client URL.
func (n *natsServer) url() string { return "nats://" + n.addr }

// start starts the server on its address with its store in dir (the same one again: it keeps its
// JetStream data). The first start has the server shut down when the test ends.
func (n *natsServer) start(t *testing.T, dir string) {
	t.Helper()
	first := n.s == nil
	s, err := natsbus.StartEmbedded(natsbus.EmbeddedConfig{Name: "external", ClientListen: n.addr, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	n.s = s
	if first {
		t.Cleanup(n.stop)
	}
}

// stop shuts the server down and waits until it has.
func (n *natsServer) stop() {
	n.s.Shutdown()
	n.s.WaitForShutdown()
}
