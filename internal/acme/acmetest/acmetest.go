// Package acmetest runs a Pebble ACME server (Let's Encrypt's test CA) in-process for tests, assembled as
// Pebble's own command does, so automatic certificates are tested end to end with no network beyond
// loopback.
package acmetest

import (
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
)

// Pebble is a running in-process Pebble.
type Pebble struct {
	// Directory is the ACME directory URL.
	Directory string
	// RootCAs trusts Pebble's own HTTPS; Issuing trusts the certificates it issues.
	RootCAs, Issuing *x509.CertPool
	orders           atomic.Int64
}

// Orders counts the newOrder requests Pebble has received.
func (p *Pebble) Orders() int64 { return p.orders.Load() }

// Start starts Pebble until the test ends. With alwaysValid its validation authority accepts every
// challenge without network traffic; otherwise it fetches http-01 challenges from challengePort of each
// name, resolved through resolver (host:port of a DNS server, see StartDNS).
func Start(t testing.TB, alwaysValid bool, challengePort int, resolver string) *Pebble {
	t.Helper()
	// va.New and wfe.New read these.
	valid := "0"
	if alwaysValid {
		valid = "1"
	}
	t.Setenv("PEBBLE_VA_ALWAYS_VALID", valid)
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	t.Setenv("PEBBLE_AUTHZREUSE", "0")

	p := &Pebble{}
	logger := log.New(io.Discard, "", 0)
	store := db.NewMemoryStore()
	caImpl := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "default"}})
	vaImpl := va.New(logger, challengePort, 0, false, resolver, store)
	wfeImpl := wfe.New(logger, store, vaImpl, caImpl, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	h := wfeImpl.Handler()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/order-plz" {
			p.orders.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	srv.Config.ErrorLog = logger
	srv.StartTLS()
	t.Cleanup(srv.Close)

	p.Directory = srv.URL + wfe.DirectoryPath
	p.RootCAs = x509.NewCertPool()
	p.RootCAs.AddCert(srv.Certificate())
	p.Issuing = x509.NewCertPool()
	p.Issuing.AddCert(caImpl.GetRootCert(0).Cert)
	return p
}

// StartDNS serves DNS on loopback, answering every A query with 127.0.0.1, until the test ends; it
// returns its address.
func StartDNS(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		resp := new(dns.Msg)
		resp.SetReply(r)
		for _, q := range r.Question {
			if q.Qtype == dns.TypeA {
				resp.Answer = append(resp.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A:   net.IPv4(127, 0, 0, 1),
				})
			}
		}
		_ = w.WriteMsg(resp)
	})}
	done := make(chan struct{})
	go func() { _ = srv.ActivateAndServe(); close(done) }()
	t.Cleanup(func() { _ = srv.Shutdown(); <-done })
	return ln.Addr().String()
}
