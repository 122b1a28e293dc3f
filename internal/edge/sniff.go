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
	s := &sniffer{Listener: ln, cfg: cfg, conns: make(chan net.Conn), done: make(chan struct{})}
	s.wg.Go(s.acceptLoop)
	return s
}

// sniffTimeout bounds how long a client may stay silent before its first byte.
const sniffTimeout = 10 * time.Second

type sniffer struct {
	net.Listener
	cfg   *tls.Config
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup

	mu  sync.Mutex
	err error // the underlying Accept's error, once it failed
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
	_ = c.SetReadDeadline(time.Now().Add(sniffTimeout))
	var b [1]byte
	n, err := c.Read(b[:])
	_ = c.SetReadDeadline(time.Time{})
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

// Close stops accepting and waits for connections still being classified.
func (s *sniffer) Close() error {
	err := s.Listener.Close()
	s.once.Do(func() { close(s.done) })
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
