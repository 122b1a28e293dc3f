// Package gatewaytest starts real Switchboard gateways in-process for tests: on 127.0.0.1:0, from YAML
// config text, stopped and waited for at test cleanup. Clients are real WebSocket clients
// (github.com/coder/websocket, a different implementation from the server's) and backends are real HTTP
// servers that record what they receive. Nothing here sleeps: waiting is polling with a deadline.
package gatewaytest

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-gw/switchboard/internal/configfile"
	"github.com/switchboard-gw/switchboard/internal/gateway"
)

// Gateway is a running gateway.
type Gateway struct {
	*gateway.Gateway
	// HTTPURL is "http://127.0.0.1:PORT"; WSURL is "ws://127.0.0.1:PORT".
	HTTPURL, WSURL string
	// ControlURL is the control plane's "http://127.0.0.1:PORT", when WithControlPlane was given.
	ControlURL string
	// Stop shuts the gateway down as SIGTERM does and returns Run's error; later calls (and the
	// test's end) return the same.
	Stop func() error
}

// WithControlPlane serves the control plane (the apigatewayv2 API) on 127.0.0.1:0.
func WithControlPlane(o *gateway.Options) { o.ControlListen = "127.0.0.1:0" }

// Start runs a gateway serving the APIs in yamlConfig until the test ends. opts adjust the Options.
// Logs go to the test log when SWITCHBOARD_TEST_LOG is set, else they are discarded.
func Start(t testing.TB, yamlConfig string, opts ...func(*gateway.Options)) *Gateway {
	t.Helper()
	f, err := configfile.Parse(t.Name()+".yaml", []byte(yamlConfig))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return start(t, f, opts...)
}

// StartFile runs a gateway serving a loaded config file (configfile.Load: relative paths already
// resolved) until the test ends.
func StartFile(t testing.TB, f *configfile.File, opts ...func(*gateway.Options)) *Gateway {
	t.Helper()
	return start(t, f, opts...)
}

func start(t testing.TB, f *configfile.File, opts ...func(*gateway.Options)) *Gateway {
	t.Helper()
	o := gateway.Options{Listen: "127.0.0.1:0", Bundle: f.Bundle, ShutdownTimeout: 5 * time.Second, Logger: Logger(t)}
	for _, opt := range opts {
		opt(&o)
	}
	g, err := gateway.New(o)
	if err != nil {
		t.Fatalf("gateway.New: %v", f.Locate(err))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	select {
	case <-g.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("gateway.Run: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("gateway not ready after 10s")
	}
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("gateway.Run: %v", err)
		}
	})
	out := &Gateway{Gateway: g, HTTPURL: "http://" + g.Addr(), WSURL: "ws://" + g.Addr(), Stop: stop}
	if addr := g.ControlAddr(); addr != "" {
		out.ControlURL = "http://" + addr
	}
	return out
}

// Logger returns a logger writing to t.Log when SWITCHBOARD_TEST_LOG is set, else a discarding one.
func Logger(t testing.TB) *slog.Logger {
	if os.Getenv("SWITCHBOARD_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Client is a WebSocket client connected to a gateway.
type Client struct {
	t    testing.TB
	Conn *websocket.Conn
	// Response is the handshake's HTTP response.
	Response *http.Response
}

// Dial connects to url (e.g. g.WSURL+"/api/dev") and fails the test if the handshake does not succeed.
func Dial(t testing.TB, url string, opts *websocket.DialOptions) *Client {
	t.Helper()
	c, err := TryDial(t, url, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	return c
}

// TryDial connects to url and returns the error (with the handshake response, if any) instead of failing.
func TryDial(t testing.TB, url string, opts *websocket.DialOptions) (*Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		return &Client{t: t, Response: resp}, err
	}
	conn.SetReadLimit(1 << 20)
	t.Cleanup(func() { conn.CloseNow() })
	return &Client{t: t, Conn: conn, Response: resp}, nil
}

// Send sends one text message.
func (c *Client) Send(msg string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		c.t.Fatalf("send %q: %v", msg, err)
	}
}

// Read waits up to 10s for the next message.
func (c *Client) Read() string {
	c.t.Helper()
	msg, err := c.TryRead(10 * time.Second)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return msg
}

// TryRead waits up to timeout for the next message.
func (c *Client) TryRead(timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	typ, data, err := c.Conn.Read(ctx)
	if err != nil {
		return "", err
	}
	if typ != websocket.MessageText {
		return "", fmt.Errorf("got a %v message, want text", typ)
	}
	return string(data), nil
}

// ExpectClose reads until the server closes the connection and returns the close status.
func (c *Client) ExpectClose() websocket.StatusCode {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, _, err := c.Conn.Read(ctx)
		if err == nil {
			continue
		}
		if code := websocket.CloseStatus(err); code != -1 {
			return code
		}
		c.t.Fatalf("connection ended without a close frame: %v", err)
	}
}

// Eventually polls cond every few milliseconds until it holds or timeout passes, then fails with msg.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: "+msg, append([]any{timeout}, args...)...)
		}
		<-tick.C
	}
}
