package runtimeapi

// A lean HTTP/1.1 server for the Runtime API. net/http's server does more per request than the handlers
// here (a background read and its abort on every request, a context, buffered chunking, header
// canonicalisation): on a warm invocation's two requests that was about half of the gateway's CPU. This
// server parses requests with net/http's own http.ReadRequest (Content-Length and chunked bodies, trailers)
// and writes each answer with one write. It only watches a connection for the runtime going away while a
// GET /next has waited longer than pollWatchDelay.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Limits of the lean server.
const (
	// maxHeaderBytes bounds a request's line and headers, as net/http's DefaultMaxHeaderBytes does.
	maxHeaderBytes = 1 << 20
	// maxDrain is how much of a body a handler left unread is discarded to keep the connection.
	maxDrain = 256 << 10
	// pollWatchDelay is how long a GET /next waits before its connection is watched for the runtime going
	// away; under load a poll is answered well before, and watching costs a goroutine and a read.
	pollWatchDelay = 50 * time.Millisecond
	// lingerTimeout bounds how long a refused request's remaining input is discarded before closing.
	lingerTimeout = 500 * time.Millisecond
	// stopWriteTimeout bounds the last answer's write once the server is closing.
	stopWriteTimeout = time.Second
)

// connKey is the context key under which a request served by Serve finds its connection.
type connKey struct{}

// Serve serves the Runtime API on ln with the lean server until Close is called; it then closes ln,
// stops every connection's reads and returns once every connection's goroutine is done. A request
// already being answered is finished. It returns the error that stopped accepting, if any other.
func (s *Server) Serve(ln net.Listener) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := make(map[*serverConn]struct{})
	stopped := make(chan struct{})
	go func() {
		select {
		case <-s.closing:
		case <-stopped:
		}
		_ = ln.Close()
		mu.Lock()
		for c := range conns {
			c.stop()
		}
		mu.Unlock()
	}()
	var err error
	var backoff time.Duration
	for {
		nc, aerr := ln.Accept()
		if aerr != nil {
			select {
			case <-s.closing:
			default:
				if temporaryAcceptError(aerr) {
					// Out of file descriptors, or a connection aborted before it was accepted: wait and
					// accept again, as net/http does, rather than leave the runtime without its API.
					backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
					s.log.Warn("runtime API: accept failed; retrying", "error", aerr, "in", backoff)
					select {
					case <-time.After(backoff):
						continue
					case <-s.closing:
					}
				} else {
					err = fmt.Errorf("runtime api: accept: %w", aerr)
				}
			}
			break
		}
		backoff = 0
		c := newServerConn(s, nc)
		mu.Lock()
		select {
		case <-s.closing:
			mu.Unlock()
			_ = nc.Close()
			continue // the listener is being closed: Accept fails next
		default:
		}
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Go(func() {
			c.serve()
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
		})
	}
	close(stopped)
	wg.Wait()
	return err
}

// serverConn is one runtime connection.
type serverConn struct {
	s      *Server
	nc     net.Conn
	r      *connReader
	br     *bufio.Reader
	bw     *bufio.Writer
	ctx    context.Context
	remote string   // the runtime's address
	watch  *watcher // set while the connection is watched

	mu      sync.Mutex
	stopped bool // stop was called: reads fail from now on
}

func newServerConn(s *Server, nc net.Conn) *serverConn {
	c := &serverConn{s: s, nc: nc, r: &connReader{nc: nc}, remote: nc.RemoteAddr().String()}
	c.br = bufio.NewReaderSize(c.r, 4096)
	c.bw = bufio.NewWriterSize(nc, 4096)
	c.ctx = context.WithValue(context.Background(), connKey{}, c)
	return c
}

// stop makes the connection's reads fail, so that its goroutine ends after the request in hand, and bounds
// the answer's write, so that a peer that does not read cannot hold Serve.
func (c *serverConn) stop() {
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	_ = c.nc.SetReadDeadline(time.Unix(1, 0))
	_ = c.nc.SetWriteDeadline(time.Now().Add(stopWriteTimeout))
}

