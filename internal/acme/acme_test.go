package acme

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"github.com/switchboard-gw/switchboard/internal/acme/acmetest"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const testDomain = "chat.example.test"

// pebble is an in-process Pebble ACME server (assembled like
// cmd/pebble/main.go) plus a loopback http-01 challenge listener.
type pebble struct {
	*acmetest.Pebble
	directory string
	rootCAs   *x509.CertPool // trust for Pebble's HTTPS (httptest certificate)
	issuing   *x509.CertPool // Pebble's issuing root
	chalReqs  atomic.Int64   // http-01 requests seen by the challenge listener
	chalPort  int
	chal      *http.Server
	chalLn    net.Listener
}

// startPebble starts Pebble. With alwaysValid the VA accepts every challenge
// without any network traffic; otherwise it performs real http-01 validation
// against the loopback challenge listener, resolving names through an
// in-process DNS server that maps every name to 127.0.0.1.
func startPebble(t *testing.T, alwaysValid bool) *pebble {
	t.Helper()
	p := &pebble{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.chalLn = ln
	p.chalPort = ln.Addr().(*net.TCPAddr).Port
	resolver := ""
	if !alwaysValid {
		resolver = acmetest.StartDNS(t)
	}
	p.Pebble = acmetest.Start(t, alwaysValid, p.chalPort, resolver)
	p.directory, p.rootCAs, p.issuing = p.Directory, p.RootCAs, p.Issuing
	return p
}

// serveChallenges serves m's http-01 handler on the challenge listener,
// counting challenge requests.
func (p *pebble) serveChallenges(t *testing.T, m *Manager) {
	t.Helper()
	next := http.NotFoundHandler()
	h := m.HTTPChallengeHandler(next)
	p.chal = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
				p.chalReqs.Add(1)
			}
			h.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = p.chal.Serve(p.chalLn) }()
	t.Cleanup(func() { _ = p.chal.Close() })
}

func (p *pebble) config(storage string) Config {
	return Config{
		Directory: p.directory,
		Email:     "ops@example.test",
		Storage:   storage,
		RootCAs:   p.rootCAs,
		HTTPPort:  p.chalPort,
	}
}

func obtain(t *testing.T, m *Manager) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	if err := m.Obtain(ctx); err != nil {
		t.Fatalf("Obtain: %v", err)
	}
}

// checkCert verifies that m serves a certificate for testDomain chaining to
// Pebble's issuing root, and that a real TLS handshake succeeds.
func checkCert(t *testing.T, p *pebble, m *Manager) {
	t.Helper()
	cert, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: testDomain})
	if err != nil || cert == nil {
		t.Fatalf("GetCertificate(%q) = %v, %v", testDomain, cert, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.VerifyHostname(testDomain); err != nil {
		t.Fatalf("leaf names %v: %v", leaf.DNSNames, err)
	}
	inter := x509.NewCertPool()
	for _, der := range cert.Certificate[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: testDomain, Roots: p.issuing, Intermediates: inter}); err != nil {
		t.Fatalf("leaf does not chain to Pebble root: %v", err)
	}

	// Real handshake: server uses GetCertificate, client trusts only Pebble's root.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: m.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.(*tls.Conn).Handshake()
	}()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(),
		&tls.Config{ServerName: testDomain, RootCAs: p.issuing})
	if err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	if got := conn.ConnectionState().PeerCertificates[0].DNSNames; len(got) != 1 || got[0] != testDomain {
		t.Errorf("handshake peer names = %v", got)
	}
	_ = conn.Close()
}

func TestObtainAlwaysValid(t *testing.T) {
	p := startPebble(t, true)
	storage := t.TempDir()

	m, err := New(p.config(storage), []string{testDomain})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	p.serveChallenges(t, m)
	obtain(t, m)
	checkCert(t, p, m)
	if n := p.Orders(); n != 1 {
		t.Errorf("orders = %d, want 1", n)
	}
	if n := p.chalReqs.Load(); n != 0 {
		t.Errorf("challenge requests = %d, want 0 with PEBBLE_VA_ALWAYS_VALID", n)
	}

	// Unmanaged names fall through.
	for _, name := range []string{"other.example.test", ""} {
		if c, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: name}); c != nil || err != nil {
			t.Errorf("GetCertificate(%q) = %v, %v; want nil, nil", name, c, err)
		}
	}
	// Case and trailing dot are normalised.
	if c, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: "Chat.Example.Test."}); c == nil || err != nil {
		t.Errorf("GetCertificate(upper-case) = %v, %v", c, err)
	}
	m.Close()

	// A second manager with the same storage loads the certificate without a new order.
	m2, err := New(p.config(storage), []string{testDomain})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	obtain(t, m2)
	checkCert(t, p, m2)
	if n := p.Orders(); n != 1 {
		t.Errorf("orders after reload = %d, want 1", n)
	}
}

func TestObtainRealHTTP01(t *testing.T) {
	p := startPebble(t, false)
	m, err := New(p.config(t.TempDir()), []string{testDomain})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	p.serveChallenges(t, m)
	obtain(t, m)
	checkCert(t, p, m)
	if n := p.Orders(); n != 1 {
		t.Errorf("orders = %d, want 1", n)
	}
	if n := p.chalReqs.Load(); n == 0 {
		t.Error("Pebble's VA never fetched the http-01 challenge")
	}
}

func TestChallengeHandlerPassesThrough(t *testing.T) {
	m, err := New(Config{Directory: "https://127.0.0.1:1/dir", Storage: t.TempDir()}, []string{testDomain})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	h := m.HTTPChallengeHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://"+testDomain+"/@connections", nil))
	if rec.Code != http.StatusTeapot {
		t.Errorf("status = %d, want pass-through", rec.Code)
	}
}

func TestNewValidation(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		cfg     Config
		domains []string
	}{
		{Config{Storage: dir}, []string{testDomain}},
		{Config{Directory: "https://127.0.0.1:1/dir"}, []string{testDomain}},
		{Config{Directory: "https://127.0.0.1:1/dir", Storage: dir}, nil},
		{Config{Directory: "https://127.0.0.1:1/dir", Storage: dir}, []string{" "}},
	}
	for i, c := range cases {
		if m, err := New(c.cfg, c.domains); err == nil {
			m.Close()
			t.Errorf("case %d: New succeeded, want error", i)
		}
	}
}

func TestObtainAfterClose(t *testing.T) {
	m, err := New(Config{Directory: "https://127.0.0.1:1/dir", Storage: t.TempDir()}, []string{testDomain})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	m.Close()
	if err := m.Obtain(context.Background()); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Obtain after Close = %v", err)
	}
}
