package gateway_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/coder/websocket"

	"github.com/switchboard-gw/switchboard/internal/configfile"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
	"github.com/switchboard-gw/switchboard/internal/localca"
)

// lockedBuffer collects a gateway's log while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// whoAmIAPI is an API whose $default route answers every message with the sender's connection ID,
// through a backend that echoes the header the integration sets.
func whoAmIAPI(t *testing.T, apiID string, disabled bool, stages ...string) string {
	t.Helper()
	be := gatewaytest.NewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Header.Get("connectionId"))
	})
	return fmt.Sprintf(`
  - name: %[1]s
    apiId: %[1]s
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    disableExecuteApiEndpoint: %[2]v
    integrations:
      - integrationId: be
        integrationType: HTTP_PROXY
        integrationUri: %[3]q
        requestParameters: {integration.request.header.connectionId: context.connectionId}
    routes: [{routeKey: $default, target: integrations/be, routeResponses: [{routeResponseKey: $default}]}]
    stages: [%[4]s]
`, apiID, disabled, be.URL, "{stageName: "+strings.Join(stages, "}, {stageName: ")+"}")
}

// connectionID asks a whoAmIAPI connection for its ID.
func connectionID(c *gatewaytest.Client) string {
	c.Send(`{"action":"whoami"}`)
	return c.Read()
}

// rawRequest writes req as-is on a new plain TCP connection to addr and reads the response.
func rawRequest(t *testing.T, addr, req string) (*http.Response, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read the response to %q: %v", req, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// viaGateway is an HTTP client whose every connection goes to the gateway; https uses tlsConfig exactly
// as given (its ServerName is the SNI, none when empty), whatever the URL's host.
func viaGateway(addr string, tlsConfig *tls.Config) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		DialTLSContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			d := tls.Dialer{Config: tlsConfig}
			return d.DialContext(ctx, network, addr) // an IP address: no SNI unless ServerName is set
		},
	}}
}

// mgmtClient is the SDK's @connections client for endpoint, over client.
func mgmtClient(endpoint string, client *http.Client) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{BaseEndpoint: aws.String(endpoint), Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""), HTTPClient: client,
		RetryMaxAttempts: 1})
}