// serve answers the connection's requests until it closes, a request cannot be parsed, or stop.
func (c *serverConn) serve() {
	defer c.nc.Close()
	for {
		c.r.limit = maxHeaderBytes
		req, err := http.ReadRequest(c.br)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, net.ErrClosed) {
				c.s.log.Debug("runtime API: bad request", "error", err)
				w := newResponseWriter()
				writeError(w, http.StatusBadRequest, "InvalidRequest", "cannot parse the request: "+err.Error())
				w.header.Set("Connection", "close")
				if w.flushTo(c.bw) == nil {
					c.lingerClose()
				}
			}
			return
		}
		c.r.limit = -1
		if req.Header.Get("Expect") == "100-continue" && req.ContentLength != 0 {
			if _, err := c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n"); err != nil || c.bw.Flush() != nil {
				return
			}
		}
		req = req.WithContext(c.ctx)
		req.RemoteAddr = c.remote
		w := newResponseWriter()
		if !c.serveOne(w, req) {
			return
		}
		gone := c.endWatch()
		if gone {
			return // the runtime went away while its poll waited
		}
		keep := !req.Close && req.ProtoAtLeast(1, 1)
		unread := false // the runtime is still sending a body nobody will read
		if n, _ := io.Copy(io.Discard, io.LimitReader(req.Body, maxDrain+1)); n > maxDrain {
			keep, unread = false, true
		}
		_ = req.Body.Close()
		if !keep {
			w.header.Set("Connection", "close")
		}
		w.writeTo(c.bw)
		// A runtime that pipelines (the Node.js bootstrap sends its outcome and its next GET /next in one
		// write) has its next request in the buffer already: its answer goes out with that request's, in
		// one write. Anything else is answered now; a runtime that waits for this answer never waits.
		if c.br.Buffered() > 0 && keep {
			continue
		}
		if err := c.bw.Flush(); err != nil || !keep {
			if err == nil && unread {
				// Closing with unread input resets the connection, which can destroy the answer before the
				// runtime has read it (a 413 for a response over the limit): finish writing, then discard
				// for a moment, as net/http does.
				c.lingerClose()
			}
			return
		}
	}
}

// serveOne runs the handler for one request; a panic in it is logged and ends this connection only (as
// net/http contains a handler's panic), not the gateway.
func (c *serverConn) serveOne(w *responseWriter, req *http.Request) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			c.s.log.Error("runtime API: handler panicked; closing the connection", "path", req.URL.Path, "panic", v,
				"stack", string(debug.Stack()))
			c.endWatch()
			ok = false
		}
	}()
	c.s.ServeHTTP(w, req)
	return true
}

// lingerClose closes the writing side and discards what the client still sends for a moment, so that
// closing with unread input does not reset the connection before the client has read the answer.
func (c *serverConn) lingerClose() {
	if tc, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
	c.r.limit = -1
	_ = c.nc.SetReadDeadline(time.Now().Add(lingerTimeout))
	_, _ = io.Copy(io.Discard, io.LimitReader(c.nc, maxDrain))
}

// watcher is a background read that tells when the runtime closes its connection during a long poll.
type watcher struct {
	gone chan struct{} // closed when the peer went away
	done chan struct{} // closed when the read returned
	err  error
	b    [1]byte
	n    int
}

// startWatch starts watching the connection (once per request) and returns a channel closed when the
// runtime goes away.
func (c *serverConn) startWatch() <-chan struct{} {
	if c.watch != nil {
		return c.watch.gone
	}
	w := &watcher{gone: make(chan struct{}), done: make(chan struct{})}
	c.watch = w
	go func() {
		defer close(w.done)
		w.n, w.err = c.nc.Read(w.b[:])
		if w.n == 0 && !errors.Is(w.err, os.ErrDeadlineExceeded) {
			close(w.gone)
		}
	}()
	return w.gone
}

