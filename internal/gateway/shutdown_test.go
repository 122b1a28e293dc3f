package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-gw/switchboard/internal/configfile"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
	"github.com/switchboard-gw/switchboard/internal/throttle"
)

// A graceful stop with thousands of connections, messages being integrated and @connections posts in
// flight: every client gets 1001, every connection's $disconnect runs exactly once, every post answered
// 200 reaches its client before the close frame — also for clients that stopped reading, whose send
// queues are full when the stop begins — and every other post is answered with an error (410, 429 or a
// refused connection), never silently dropped.
func TestShutdownDrainsEveryConnection(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 200
	}
	var (
		mu          sync.Mutex
		connected   []string
		disconnects = map[string]int{}
	)
	backend := gatewaytest.NewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("connectionId")
		switch r.Header.Get("X-Route") {
		case "$connect":
			mu.Lock()
			connected = append(connected, id)
			mu.Unlock()
		case "$disconnect":
			mu.Lock()
			disconnects[id]++
			mu.Unlock()
		case "work":
			// A message still being integrated when the stop begins.
			select {
			case <-time.After(50 * time.Millisecond):
			case <-r.Context().Done():
			}
		}
	})
	f, err := configfile.Parse("shutdown.yaml", []byte(fmt.Sprintf(`
apis:
  - name: drain
    apiId: drain
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: be
        integrationType: HTTP_PROXY
        integrationUri: %s/events
        requestParameters:
          integration.request.header.connectionId: context.connectionId
          integration.request.header.X-Route: context.routeKey
    routes:
      - {routeKey: $connect, target: integrations/be}
      - {routeKey: $disconnect, target: integrations/be}
      - {routeKey: work, target: integrations/be}
    stages: [{stageName: dev}]
`, backend.URL)))
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(gateway.Options{Listen: "127.0.0.1:0", Bundle: f.Bundle, ShutdownTimeout: 60 * time.Second,
		Guard: throttle.GuardConfig{MaxConnections: -1, PerIP: throttle.Unlimited()}, Logger: gatewaytest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	<-g.Ready()
	url := "ws://" + g.Addr() + "/drain/dev"

	// The clients, each with a reader that keeps what it receives and the close status.
	type client struct {
		conn   *websocket.Conn
		done   chan struct{}
		status websocket.StatusCode // set before done is closed
		err    error                // the read error that ended the client

		mu   sync.Mutex
		got  map[string]bool
		me   string // the connection ID, learnt from a post
		full bool   // a post to this (slow) client was answered 429: its send queue is full
	}
	// Every 200th client stops reading once it knows its ID, until the stop has begun.
	resume := make(chan struct{})
	slow := func(i int) bool { return i%200 == 0 }
	clients := make([]*client, n)
	var dialers sync.WaitGroup
	dialErrs := make(chan error, n)
	for w := range 16 {
		dialers.Go(func() {
			for i := w; i < n; i += 16 {
				dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
				conn, _, err := websocket.Dial(dctx, url, nil)
				dcancel()
				if err != nil {
					dialErrs <- err
					return
				}
				conn.SetReadLimit(1 << 20)
				clients[i] = &client{conn: conn, got: map[string]bool{}, done: make(chan struct{})}
			}
		})
	}
	dialers.Wait()
	close(dialErrs)
	for err := range dialErrs {
		t.Fatalf("dial: %v", err)
	}
	for i, c := range clients {
		go func() {
			defer close(c.done)
			for {
				c.mu.Lock()
				paused := slow(i) && c.me != ""
				c.mu.Unlock()
				if paused {
					<-resume
				}
				_, data, err := c.conn.Read(context.Background())
				if err != nil {
					c.status, c.err = websocket.CloseStatus(err), err
					return
				}
				c.mu.Lock()
				if id, ok := strings.CutPrefix(string(data), "you are "); ok {
					c.me = id
				}
				c.got[string(data)] = true
				c.mu.Unlock()
			}
		}()
	}
	mu.Lock()
	ids := append([]string(nil), connected...)
	mu.Unlock()
	if len(ids) != n {
		t.Fatalf("%d $connect events for %d clients", len(ids), n)
	}
	// $connect names the connection; the client that owns it is found by what it receives.
	for _, id := range ids {
		resp, err := http.Post("http://"+g.Addr()+"/dev/@connections/"+strings.ReplaceAll(id, "=", "%3D"), "text/plain", strings.NewReader("you are "+id))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	owner := map[string]*client{}
	gatewaytest.Eventually(t, 60*time.Second, func() bool {
		for _, c := range clients {
			c.mu.Lock()
			me := c.me
			c.mu.Unlock()
			if me == "" {
				return false
			}
			owner[me] = c
		}
		return true
	}, "not every client learnt its connection ID")

	// Messages being integrated when the stop begins.
	for i, c := range clients {
		if i%4 == 0 {
			wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := c.conn.Write(wctx, websocket.MessageText, []byte(`{"action":"work"}`)); err != nil {
				t.Fatal(err)
			}
			wcancel()
		}
	}

	// Posters run until the data plane stops answering; each post has a payload of its own.
	type post struct {
		id, payload string
		status      int
		err         error
	}
	var (
		posts    []post
		postsMu  sync.Mutex
		accepted atomic.Int64
		posters  sync.WaitGroup
		hc       = &http.Client{Timeout: 30 * time.Second}
	)
	var slowIDs []string
	for i, c := range clients {
		if slow(i) {
			slowIDs = append(slowIDs, c.me)
		}
	}
	padding := strings.Repeat("x", 64<<10)
	for p := range 8 {
		posters.Go(func() {
			for k := 0; ; k++ {
				// Every other post fills a slow client's queue.
				id, payload := ids[(p*7919+k*31)%len(ids)], fmt.Sprintf("post-%d-%d", p, k)
				if k%2 == 0 {
					id, payload = slowIDs[(p+k)%len(slowIDs)], payload+padding
				}
				resp, err := hc.Post("http://"+g.Addr()+"/dev/@connections/"+strings.ReplaceAll(id, "=", "%3D"), "text/plain", strings.NewReader(payload))
				pt := post{id: id, payload: payload, err: err}
				if err == nil {
					pt.status = resp.StatusCode
					resp.Body.Close()
					if pt.status == http.StatusOK {
						accepted.Add(1)
					}
					if pt.status == http.StatusTooManyRequests {
						c := owner[id]
						c.mu.Lock()
						c.full = true
						c.mu.Unlock()
					}
				}
				postsMu.Lock()
				posts = append(posts, pt)
				postsMu.Unlock()
				if err != nil {
					return // the listener is closed
				}
			}
		})
	}
	gatewaytest.Eventually(t, 60*time.Second, func() bool {
		if accepted.Load() < 200 {
			return false
		}
		for _, id := range slowIDs {
			c := owner[id]
			c.mu.Lock()
			full := c.full
			c.mu.Unlock()
			if !full {
				return false
			}
		}
		return true
	}, "the slow clients' send queues never filled")
	cancel()
	close(resume)
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	posters.Wait()
	for _, c := range clients {
		<-c.done
	}

	for i, c := range clients {
		if c.status != websocket.StatusGoingAway {
			t.Errorf("client %d closed with %v (%v), want 1001", i, c.status, c.err)
		}
	}
	mu.Lock()
	for _, id := range ids {
		if disconnects[id] != 1 {
			t.Errorf("connection %s: $disconnect ran %d times", id, disconnects[id])
		}
	}
	if len(disconnects) != len(ids) {
		t.Errorf("$disconnect for %d connections, %d connected", len(disconnects), len(ids))
	}
	mu.Unlock()
	delivered, gone, limited := 0, 0, 0
	for _, p := range posts {
		switch {
		case p.err != nil:
		case p.status == http.StatusOK:
			c := owner[p.id]
			c.mu.Lock()
			ok := c.got[p.payload]
			c.mu.Unlock()
			if !ok {
				t.Errorf("post %.20s (%d bytes) to %s was answered 200 but never delivered", p.payload, len(p.payload), p.id)
			}
			delivered++
		case p.status == http.StatusGone:
			gone++
		case p.status == http.StatusTooManyRequests:
			limited++
		default:
			t.Errorf("post %.20s answered %d", p.payload, p.status)
		}
	}
	t.Logf("%d connections; posts: %d delivered, %d answered 429, %d answered 410 during the stop", n, delivered, limited, gone)
}
