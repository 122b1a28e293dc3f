package gateway_test

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// rawBackend listens on 127.0.0.1 and answers every connection with reply, whatever it was sent, then
// closes it. The accept loop ends when the test does.
func rawBackend(t *testing.T, reply string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			_, _ = c.Read(buf)
			_, _ = c.Write([]byte(reply))
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	return "http://" + ln.Addr().String()
}

// TestHTTPAPIBadBackendsAndIssuers checks AWS's answers when what an HTTP API depends on misbehaves: an
// HTTP_PROXY backend that answers something other than HTTP, or a status line without the rest, and a
// JWT authorizer whose issuer cannot be reached. Each gets AWS's status and body and a log line with the
// reason, and the API's other routes keep working.
func TestHTTPAPIBadBackendsAndIssuers(t *testing.T) {
	garbage := rawBackend(t, "this is not HTTP\r\n\r\n")
	cut := rawBackend(t, "HTTP/1.1 200 OK\r\nContent-Type: appl")
	backend := echoBackend(t)
	down := closedURL(t)
	is := newOIDCIssuer(t)
	logs := &logRecorder{}
	config := fmt.Sprintf(`
apis:
  - name: bad
    apiId: bad
    protocolType: HTTP
    authorizers:
      - {authorizerId: down, name: down, authorizerType: JWT, identitySource: [$request.header.Authorization], jwtConfiguration: {issuer: %[4]q, audience: [my-api]}}
    integrations:
      - {integrationId: garbage, integrationType: HTTP_PROXY, integrationMethod: ANY, integrationUri: "%[1]s/x"}
      - {integrationId: cut, integrationType: HTTP_PROXY, integrationMethod: ANY, integrationUri: "%[2]s/x"}
      - {integrationId: echo, integrationType: HTTP_PROXY, integrationMethod: ANY, integrationUri: "%[3]s/ok"}
    routes:
      - {routeKey: "GET /garbage", target: integrations/garbage}
      - {routeKey: "GET /cut", target: integrations/cut}
      - {routeKey: "GET /jwt", target: integrations/echo, authorizationType: JWT, authorizerId: down}
      - {routeKey: "GET /ok", target: integrations/echo}
    stages: [{stageName: $default}]
`, garbage, cut, backend.URL, down)
	g := gatewaytest.Start(t, config, func(o *gateway.Options) { o.Logger = slog.New(logs) })
	internal := `{"message":"Internal Server Error"}`
	token := is.token(t, map[string]any{"iss": down})
	runHTTPCases(t, g, logs, []httpCase{
		{name: "backend answers garbage", method: "GET", path: "/bad/garbage", status: http.StatusInternalServerError, resp: internal,
			log: []string{"HTTP API integration failed", "route_key=GET /garbage", "malformed HTTP"}},
		{name: "backend stops inside its headers", method: "GET", path: "/bad/cut", status: http.StatusInternalServerError, resp: internal,
			log: []string{"HTTP API integration failed", "route_key=GET /cut", "EOF"}},
		{name: "JWT issuer unreachable", method: "GET", path: "/bad/jwt", header: map[string]string{"Authorization": "Bearer " + token},
			status: http.StatusUnauthorized, resp: `{"message":"Unauthorized"}`,
			log: []string{"HTTP API request refused", "JWT authorizer down", "signing keys could not be fetched"}},
		{name: "the other routes keep working", method: "GET", path: "/bad/ok", status: http.StatusOK,
			echo: func(e echoed) bool { return e.RawPath == "/ok" }},
	})
}
