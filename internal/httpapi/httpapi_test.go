package httpapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// stageFor compiles an HTTP API whose $default route proxies to uri with the given tlsConfig server
// name and connection type, and returns its $default stage.
func stageFor(t *testing.T, uri, serverName, connectionType string) *snapshot.Stage {
	t.Helper()
	in := resource.Integration{IntegrationID: "be", IntegrationType: resource.IntegrationHTTPProxy, IntegrationMethod: "ANY",
		IntegrationURI: uri, ConnectionType: connectionType}
	if serverName != "" {
		in.TLSConfig = &resource.TLSConfig{ServerNameToVerify: serverName}
	}
	set, err := snapshot.Compile(&resource.Bundle{APIs: []resource.API{{APIID: "tls", Name: "tls", ProtocolType: resource.ProtocolHTTP,
		Integrations: []resource.Integration{in}, Routes: []resource.Route{{RouteKey: "$default", Target: "integrations/be"}},
		Stages: []resource.Stage{{StageName: resource.StageDefault}}}}})
	if err != nil {
		t.Fatal(err)
	}
	return set.API("tls").Stages[resource.StageDefault]
}

// TestServerNameToVerify: tlsConfig.serverNameToVerify is the name the backend's certificate is checked
// against (httptest's certificate names example.com and 127.0.0.1), and a VPC_LINK integration whose URI
// is a URL is served directly.
func TestServerNameToVerify(t *testing.T) {
	backend := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "tls ok")
	}))
	defer backend.Close()
	roots := x509.NewCertPool()
	roots.AddCert(backend.Certificate())
	transport := backend.Client().Transport.(*http.Transport).Clone()
	transport.TLSClientConfig.RootCAs = roots
	h := New(Config{Transport: transport})
	defer h.CloseIdleConnections()
	tests := []struct {
		name, serverName, connectionType string
		status                           int
		body                             string
	}{
		{name: "no tlsConfig: the URI's host", status: 200, body: "tls ok"},
		{name: "a name the certificate has", serverName: "example.com", status: 200, body: "tls ok"},
		{name: "a name the certificate lacks", serverName: "other.test", status: 500, body: bodyInternalError},
		{name: "VPC link to a URL", connectionType: "VPC_LINK", status: 200, body: "tls ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := stageFor(t, backend.URL, tt.serverName, tt.connectionType)
			w := httptest.NewRecorder()
			r := httptest.NewRequest("GET", "/x", nil)
			h.ServeHTTPAPI(w, r, st, "/x", "/x")
			if w.Code != tt.status || strings.TrimSpace(w.Body.String()) != tt.body {
				t.Fatalf("got %d %q, want %d %q", w.Code, w.Body.String(), tt.status, tt.body)
			}
		})
	}
}

// TestChunkedBodyOverLimit: a body without Content-Length that grows past 10 MB while it is streamed to
// an HTTP_PROXY backend is answered 413 as one with a Content-Length is.
func TestChunkedBodyOverLimit(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "read it all")
	}))
	defer backend.Close()
	h := New(Config{})
	defer h.CloseIdleConnections()
	st := stageFor(t, backend.URL, "", "")
	for _, n := range []int{MaxBodyBytes, MaxBodyBytes + 1} {
		r := httptest.NewRequest("POST", "/x", io.MultiReader(strings.NewReader(strings.Repeat("x", n))))
		r.ContentLength = -1
		w := httptest.NewRecorder()
		h.ServeHTTPAPI(w, r, st, "/x", "/x")
		want := http.StatusOK
		if n > MaxBodyBytes {
			want = http.StatusRequestEntityTooLarge
		}
		if w.Code != want {
			t.Fatalf("%d bytes: status %d (%s), want %d", n, w.Code, w.Body.String(), want)
		}
	}
}

// TestRefusalLogsAreGated: lines about refused requests are written only while LogAllowed says so, and
// the answer is the same either way.
func TestRefusalLogsAreGated(t *testing.T) {
	var logs strings.Builder
	allow := true
	h := New(Config{Logger: slog.New(slog.NewTextHandler(&logs, nil)), LogAllowed: func() bool { return allow }})
	st := stageFor(t, "http://127.0.0.1:9", "", "")
	for _, a := range []bool{true, false} {
		allow = a
		logs.Reset()
		w := httptest.NewRecorder()
		h.ServeHTTPAPI(w, httptest.NewRequest("GET", "/x", nil), st, "/x", "/x")
		w2 := httptest.NewRecorder()
		st.HTTPRoutes = &snapshot.HTTPRoutes{} // no route at all
		h.ServeHTTPAPI(w2, httptest.NewRequest("GET", "/x", nil), st, "/x", "/x")
		st = stageFor(t, "http://127.0.0.1:9", "", "")
		if w.Code != 500 || w2.Code != 404 {
			t.Fatalf("allow=%v: statuses %d and %d, want 500 and 404", a, w.Code, w2.Code)
		}
		if got := strings.Count(logs.String(), "\n"); a && got != 2 || !a && got != 0 {
			t.Fatalf("allow=%v: %d log lines:\n%s", a, got, logs.String())
		}
	}
}

// TestLocalPort: X-Forwarded-Port is the port the client connected to, read from the listener's address
// (TCP, and any other net.Addr with a port), else the scheme's.
func TestLocalPort(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- localPort(r) }))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	if p := <-got; p != port {
		t.Errorf("over TCP: %q, want the listener's port %q", p, port)
	}

	cases := []struct {
		name string
		addr net.Addr
		tls  bool
		want string
	}{
		{"TCP address", &net.TCPAddr{IP: net.IPv6loopback, Port: 8443}, false, "8443"},
		{"other address with a port", &net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 9000}, false, "9000"},
		{"address without a port", &net.UnixAddr{Name: "/tmp/s", Net: "unix"}, false, "80"},
		{"no address, TLS", nil, true, "443"},
		{"no address", nil, false, "80"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.addr != nil {
				r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, tc.addr))
			}
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if p := localPort(r); p != tc.want {
				t.Errorf("got %q, want %q", p, tc.want)
			}
		})
	}
}
