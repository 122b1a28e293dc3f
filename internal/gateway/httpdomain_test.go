package gateway_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
	"github.com/switchboard-gw/switchboard/internal/localca"
)

// TestHTTPAPICustomDomains: custom domains map HTTP APIs with multi-level keys, the longest matching key
// winning, and a mutual-TLS domain that maps HTTP APIs holds on the shared port exactly as for WebSocket
// APIs: plain TCP, TLS for another name, or no client certificate are refused with 403.
func TestHTTPAPICustomDomains(t *testing.T) {
	dir := t.TempDir()
	fallback, err := localca.Ensure(filepath.Join(dir, "local"), localca.DefaultHosts)
	if err != nil {
		t.Fatal(err)
	}
	serverCA, clientCA := newTestCA(t, "server CA"), newTestCA(t, "client CA")
	_, apiCert, apiKey := serverCA.issue(t, dir, "api.test", false)
	_, secureCert, secureKey := serverCA.issue(t, dir, "secure.test", false)
	clients := filepath.Join(dir, "clients.pem")
	if err := os.WriteFile(clients, clientCA.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	alice, _, _ := clientCA.issue(t, dir, "alice", true)
	backend := echoBackend(t)
	var logs lockedBuffer
	g := gatewaytest.Start(t, fmt.Sprintf(`
apis:
  - name: pets
    apiId: pets
    protocolType: HTTP
    integrations: [{integrationId: be, integrationType: HTTP_PROXY, integrationMethod: ANY, integrationUri: "%[1]s/pets-api"}]
    routes: [{routeKey: $default, target: integrations/be}]
    stages: [{stageName: dev}, {stageName: $default}]
  - name: orders
    apiId: orders
    protocolType: HTTP
    integrations: [{integrationId: be, integrationType: HTTP_PROXY, integrationMethod: ANY, integrationUri: "%[1]s/orders-api/{id}"}]
    routes: [{routeKey: "GET /{id}", target: integrations/be}]
    stages: [{stageName: $default}]
domainNames:
  - domainName: api.test
    domainNameConfigurations: [{certificateFile: %[2]q, privateKeyFile: %[3]q}]
    apiMappings:
      - {apiId: pets, stage: dev, apiMappingKey: v1}
      - {apiId: orders, stage: $default, apiMappingKey: v1/orders}
      - {apiId: pets, stage: $default}
  - domainName: secure.test
    domainNameConfigurations: [{certificateFile: %[4]q, privateKeyFile: %[5]q}]
    mutualTlsAuthentication: {truststoreUri: %[6]q}
    apiMappings: [{apiId: pets, stage: $default}]
`, backend.URL, apiCert, apiKey, secureCert, secureKey, clients), func(o *gateway.Options) {
		o.TLS = &tls.Config{Certificates: []tls.Certificate{fallback.Certificate}}
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	roots := x509.NewCertPool()
	roots.AddCert(serverCA.cert)
	tlsFor := func(sni string, certs ...tls.Certificate) *tls.Config {
		return &tls.Config{ServerName: sni, RootCAs: roots, Certificates: certs}
	}
	cases := []struct {
		name     string
		url      string
		client   *http.Client
		status   int
		wantPath string
	}{
		{"longest key wins", "http://api.test/v1/orders/7", viaGateway(g.Addr(), nil), 200, "/orders-api/7"},
		{"one-level key", "http://api.test/v1/cats/1", viaGateway(g.Addr(), nil), 200, "/pets-api/cats/1"},
		{"a key is whole segments", "http://api.test/v1orders/7", viaGateway(g.Addr(), nil), 200, "/pets-api/v1orders/7"},
		{"empty key takes the rest", "http://api.test/other", viaGateway(g.Addr(), nil), 200, "/pets-api/other"},
		{"over TLS", "https://api.test/v1/orders/8", viaGateway(g.Addr(), tlsFor("api.test")), 200, "/orders-api/8"},
		{"mutual TLS with a verified certificate", "https://secure.test/x", viaGateway(g.Addr(), tlsFor("secure.test", alice)), 200, "/pets-api/x"},
		{"mutual TLS domain over plain TCP", "http://secure.test/x", viaGateway(g.Addr(), nil), 403, ""},
		{"mutual TLS domain, TLS for another name", "https://secure.test/x", viaGateway(g.Addr(), tlsFor("api.test", alice)), 403, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := tc.client.Get(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.status == 403 {
				if string(body) != `{"message":"Forbidden"}` {
					t.Fatalf("body %s", body)
				}
				return
			}
			var e echoed
			if err := json.Unmarshal(body, &e); err != nil || e.RawPath != tc.wantPath {
				t.Fatalf("backend got path %q (%v), want %q", e.RawPath, err, tc.wantPath)
			}
		})
	}
	t.Run("raw plain TCP is refused and logged", func(t *testing.T) {
		resp, body := rawRequest(t, g.Addr(), "GET /x HTTP/1.1\r\nHost: SECURE.test.:443\r\n\r\n")
		if resp.StatusCode != http.StatusForbidden || body != `{"message":"Forbidden"}` {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if !strings.Contains(logs.String(), `reason="custom domain secure.test requires mutual TLS: the request came over plain TCP"`) {
			t.Fatalf("no log line saying why in\n%s", logs.String())
		}
	})
}
