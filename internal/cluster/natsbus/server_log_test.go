package natsbus

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordLog keeps every record logged through it.
type recordLog struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recordLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordLog) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *recordLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordLog) WithGroup(string) slog.Handler      { return h }

// find returns the first record whose message contains msg, and every record at level or above.
func (h *recordLog) find(msg string, level slog.Level) (found *slog.Record, atLevel []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, r := range h.recs {
		if found == nil && strings.Contains(r.Message, msg) {
			found = &h.recs[i]
		}
		if r.Level >= level {
			atLevel = append(atLevel, r.Level.String()+" "+r.Message)
		}
	}
	return found, atLevel
}

func waitRecord(t *testing.T, h *recordLog, msg string) *slog.Record {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if r, _ := h.find(msg, slog.LevelError); r != nil {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line %q within 20s", msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A node whose route peer is not up yet (nodes start one after the other) logs that at info, not as an
// error, and says so when the route comes up.
func TestRouteRetriesAreNotErrors(t *testing.T) {
	addrs := freeAddrs(t, 2)
	h := &recordLog{}
	startServer(t, EmbeddedConfig{Name: "first", ClusterListen: addrs[0], Routes: []string{addrs[1]}, Logger: slog.New(h)})
	retry := waitRecord(t, h, "NATS route not reachable yet")
	if retry.Level != slog.LevelInfo {
		t.Errorf("route retry logged at %s, want INFO", retry.Level)
	}
	startServer(t, EmbeddedConfig{Name: "second", ClusterListen: addrs[1], Routes: []string{addrs[0]}})
	up := waitRecord(t, h, "NATS route up")
	if up.Level != slog.LevelInfo {
		t.Errorf("route up logged at %s, want INFO", up.Level)
	}
	if _, errs := h.find("", slog.LevelError); len(errs) > 0 {
		t.Errorf("errors while the routes formed: %q", errs)
	}
}

func TestServerLogLevels(t *testing.T) {
	for _, tc := range []struct {
		name   string
		log    func(serverLog)
		level  slog.Level
		prefix string
	}{
		{"first route dial failure", func(l serverLog) { l.Errorf(routeConnectErr, 1, "connection refused") }, slog.LevelInfo, "cluster: NATS route not reachable yet"},
		{"route retries between reports", func(l serverLog) { l.Errorf(routeConnectErr, 7, "connection refused") }, slog.LevelDebug, "cluster: NATS route not reachable yet"},
		{"route retry report", func(l serverLog) { l.Errorf(routeConnectErr, routeRetryEvery, "connection refused") }, slog.LevelInfo, "cluster: NATS route not reachable yet"},
		{"route up", func(l serverLog) { l.Noticef("127.0.0.1:4248 - rid:5 - Route connection created") }, slog.LevelInfo, "cluster: NATS route up"},
		{"route down", func(l serverLog) {
			l.Noticef("127.0.0.1:4248 - rid:5 - %s connection closed: %s", "Route", "Client Closed")
		}, slog.LevelInfo, "cluster: NATS route down"},
		{"client closed is a notice", func(l serverLog) {
			l.Noticef("1.2.3.4:5 - cid:9 - %s connection closed: %s", "Client", "Client Closed")
		}, slog.LevelDebug, "nats: "},
		{"other errors stay errors", func(l serverLog) { l.Errorf("JetStream: %v", "disk full") }, slog.LevelError, "nats: JetStream: disk full"},
		{"waiting for routes", func(l serverLog) { l.Warnf("%s", waitingForRoutes) }, slog.LevelInfo, "cluster: NATS JetStream waiting for routes"},
		{"warnings stay warnings", func(l serverLog) { l.Warnf("slow consumer %d", 3) }, slog.LevelWarn, "nats: slow consumer 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &recordLog{}
			tc.log(serverLog{log: slog.New(h)})
			if len(h.recs) != 1 || h.recs[0].Level != tc.level || !strings.HasPrefix(h.recs[0].Message, tc.prefix) {
				t.Fatalf("logged %+v, want one %s record starting %q", h.recs, tc.level, tc.prefix)
			}
		})
	}
}

// TestDuplicateServerNameIsReported: two embedded servers given one name (two nodes started with one
// node ID) refuse each other's routes; each reports the name through NameConflict, so the node can say
// why it never joins.
func TestDuplicateServerNameIsReported(t *testing.T) {
	addrs := freeAddrs(t, 2)
	var mu sync.Mutex
	seen := map[int]string{}
	report := func(i int) func(string) {
		return func(name string) {
			mu.Lock()
			seen[i] = name
			mu.Unlock()
		}
	}
	startServer(t, EmbeddedConfig{Name: "switchboard-node-1", ClusterListen: addrs[0], Routes: []string{addrs[1]}, NameConflict: report(0)})
	startServer(t, EmbeddedConfig{Name: "switchboard-node-1", ClusterListen: addrs[1], Routes: []string{addrs[0]}, NameConflict: report(1)})
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		a, b := seen[0], seen[1]
		mu.Unlock()
		if a == "switchboard-node-1" && b == "switchboard-node-1" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("name conflicts reported: %q and %q, want the shared name on both servers", a, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
