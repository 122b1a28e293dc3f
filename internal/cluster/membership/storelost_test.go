package membership

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-gw/switchboard/internal/cluster"
	"github.com/switchboard-gw/switchboard/internal/cluster/natsbus"
)

// freeAddr is a loopback address no listener holds now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// startServerAt starts a NATS server listening for clients on addr, with its store in dir.
func startServerAt(t *testing.T, addr, dir string) *server.Server {
	t.Helper()
	s, err := natsbus.StartEmbedded(natsbus.EmbeddedConfig{Name: "solo", ClientListen: addr, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// twoNodesOnAServer starts a NATS server on a free address, with its store in a new directory, and
// nodes 1 and 2 on it, each on a connection of its own with heartbeat, and waits until they see each
// other. It returns the server and its address (for a server started there again) and the nodes, which
// stop when the test ends; a test that starts another server stops them first itself.
func twoNodesOnAServer(t *testing.T, heartbeat time.Duration) (addr string, s *server.Server, a, b *node) {
	t.Helper()
	addr = freeAddr(t)
	s = startServerAt(t, addr, t.TempDir())
	dial := func() *nats.Conn {
		nc, err := natsbus.Connect(natsbus.ClientConfig{URLs: "nats://" + addr})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	a = runNodeOn(t, dial(), 1, heartbeat, nil)
	b = runNodeOn(t, dial(), 2, heartbeat, nil)
	for _, n := range []*node{a, b} {
		eventually(t, func() bool { return n.m.Status() == "" && len(n.m.Nodes()) == 2 }, "the two nodes did not see each other")
	}
	return addr, s, a, b
}

// logHolds is what subject's log holds open (id=record, sorted), nil while the store cannot say.
func logHolds(n *node, subject string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	last, err := n.m.connlog.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		return nil
	}
	live, err := n.m.readLog(ctx, subject, last.Sequence)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range live {
		out = append(out, e.id+"="+string(e.record))
	}
	slices.Sort(out)
	return out
}

// entryOf is node's member entry in the members bucket js reaches, zero when it cannot be read (the
// bucket is not created here: the nodes must create it again).
func entryOf(js jetstream.JetStream, node cluster.NodeID) member {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var v member
	members, err := js.KeyValue(ctx, MembersBucket)
	if err != nil {
		return v
	}
	e, err := members.Get(ctx, memberKey(node))
	if err == nil {
		_ = json.Unmarshal(e.Value(), &v)
	}
	return v
}

// A NATS server that comes back without its JetStream data (no persistent volume, a fresh container):
// the nodes create the members bucket and the connection log again, are members again under the same
// incarnation, expel nobody, see each other again, and append their open connections' records again —
// so that a node that dies afterwards still gets each of those connections' $disconnect run by a
// survivor.
func TestStoreLostWithItsServer(t *testing.T) {
	// Heartbeats long enough that the server's restart stays shorter than three of them: the nodes are
	// cut off meanwhile, and a node cut off for longer drops its connections (another test's case).
	const heartbeat = 2 * time.Second
	addr, s1, a, b := twoNodesOnAServer(t, heartbeat)
	defer b.stop()
	defer a.stop()
	ctx := context.Background()
	recs := map[*node][]string{a: {"AAAAAAAAAAAAAAA=", "BBBBBBBBBBBBBBB="}, b: {"CCCCCCCCCCCCCCC="}}
	want := map[*node][]string{}
	for n, ids := range recs {
		for _, id := range ids {
			if err := n.m.Record(ctx, id, []byte("rec-"+id)); err != nil {
				t.Fatal(err)
			}
			want[n] = append(want[n], id+"=rec-"+id)
		}
		slices.Sort(want[n])
	}
	incA, incB := a.m.incarnationNow(), b.m.incarnationNow()

	s1.Shutdown()
	s1.WaitForShutdown()
	s2 := startServerAt(t, addr, t.TempDir()) // the same address, an empty store
	js2, err := jetstream.New(connect(t, s2))
	if err != nil {
		t.Fatal(err)
	}

	for i, n := range []*node{a, b} {
		inc := map[*node]string{a: incA, b: incB}[n]
		id := cluster.NodeID(i + 1)
		eventually(t, func() bool {
			return n.m.Status() == "" && n.m.incarnationNow() == inc && entryOf(js2, id).Incarnation == inc
		}, "a node is not a member again under its incarnation")
		eventually(t, func() bool { return len(n.m.Nodes()) == 2 }, "a node does not list the other again")
		eventually(t, func() bool { return slices.Equal(logHolds(n, n.m.logSubjectNow()), want[n]) },
			"a node's open records are not in its log again")
	}
	for i, n := range []*node{a, b} {
		if got := n.expelled.Load(); got != 0 {
			t.Errorf("node %d was expelled %d times:\n%s", i+1, got, n.log.String())
		}
		if strings.Contains(n.log.String(), "declared gone") {
			t.Errorf("node %d declared the other gone:\n%s", i+1, n.log.String())
		}
	}
	if !strings.Contains(a.log.String()+b.log.String(), "the store lost the members bucket") {
		t.Errorf("no node said the store lost the members bucket:\n%s\n%s", a.log.String(), b.log.String())
	}

	// Node 1 dies: node 2 runs the $disconnect of each of its connections recorded before the loss.
	crash(a)
	var got []string
	for range want[a] {
		got = append(got, b.nextReap(t, fmt.Sprintf("node 2 ran %d of node 1's %d $disconnects: %q", len(got), len(want[a]), got)))
	}
	slices.Sort(got)
	if !slices.Equal(got, want[a]) {
		t.Fatalf("node 2 ran the $disconnect of %q, want %q\n%s", got, want[a], b.log.String())
	}
}

// A NATS server that stays away for longer than the TTL and comes back without its JetStream data: the
// nodes, cut off for that long, have dropped their connections and wait to rejoin as new incarnations;
// they create the members bucket and the connection log again themselves (no node was left to do it),
// rejoin and see each other.
func TestStoreLostWhileNodesWereCutOff(t *testing.T) {
	addr, s1, a, b := twoNodesOnAServer(t, testHeartbeat)
	defer b.stop()
	defer a.stop()
	incs := []string{a.m.incarnationNow(), b.m.incarnationNow()}
	s1.Shutdown()
	s1.WaitForShutdown()
	for _, n := range []*node{a, b} {
		eventually(t, func() bool { return n.expelled.Load() >= 1 }, "a node cut off for longer than the TTL was not expelled")
	}
	startServerAt(t, addr, t.TempDir())
	for i, n := range []*node{a, b} {
		eventually(t, func() bool {
			return n.m.Status() == "" && n.m.incarnationNow() != incs[i] && len(n.m.Nodes()) == 2
		}, "a node did not rejoin the cluster on the empty store")
		if err := n.m.Record(context.Background(), "AAAAAAAAAAAAAAA=", []byte("rec")); err != nil {
			t.Fatalf("node %d cannot record a connection: %v", i+1, err)
		}
	}
}