// TestMutualTLSCannotBeBypassed: a custom domain with mutualTlsAuthentication serves only requests that
// came over TLS for that very domain with a client certificate verified against its truststore. Plain
// TCP on the shared port, TLS for another domain (with or without mutual TLS) or for no name at all, with
// Host naming the domain, are refused — handshakes with 403 {"message":"Forbidden"} before any upgrade,
// @connections with ForbiddenException — and nothing is delivered.
func TestMutualTLSCannotBeBypassed(t *testing.T) {
	dir := t.TempDir()
	fallback, err := localca.Ensure(filepath.Join(dir, "local"), localca.DefaultHosts)
	if err != nil {
		t.Fatal(err)
	}
	serverCA, clientCA, otherCA := newTestCA(t, "server CA"), newTestCA(t, "client CA"), newTestCA(t, "other CA")
	_, chatCert, chatKey := serverCA.issue(t, dir, "chat.test", false)
	_, secureCert, secureKey := serverCA.issue(t, dir, "secure.test", false)
	_, otherCert, otherKey := serverCA.issue(t, dir, "other.test", false)
	clients, others := filepath.Join(dir, "clients.pem"), filepath.Join(dir, "others.pem")
	if err := os.WriteFile(clients, clientCA.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(others, otherCA.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	alice, _, _ := clientCA.issue(t, dir, "alice", true)
	mallory, _, _ := otherCA.issue(t, dir, "mallory", true)

	var logs lockedBuffer
	g := gatewaytest.Start(t, "apis:"+whoAmIAPI(t, "secured", true, "dev")+fmt.Sprintf(`
domainNames:
  - domainName: chat.test
    domainNameConfigurations: [{certificateFile: %q, privateKeyFile: %q}]
    apiMappings: [{apiId: secured, stage: dev, apiMappingKey: chat}]
  - domainName: secure.test
    domainNameConfigurations: [{certificateFile: %q, privateKeyFile: %q}]
    mutualTlsAuthentication: {truststoreUri: %q}
    apiMappings: [{apiId: secured, stage: dev}]
  - domainName: other.test
    domainNameConfigurations: [{certificateFile: %q, privateKeyFile: %q}]
    mutualTlsAuthentication: {truststoreUri: %q}
    apiMappings: [{apiId: secured, stage: dev}]
`, chatCert, chatKey, secureCert, secureKey, clients, otherCert, otherKey, others), func(o *gateway.Options) {
		o.TLS = &tls.Config{Certificates: []tls.Certificate{fallback.Certificate}}
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	roots := x509.NewCertPool()
	roots.AddCert(serverCA.cert)
	// tlsFor is a client TLS config that sends sni (none when empty) and presents certs.
	tlsFor := func(sni string, certs ...tls.Certificate) *tls.Config {
		if sni == "" {
			// No server name to verify the default certificate against; the test is about the client side.
			return &tls.Config{InsecureSkipVerify: true, Certificates: certs}
		}
		return &tls.Config{ServerName: sni, RootCAs: roots, Certificates: certs}
	}
	dial := func(scheme, host string, cfg *tls.Config) (*gatewaytest.Client, error) {
		return gatewaytest.TryDial(t, scheme+"://"+g.Addr()+"/", &websocket.DialOptions{Host: host,
			HTTPClient: viaGateway(g.Addr(), cfg)})
	}

	// The one way in: TLS for secure.test with alice's certificate.
	owner, err := dial("wss", "secure.test", tlsFor("secure.test", alice))
	if err != nil {
		t.Fatalf("wss to secure.test with a verified client certificate: %v", err)
	}
	id := connectionID(owner)
	if len(id) != 16 {
		t.Fatalf("connection ID %q", id)
	}

	handshakes := []struct {
		name   string
		scheme string
		cfg    *tls.Config
	}{
		{"plain ws:// on the shared port", "ws", nil},
		{"TLS for a domain without mutual TLS", "wss", tlsFor("chat.test")},
		{"TLS for a domain without mutual TLS, with a good certificate", "wss", tlsFor("chat.test", alice)},
		{"TLS for another mutual-TLS domain, verified against its truststore", "wss", tlsFor("other.test", mallory)},
		{"TLS without SNI (the default certificate)", "wss", tlsFor("", alice)},
	}
	for _, tc := range handshakes {
		t.Run("handshake: "+tc.name, func(t *testing.T) {
			c, err := dial(tc.scheme, "secure.test", tc.cfg)
			if err == nil || c.Response == nil || c.Response.StatusCode != http.StatusForbidden {
				t.Fatalf("handshake with Host secure.test: response %v, err %v; want 403 before any upgrade", c.Response, err)
			}
		})
	}
	t.Run("handshake: raw plain TCP", func(t *testing.T) {
		resp, body := rawRequest(t, g.Addr(), "GET / HTTP/1.1\r\nHost: secure.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
		if resp.StatusCode != http.StatusForbidden || body != `{"message":"Forbidden"}` {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		// The operator sees the refusal and why, at info level.
		want := `level=INFO msg="request refused" host=secure.test path=/ source_ip=127.0.0.1 management=false reason="custom domain secure.test requires mutual TLS: the request came over plain TCP"`
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("log has no line\n%s\nin\n%s", want, logs.String())
		}
	})
	t.Run("handshake: raw plain TCP, Host in another spelling", func(t *testing.T) {
		resp, body := rawRequest(t, g.Addr(), "GET / HTTP/1.1\r\nHost: SECURE.test.:443\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
		if resp.StatusCode != http.StatusForbidden || body != `{"message":"Forbidden"}` {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})

	posts := []struct {
		name     string
		endpoint string
		client   *http.Client
	}{
		{"plain http:// on the shared port", "http://secure.test", viaGateway(g.Addr(), nil)},
		{"TLS for a domain without mutual TLS", "https://secure.test", viaGateway(g.Addr(), tlsFor("chat.test", alice))},
		{"TLS for another mutual-TLS domain", "https://secure.test", viaGateway(g.Addr(), tlsFor("other.test", mallory))},
		{"TLS without SNI", "https://secure.test", viaGateway(g.Addr(), tlsFor("", alice))},
	}
	for _, tc := range posts {
		t.Run("@connections: "+tc.name, func(t *testing.T) {
			_, err := mgmtClient(tc.endpoint, tc.client).PostToConnection(context.Background(),
				&apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("bypass: " + tc.name)})
			var forbidden *types.ForbiddenException
			if !errors.As(err, &forbidden) {
				t.Fatalf("PostToConnection = %v, want ForbiddenException", err)
			}
		})
	}
	t.Run("@connections: raw plain TCP", func(t *testing.T) {
		resp, _ := rawRequest(t, g.Addr(), "POST /@connections/"+id+" HTTP/1.1\r\nHost: secure.test\r\nContent-Length: 6\r\n\r\nbypass")
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "ForbiddenException" {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
		}
	})
	t.Run("@connections: TLS for secure.test with a verified certificate delivers", func(t *testing.T) {
		_, err := mgmtClient("https://secure.test", viaGateway(g.Addr(), tlsFor("secure.test", alice))).PostToConnection(context.Background(),
			&apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("through mutual TLS")})
		if err != nil {
			t.Fatal(err)
		}
		// Messages arrive in order: anything a refused request had delivered would come first.
		if got := owner.Read(); got != "through mutual TLS" {
			t.Fatalf("the connection got %q first", got)
		}
	})
}

// A reload cannot add or change a mutual-TLS domain: the TLS listener's truststores are built at start,
// and a new domain under a wildcard would have its clients verified against the wildcard's truststore.
// The reload is refused and the previous configuration keeps serving; a client holding a certificate of
// the wildcard's CA does not reach the new domain's API.
func TestReloadCannotWeakenMutualTLS(t *testing.T) {
	dir := t.TempDir()
	fallback, err := localca.Ensure(filepath.Join(dir, "local"), localca.DefaultHosts)
	if err != nil {
		t.Fatal(err)
	}
	serverCA, clientCA, otherCA := newTestCA(t, "server CA"), newTestCA(t, "client CA"), newTestCA(t, "other CA")
	_, wildCert, wildKey := serverCA.issue(t, dir, "*.example.test", false)
	_, secureCert, secureKey := serverCA.issue(t, dir, "secure.example.test", false)
	clients, others := filepath.Join(dir, "clients.pem"), filepath.Join(dir, "others.pem")
	if err := os.WriteFile(clients, clientCA.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(others, otherCA.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	mallory, _, _ := otherCA.issue(t, dir, "mallory", true)
	// secured answers with its name, so that a client that reaches it shows it.
	apis := "apis:" + whoAmIAPI(t, "open", true, "dev") + `
  - name: secured
    apiId: secured
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    disableExecuteApiEndpoint: true
    integrations:
      - integrationId: m
        integrationType: MOCK
        requestTemplates: {"$default": '{"statusCode": 200}'}
        integrationResponses: [{integrationResponseKey: $default, responseTemplates: {"$default": "secured"}}]
    routes: [{routeKey: $default, target: integrations/m, routeResponses: [{routeResponseKey: $default}]}]
    stages: [{stageName: dev}]
`
	wild := fmt.Sprintf(`
domainNames:
  - domainName: "*.example.test"
    domainNameConfigurations: [{certificateFile: %q, privateKeyFile: %q}]
    mutualTlsAuthentication: {truststoreUri: %q}
    apiMappings: [{apiId: open, stage: dev}]
`, wildCert, wildKey, others)
	g := gatewaytest.Start(t, apis+wild, func(o *gateway.Options) {
		o.TLS = &tls.Config{Certificates: []tls.Certificate{fallback.Certificate}}
	})
	for _, tc := range []struct{ name, domain string }{
		{"a new domain with its own files", fmt.Sprintf(`
  - domainName: secure.example.test
    domainNameConfigurations: [{certificateFile: %q, privateKeyFile: %q}]
    mutualTlsAuthentication: {truststoreUri: %q}
    apiMappings: [{apiId: secured, stage: dev}]
`, secureCert, secureKey, clients)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := configfile.Parse("reload.yaml", []byte(apis+wild+tc.domain))
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Reload(context.Background(), f.Bundle); err == nil || !strings.Contains(err.Error(), "restart") {
				t.Fatalf("Reload = %v, want it refused", err)
			}
			cfg := &tls.Config{ServerName: "secure.example.test", InsecureSkipVerify: true, Certificates: []tls.Certificate{mallory}}
			if c, err := gatewaytest.TryDial(t, "wss://"+g.Addr()+"/", &websocket.DialOptions{Host: "secure.example.test",
				HTTPClient: viaGateway(g.Addr(), cfg)}); err == nil {
				// The wildcard's own clients may reach the wildcard's API: not the new domain's.
				c.Send(`{"action":"whoami"}`)
				if got := c.Read(); got == "secured" {
					t.Fatal("a client of the wildcard's CA reached the API of the domain the reload tried to add")
				}
			}
		})
	}
}
