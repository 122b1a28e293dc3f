package gatewaytest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Request is what a Backend recorded of one request.
type Request struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   string
}

// Backend is an HTTP backend for HTTP_PROXY integrations that records every request and answers with
// Handler (200 with the request body echoed back when Handler is nil).
type Backend struct {
	*httptest.Server
	mu       sync.Mutex
	requests []Request
	arrived  chan struct{}
	// Handler answers requests; it runs after the request was recorded.
	Handler http.HandlerFunc
}

// NewBackend starts a recording backend that is closed at test cleanup.
func NewBackend(t testing.TB, handler http.HandlerFunc) *Backend {
	b := &Backend{Handler: handler, arrived: make(chan struct{}, 1024)}
	b.Server = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.Server.Close)
	return b
}

func (b *Backend) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	b.mu.Lock()
	b.requests = append(b.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body)})
	b.mu.Unlock()
	select {
	case b.arrived <- struct{}{}:
	default:
	}
	if b.Handler != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		b.Handler(w, r)
		return
	}
	_, _ = w.Write(body)
}

// Requests returns a copy of what has been recorded so far.
func (b *Backend) Requests() []Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Request(nil), b.requests...)
}

// WaitFor polls until a recorded request satisfies match and returns it; it fails the test after timeout.
func (b *Backend) WaitFor(t testing.TB, timeout time.Duration, match func(Request) bool) Request {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		for _, r := range b.Requests() {
			if match(r) {
				return r
			}
		}
		select {
		case <-b.arrived:
		case <-deadline.C:
			t.Fatalf("backend: no matching request within %v; got %d requests: %+v", timeout, len(b.Requests()), b.Requests())
		}
	}
}
