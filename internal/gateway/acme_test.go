package gateway_test

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-gw/switchboard/internal/acme/acmetest"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
	"github.com/switchboard-gw/switchboard/internal/localca"
)

// TestAutomaticCertificate: a domain with automaticCertificate gets its certificate from an ACME server
// (Pebble, in-process) when the gateway starts, and serves it by SNI.
func TestAutomaticCertificate(t *testing.T) {
	pebble := acmetest.Start(t, true, 0, "")
	dir := t.TempDir()
	fallback, err := localca.Ensure(filepath.Join(dir, "local"), localca.DefaultHosts)
	if err != nil {
		t.Fatal(err)
	}
	g := gatewaytest.Start(t, fmt.Sprintf(`
apis:
  - name: a
    apiId: auto
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    stages: [{stageName: dev}]
domainNames:
  - domainName: auto.example.test
    domainNameConfigurations: [{automaticCertificate: true}]
    apiMappings: [{apiId: auto, stage: dev}]
acme:
  directory: %q
  email: ops@example.test
`, pebble.Directory), func(o *gateway.Options) {
		o.TLS = &tls.Config{Certificates: []tls.Certificate{fallback.Certificate}}
		o.ACMEStorage = filepath.Join(dir, "acme")
		o.ACMERootCAs = pebble.RootCAs
	})
	dial := func() error {
		c, err := gatewaytest.TryDial(t, "wss://"+g.Addr()+"/", &websocket.DialOptions{Host: "auto.example.test",
			HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{ServerName: "auto.example.test", RootCAs: pebble.Issuing}}}})
		if err == nil {
			c.Conn.CloseNow()
		}
		return err
	}
	// The certificate is obtained in the background: until then the default certificate is served, which
	// a client trusting only Pebble's root rejects.
	gatewaytest.Eventually(t, 30*time.Second, func() bool { return dial() == nil }, "no ACME certificate for auto.example.test: %v", dial())
	if pebble.Orders() != 1 {
		t.Fatalf("%d ACME orders, want 1", pebble.Orders())
	}
}
