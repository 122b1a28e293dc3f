package wsconn

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

type closeEvent struct {
	code   int
	reason string
}

// recorder echoes "echo:" messages, and records what it saw.
type recorder struct {
	conns  chan *Conn
	msgs   chan string
	closes chan closeEvent
}

func newRecorder() *recorder {
	return &recorder{conns: make(chan *Conn, 4), msgs: make(chan string, 64), closes: make(chan closeEvent, 4)}
}

func (r *recorder) OnMessage(c *Conn, data []byte) {
	r.msgs <- string(data)
	if rest, ok := strings.CutPrefix(string(data), "echo:"); ok {
		_ = c.Send([]byte(rest))
	}
}

func (r *recorder) OnClose(c *Conn, code int, reason string) { r.closes <- closeEvent{code, reason} }

func serve(t *testing.T, cfg Config) (*recorder, string) {
	t.Helper()
	rec := newRecorder()
	up := NewUpgrader(cfg)
	var mu sync.Mutex
	var live []*Conn
	var done []chan struct{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, r.URL.Query().Get("proto"), time.Now(), rec)
		if err != nil {
			return
		}
		finished := make(chan struct{})
		mu.Lock()
		live, done = append(live, c), append(done, finished)
		mu.Unlock()
		rec.conns <- c
		c.Serve()
		close(finished)
	}))
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for i, c := range live {
			c.Close(CloseGoingAway, ReasonGoingAway)
			<-done[i]
		}
		srv.Close()
	})
	return rec, "ws" + strings.TrimPrefix(srv.URL, "http")
}

func dial(t *testing.T, url string, writeBuf int) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{WriteBufferSize: writeBuf, HandshakeTimeout: 5 * time.Second}
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

func waitClose(t *testing.T, rec *recorder) closeEvent {
	t.Helper()
	select {
	case ev := <-rec.closes:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("OnClose was not called")
	}
	return closeEvent{}
}

// readClose reads until the server's close frame and returns its code.
func readClose(t *testing.T, ws *websocket.Conn) int {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		if err != nil {
			t.Fatalf("read ended without a close frame: %v", err)
		}
	}
}

func TestEchoAndOrder(t *testing.T) {
	_, url := serve(t, DefaultConfig())
	ws := dial(t, url, 0)
	for i := range 50 {
		msg := strings.Repeat("x", i)
		if err := ws.WriteMessage(websocket.TextMessage, []byte("echo:"+msg)); err != nil {
			t.Fatal(err)
		}
		_, got, err := ws.ReadMessage()
		if err != nil || string(got) != msg {
			t.Fatalf("message %d: got %q, %v", i, got, err)
		}
	}
}

func TestLimitsClose(t *testing.T) {
	cases := []struct {
		name      string
		writeBuf  int // gorilla fragments messages into frames of this size
		opcode    int
		size      int
		wantCode  int
		wantClose bool
	}{
		{"frame at 32 KB limit accepted", 64 << 10, websocket.TextMessage, 32 << 10, 0, false},
		{"single frame over 32 KB", 64 << 10, websocket.TextMessage, 32<<10 + 1, CloseMessageTooBig, true},
		{"128 KB message in small frames accepted", 4 << 10, websocket.TextMessage, 128 << 10, 0, false},
		{"message over 128 KB in small frames", 4 << 10, websocket.TextMessage, 128<<10 + 1, CloseMessageTooBig, true},
		{"binary frame", 0, websocket.BinaryMessage, 10, CloseUnsupportedData, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, url := serve(t, DefaultConfig())
			ws := dial(t, url, tc.writeBuf)
			if err := ws.WriteMessage(tc.opcode, bytes.Repeat([]byte("a"), tc.size)); err != nil {
				t.Fatal(err)
			}
			if !tc.wantClose {
				if got := <-rec.msgs; len(got) != tc.size {
					t.Fatalf("handler got %d bytes, want %d", len(got), tc.size)
				}
				// The connection still works.
				_ = ws.WriteMessage(websocket.TextMessage, []byte("echo:ok"))
				if _, got, err := ws.ReadMessage(); err != nil || string(got) != "ok" {
					t.Fatalf("after limit-sized message: %q, %v", got, err)
				}
				return
			}
			if code := readClose(t, ws); code != tc.wantCode {
				t.Fatalf("client saw close %d, want %d", code, tc.wantCode)
			}
			if ev := waitClose(t, rec); ev.code != tc.wantCode {
				t.Fatalf("OnClose code %d, want %d", ev.code, tc.wantCode)
			}
		})
	}
}

func TestClientCloseCodes(t *testing.T) {
	cases := []struct {
		name       string
		payload    []byte
		wantCode   int
		wantReason string
	}{
		{"going away", websocket.FormatCloseMessage(1001, ""), 1001, ""},
		{"normal with reason", websocket.FormatCloseMessage(1000, "bye"), 1000, "bye"},
		{"no status", []byte{}, CloseNoStatus, ReasonNoStatus},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, url := serve(t, DefaultConfig())
			ws := dial(t, url, 0)
			if err := ws.WriteControl(websocket.CloseMessage, tc.payload, time.Now().Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			ev := waitClose(t, rec)
			if ev.code != tc.wantCode || ev.reason != tc.wantReason {
				t.Fatalf("OnClose(%d, %q), want (%d, %q)", ev.code, ev.reason, tc.wantCode, tc.wantReason)
			}
		})
	}
}

