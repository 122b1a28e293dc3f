package certs

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/localca"
)

// testCA is a certificate authority made by localca, with its key loaded so tests can issue more
// certificates from it.
type testCA struct {
	cert     *x509.Certificate
	key      crypto.Signer
	file     string          // CA PEM, usable as a truststore
	pool     *x509.CertPool  // for clients' RootCAs
	fallback tls.Certificate // the server certificate localca issued (the gateway's default)
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	dir := t.TempDir()
	ca, err := localca.Ensure(dir, localca.DefaultHosts)
	if err != nil {
		t.Fatal(err)
	}
	// "ca-key.pem" is localca's (unexported) name for the CA key next to CACertFile.
	pair, err := tls.LoadX509KeyPair(ca.CertFile, filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(pair.Leaf)
	return &testCA{cert: pair.Leaf, key: pair.PrivateKey.(crypto.Signer), file: ca.CertFile, pool: pool, fallback: ca.Certificate}
}

type leafSpec struct {
	dns       []string
	subject   pkix.Name
	serial    int64 // 0: random
	notBefore time.Time
	notAfter  time.Time
	client    bool
}

// issue signs a leaf and returns its PEM certificate, PEM key and parsed certificate.
func (ca *testCA) issue(t *testing.T, s leafSpec) (certPEM, keyPEM []byte, leaf *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial := big.NewInt(s.serial)
	if s.serial == 0 {
		serial, _ = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	}
	if s.notBefore.IsZero() {
		s.notBefore = time.Now().Add(-time.Hour)
	}
	if s.notAfter.IsZero() {
		s.notAfter = time.Now().Add(24 * time.Hour)
	}
	usage := x509.ExtKeyUsageServerAuth
	if s.client {
		usage = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      s.subject,
		DNSNames:     s.dns,
		NotBefore:    s.notBefore,
		NotAfter:     s.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ = x509.ParseCertificate(der)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), leaf
}

// tlsCert is issue as a tls.Certificate, for clients.
func (ca *testCA) tlsCert(t *testing.T, s leafSpec) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	c, k, leaf := ca.issue(t, s)
	pair, err := tls.X509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	return pair, leaf
}

// writeFile replaces path atomically, as certificate rotation tools do, so Run never reads half a file.
func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// domainFiles writes a domain's certificate and key into dir and returns the Domain.
func domainFiles(t *testing.T, dir, name string, certPEM, keyPEM []byte) Domain {
	t.Helper()
	base := strings.ReplaceAll(name, "*", "star")
	d := Domain{Name: name, CertFile: filepath.Join(dir, base+".pem"), KeyFile: filepath.Join(dir, base+"-key.pem")}
	writeFile(t, d.KeyFile, keyPEM)
	writeFile(t, d.CertFile, certPEM)
	return d
}

// logBuffer collects log output from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLog() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// conn is the outcome of one handshake over loopback TCP. The server side echoes once the handshake is
// done, so an established connection can be exercised later.
type conn struct {
	client            *tls.Conn
	clientState       tls.ConnectionState
	serverState       tls.ConnectionState
	clientErr, srvErr error
}

// handshake runs a full handshake. Success means the client also read a byte the server wrote after its
// handshake: with TLS 1.3 the server verifies the client certificate after the client has finished, and
// a rejection only shows on the client's first read.
func handshake(t *testing.T, server, client *tls.Config) conn {
	t.Helper()
	// Loopback TCP rather than net.Pipe: an unbuffered pipe deadlocks when one side aborts mid-flight
	// (the client's alert waits for a server that is still writing its flight).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cp, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	_ = cp.SetDeadline(deadline)
	_ = sp.SetDeadline(deadline)
	srv := tls.Server(sp, server)
	cli := tls.Client(cp, client)
	t.Cleanup(func() { cli.Close(); srv.Close() })

	type result struct {
		state tls.ConnectionState
		err   error
	}
	done := make(chan result, 1)
	go func() {
		err := srv.Handshake()
		if err == nil {
			_, err = srv.Write([]byte{1})
		}
		done <- result{srv.ConnectionState(), err}
		if err != nil {
			srv.Close()
			return
		}
		_, _ = io.Copy(srv, srv)
	}()

	var c conn
	c.client = cli
	c.clientErr = cli.Handshake()
	if c.clientErr == nil {
		var b [1]byte
		_, c.clientErr = io.ReadFull(cli, b[:])
	}
	if c.clientErr != nil {
		cli.Close()
	}
	r := <-done
	c.serverState, c.srvErr = r.state, r.err
	c.clientState = cli.ConnectionState()
	return c
}

