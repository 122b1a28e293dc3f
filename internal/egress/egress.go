// Package egress is the forward proxy that local functions reach through HTTPS_PROXY and HTTP_PROXY.
//
// Handlers written for AWS often build their @connections endpoint from the API's default hostname,
// https://{apiId}.execute-api.{region}.amazonaws.com/{stage}, rather than from the event's domainName.
// No DNS points that name at a local gateway, but every Go HTTP client (the AWS SDK for Go's included)
// sends its requests through the proxy named in HTTPS_PROXY, so the proxy can: a tunnel (CONNECT) or a
// plain request for an execute-api hostname is connected to this gateway's data plane, which serves the
// default endpoint form for that Host (and, with its local CA, a certificate the SDK verifies through
// AWS_CA_BUNDLE). Every other destination is tunnelled or forwarded to where it was going, so calls to
// real AWS services or to a local DynamoDB keep working. Go clients never proxy loopback addresses.
package egress

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"
)

// dialTimeout bounds how long a tunnel waits for its destination to accept.
const dialTimeout = 10 * time.Second

// Proxy is an HTTP forward proxy. Its zero value is not usable: set Gateway.
type Proxy struct {
	// Gateway returns the data-plane address (host:port) that execute-api hostnames are sent to.
	Gateway func() string
	// Log receives a line per tunnel or request that could not be set up.
	Log *slog.Logger
	// Dial connects to a destination; nil means a net.Dialer with a 10 s timeout.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	once      sync.Once
	forward   *httputil.ReverseProxy
	transport *http.Transport // the forwarder's, whose idle connections Close ends

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // both ends of every open tunnel, closed by Close
	closed bool
}

// IsExecuteAPIHost reports whether host (without a port) is one of API Gateway's default hostnames,
// {apiId}.execute-api.{region}.amazonaws.com (or .amazonaws.com.cn).
func IsExecuteAPIHost(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	id, rest, ok := strings.Cut(host, ".execute-api.")
	if !ok || id == "" || !alnum(id) {
		return false
	}
	region, ok := strings.CutSuffix(rest, ".amazonaws.com")
	if !ok {
		region, ok = strings.CutSuffix(rest, ".amazonaws.com.cn")
	}
	if !ok || region == "" {
		return false
	}
	for _, c := range region {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func alnum(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// target is where a request for hostport goes: the gateway for execute-api hostnames, else hostport.
func (p *Proxy) target(hostport string) (addr string, toGateway bool) {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if IsExecuteAPIHost(host) {
		return p.Gateway(), true
	}
	return hostport, false
}

func (p *Proxy) dial(ctx context.Context, addr string) (net.Conn, error) {
	if p.Dial != nil {
		return p.Dial(ctx, "tcp", addr)
	}
	d := net.Dialer{Timeout: dialTimeout}
	return d.DialContext(ctx, "tcp", addr)
}

func (p *Proxy) log() *slog.Logger {
	if p.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Log
}

// ServeHTTP serves CONNECT tunnels and absolute-form requests.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		p.tunnel(w, r)
		return
	}
	if r.URL.Host == "" {
		http.Error(w, "this is a forward proxy: send absolute-form requests or CONNECT", http.StatusBadRequest)
		return
	}
	p.once.Do(func() {
		p.mu.Lock()
		p.transport = &http.Transport{
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				return p.dial(ctx, addr)
			},
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: dialTimeout,
		}
		p.mu.Unlock()
		p.forward = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				addr, toGateway := p.target(pr.In.URL.Host)
				if toGateway {
					pr.Out.URL.Scheme = "http"
					pr.Out.URL.Host = addr
				}
				pr.Out.Host = pr.In.Host // the gateway resolves the API by Host
			},
			Transport: p.transport,
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				p.log().Warn("egress proxy: request failed", "host", r.URL.Host, "error", err)
				w.WriteHeader(http.StatusBadGateway)
			},
		}
	})
	p.forward.ServeHTTP(w, r)
}

// tunnel connects the client to the destination of a CONNECT and copies bytes both ways.
func (p *Proxy) tunnel(w http.ResponseWriter, r *http.Request) {
	addr, toGateway := p.target(r.Host)
	upstream, err := p.dial(r.Context(), addr)
	if err != nil {
		p.log().Warn("egress proxy: cannot reach the tunnel's destination", "host", r.Host, "addr", addr, "error", err)
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	client, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		_ = upstream.Close()
		p.log().Warn("egress proxy: cannot take over the connection", "error", err)
		return
	}
	if !p.track(client, upstream) {
		_ = client.Close()
		_ = upstream.Close()
		return
	}
	p.log().Debug("egress proxy: tunnel", "host", r.Host, "to_gateway", toGateway)
	_, _ = client.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	// Bytes the client sent after its CONNECT request are already buffered.
	if n := rw.Reader.Buffered(); n > 0 {
		buf, _ := rw.Reader.Peek(n)
		if _, err := upstream.Write(buf); err != nil {
			p.untrack(client, upstream)
			return
		}
	}
	done := make(chan struct{})
	go func() { // owned by this handler, which waits for it below
		defer close(done)
		_, _ = io.Copy(client, upstream)
		closeWrite(client)
	}()
	_, _ = io.Copy(upstream, client)
	closeWrite(upstream)
	<-done // Close ends both directions at shutdown
	p.untrack(client, upstream)
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = c.Close()
}

func (p *Proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	if p.conns == nil {
		p.conns = map[net.Conn]struct{}{}
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		delete(p.conns, c)
		_ = c.Close()
	}
}

// Close ends every open tunnel and the forwarder's idle connections. Tunnels are hijacked connections,
// which http.Server.Shutdown does not close; call Close after it.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		_ = c.Close()
	}
	t := p.transport
	p.mu.Unlock()
	if t != nil {
		t.CloseIdleConnections()
	}
}
