package natskv_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/catalog/catalogtest"
	"github.com/switchboard-gw/switchboard/internal/catalog/natskv"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// startNATS runs a NATS server with JetStream inside the test process, without a socket.
func startNATS(t *testing.T) *server.Server { return startNATSB(t) }

func startNATSB(t testing.TB) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{DontListen: true, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	t.Cleanup(ns.Shutdown)
	return ns
}

// connect returns a JetStream context on a new connection to ns, closed when the test ends.
func connect(t *testing.T, ns *server.Server) (*nats.Conn, jetstream.JetStream) {
	return connectB(t, ns)
}

func connectB(t testing.TB, ns *server.Server) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// logBuffer collects log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestConformance runs the catalog store suite on a bucket, through two connections as two nodes have.
func TestConformance(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) (catalog.Store, catalog.Store) {
		ns := startNATS(t)
		_, js1 := connect(t, ns)
		_, js2 := connect(t, ns)
		a, err := natskv.Open(t.Context(), js1, natskv.Config{Memory: true})
		if err != nil {
			t.Fatal(err)
		}
		b, err := natskv.Open(t.Context(), js2, natskv.Config{Memory: true})
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	})
}

// TestForeignAndCorruptEntries puts what no node wrote into the bucket while a catalog watches it: a
// foreign key, a value that is not a catalog, a deletion. Each is logged with its key or revision and
// skipped, the catalog keeps serving its last good revision, and the next change replaces the bad one.
func TestForeignAndCorruptEntries(t *testing.T) {
	ctx := t.Context()
	ns := startNATS(t)
	_, js := connect(t, ns)
	var logs logBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store, err := natskv.Open(ctx, js, natskv.Config{Memory: true, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Open(ctx, catalog.Options{Store: store, Logger: log}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Write(ctx, func(st *catalog.State) error {
		st.APIs = append(st.APIs, &catalog.API{API: catalogtest.MockAPI("good"), Source: catalog.SourceAPI})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	kv, err := js.KeyValue(ctx, natskv.DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "someone.else", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	bad, err := kv.Put(ctx, natskv.DefaultKey, []byte(`{"version":1,"state":{"apis":"not a list"}}`))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the foreign key and the corrupted revision to be reported", func() bool {
		s := logs.String()
		return strings.Contains(s, "key=someone.else") && strings.Contains(s, "revision="+itoa(bad))
	})
	state, serving := c.Revision()
	if state != bad || serving >= bad {
		t.Fatalf("after corrupted revision %d: state at %d, serving %d; want the state at %d and serving the older one", bad, state, serving, bad)
	}
	c.Read(func(st *catalog.State) {
		if st.API("good") == nil {
			t.Fatal("the corrupted revision replaced the catalog's state")
		}
	})
	// The next change through the control plane replaces the corrupted revision.
	if err := c.Write(ctx, func(st *catalog.State) error {
		st.APIs = append(st.APIs, &catalog.API{API: catalogtest.MockAPI("next"), Source: catalog.SourceAPI})
		return nil
	}); err != nil {
		t.Fatalf("the change after a corrupted revision: %v", err)
	}
	other, err := catalog.Open(ctx, catalog.Options{Store: store}, nil)
	if err != nil {
		t.Fatal(err)
	}
	other.Read(func(st *catalog.State) {
		if st.API("good") == nil || st.API("next") == nil {
			t.Fatalf("the store holds %d APIs after the repairing change, want good and next", len(st.APIs))
		}
	})

	if err := kv.Delete(ctx, natskv.DefaultKey); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deletion to be reported", func() bool { return strings.Contains(logs.String(), "operation=KeyValueDeleteOp") })
	c.Read(func(st *catalog.State) {
		if st.API("next") == nil {
			t.Fatal("a deletion of the catalog's key emptied the catalog")
		}
	})
	if err := c.Write(ctx, func(st *catalog.State) error { st.APIs = st.APIs[:1]; return nil }); err != nil {
		t.Fatalf("the change after a deletion: %v", err)
	}
}

// TestNATSAway stops the NATS server under a catalog: a change is refused with an error wrapping
// catalog.ErrUnavailable, within the store's timeout, and the catalog keeps its state and what it serves.
func TestNATSAway(t *testing.T) {
	ctx := t.Context()
	ns := startNATS(t)
	nc, js := connect(t, ns)
	store, err := natskv.Open(ctx, js, natskv.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	served := 0
	c, err := catalog.Open(ctx, catalog.Options{Store: store, Apply: func(context.Context, *resource.Bundle) error { served++; return nil }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Write(ctx, func(st *catalog.State) error {
		st.APIs = append(st.APIs, &catalog.API{API: catalogtest.MockAPI("kept"), Source: catalog.SourceAPI})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	before, _ := c.Revision()
	ns.Shutdown()
	waitFor(t, "the client to notice", func() bool { return !nc.IsConnected() })
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	err = c.Write(wctx, func(st *catalog.State) error {
		st.APIs = append(st.APIs, &catalog.API{API: catalogtest.MockAPI("refused"), Source: catalog.SourceAPI})
		return nil
	})
	if !errors.Is(err, catalog.ErrUnavailable) {
		t.Fatalf("Write with NATS away: err = %v, want ErrUnavailable", err)
	}
	after, serving := c.Revision()
	if after != before || serving != before {
		t.Fatalf("revision moved from %d to %d (serving %d) on a refused change", before, after, serving)
	}
	c.Read(func(st *catalog.State) {
		if st.API("kept") == nil || st.API("refused") != nil {
			t.Fatal("the refused change changed the state")
		}
	})
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// waitFor polls cond until it holds, for up to 30 s: following a bucket made again takes a failed watch's
// retry (1 s), the watch's bucket check (every 2 s) and JetStream API calls bounded by 5 s each, which a
// loaded machine can stretch (TestBucketLost once missed a 10 s deadline in a full race-enabled run).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestJoin opens catalogs as cluster nodes do, with their configuration alone, and joins them to the
// bucket: the first saves its configuration, a second with the same file saves nothing and serves the
// same revision, changes are refused until a node has joined, and a node with another file replaces the
// configuration's resources for every node (and says so).
func TestJoin(t *testing.T) {
	ctx := t.Context()
	ns := startNATS(t)
	config := &resource.Bundle{APIs: []resource.API{catalogtest.MockAPI("fromfile")}}
	var logs logBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	join := func(config *resource.Bundle) *catalog.Catalog {
		t.Helper()
		_, js := connect(t, ns)
		c, err := catalog.Open(ctx, catalog.Options{Joining: true, Logger: log}, config)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Write(ctx, func(st *catalog.State) error { return nil })
		if !errors.Is(err, catalog.ErrUnavailable) {
			t.Fatalf("a change before joining: err = %v, want ErrUnavailable", err)
		}
		store, err := natskv.Open(ctx, js, natskv.Config{Memory: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Join(ctx, store); err != nil {
			t.Fatalf("Join: %v", err)
		}
		return c
	}
	first := join(config)
	r1, _ := first.Revision()
	if r1 == 0 {
		t.Fatal("the first node saved nothing")
	}
	second := join(config)
	if r2, serving := second.Revision(); r2 != r1 || serving != r1 {
		t.Fatalf("a node with the same file: state at %d serving %d, want both at %d (nothing saved)", r2, serving, r1)
	}
	var deployments [2]string
	for i, c := range []*catalog.Catalog{first, second} {
		c.Read(func(st *catalog.State) {
			a := st.API("fromfile")
			if a == nil || a.Source != catalog.SourceConfig || len(a.Deployments) != 1 {
				t.Fatalf("node %d: the file's API is %+v, want one deployment from the file", i+1, a)
			}
			deployments[i] = a.Deployments[0].DeploymentID
		})
	}
	if deployments[0] != deployments[1] {
		t.Fatalf("the two nodes serve deployments %v of one file", deployments)
	}
	if strings.Contains(logs.String(), "differs") {
		t.Fatalf("a node with the same file warned: %s", logs.String())
	}
	third := join(&resource.Bundle{APIs: []resource.API{catalogtest.MockAPI("otherfile")}})
	third.Read(func(st *catalog.State) {
		if st.API("otherfile") == nil || st.API("fromfile") != nil {
			t.Fatal("the last node's configuration does not replace the file's resources")
		}
	})
	if !strings.Contains(logs.String(), "configuration file differs") {
		t.Fatalf("no warning about a node with another file: %s", logs.String())
	}
}

// openCatalog opens a catalog named name (in its log lines) on the bucket of ns, through a connection of
// its own as a cluster node has, and returns the connection's JetStream context too.
func openCatalog(t *testing.T, ns *server.Server, name string) (*catalog.Catalog, jetstream.JetStream) {
	t.Helper()
	_, js := connect(t, ns)
	store, err := natskv.Open(t.Context(), js, natskv.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Open(t.Context(), catalog.Options{Store: store, Logger: slog.New(slog.NewTextHandler(t.Output(), nil)).With("catalog", name)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, js
}

// runCatalog follows the bucket with c until the test ends, and fails the test if Run fails.
func runCatalog(t *testing.T, c *catalog.Catalog) {
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// addAPI saves an API named id through c.
func addAPI(t *testing.T, c *catalog.Catalog, id string) {
	t.Helper()
	if err := c.Write(t.Context(), func(st *catalog.State) error {
		st.APIs = append(st.APIs, &catalog.API{API: catalogtest.MockAPI(id), Source: catalog.SourceAPI})
		return nil
	}); err != nil {
		t.Fatalf("add %s: %v", id, err)
	}
}

// hasAPIs reports whether c's state holds every API of ids.
func hasAPIs(c *catalog.Catalog, ids ...string) bool {
	found := true
	c.Read(func(st *catalog.State) {
		for _, id := range ids {
			found = found && st.API(id) != nil
		}
	})
	return found
}

// TestBucketLost deletes the catalog's bucket under two running catalogs, as a NATS restarted without
// its JetStream data would lose it: the next change makes the bucket again and saves the whole catalog
// there, and the other catalog follows it.
func TestBucketLost(t *testing.T) {
	ns := startNATS(t)
	a, js := openCatalog(t, ns, "a")
	runCatalog(t, a)
	b, _ := openCatalog(t, ns, "b")
	runCatalog(t, b)
	addAPI(t, a, "before")
	if err := js.DeleteKeyValue(t.Context(), natskv.DefaultBucket); err != nil {
		t.Fatal(err)
	}
	addAPI(t, a, "after")
	waitFor(t, "the other catalog to follow the bucket made again", func() bool { return hasAPIs(b, "before", "after") })
}

// TestBucketMadeAgainBeforeTheWatch: the bucket is lost and made again before a catalog's first watch
// (a node still starting, or whose first watch failed on the lost bucket), and the new bucket's catalog
// has the very revision number that catalog holds from the old one. The catalog must still take the new
// bucket's catalog: it once took the repeated revision for one it had and served the old catalog for good.
// A node of a cluster joins (Join, which reads the store's leader) rather than opens (Load): both note
// the bucket's creation time before the first read.
func TestBucketMadeAgainBeforeTheWatch(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(t *testing.T, ns *server.Server, name string) *catalog.Catalog
	}{
		{name: "opened", open: func(t *testing.T, ns *server.Server, name string) *catalog.Catalog {
			c, _ := openCatalog(t, ns, name)
			return c
		}},
		{name: "joined", open: joinCatalog},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := startNATS(t)
			a, js := openCatalog(t, ns, "a")
			b := tc.open(t, ns, "b")
			held, _ := b.Revision()
			addAPI(t, a, "before")
			if err := js.DeleteKeyValue(t.Context(), natskv.DefaultBucket); err != nil {
				t.Fatal(err)
			}
			addAPI(t, a, "after")
			if rev, _ := a.Revision(); rev != held {
				t.Fatalf("the new bucket's catalog is at revision %d and the other catalog holds %d: the test no longer repeats a revision", rev, held)
			}
			runCatalog(t, b)
			waitFor(t, "the other catalog to take the bucket made again", func() bool { return hasAPIs(b, "before", "after") })
		})
	}
}

// joinCatalog opens a catalog to join the shared one and joins it, as a node of a cluster does.
func joinCatalog(t *testing.T, ns *server.Server, name string) *catalog.Catalog {
	t.Helper()
	_, js := connect(t, ns)
	store, err := natskv.Open(t.Context(), js, natskv.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Open(t.Context(), catalog.Options{Joining: true, Logger: slog.New(slog.NewTextHandler(t.Output(), nil)).With("catalog", name)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Join(t.Context(), store); err != nil {
		t.Fatal(err)
	}
	return c
}