// servedSerial is the serial of the certificate the server presented.
func (c conn) servedSerial(t *testing.T) *big.Int {
	t.Helper()
	if len(c.clientState.PeerCertificates) == 0 {
		t.Fatalf("no server certificate (client error %v, server error %v)", c.clientErr, c.srvErr)
	}
	return c.clientState.PeerCertificates[0].SerialNumber
}

func insecureClient(serverName string) *tls.Config {
	return &tls.Config{ServerName: serverName, InsecureSkipVerify: true}
}

func TestSNISelection(t *testing.T) {
	ca := newCA(t)
	dir := t.TempDir()
	exactC, exactK, exact := ca.issue(t, leafSpec{dns: []string{"chat.example.com"}})
	wildC, wildK, wild := ca.issue(t, leafSpec{dns: []string{"*.example.com"}})
	otherC, otherK, other := ca.issue(t, leafSpec{dns: []string{"api.other.test"}})
	store, err := New([]Domain{
		domainFiles(t, dir, "chat.example.com", exactC, exactK),
		domainFiles(t, dir, "*.example.com", wildC, wildK),
		domainFiles(t, dir, "API.Other.Test.", otherC, otherK),
	}, ca.fallback, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := store.TLSConfig()
	fallback := ca.fallback.Leaf

	tests := []struct {
		name       string
		serverName string
		want       *x509.Certificate
	}{
		{"exact", "chat.example.com", exact},
		{"exact wins over wildcard", "chat.example.com", exact},
		{"wildcard", "news.example.com", wild},
		{"wildcard covers one label only", "a.b.example.com", fallback},
		{"wildcard does not cover the apex", "example.com", fallback},
		{"case-insensitive", "CHAT.Example.COM", exact},
		{"configured name normalised", "api.other.test", other},
		{"unknown name", "unknown.test", fallback},
		{"no SNI (IP address)", "127.0.0.1", fallback},
		{"no SNI (empty)", "", fallback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := handshake(t, cfg, insecureClient(tt.serverName))
			if c.clientErr != nil || c.srvErr != nil {
				t.Fatalf("handshake: client %v, server %v", c.clientErr, c.srvErr)
			}
			if got := c.servedSerial(t); got.Cmp(tt.want.SerialNumber) != 0 {
				t.Errorf("served serial %x, want %x", got, tt.want.SerialNumber)
			}
		})
	}

	t.Run("fallback verifies for localhost", func(t *testing.T) {
		c := handshake(t, cfg, &tls.Config{ServerName: "localhost", RootCAs: ca.pool})
		if c.clientErr != nil {
			t.Fatal(c.clientErr)
		}
	})
}