// endWatch stops the watch, if one was started, and reports whether the runtime went away. A byte it read
// early (a pipelined request) is handed back to the request reader.
func (c *serverConn) endWatch() (gone bool) {
	w := c.watch
	if w == nil {
		return false
	}
	c.watch = nil
	_ = c.nc.SetReadDeadline(time.Unix(1, 0))
	<-w.done
	c.mu.Lock()
	if !c.stopped {
		_ = c.nc.SetReadDeadline(time.Time{})
	}
	c.mu.Unlock()
	if w.n > 0 {
		c.r.pending = append(c.r.pending, w.b[:w.n]...)
		return false
	}
	return !errors.Is(w.err, os.ErrDeadlineExceeded)
}

// connGone returns what a handler waiting for work selects on to learn that the runtime went away, and,
// for a request served by Serve, a function that starts watching for it (nil for net/http, whose request
// context is cancelled when the connection closes).
func connGone(r *http.Request) (<-chan struct{}, func() <-chan struct{}) {
	if c, ok := r.Context().Value(connKey{}).(*serverConn); ok {
		return nil, c.startWatch
	}
	return r.Context().Done(), nil
}

// connReader reads the connection: first any byte a watch read early, and at most limit bytes while a
// request's head is parsed (limit < 0: no limit).
type connReader struct {
	nc      net.Conn
	pending []byte
	limit   int64
}

func (r *connReader) Read(p []byte) (int, error) {
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	if r.limit == 0 {
		return 0, errors.New("request head too large")
	}
	if r.limit > 0 && int64(len(p)) > r.limit {
		p = p[:r.limit]
	}
	n, err := r.nc.Read(p)
	if r.limit > 0 {
		r.limit -= int64(n)
	}
	return n, err
}

// responseWriter collects an answer and writes it with one flush, with its Content-Length.
type responseWriter struct {
	header http.Header
	status int
	body   []byte
}

func newResponseWriter() *responseWriter { return &responseWriter{header: make(http.Header, 4)} }

// Header returns the answer's header.
func (w *responseWriter) Header() http.Header { return w.header }

// WriteHeader sets the status; only the first call counts.
func (w *responseWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

// Write appends to the body.
func (w *responseWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.body = append(w.body, p...)
	return len(p), nil
}

// flushTo writes the answer to bw and flushes it.
func (w *responseWriter) flushTo(bw *bufio.Writer) error {
	w.writeTo(bw)
	return bw.Flush()
}

// writeTo writes the answer to bw without flushing it.
func (w *responseWriter) writeTo(bw *bufio.Writer) {
	w.WriteHeader(http.StatusOK)
	bw.WriteString("HTTP/1.1 ")
	bw.WriteString(strconv.Itoa(w.status))
	bw.WriteByte(' ')
	bw.WriteString(http.StatusText(w.status))
	bw.WriteString("\r\n")
	w.header["Content-Length"] = []string{strconv.Itoa(len(w.body))}
	for k, vs := range w.header {
		for _, v := range vs {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(headerValue(v))
			bw.WriteString("\r\n")
		}
	}
	bw.WriteString("\r\n")
	bw.Write(w.body)
}

// headerValue drops CR and LF from a header value, as net/http does, so that no value can end the head.
func headerValue(v string) string {
	for i := 0; i < len(v); i++ {
		if v[i] == '\r' || v[i] == '\n' {
			b := []byte(v)
			for j := i; j < len(b); j++ {
				if b[j] == '\r' || b[j] == '\n' {
					b[j] = ' '
				}
			}
			return string(b)
		}
	}
	return v
}

// temporaryAcceptError reports whether an Accept error is worth retrying: the process or system is out of
// file descriptors, the peer aborted, or the listener says it is a timeout.
func temporaryAcceptError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}
