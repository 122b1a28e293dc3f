package egress

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/localca"
)

func TestIsExecuteAPIHost(t *testing.T) {
	tests := []struct {
		name string
		host string
		want bool
	}{
		{"default endpoint", "abc123defg.execute-api.us-east-1.amazonaws.com", true},
		{"upper case", "ABC123.Execute-Api.EU-West-1.AmazonAWS.com", true},
		{"trailing dot", "abc.execute-api.us-east-1.amazonaws.com.", true},
		{"china partition", "abc.execute-api.cn-north-1.amazonaws.com.cn", true},
		{"no api id", ".execute-api.us-east-1.amazonaws.com", false},
		{"api id with a dot", "a.b.execute-api.us-east-1.amazonaws.com", false},
		{"no region", "abc.execute-api..amazonaws.com", false},
		{"other service", "dynamodb.us-east-1.amazonaws.com", false},
		{"lookalike domain", "abc.execute-api.us-east-1.amazonaws.com.evil.example", false},
		{"region with a slash", "abc.execute-api.us/east.amazonaws.com", false},
		{"localhost", "localhost", false},
		{"ip", "127.0.0.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsExecuteAPIHost(tt.host); got != tt.want {
				t.Errorf("IsExecuteAPIHost(%q) = %v, want %v", tt.host, got, tt.want)
			}
		})
	}
}

// hostEcho answers every request with "tls=<bool> host=<Host> path=<path>".
var hostEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, "tls="+boolString(r.TLS != nil)+" host="+r.Host+" path="+r.URL.Path)
})

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// startProxy serves a Proxy whose gateway is gateway, and returns its URL.
func startProxy(t *testing.T, gateway string) (*Proxy, *url.URL) {
	t.Helper()
	p := &Proxy{Gateway: func() string { return gateway }}
	srv := httptest.NewServer(p)
	t.Cleanup(func() { srv.Close(); p.Close() })
	u, _ := url.Parse(srv.URL)
	return p, u
}

// tlsGateway serves hostEcho over TLS with a local CA certificate valid for the default endpoint names,
// and returns its address and a pool that trusts it.
func tlsGateway(t *testing.T) (string, *x509.CertPool) {
	t.Helper()
	ca, err := localca.Ensure(t.TempDir(), []string{"localhost", "*.execute-api.us-east-1.amazonaws.com"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(hostEcho)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Certificate}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pem, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return srv.Listener.Addr().String(), pool
}

func get(t *testing.T, client *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestExecuteAPIHostsReachTheGateway(t *testing.T) {
	gw, pool := tlsGateway(t)
	_, proxyURL := startProxy(t, gw)
	client := &http.Client{Transport: &http.Transport{
		Proxy:           http.ProxyURL(proxyURL),
		TLSClientConfig: &tls.Config{RootCAs: pool},
	}}
	// The name resolves nowhere: only the proxy can make this request succeed, and the certificate is
	// verified against the name the client asked for.
	status, body := get(t, client, "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/dev/@connections/abc")
	if want := "tls=true host=a1b2c3d4e5.execute-api.us-east-1.amazonaws.com path=/dev/@connections/abc"; status != 200 || body != want {
		t.Fatalf("got %d %q, want 200 %q", status, body, want)
	}
}

func TestPlainHTTPExecuteAPIRequestsReachTheGateway(t *testing.T) {
	gw := httptest.NewServer(hostEcho)
	t.Cleanup(gw.Close)
	_, proxyURL := startProxy(t, gw.Listener.Addr().String())
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	status, body := get(t, client, "http://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/dev/x")
	if want := "tls=false host=a1b2c3d4e5.execute-api.us-east-1.amazonaws.com path=/dev/x"; status != 200 || body != want {
		t.Fatalf("got %d %q, want 200 %q", status, body, want)
	}
}

func TestOtherDestinationsAreTunnelled(t *testing.T) {
	other := httptest.NewTLSServer(hostEcho)
	t.Cleanup(other.Close)
	_, proxyURL := startProxy(t, "127.0.0.1:1") // the gateway must not be used
	transport := other.Client().Transport.(*http.Transport).Clone()
	transport.Proxy = http.ProxyURL(proxyURL)
	client := &http.Client{Transport: transport}
	status, body := get(t, client, other.URL+"/elsewhere")
	if !strings.HasPrefix(body, "tls=true host="+other.Listener.Addr().String()) || status != 200 {
		t.Fatalf("got %d %q", status, body)
	}

	plain := httptest.NewServer(hostEcho)
	t.Cleanup(plain.Close)
	client = &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	status, body = get(t, client, plain.URL+"/p")
	if want := "tls=false host=" + plain.Listener.Addr().String() + " path=/p"; status != 200 || body != want {
		t.Fatalf("got %d %q, want %q", status, body, want)
	}
}

func TestUnreachableDestinationIsBadGateway(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	_ = ln.Close()
	_, proxyURL := startProxy(t, dead)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	_, err = client.Get("https://abc.execute-api.us-east-1.amazonaws.com/dev")
	if err == nil || !strings.Contains(err.Error(), "Bad Gateway") {
		t.Fatalf("err = %v, want the proxy's 502 for the CONNECT", err)
	}
	status, _ := get(t, client, "http://abc.execute-api.us-east-1.amazonaws.com/dev")
	if status != http.StatusBadGateway {
		t.Fatalf("plain request: status %d, want 502", status)
	}
}

func TestOriginFormRequestsAreRefused(t *testing.T) {
	_, proxyURL := startProxy(t, "127.0.0.1:1")
	status, body := get(t, http.DefaultClient, proxyURL.String()+"/dev")
	if status != http.StatusBadRequest || !strings.Contains(body, "forward proxy") {
		t.Fatalf("got %d %q", status, body)
	}
}

func TestCloseEndsOpenTunnels(t *testing.T) {
	// A destination that accepts and never answers holds the tunnel open.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
		}
	}()
	p, proxyURL := startProxy(t, ln.Addr().String())
	conn, err := net.Dial("tcp", proxyURL.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "CONNECT abc.execute-api.us-east-1.amazonaws.com:443 HTTP/1.1\r\nHost: abc.execute-api.us-east-1.amazonaws.com:443\r\n\r\n")
	buf := make([]byte, len("HTTP/1.1 200"))
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "HTTP/1.1 200" {
		t.Fatalf("CONNECT answer %q, %v", buf, err)
	}
	p.Close()
	if _, err := io.ReadAll(conn); err != nil { // returns once the proxy closed its end
		t.Fatalf("read after Close: %v", err)
	}
}

// Close also ends the connections the forwarder keeps alive to destinations.
func TestCloseEndsForwardedKeepAlives(t *testing.T) {
	var open atomic.Int32
	dest := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	dest.Config.ConnState = func(c net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	dest.Start()
	t.Cleanup(dest.Close)
	p, proxyURL := startProxy(t, "127.0.0.1:1")
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	if status, _ := get(t, client, dest.URL+"/x"); status != 200 {
		t.Fatalf("status %d", status)
	}
	client.CloseIdleConnections()
	p.Close()
	deadline := time.Now().Add(10 * time.Second)
	for open.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connection(s) from the closed proxy to the destination still open", open.Load())
		}
		time.Sleep(5 * time.Millisecond) // polling a counter the server updates
	}
}