func TestProtocolVersions(t *testing.T) {
	ca := newCA(t)
	store, err := New(nil, ca.fallback, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := store.TLSConfig()
	tests := []struct {
		name     string
		min, max uint16
		wantOK   bool
	}{
		{"TLS 1.0 refused", tls.VersionTLS10, tls.VersionTLS10, false},
		{"TLS 1.1 refused", tls.VersionTLS10, tls.VersionTLS11, false},
		{"TLS 1.2 accepted", tls.VersionTLS12, tls.VersionTLS12, true},
		{"TLS 1.3 accepted", tls.VersionTLS13, tls.VersionTLS13, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := handshake(t, cfg, &tls.Config{ServerName: "localhost", RootCAs: ca.pool,
				MinVersion: tt.min, MaxVersion: tt.max, NextProtos: []string{"h2", "http/1.1"}})
			if ok := c.clientErr == nil && c.srvErr == nil; ok != tt.wantOK {
				t.Fatalf("handshake ok = %v, want %v (client %v, server %v)", ok, tt.wantOK, c.clientErr, c.srvErr)
			}
			if !tt.wantOK {
				return
			}
			if c.clientState.Version != tt.max {
				t.Errorf("version %x, want %x", c.clientState.Version, tt.max)
			}
			if c.clientState.NegotiatedProtocol != "http/1.1" {
				t.Errorf("ALPN %q, want http/1.1", c.clientState.NegotiatedProtocol)
			}
			if tt.max == tls.VersionTLS12 && !slices.Contains(policyCipherSuites, c.clientState.CipherSuite) {
				t.Errorf("cipher suite %s is outside the TLS_1_2 policy", tls.CipherSuiteName(c.clientState.CipherSuite))
			}
		})
	}

	t.Run("TLS 1.2 suite outside the policy refused", func(t *testing.T) {
		c := handshake(t, cfg, &tls.Config{ServerName: "localhost", RootCAs: ca.pool, MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}})
		if c.clientErr == nil {
			t.Fatal("handshake with ECDHE-ECDSA-AES128-SHA succeeded")
		}
	})
}

func TestExpiredServerCertificate(t *testing.T) {
	ca := newCA(t)
	dir := t.TempDir()
	certPEM, keyPEM, leaf := ca.issue(t, leafSpec{dns: []string{"old.example.com"},
		notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-24 * time.Hour)})
	log, logs := newLog()
	store, err := New([]Domain{domainFiles(t, dir, "old.example.com", certPEM, keyPEM)}, ca.fallback, log)
	if err != nil {
		t.Fatalf("an expired certificate should still load: %v", err)
	}
	if out := logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "old.example.com") {
		t.Errorf("no warning naming the domain at load; log:\n%s", out)
	}
	cfg := store.TLSConfig()

	// The server still presents what it was given…
	c := handshake(t, cfg, insecureClient("old.example.com"))
	if c.clientErr != nil {
		t.Fatal(c.clientErr)
	}
	if got := c.servedSerial(t); got.Cmp(leaf.SerialNumber) != 0 {
		t.Errorf("served serial %x, want the expired certificate's %x", got, leaf.SerialNumber)
	}
	// …and a verifying client rejects it.
	c = handshake(t, cfg, &tls.Config{ServerName: "old.example.com", RootCAs: ca.pool})
	var invalid x509.CertificateInvalidError
	if !errors.As(c.clientErr, &invalid) || invalid.Reason != x509.Expired {
		t.Errorf("client error = %v, want an expired-certificate error", c.clientErr)
	}
	if c.srvErr == nil {
		t.Error("server handshake succeeded although the client rejected the certificate")
	}
}

