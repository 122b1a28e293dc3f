package httpbackend

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer counts the TCP connections its clients open.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func roundTrip(t *testing.T, tr http.RoundTripper, ctx context.Context, url, body string) (int, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestDirectTransport(t *testing.T) {
	t.Run("reuses one connection for sequential requests", func(t *testing.T) {
		srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) { io.Copy(w, r.Body) })
		tr := newDirectTransport(http.DefaultTransport, 8)
		defer tr.CloseIdleConnections()
		for i := range 20 {
			code, body, err := roundTrip(t, tr, context.Background(), srv.URL, "m")
			if err != nil || code != 200 || body != "m" {
				t.Fatalf("request %d: %d %q %v", i, code, body, err)
			}
		}
		if n := conns.Load(); n != 1 {
			t.Fatalf("%d connections for 20 sequential requests, want 1", n)
		}
	})
	t.Run("chunked answers and connection close", func(t *testing.T) {
		srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			w.(http.Flusher).Flush() // no Content-Length: chunked
			io.WriteString(w, "part1-")
			io.WriteString(w, "part2")
		})
		tr := newDirectTransport(http.DefaultTransport, 8)
		defer tr.CloseIdleConnections()
		for range 3 {
			if _, body, err := roundTrip(t, tr, context.Background(), srv.URL, ""); err != nil || body != "part1-part2" {
				t.Fatalf("body %q, %v", body, err)
			}
		}
		if n := conns.Load(); n != 3 {
			t.Fatalf("%d connections, want 3 (the backend closes each)", n)
		}
	})
	t.Run("a pooled connection the backend closed is retried on a new one", func(t *testing.T) {
		srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) { io.Copy(w, r.Body) })
		tr := newDirectTransport(http.DefaultTransport, 8)
		defer tr.CloseIdleConnections()
		if _, _, err := roundTrip(t, tr, context.Background(), srv.URL, "a"); err != nil {
			t.Fatal(err)
		}
		srv.CloseClientConnections() // the backend drops its idle keep-alive connections
		code, body, err := roundTrip(t, tr, context.Background(), srv.URL, "again")
		if err != nil || code != 200 || body != "again" {
			t.Fatalf("after the backend closed the pooled connection: %d %q %v", code, body, err)
		}
		if n := conns.Load(); n != 2 {
			t.Fatalf("%d connections, want 2", n)
		}
	})
	t.Run("cancellation interrupts a blocked request and drops its connection", func(t *testing.T) {
		release := make(chan struct{})
		arrived := make(chan struct{}, 1)
		srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
			arrived <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		defer close(release)
		tr := newDirectTransport(http.DefaultTransport, 8)
		defer tr.CloseIdleConnections()
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { _, _, err := roundTrip(t, tr, ctx, srv.URL, "x"); errc <- err }()
		<-arrived // the request is in flight
		cancel()
		select {
		case err := <-errc:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("cancel did not interrupt the request")
		}
		tr.mu.Lock()
		idle := len(tr.idle)
		tr.mu.Unlock()
		if idle != 0 {
			t.Fatal("an interrupted connection went back to the pool")
		}
	})
}
