package gateway_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// inConnectionLog reports whether any message of the cluster's connection log mentions id.
func inConnectionLog(ctx context.Context, nc *nats.Conn, id string) (bool, error) {
	n, err := mentions(ctx, nc, id)
	return n > 0, err
}

// mentions counts the messages of the cluster's connection log that mention id.
func mentions(ctx context.Context, nc *nats.Conn, id string) (int, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, err
	}
	st, err := js.Stream(ctx, "switchboard_connlog")
	if err != nil {
		return 0, err
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return 0, err
	}
	found := 0
	for {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			return found, err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			if bytes.Contains(m.Data(), []byte(id)) {
				found++
			}
		}
		if n == 0 {
			return found, batch.Error()
		}
	}
}

// TestClusterRecordOverlapsConnect: a connection's record is stored while its $connect integration
// runs, not after it — the backend answering $connect finds it already in the cluster's log — and a
// connection $connect refuses after that has its record removed: when its node is lost, a survivor
// runs the $disconnect of the connection that opened and of none other.
func TestClusterRecordOverlapsConnect(t *testing.T) {
	var (
		mu       sync.Mutex
		nc       *nats.Conn // node 1's NATS connection, set once the cluster runs
		connects int
		notSeen  []string
	)
	be := gatewaytest.NewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/connect") {
			return
		}
		id := r.Header.Get("connectionId")
		mu.Lock()
		conn := nc
		connects++
		refuse := connects == 2
		mu.Unlock()
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		for {
			found, err := inConnectionLog(ctx, conn, id)
			if found {
				break
			}
			if ctx.Err() != nil {
				mu.Lock()
				notSeen = append(notSeen, id)
				mu.Unlock()
				http.Error(w, "the connection's record was not stored while $connect ran: "+errString(err), http.StatusInternalServerError)
				return
			}
			time.Sleep(20 * time.Millisecond) // polling the store, with the deadline above
		}
		if refuse {
			http.Error(w, "refused", http.StatusForbidden)
		}
	})
	var openedID, refusedID string
	// Registered before the cluster starts, so it runs after every node has stopped: a second claim,
	// or a claim of the refused connection's record, would be in by then.
	t.Cleanup(func() {
		got := disconnects(be)
		if len(got[openedID]) != 1 || got[openedID][0] != "1006 127.0.0.1" {
			t.Errorf("the opened connection's $disconnect events: %q, want one \"1006 127.0.0.1\"", got[openedID])
		}
		if len(got[refusedID]) != 0 {
			t.Errorf("a $disconnect ran for the connection $connect refused: %q", got[refusedID])
		}
	})
	cl := startClusterWith(t, be, clusterWith{})
	nodes := cl.nodes
	mu.Lock()
	nc = nodes[0].NATS()
	mu.Unlock()
	var opened *gatewaytest.Client
	opened, openedID = cl.dial(t, nodes[2])
	if _, err := gatewaytest.TryDial(t, nodes[2].WSURL+"/c/dev", nil); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("the second handshake: %v, want a 403 from $connect", err)
	}
	refusedID = connIDOf(t, be, cl.seen)
	mu.Lock()
	if len(notSeen) > 0 {
		t.Fatalf("the $connect integration ran before the record of %q was stored", notSeen)
	}
	mu.Unlock()

	// The refused connection's record is removed once the refusal is on its way: its creation and its
	// removal are both in the log before the node goes.
	gatewaytest.Eventually(t, 10*time.Second, func() bool {
		n, _ := mentions(context.Background(), nodes[0].NATS(), refusedID)
		return n >= 2
	}, "the refused connection's record was not removed")
	nodes[2].NATS().Close()
	gatewaytest.Eventually(t, 20*time.Second, func() bool { return len(disconnects(be)[openedID]) > 0 },
		"the lost connection's $disconnect did not run")
	if code := opened.ExpectClose(); code != 1001 {
		t.Errorf("the client of the lost node: close %d, want 1001", code)
	}
}

func errString(err error) string {
	if err == nil {
		return "not found"
	}
	return err.Error()
}