func TestMutualTLS(t *testing.T) {
	serverCA, trustCA, otherCA := newCA(t), newCA(t), newCA(t)
	dir := t.TempDir()
	secC, secK, _ := serverCA.issue(t, leafSpec{dns: []string{"secure.example.com"}})
	openC, openK, _ := serverCA.issue(t, leafSpec{dns: []string{"open.example.com"}})
	secure := domainFiles(t, dir, "secure.example.com", secC, secK)
	secure.TruststoreFile = trustCA.file
	store, err := New([]Domain{secure, domainFiles(t, dir, "open.example.com", openC, openK)}, serverCA.fallback, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := store.TLSConfig()

	notBefore := time.Date(2019, 5, 28, 12, 30, 2, 0, time.UTC)
	notAfter := time.Date(2031, 8, 5, 9, 36, 4, 0, time.UTC)
	valid, validLeaf := trustCA.tlsCert(t, leafSpec{client: true, serial: 0xa1a1a1,
		subject:   pkix.Name{Country: []string{"US"}, Organization: []string{"Example Corp"}, CommonName: "my client"},
		notBefore: notBefore, notAfter: notAfter})
	foreign, _ := otherCA.tlsCert(t, leafSpec{client: true, subject: pkix.Name{CommonName: "intruder"}})

	tests := []struct {
		name        string
		serverName  string
		clientCert  *tls.Certificate
		maxVersion  uint16
		wantOK      bool
		wantAsked   bool
		wantPeerDN  string
		wantNoState bool
	}{
		{name: "no client certificate", serverName: "secure.example.com", wantAsked: true},
		{name: "no client certificate (TLS 1.2)", serverName: "secure.example.com", maxVersion: tls.VersionTLS12, wantAsked: true},
		{name: "certificate from another CA", serverName: "secure.example.com", clientCert: &foreign, wantAsked: true},
		{name: "valid certificate", serverName: "secure.example.com", clientCert: &valid, wantOK: true, wantAsked: true},
		{name: "valid certificate (TLS 1.2)", serverName: "secure.example.com", clientCert: &valid, maxVersion: tls.VersionTLS12, wantOK: true, wantAsked: true},
		{name: "other domain does not ask", serverName: "open.example.com", clientCert: &valid, wantOK: true},
		{name: "fallback does not ask", serverName: "localhost", clientCert: &valid, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			asked := false
			client := &tls.Config{ServerName: tt.serverName, RootCAs: serverCA.pool, MaxVersion: tt.maxVersion,
				GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
					mu.Lock()
					asked = true
					mu.Unlock()
					if tt.clientCert == nil {
						return &tls.Certificate{}, nil
					}
					return tt.clientCert, nil
				}}
			c := handshake(t, cfg, client)
			ok := c.clientErr == nil && c.srvErr == nil
			if ok != tt.wantOK {
				t.Fatalf("handshake ok = %v, want %v (client %v, server %v)", ok, tt.wantOK, c.clientErr, c.srvErr)
			}
			mu.Lock()
			defer mu.Unlock()
			if asked != tt.wantAsked {
				t.Errorf("server asked for a client certificate = %v, want %v", asked, tt.wantAsked)
			}
			got := ClientCertFromState(&c.serverState)
			if !tt.wantOK || !tt.wantAsked {
				if got != nil {
					t.Errorf("ClientCertFromState = %+v, want nil", got)
				}
				return
			}
			want := &ClientCert{
				ClientCertPem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: validLeaf.Raw})),
				SubjectDN:     "C=US,O=Example Corp,CN=my client",
				IssuerDN:      "O=Switchboard,CN=Switchboard local CA",
				SerialNumber:  "a1:a1:a1",
				Validity:      ClientCertValidity{NotBefore: "May 28 12:30:02 2019 GMT", NotAfter: "Aug  5 09:36:04 2031 GMT"},
			}
			if *got != *want {
				t.Errorf("ClientCertFromState =\n%+v\nwant\n%+v", *got, *want)
			}
		})
	}
}

func TestClientCertJSON(t *testing.T) {
	tests := []struct {
		name  string
		state *tls.ConnectionState
	}{
		{"nil state", nil},
		{"no peer certificate", &tls.ConnectionState{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClientCertFromState(tt.state); got != nil {
				t.Errorf("got %+v, want nil", got)
			}
		})
	}

	t.Run("JSON names match API Gateway", func(t *testing.T) {
		b, err := json.Marshal(ClientCert{ClientCertPem: "p", SubjectDN: "s", IssuerDN: "i", SerialNumber: "01",
			Validity: ClientCertValidity{NotBefore: "b", NotAfter: "a"}})
		if err != nil {
			t.Fatal(err)
		}
		want := `{"clientCertPem":"p","subjectDN":"s","issuerDN":"i","serialNumber":"01","validity":{"notBefore":"b","notAfter":"a"}}`
		if string(b) != want {
			t.Errorf("got %s\nwant %s", b, want)
		}
	})
}

