package edge

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"testing"
	"time"

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

// A client connected to the data-plane port that has not sent its first byte must not hold a shutdown:
// Close ends it at once rather than after the sniff timeout.
func TestSniffTLSCloseEndsSilentClients(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// An hour stands for "never" within this test's deadline.
	s := sniffTLS(ln, &tls.Config{}, time.Hour)
	silent, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.pending)
		s.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the silent connection was never accepted")
		}
		runtime.Gosched()
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close is still waiting for a client that has sent nothing")
	}
	_ = silent.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("the silent client's read: %v, want EOF (closed by the gateway)", err)
	}
}
