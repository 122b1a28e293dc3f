package edge

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/localca"
)

func TestSniffTLSServesPlainAndTLSOnOnePort(t *testing.T) {
	ca, err := localca.Ensure(t.TempDir(), localca.DefaultHosts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sl := SniffTLS(ln, &tls.Config{Certificates: []tls.Certificate{ca.Certificate}})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			io.WriteString(w, "tls")
			return
		}
		io.WriteString(w, "plain")
	})}
	done := make(chan struct{})
	go func() { srv.Serve(sl); close(done) }()
	defer func() { srv.Close(); <-done }()

	pem, _ := os.ReadFile(ca.CertFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	addr := ln.Addr().String()
	for _, tc := range []struct {
		name   string
		client *http.Client
		url    string
		want   string
	}{
		{"plain http", http.DefaultClient, "http://" + addr + "/", "plain"},
		{"https verified by the local CA", tlsClient, "https://" + addr + "/", "tls"},
		{"plain again", http.DefaultClient, "http://" + addr + "/x", "plain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := tc.client.Get(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if string(b) != tc.want {
				t.Fatalf("got %q, want %q", b, tc.want)
			}
		})
	}
	t.Run("a client that closes before sending anything does not stop the listener", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})
}
