package natsusage

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-gw/switchboard/internal/authorizer/usageplan"
)

// startNATS runs a NATS server with JetStream inside the test process and returns a JetStream context
// on a new connection to it for each call of the returned function.
func startNATS(t *testing.T) func() jetstream.JetStream {
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
	return func() jetstream.JetStream {
		nc, err := nats.Connect("", nats.InProcessServer(ns))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
}

// syncBuffer collects log lines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// node is one gateway's usage-plan engine sharing its counts.
type node struct {
	engine *usageplan.Engine
	counts *Counts
}

func startNode(t *testing.T, js jetstream.JetStream, name string, log *slog.Logger) *node {
	t.Helper()
	counts, err := Open(t.Context(), js, Config{Node: name, Memory: true, Interval: 10 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	plans := []usageplan.Plan{{ID: "plan1", Stages: []usageplan.Stage{{APIID: "api", Stage: "prod"}},
		Quota: &usageplan.Quota{Limit: 10, Period: usageplan.Day}, KeyIDs: []string{"key1"}}}
	n := &node{counts: counts, engine: usageplan.New([]usageplan.Key{{ID: "key1", Value: "secret", Enabled: true}}, plans, time.Now).Share(counts)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- counts.Run(ctx, n.engine.Usage) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return n
}

// allow sends requests through n until one is refused or max pass; it returns how many passed.
func (n *node) allow(t *testing.T, max int) int {
	t.Helper()
	for i := range max {
		if o, _ := n.engine.Check("api", "prod", "secret"); o != usageplan.OK {
			if o != usageplan.QuotaExceeded {
				t.Fatalf("Check = %v, want OK or QuotaExceeded", o)
			}
			return i
		}
	}
	return max
}

// TestQuotaAcrossNodes checks that two nodes sharing a bucket count one quota: what one node took is
// refused on the other once reported, and a foreign entry in the bucket is reported and skipped.
func TestQuotaAcrossNodes(t *testing.T) {
	connect := startNATS(t)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	a := startNode(t, connect(), "a", log)
	b := startNode(t, connect(), "b", log)

	if got := a.allow(t, 6); got != 6 {
		t.Fatalf("node a allowed %d of 6 requests under a quota of 10", got)
	}
	waitFor(t, "node b to see node a's 6 requests", func() bool {
		return b.counts.Others("plan1", "key1", a.engine.Usage()[0].Window) == 6
	})
	if got := b.allow(t, 10); got != 4 {
		t.Fatalf("node b allowed %d requests after node a took 6 of 10, want 4", got)
	}
	waitFor(t, "node a to see node b's 4 requests", func() bool {
		return a.counts.Others("plan1", "key1", a.engine.Usage()[0].Window) == 4
	})
	if got := a.allow(t, 1); got != 0 {
		t.Fatal("node a allowed a request after the two nodes used the quota together")
	}

	kv, err := connect().KeyValue(t.Context(), DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(t.Context(), "not.a.usage", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(t.Context(), "cGxhbjE.a2V5MQ.1.intruder", []byte("minus one")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the foreign entries to be reported", func() bool {
		s := logs.String()
		return strings.Contains(s, "key=not.a.usage") && strings.Contains(s, "key=cGxhbjE.a2V5MQ.1.intruder")
	})
}

// FuzzParseKey checks that any key parses or is refused without panicking, and that keys this package
// writes read back as written.
func FuzzParseKey(f *testing.F) {
	f.Add("plan1", "key1", int64(1736899200), "n1-0a0b0c0d")
	f.Add("", "", int64(0), "x")
	f.Add("p.l.a.n", "k/e=y", int64(-5), "a-b")
	f.Fuzz(func(t *testing.T, plan, keyID string, start int64, raw string) {
		c := &Counts{instance: "i-1"}
		w := window{plan, keyID, start}
		got, inst, err := parseKey(c.key(w))
		if err != nil || got != w || inst != "i-1" {
			t.Fatalf("parseKey(key(%+v)) = %+v, %q, %v", w, got, inst, err)
		}
		_, _, _ = parseKey(raw)
	})
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCountsPastAnyQuotaAreSkipped: counts no quota could reach (a quota limit is an int32) are
// reported with their key and skipped: added up they wrapped around to a negative sum, which gave the
// key an unlimited quota.
func TestCountsPastAnyQuotaAreSkipped(t *testing.T) {
	connect := startNATS(t)
	var logs syncBuffer
	a := startNode(t, connect(), "a", slog.New(slog.NewTextHandler(&logs, nil)))
	if got := a.allow(t, 1); got != 1 {
		t.Fatalf("node a allowed %d of 1 request", got)
	}
	window := a.engine.Usage()[0].Window
	kv, err := connect().KeyValue(t.Context(), DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	prefix := "cGxhbjE.a2V5MQ." + strconv.FormatInt(window.Unix(), 10) + "."
	for _, inst := range []string{"huge1", "huge2"} {
		if _, err := kv.Put(t.Context(), prefix+inst, []byte(strconv.Itoa(math.MaxInt))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kv.Put(t.Context(), prefix+"three", []byte("3")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the third count to arrive", func() bool { return a.counts.Others("plan1", "key1", window) != 0 })
	waitFor(t, "the huge counts to be reported", func() bool {
		s := logs.String()
		return strings.Contains(s, "key="+prefix+"huge1") && strings.Contains(s, "key="+prefix+"huge2")
	})
	if got := a.counts.Others("plan1", "key1", window); got != 3 {
		t.Fatalf("others' count = %d, want 3 (the huge ones skipped)", got)
	}
	if got := a.allow(t, 10); got != 6 {
		t.Fatalf("node a allowed %d more requests with 1 of its own and 3 elsewhere under a quota of 10, want 6", got)
	}
}

// TestQuotaWhileCutOff pins what a node cut off from NATS does (the README says it): it keeps counting
// its own requests against the others' last reports, so the requests other nodes take meanwhile can
// pass the limit by at most that much, and never more than the limit on any one node.
func TestQuotaWhileCutOff(t *testing.T) {
	connect := startNATS(t)
	log := slog.New(slog.DiscardHandler)
	jsA := connect()
	a := startNode(t, jsA, "a", log)
	b := startNode(t, connect(), "b", log)
	countThreeAndTwo(t, a, b)
	jsA.Conn().Close()
	if got := b.allow(t, 10); got != 5 {
		t.Fatalf("node b allowed %d more, want 5 (10 less its 2 and a's 3)", got)
	}
	// Node a never hears of b's 5: it allows what its own count and b's last report leave.
	if got := a.allow(t, 10); got != 5 {
		t.Fatalf("cut-off node a allowed %d more, want 5 (10 less its 3 and b's last report of 2)", got)
	}
}

// countThreeAndTwo has node a allow 3 requests of key1 and node b 2, and waits until each sees the
// other's; it returns the start of the plan's current window.
func countThreeAndTwo(t *testing.T, a, b *node) time.Time {
	t.Helper()
	if got := a.allow(t, 3); got != 3 {
		t.Fatalf("node a allowed %d of 3", got)
	}
	if got := b.allow(t, 2); got != 2 {
		t.Fatalf("node b allowed %d of 2", got)
	}
	window := a.engine.Usage()[0].Window
	waitFor(t, "each node to see the other's requests", func() bool {
		return a.counts.Others("plan1", "key1", window) == 2 && b.counts.Others("plan1", "key1", window) == 3
	})
	return window
}

// TestBucketLostIsCreatedAgain: the store loses the usage bucket (NATS restarted without its JetStream
// data). It is created again, said in the log, and each running node reports its counts again and
// follows the others' in the new bucket: the quota still counts both nodes' requests.
func TestBucketLostIsCreatedAgain(t *testing.T) {
	connect := startNATS(t)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	a := startNode(t, connect(), "a", log)
	b := startNode(t, connect(), "b", log)
	window := countThreeAndTwo(t, a, b)
	js := connect()
	if err := js.DeleteKeyValue(t.Context(), DefaultBucket); err != nil {
		t.Fatal(err)
	}
	if got := a.allow(t, 1); got != 1 {
		t.Fatalf("node a allowed %d of 1", got)
	}
	waitFor(t, "the bucket to be created again with both nodes' counts", func() bool {
		kv, err := js.KeyValue(t.Context(), DefaultBucket)
		if err != nil {
			return false
		}
		keys, err := kv.ListKeys(t.Context())
		if err != nil {
			return false
		}
		n := 0
		for range keys.Keys() {
			n++
		}
		return n == 2
	})
	waitFor(t, "each node to see the other's requests in the new bucket", func() bool {
		return b.counts.Others("plan1", "key1", window) == 4 && a.counts.Others("plan1", "key1", window) == 2
	})
	if !strings.Contains(logs.String(), "the store lost the usage-plan counts bucket") {
		t.Errorf("the loss is not logged:\n%s", logs.String())
	}
	if got := b.allow(t, 10); got != 4 {
		t.Fatalf("node b allowed %d more, want 4 (10 less its 2 and a's 4)", got)
	}
}