func TestNewErrors(t *testing.T) {
	ca := newCA(t)
	dir := t.TempDir()
	certPEM, keyPEM, _ := ca.issue(t, leafSpec{dns: []string{"a.example.com"}})
	good := domainFiles(t, dir, "a.example.com", certPEM, keyPEM)
	garbage := filepath.Join(dir, "garbage.pem")
	writeFile(t, garbage, []byte("not PEM"))
	_, otherKey, _ := ca.issue(t, leafSpec{dns: []string{"a.example.com"}})
	mismatched := filepath.Join(dir, "mismatched-key.pem")
	writeFile(t, mismatched, otherKey)
	missing := filepath.Join(dir, "missing.pem")

	with := func(f func(*Domain)) []Domain { d := good; f(&d); return []Domain{d} }
	tests := []struct {
		name    string
		domains []Domain
		want    []string // substrings of the error
	}{
		{"missing certificate file", with(func(d *Domain) { d.CertFile = missing }), []string{"a.example.com", missing}},
		{"garbage certificate", with(func(d *Domain) { d.CertFile = garbage }), []string{"a.example.com", garbage}},
		{"key does not match", with(func(d *Domain) { d.KeyFile = mismatched }), []string{"a.example.com", mismatched}},
		{"missing truststore", with(func(d *Domain) { d.TruststoreFile = missing }), []string{"a.example.com", missing}},
		{"truststore without certificates", with(func(d *Domain) { d.TruststoreFile = garbage }), []string{"a.example.com", garbage}},
		{"no name", with(func(d *Domain) { d.Name = "" }), []string{"required"}},
		{"wildcard not first", with(func(d *Domain) { d.Name = "a.*.example.com" }), []string{"wildcard"}},
		{"duplicate", []Domain{good, with(func(d *Domain) { d.Name = "A.example.com" })[0]}, []string{"twice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.domains, ca.fallback, nil)
			if err == nil {
				t.Fatal("New succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestRunRejectsBadInterval(t *testing.T) {
	store, err := New(nil, tls.Certificate{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Run(context.Background(), 0); err == nil {
		t.Fatal("Run accepted a zero interval")
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func TestReload(t *testing.T) {
	ca := newCA(t)
	dir := t.TempDir()
	oldC, oldK, oldLeaf := ca.issue(t, leafSpec{dns: []string{"chat.example.com"}})
	d := domainFiles(t, dir, "chat.example.com", oldC, oldK)
	log, logs := newLog()
	store, err := New([]Domain{d}, ca.fallback, log)
	if err != nil {
		t.Fatal(err)
	}
	cfg := store.TLSConfig()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- store.Run(ctx, 2*time.Millisecond) }()
	defer func() {
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	client := &tls.Config{ServerName: "chat.example.com", RootCAs: ca.pool}
	serial := func() *big.Int {
		c := handshake(t, cfg, client)
		if c.clientErr != nil {
			t.Fatalf("handshake: %v", c.clientErr)
		}
		return c.servedSerial(t)
	}

	established := handshake(t, cfg, client)
	if established.clientErr != nil {
		t.Fatal(established.clientErr)
	}

	// Rotate: key first, then certificate — Run may see the mismatched pair in between and must keep
	// the old one until both are in place.
	newC, newK, newLeaf := ca.issue(t, leafSpec{dns: []string{"chat.example.com"}})
	writeFile(t, d.KeyFile, newK)
	writeFile(t, d.CertFile, newC)
	waitFor(t, "new handshakes to see the new certificate", func() bool {
		return serial().Cmp(newLeaf.SerialNumber) == 0
	})

	// The connection made before the rotation still works, with the certificate it was made with.
	if _, err := established.client.Write([]byte("ping")); err != nil {
		t.Fatalf("write on established connection: %v", err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(established.client, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo on established connection = %q, %v", buf, err)
	}
	if got := established.servedSerial(t); got.Cmp(oldLeaf.SerialNumber) != 0 {
		t.Errorf("established connection's certificate changed to %x", got)
	}

	// A broken rewrite is logged (domain and file) and the current certificate stays. Only log output
	// from here on counts: the rotation above may have logged a mismatched pair.
	seen := len(logs.String())
	writeFile(t, d.CertFile, []byte("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n"))
	waitFor(t, "the failed reload to be logged", func() bool {
		out := logs.String()[seen:]
		return strings.Contains(out, "level=ERROR") && strings.Contains(out, d.CertFile) && strings.Contains(out, "chat.example.com")
	})
	if got := serial(); got.Cmp(newLeaf.SerialNumber) != 0 {
		t.Errorf("after a broken rewrite the served serial is %x, want %x", got, newLeaf.SerialNumber)
	}
}
