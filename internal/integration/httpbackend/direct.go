package httpbackend

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// directTransport is an HTTP/1.1 round tripper for plain-http backends that does all the I/O of a request
// in the calling goroutine, over a pool of keep-alive connections. http.Transport hands every request to
// two goroutines per connection (a writer and a reader) and back; on the data plane's hot path — one
// backend call per WebSocket message — those hand-offs cost more than the request itself. Framing stays
// the standard library's: http.Request.Write and http.ReadResponse. Anything else (https, proxies, 1xx
// handling it cannot do) goes to the fallback transport.
type directTransport struct {
	dialer   *net.Dialer
	fallback http.RoundTripper
	maxIdle  int // idle connections kept per host

	mu   sync.Mutex
	idle map[string][]*directConn
}

type directConn struct {
	net.Conn
	br *bufio.Reader
	bw *bufio.Writer
}

func newDirectTransport(fallback http.RoundTripper, maxIdle int) *directTransport {
	return &directTransport{
		dialer:   &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second},
		fallback: fallback,
		maxIdle:  maxIdle,
		idle:     make(map[string][]*directConn),
	}
}

// RoundTrip sends req and returns the response; its Body must be closed, which returns the connection to
// the pool when the body was read to the end.
func (t *directTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" || usesProxy(req) {
		return t.fallback.RoundTrip(req)
	}
	addr := canonicalAddr(req)
	for attempt := 0; ; attempt++ {
		c, reused, err := t.get(req.Context(), addr)
		if err != nil {
			return nil, err
		}
		resp, err := t.exchange(c, req)
		if err == nil {
			return resp, nil
		}
		_ = c.Close()
		// A pooled connection the backend closed while idle fails before any answer: send once more on a
		// new one, as http.Transport does.
		if reused && attempt == 0 && staleConnError(err) && req.GetBody != nil && req.Context().Err() == nil {
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
			continue
		}
		return nil, err
	}
}

func (t *directTransport) exchange(c *directConn, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if d, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(d)
	} else {
		_ = c.SetDeadline(time.Time{})
	}
	// Cancellation (shutdown) interrupts blocked I/O by moving the deadline into the past.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (*http.Response, error) {
		stop()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, err
	}
	if err := req.Write(c.bw); err != nil {
		return fail(err)
	}
	if err := c.bw.Flush(); err != nil {
		return fail(err)
	}
	resp, err := http.ReadResponse(c.br, req)
	for err == nil && resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
		resp, err = http.ReadResponse(c.br, req) // skip informational answers
	}
	if err != nil {
		return fail(err)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		_ = resp.Body.Close()
		return fail(errors.New("backend answered 101 Switching Protocols"))
	}
	resp.Body = &directBody{ReadCloser: resp.Body, t: t, c: c, stop: stop, reusable: !resp.Close && !req.Close,
		addr: canonicalAddr(req)}
	return resp, nil
}

// directBody returns the connection to the pool once the body has been read to its end and closed.
type directBody struct {
	io.ReadCloser
	t        *directTransport
	c        *directConn
	stop     func() bool
	addr     string
	reusable bool
	eof      bool
	closed   bool
}

func (b *directBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *directBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	err := b.ReadCloser.Close()
	interrupted := !b.stop()
	if b.reusable && b.eof && !interrupted && err == nil {
		b.t.put(b.addr, b.c)
	} else {
		_ = b.c.Close()
	}
	return err
}

func (t *directTransport) get(ctx context.Context, addr string) (*directConn, bool, error) {
	t.mu.Lock()
	if list := t.idle[addr]; len(list) > 0 {
		c := list[len(list)-1]
		t.idle[addr] = list[:len(list)-1]
		t.mu.Unlock()
		return c, true, nil
	}
	t.mu.Unlock()
	nc, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	return &directConn{Conn: nc, br: bufio.NewReaderSize(nc, 4096), bw: bufio.NewWriterSize(nc, 4096)}, false, nil
}

func (t *directTransport) put(addr string, c *directConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.idle[addr]) >= t.maxIdle {
		_ = c.Close()
		return
	}
	t.idle[addr] = append(t.idle[addr], c)
}

// CloseIdleConnections closes every pooled connection and the fallback's.
func (t *directTransport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = make(map[string][]*directConn)
	t.mu.Unlock()
	for _, list := range idle {
		for _, c := range list {
			_ = c.Close()
		}
	}
	if ci, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

func canonicalAddr(req *http.Request) string {
	host, port := req.URL.Hostname(), req.URL.Port()
	if port == "" {
		port = "80"
	}
	return net.JoinHostPort(host, port)
}

func usesProxy(req *http.Request) bool {
	u, err := http.ProxyFromEnvironment(req)
	return err != nil || u != nil
}

func staleConnError(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