func TestDroppedSocketIsAbnormal(t *testing.T) {
	rec, url := serve(t, DefaultConfig())
	ws := dial(t, url, 0)
	<-rec.conns
	ws.NetConn().Close()
	if ev := waitClose(t, rec); ev.code != CloseAbnormal {
		t.Fatalf("OnClose code %d, want 1006", ev.code)
	}
}

func TestServerClose(t *testing.T) {
	rec, url := serve(t, DefaultConfig())
	ws := dial(t, url, 0)
	c := <-rec.conns
	c.Close(CloseNormal, ReasonDeleted)
	if code := readClose(t, ws); code != CloseNormal {
		t.Fatalf("client saw %d, want 1000", code)
	}
	if ev := waitClose(t, rec); ev.code != CloseNormal || ev.reason != ReasonDeleted {
		t.Fatalf("OnClose = %+v", ev)
	}
	if err := c.Send([]byte("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after close: %v, want ErrClosed", err)
	}
}

func TestIdleAndMaxDuration(t *testing.T) {
	cases := []struct {
		name string
		cfg  func(*Config)
	}{
		{"idle", func(c *Config) { c.IdleTimeout = 200 * time.Millisecond }},
		{"max duration despite activity", func(c *Config) { c.MaxDuration = 300 * time.Millisecond }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.cfg(&cfg)
			rec, url := serve(t, cfg)
			ws := dial(t, url, 0)
			start := time.Now()
			done := make(chan int, 1)
			go func() { done <- readClose(t, ws) }()
			if tc.name != "idle" {
				// Keep the connection busy: activity must not extend the maximum duration.
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
			loop:
				for {
					select {
					case code := <-done:
						done <- code
						break loop
					case <-tick.C:
						_ = ws.WriteMessage(websocket.TextMessage, []byte("keepalive"))
					}
				}
			}
			if code := <-done; code != CloseGoingAway {
				t.Fatalf("client saw close %d, want 1001", code)
			}
			if elapsed := time.Since(start); elapsed < 150*time.Millisecond {
				t.Fatalf("closed after %v, before the limit", elapsed)
			}
			if ev := waitClose(t, rec); ev.code != CloseGoingAway || ev.reason != ReasonGoingAway {
				t.Fatalf("OnClose = %+v", ev)
			}
		})
	}
}

func TestPingAnsweredAndNotActivity(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IdleTimeout = 300 * time.Millisecond
	_, url := serve(t, cfg)
	ws := dial(t, url, 0)
	pong := make(chan string, 1)
	ws.SetPongHandler(func(s string) error {
		select {
		case pong <- s:
		default:
		}
		return nil
	})
	if err := ws.WriteControl(websocket.PingMessage, []byte("p1"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// Pings keep arriving, yet the idle limit still closes the connection.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second))
			}
		}
	}()
	if code := readClose(t, ws); code != CloseGoingAway {
		t.Fatalf("close %d, want 1001", code)
	}
	select {
	case got := <-pong:
		if got != "p1" {
			t.Fatalf("pong payload %q, want p1", got)
		}
	default:
		t.Fatal("no pong received")
	}
}

func TestSendQueueBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SendQueueBytes = 256 << 10
	rec, url := serve(t, cfg)
	_ = dial(t, url, 0) // never reads
	c := <-rec.conns
	msg := bytes.Repeat([]byte("z"), 64<<10)
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := c.Send(msg)
		if errors.Is(err, ErrQueueFull) {
			break
		}
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("queue never filled against a client that does not read")
		}
	}
}

// CloseAfterQueued (shutdown) writes every message Send accepted before the close frame, even when the
// writer is held up by a client that is slow to read; Send refuses new ones meanwhile. Close (a
// DeleteConnection) drops them, as API Gateway does.
func TestCloseAfterQueuedKeepsQueuedMessages(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SendQueueBytes = 4 << 20
	rec, url := serve(t, cfg)
	ws := dial(t, url, 0) // reads only after the close has been asked for
	c := <-rec.conns
	msg := bytes.Repeat([]byte("q"), 64<<10)
	// Enough to fill the socket buffers both ways, so the writer is still busy at the close.
	const n = 48
	for i := range n {
		m := append([]byte(fmt.Sprintf("%03d", i)), msg...)
		if err := c.Send(m); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	c.CloseAfterQueued(CloseGoingAway, ReasonGoingAway)
	if err := c.Send([]byte("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after the close: %v, want ErrClosed", err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	for i := range n {
		_, got, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("message %d of %d: %v", i, n, err)
		}
		if want := fmt.Sprintf("%03d", i); string(got[:3]) != want {
			t.Fatalf("message %d starts %q", i, got[:3])
		}
	}
	if code := readClose(t, ws); code != CloseGoingAway {
		t.Fatalf("close code %d, want %d", code, CloseGoingAway)
	}
	if ev := waitClose(t, rec); ev.code != CloseGoingAway {
		t.Fatalf("OnClose %+v", ev)
	}
}
