package main

// The client side: WebSocket connections from spread-out source addresses, and the messages they send.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// connsPerSourceIP is how many connections share one source address. Each source address has its own
// ~28,000 ephemeral ports, so 1,000 a piece leaves room for the previous runs' TIME_WAIT sockets.
const connsPerSourceIP = 1000

// maxSourceIPs bounds the source addresses used: 127.0.0.2 … 127.0.249.251.
const maxSourceIPs = 250 * 250

// wsDialer dials WebSocket connections, each from a source address in 127.0.0.2, 127.0.0.3, …; the
// address advances every connsPerSourceIP connections and never goes back within one run.
type wsDialer struct {
	dialed atomic.Uint64
}

// sourceIP returns the source address for the next connection.
func (d *wsDialer) sourceIP() net.IP {
	n := (d.dialed.Add(1) - 1) / connsPerSourceIP % maxSourceIPs
	return net.IPv4(127, 0, byte(n/250), byte(n%250+2)).To4()
}

// dial opens one WebSocket connection to url with buffers of bufSize bytes.
func (d *wsDialer) dial(ctx context.Context, url string, bufSize int) (*websocket.Conn, error) {
	src := d.sourceIP()
	wd := websocket.Dialer{
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 10 * time.Second}
			return nd.DialContext(ctx, "tcp4", addr)
		},
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   bufSize,
		WriteBufferSize:  bufSize,
	}
	c, resp, err := wd.DialContext(ctx, url, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s from %s: %w (HTTP %d)", url, src, err, resp.StatusCode)
		}
		return nil, fmt.Errorf("dial %s from %s: %w", url, src, err)
	}
	return c, nil
}

// dialMany opens conns[from:to] with workers concurrent dialers. It stops at the first error and returns
// how many connections, from the start of conns, are open, and the error.
func (d *wsDialer) dialMany(ctx context.Context, url string, bufSize int, conns []*websocket.Conn, from, to, workers int) (int, error) {
	var next atomic.Int64
	next.Store(int64(from))
	var failed atomic.Bool
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for !failed.Load() && ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				c, err := d.dial(ctx, url, bufSize)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("connection %d: %w", i+1, err)
					}
					mu.Unlock()
					failed.Store(true)
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	// Keep the open connections contiguous so the caller can count them.
	n := from
	for i := from; i < to; i++ {
		if conns[i] != nil {
			conns[n] = conns[i]
			if n != i {
				conns[i] = nil
			}
			n++
		}
	}
	return n, firstErr
}

// closeAll closes every connection in conns.
func closeAll(conns []*websocket.Conn) {
	for i, c := range conns {
		if c != nil {
			_ = c.Close()
			conns[i] = nil
		}
	}
}

// message builds a JSON message {"action":ACTION,"data":"…"} of size bytes (or the smallest possible).
func message(action string, size int) []byte {
	head := `{"action":"` + action + `","data":"`
	const tail = `"}`
	pad := max(size-len(head)-len(tail), 0)
	var b strings.Builder
	b.WriteString(head)
	for i := range pad {
		b.WriteByte("0123456789"[i%10])
	}
	b.WriteString(tail)
	return []byte(b.String())
}

// roundTrip sends msg on c and reads one reply, which must equal want when want is not nil.
func roundTrip(c *websocket.Conn, msg, want []byte, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	_ = c.SetWriteDeadline(deadline)
	if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	_ = c.SetReadDeadline(deadline)
	_, reply, err := c.ReadMessage()
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if want != nil && !bytes.Equal(reply, want) {
		return &badReply{got: reply}
	}
	return nil
}

// badReply is a reply that is not the expected one, e.g. an error message from the gateway.
type badReply struct{ got []byte }

// Error describes the reply.
func (e *badReply) Error() string {
	s := string(e.got)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return "unexpected reply: " + s
}

// isBadReply reports whether err is a badReply (the connection is still usable).
func isBadReply(err error) bool {
	var br *badReply
	return errors.As(err, &br)
}
