package edge

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"
)

// SniffTLS wraps ln so that one port serves both plain and TLS clients: each accepted connection's first
// byte decides (0x16 opens a TLS handshake). Handlers build callback URLs from the Host a client used —
// `https://{domainName}/{stage}` — so that very host and port must answer HTTPS as well as ws://.
//
// Accepted TLS connections are *tls.Conn, so http.Server completes their handshake and sets Request.TLS.
func SniffTLS(ln net.Listener, cfg *tls.Config) net.Listener {
	return sniffTLS(ln, cfg, sniffTimeout)
}

func sniffTLS(ln net.Listener, cfg *tls.Config, timeout time.Duration) *sniffer {
	s := &sniffer{Listener: ln, cfg: cfg, timeout: timeout, conns: make(chan net.Conn), done: make(chan struct{}), pending: map[net.Conn]struct{}{}}
	s.wg.Go(s.acceptLoop)
	return s
}

// sniffTimeout bounds how long a client may stay silent before its first byte.
const sniffTimeout = 10 * time.Second

type sniffer struct {
	net.Listener
	cfg     *tls.Config
	timeout time.Duration // how long a client may stay silent (sniffTimeout)
	conns   chan net.Conn
	done    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup

	mu      sync.Mutex
	err     error                 // the underlying Accept's error, once it failed
	pending map[net.Conn]struct{} // connections waiting for their first byte
	closed  bool                  // Close was called: pending connections are closed at once
}

func (s *sniffer) acceptLoop() {
	for {
		c, err := s.Listener.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			s.once.Do(func() { close(s.done) })
			return
		}
		s.wg.Go(func() { s.classify(c) })
	}
}

func (s *sniffer) classify(c net.Conn) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = c.Close()
		return
	}
	s.pending[c] = struct{}{}
	s.mu.Unlock()
	_ = c.SetReadDeadline(time.Now().Add(s.timeout))
	var b [1]byte
	n, err := c.Read(b[:])
	_ = c.SetReadDeadline(time.Time{})
	s.mu.Lock()
	delete(s.pending, c)
	s.mu.Unlock()
	if err != nil || n == 0 {
		_ = c.Close()
		return
	}
	var out net.Conn = &prefixConn{Conn: c, prefix: b[:1]}
	if b[0] == 0x16 { // TLS record type "handshake"
		out = tls.Server(out, s.cfg)
	}
	select {
	case s.conns <- out:
	case <-s.done:
		_ = c.Close()
	}
}

// Accept returns the next classified connection.
func (s *sniffer) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.done:
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.err == nil {
			return nil, net.ErrClosed
		}
		return nil, s.err
	}
}

// Close stops accepting, closes the connections whose first byte has not arrived (a client that has
// said nothing yet has no request to finish, so stopping must not wait the sniff timeout for it), and
// waits for the classifying goroutines.
func (s *sniffer) Close() error {
	err := s.Listener.Close()
	s.once.Do(func() { close(s.done) })
	s.mu.Lock()
	s.closed = true
	for c := range s.pending {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// prefixConn replays bytes already read from the connection before reading on.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		if len(p.prefix) == 0 {
			p.prefix = nil
		}
		return n, nil
	}
	return p.Conn.Read(b)
}
