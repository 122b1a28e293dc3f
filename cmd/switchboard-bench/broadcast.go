package main

// Broadcast: one message to every connection, Switchboard's management extension against raw gws doing
// the same fan-out.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/lxzan/gws"
)

// Broadcast rounds: warm-up rounds, then measured ones.
const (
	broadcastWarmup = 2
	broadcastRounds = 10
)

// broadcastResult is one server's broadcast figures: the time from the POST to the last client's
// receipt, per round.
type broadcastResult struct {
	Conns  int
	Rounds []time.Duration
}

// median is the median round.
func (r *broadcastResult) median() time.Duration {
	s := slices.Sorted(slices.Values(r.Rounds))
	return s[len(s)/2]
}

// rate is messages delivered per second at the median round.
func (r *broadcastResult) rate() float64 {
	return float64(r.Conns) / r.median().Seconds()
}

func (b *bench) broadcastRaw(ctx context.Context) error {
	c, err := b.start(ctx, "fanout")
	if err != nil {
		return err
	}
	r, err := b.measureBroadcast(ctx, "ws://"+c.addr+"/", "http://"+c.addr+"/broadcast", message("push", b.s.MsgSize))
	if r != nil {
		b.res.Broadcast["raw"] = r
	}
	return joinErr(err, c.stop())
}

func (b *bench) broadcastGateway(ctx context.Context) error {
	c, err := b.startGateway(ctx, connectNone)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]string{"data": string(message("push", b.s.MsgSize))})
	r, err := b.measureBroadcast(ctx, stageURL(c.addr), "http://"+c.addr+"/"+benchAPIID+"/"+benchStage+"/@connections", body)
	if r != nil {
		b.res.Broadcast["switchboard"] = r
	}
	return joinErr(err, c.stop())
}

// measureBroadcast opens -conns connections whose readers count what they receive, then POSTs body to
// postURL once per round and times each round until every connection has the message.
func (b *bench) measureBroadcast(ctx context.Context, wsURL, postURL string, body []byte) (*broadcastResult, error) {
	n := b.s.Conns
	conns := make([]*websocket.Conn, n)
	var readers sync.WaitGroup
	defer readers.Wait()
	defer closeAll(conns)
	if got, err := b.dialer.dialMany(ctx, wsURL, idleBufSize, conns, 0, n, 16); err != nil {
		return nil, fmt.Errorf("connecting clients (%d open): %w", got, err)
	}
	var delivered atomic.Int64
	countDeliveries(&readers, conns, &delivered)
	client := &http.Client{Timeout: 60 * time.Second}
	res := &broadcastResult{Conns: n}
	for round := range broadcastWarmup + broadcastRounds {
		want := int64(n) * int64(round+1)
		start := time.Now()
		resp, err := client.Post(postURL, "application/json", bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("broadcast round %d: %w", round, err)
		}
		reply, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("broadcast round %d: %d %s", round, resp.StatusCode, reply)
		}
		deadline := start.Add(60 * time.Second)
		for delivered.Load() < want {
			if time.Now().After(deadline) || ctx.Err() != nil {
				return nil, fmt.Errorf("broadcast round %d: %d of %d messages delivered after 60s", round, delivered.Load()-want+int64(n), n)
			}
			time.Sleep(100 * time.Microsecond) // polling the counter; the figure's resolution
		}
		if round >= broadcastWarmup {
			res.Rounds = append(res.Rounds, time.Since(start))
		}
	}
	logf(b.stderr, "broadcast to %d connections via %s: median %v", n, postURL, res.median())
	return res, nil
}

// fanoutHandler is the raw fan-out server: the echo server's gws options, its connections kept in a set,
// and POST /broadcast sending the body to every one with gws's Broadcaster (one frame encoded once,
// written through each connection's async queue), answering once all are queued.
func fanoutHandler() http.Handler {
	f := &fanout{conns: map[*gws.Conn]struct{}{}}
	up := gws.NewUpgrader(f, &gws.ServerOption{
		ReadBufferSize:     4096,
		ReadMaxPayloadSize: 128 * 1024,
		CheckUtf8Enabled:   true,
		Recovery:           gws.Recovery,
	})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /broadcast", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		targets := make([]*gws.Conn, 0, len(f.conns))
		for c := range f.conns {
			targets = append(targets, c)
		}
		f.mu.Unlock()
		bc := gws.NewBroadcaster(gws.OpcodeText, body)
		for _, c := range targets {
			_ = bc.Broadcast(c)
		}
		_ = bc.Close()
		fmt.Fprintf(w, `{"sent":%d}`, len(targets))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		socket, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns[socket] = struct{}{}
		f.mu.Unlock()
		go socket.ReadLoop()
	})
	return mux
}

// fanout tracks the open connections.
type fanout struct {
	gws.BuiltinEventHandler
	mu    sync.Mutex
	conns map[*gws.Conn]struct{}
}

// OnPing answers pings.
func (*fanout) OnPing(socket *gws.Conn, payload []byte) { _ = socket.WritePong(payload) }

// OnClose forgets the connection.
func (f *fanout) OnClose(socket *gws.Conn, _ error) {
	f.mu.Lock()
	delete(f.conns, socket)
	f.mu.Unlock()
}

// countDeliveries starts one reader per connection under readers, each adding every message it reads to
// delivered until its connection closes.
func countDeliveries(readers *sync.WaitGroup, conns []*websocket.Conn, delivered *atomic.Int64) {
	for _, c := range conns {
		readers.Go(func() {
			for {
				_, r, err := c.NextReader()
				if err != nil {
					return
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					return
				}
				delivered.Add(1)
			}
		})
	}
}
