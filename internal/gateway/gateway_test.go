package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-gw/switchboard/internal/cluster/membus"
	"github.com/switchboard-gw/switchboard/internal/configfile"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// chatConfig is an API whose routes cover every integration outcome. BACKEND is replaced by a test backend.
const chatConfig = `
apis:
  - name: chat
    apiId: chat
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: backend
        integrationType: HTTP_PROXY
        integrationUri: http://${stageVariables.backend}/events
        timeoutInMillis: 2000
        requestParameters:
          integration.request.header.connectionId: context.connectionId
          integration.request.header.X-Route: context.routeKey
          integration.request.header.X-Status: context.disconnectStatusCode
          integration.request.header.X-Reason: context.disconnectReason
          integration.request.querystring.room: route.request.body.data.room
      - integrationId: slow
        integrationType: HTTP_PROXY
        integrationUri: http://${stageVariables.backend}/slow
        timeoutInMillis: 50
      - integrationId: down
        integrationType: HTTP_PROXY
        integrationUri: http://127.0.0.1:1/unreachable
      - integrationId: pong
        integrationType: MOCK
        requestTemplates: {"$default": '{"statusCode": 200}'}
        integrationResponses:
          - integrationResponseKey: $default
            responseTemplates: {"$default": '{"action":"pong"}'}
    routes:
      - {routeKey: $disconnect, target: integrations/backend}
      - {routeKey: echo, target: integrations/backend, routeResponses: [{routeResponseKey: $default}]}
      - {routeKey: oneway, target: integrations/backend}
      - {routeKey: nested, target: integrations/backend, routeResponses: [{routeResponseKey: $default}]}
      - {routeKey: slow, target: integrations/slow, routeResponses: [{routeResponseKey: $default}]}
      - {routeKey: down, target: integrations/down, routeResponses: [{routeResponseKey: $default}]}
      - {routeKey: ping, target: integrations/pong, routeResponses: [{routeResponseKey: $default}]}
    stages:
      - stageName: dev
        stageVariables: {backend: "BACKEND"}
`

func startChat(t *testing.T, extra string) (*gatewaytest.Gateway, *gatewaytest.Backend) {
	t.Helper()
	be := gatewaytest.NewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-r.Context().Done() // answer only when the gateway gives up
			return
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "got:%s", body)
	})
	cfg := strings.Replace(chatConfig, "BACKEND", strings.TrimPrefix(be.URL, "http://"), 1) + extra
	return gatewaytest.Start(t, cfg), be
}

var frameRE = func(msg string) *regexp.Regexp {
	return regexp.MustCompile(`^\{"message": "` + msg + `", "connectionId":"([A-Za-z0-9_-]{15}=)", "requestId":"[A-Za-z0-9_-]{15}="\}$`)
}

func TestMessageRoutes(t *testing.T) {
	g, be := startChat(t, "")
	c := gatewaytest.Dial(t, g.WSURL+"/chat/dev", nil)
	cases := []struct {
		name string
		send string
		want *regexp.Regexp
	}{
		{"two-way HTTP_PROXY returns the backend body", `{"action":"echo","n":1}`, regexp.MustCompile(`^got:\{"action":"echo","n":1\}$`)},
		{"MOCK answers with its response template", `{"action":"ping"}`, regexp.MustCompile(`^\{"action":"pong"\}$`)},
		{"no route and no $default gives the Forbidden frame", `{"action":"nope"}`, frameRE("Forbidden")},
		{"non-JSON gives Forbidden without $default", `hello`, frameRE("Forbidden")},
		{"missing key gives Forbidden without $default", `{"other":1}`, frameRE("Forbidden")},
		{"$connect is never selected by the expression", `{"action":"$connect"}`, frameRE("Forbidden")},
		{"unreachable backend gives Internal server error", `{"action":"down"}`, frameRE("Internal server error")},
		{"timeout gives Endpoint request timed out", `{"action":"slow"}`, frameRE("Endpoint request timed out")},
		{"connection still works after errors", `{"action":"ping"}`, regexp.MustCompile(`^\{"action":"pong"\}$`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.Send(tc.send)
			got := c.Read()
			if !tc.want.MatchString(got) {
				t.Fatalf("got %q, want match for %s", got, tc.want)
			}
		})
	}
	t.Run("one-way route sends nothing back but reaches the backend", func(t *testing.T) {
		c.Send(`{"action":"oneway","data":{"room":"r1"}}`)
		req := be.WaitFor(t, 5*time.Second, func(r gatewaytest.Request) bool { return r.Header.Get("X-Route") == "oneway" })
		if req.Query != "room=r1" || req.Header.Get("connectionId") == "" || req.Body != `{"action":"oneway","data":{"room":"r1"}}` {
			t.Fatalf("backend got %+v", req)
		}
		if req.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("Content-Type %q", req.Header.Get("Content-Type"))
		}
		c.Send(`{"action":"ping"}`) // the next frame is the pong, so nothing came back for oneway
		if got := c.Read(); got != `{"action":"pong"}` {
			t.Fatalf("got %q after a one-way message", got)
		}
	})
	t.Run("Forbidden frame names this connection", func(t *testing.T) {
		c.Send(`{"action":"nope"}`)
		m := frameRE("Forbidden").FindStringSubmatch(c.Read())
		req := be.WaitFor(t, 5*time.Second, func(r gatewaytest.Request) bool { return r.Header.Get("connectionId") != "" })
		if m == nil || m[1] != req.Header.Get("connectionId") {
			t.Fatalf("frame connection id %v, backend saw %q", m, req.Header.Get("connectionId"))
		}
	})
}

func TestNestedSelectionAndDefault(t *testing.T) {
	cfg := `
apis:
  - name: nest
    protocolType: WEBSOCKET
    routeSelectionExpression: ${request.body.service}/${request.body.data.kind}
    integrations:
      - integrationId: a
        integrationType: MOCK
        integrationResponses: [{integrationResponseKey: $default, responseTemplates: {"$default": "A"}}]
      - integrationId: d
        integrationType: MOCK
        integrationResponses: [{integrationResponseKey: $default, responseTemplates: {"$default": "D"}}]
    routes:
      - {routeKey: chat/join, target: integrations/a, routeResponses: [{routeResponseKey: $default}]}
      - {routeKey: $default, target: integrations/d, routeResponses: [{routeResponseKey: $default}]}
    stages: [{stageName: v1}]
`
	g := gatewaytest.Start(t, cfg)
	c := gatewaytest.Dial(t, g.WSURL+"/v1", nil)
	for _, tc := range []struct{ name, send, want string }{
		{"nested path with static text", `{"service":"chat","data":{"kind":"join"}}`, "A"},
		{"partial match falls back", `{"service":"chat"}`, "D"},
		{"non-JSON falls back", `not json`, "D"},
		{"array body falls back", `[1,2]`, "D"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.Send(tc.send)
			if got := c.Read(); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHandshake(t *testing.T) {
	be := gatewaytest.NewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("mode") {
		case "deny":
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"message":"no"}`))
		case "redirect":
			w.Header().Set("Location", "http://example.invalid/")
			w.WriteHeader(http.StatusMovedPermanently)
		case "proto":
			w.Header().Set("Sec-WebSocket-Protocol", "chat.v2")
		case "slow":
			<-r.Context().Done()
		}
	})
	cfg := fmt.Sprintf(`
apis:
  - name: hs
    apiId: hs
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - {integrationId: be, integrationType: HTTP_PROXY, integrationUri: "%s/connect", timeoutInMillis: 200}
    routes:
      - {routeKey: $connect, target: integrations/be}
    stages: [{stageName: dev}, {stageName: prod}]
  - name: other
    apiId: other
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    stages: [{stageName: prod}]
`, be.URL)
	g := gatewaytest.Start(t, cfg)
	cases := []struct {
		name       string
		path       string
		host       string
		protocols  []string
		wantStatus int
		wantProto  string
	}{
		{"api and stage", "/hs/dev", "", nil, 101, ""},
		{"trailing slash", "/hs/dev/", "", nil, 101, ""},
		{"unique stage name alone", "/dev", "", nil, 101, ""},
		{"execute-api host", "/dev", "hs.execute-api.us-east-1.amazonaws.com", nil, 101, ""},
		{"ambiguous stage name", "/prod", "", nil, 403, ""},
		{"unknown stage", "/hs/nope", "", nil, 403, ""},
		{"unknown api on execute-api host", "/dev", "zz.execute-api.us-east-1.amazonaws.com", nil, 403, ""},
		{"extra path segments", "/hs/dev/extra", "", nil, 403, ""},
		{"$connect status passes through", "/hs/dev?mode=deny", "", nil, 401, ""},
		{"$connect 3xx passes through", "/hs/dev?mode=redirect", "", nil, 301, ""},
		{"$connect timeout", "/hs/dev?mode=slow", "", nil, 504, ""},
		{"subprotocol echoed from $connect", "/hs/dev?mode=proto", "", []string{"chat.v1", "chat.v2"}, 101, "chat.v2"},
		{"subprotocol not echoed unless $connect returns it", "/hs/dev", "", []string{"chat.v1"}, 101, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := &websocket.DialOptions{Subprotocols: tc.protocols, Host: tc.host}
			c, err := gatewaytest.TryDial(t, g.WSURL+tc.path, opts)
			if c.Response == nil {
				t.Fatalf("no handshake response: %v", err)
			}
			if c.Response.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d (err %v)", c.Response.StatusCode, tc.wantStatus, err)
			}
			if tc.wantStatus == 101 && c.Conn.Subprotocol() != tc.wantProto {
				t.Fatalf("subprotocol %q, want %q", c.Conn.Subprotocol(), tc.wantProto)
			}
		})
	}
	t.Run("handshake headers and query reach $connect", func(t *testing.T) {
		gatewaytest.Dial(t, g.WSURL+"/hs/dev?token=abc&mode=ok", &websocket.DialOptions{HTTPHeader: http.Header{"User-Agent": {"tester/1"}, "X-Custom": {"v"}}})
		req := be.WaitFor(t, 5*time.Second, func(r gatewaytest.Request) bool { return strings.Contains(r.Query, "token=abc") })
		if req.Header.Get("X-Custom") != "v" || req.Header.Get("User-Agent") != "tester/1" || req.Header.Get("Sec-WebSocket-Key") != "" || req.Header.Get("Upgrade") != "" {
			t.Fatalf("backend headers %v", req.Header)
		}
	})
	t.Run("plain HTTP request gets 426", func(t *testing.T) {
		resp, err := http.Get(g.HTTPURL + "/hs/dev")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUpgradeRequired || resp.Header.Get("Upgrade") != "websocket" {
			t.Fatalf("status %d, Upgrade %q", resp.StatusCode, resp.Header.Get("Upgrade"))
		}
	})
	t.Run("integration failure on $connect is 502", func(t *testing.T) {
		g2 := gatewaytest.Start(t, `
apis:
  - name: down
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations: [{integrationId: be, integrationType: HTTP_PROXY, integrationUri: "http://127.0.0.1:1/"}]
    routes: [{routeKey: $connect, target: integrations/be}]
    stages: [{stageName: dev}]
`)
		c, _ := gatewaytest.TryDial(t, g2.WSURL+"/dev", nil)
		if c.Response == nil || c.Response.StatusCode != http.StatusBadGateway {
			t.Fatalf("response %+v, want 502", c.Response)
		}
	})
	t.Run("MOCK $connect decides by its status code", func(t *testing.T) {
		g3 := gatewaytest.Start(t, `
apis:
  - name: m
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations: [{integrationId: m, integrationType: MOCK, requestTemplates: {"$default": '{"statusCode": 403}'}}]
    routes: [{routeKey: $connect, target: integrations/m}]
    stages: [{stageName: dev}]
`)
		c, _ := gatewaytest.TryDial(t, g3.WSURL+"/dev", nil)
		if c.Response == nil || c.Response.StatusCode != http.StatusForbidden {
			t.Fatalf("response %+v, want 403", c.Response)
		}
	})
}

func TestDisconnectEvents(t *testing.T) {
	cases := []struct {
		name       string
		close      func(c *gatewaytest.Client)
		wantStatus string
		wantReason string
	}{
		{"client going away", func(c *gatewaytest.Client) { c.Conn.Close(websocket.StatusGoingAway, "") }, "1001", ""},
		{"client normal close with reason", func(c *gatewaytest.Client) { c.Conn.Close(websocket.StatusNormalClosure, "bye") }, "1000", "bye"},
		{"message too big", func(c *gatewaytest.Client) {
			_ = c.Conn.Write(context.Background(), websocket.MessageText, []byte(strings.Repeat("a", 200<<10)))
		}, "1009", "Message too big"},
		{"binary frame", func(c *gatewaytest.Client) {
			_ = c.Conn.Write(context.Background(), websocket.MessageBinary, []byte{1, 2})
		}, "1003", "Binary frames are not supported"},
		{"dropped socket", func(c *gatewaytest.Client) { c.Conn.CloseNow() }, "1006", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, be := startChat(t, "")
			c := gatewaytest.Dial(t, g.WSURL+"/chat/dev", nil)
			c.Send(`{"action":"ping"}`)
			c.Read()
			tc.close(c)
			req := be.WaitFor(t, 10*time.Second, func(r gatewaytest.Request) bool { return r.Header.Get("X-Route") == "$disconnect" })
			if got := req.Header.Get("X-Status"); got != tc.wantStatus {
				t.Fatalf("disconnectStatusCode %q, want %q", got, tc.wantStatus)
			}
			if got := req.Header.Get("X-Reason"); got != tc.wantReason {
				t.Fatalf("disconnectReason %q, want %q", got, tc.wantReason)
			}
			gatewaytest.Eventually(t, 5*time.Second, func() bool { return g.Connections() == 0 }, "connection still registered")
		})
	}
}

func TestIdleTimeoutClosesWithGoingAway(t *testing.T) {
	g := gatewaytest.Start(t, `
apis:
  - name: idle
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    stages: [{stageName: dev}]
`, func(o *gateway.Options) { o.Limits.IdleTimeout = 300 * time.Millisecond })
	c := gatewaytest.Dial(t, g.WSURL+"/dev", nil)
	if code := c.ExpectClose(); code != websocket.StatusGoingAway {
		t.Fatalf("close %d, want 1001", code)
	}
}

// TestPostAcrossNodes: a connection on node 2 receives an @connections POST sent to node 1.
func TestPostAcrossNodes(t *testing.T) {
	be := gatewaytest.NewBackend(t, nil)
	cfg := fmt.Sprintf(`
apis:
  - name: c
    apiId: c
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: be
        integrationType: HTTP_PROXY
        integrationUri: "%s/connect"
        requestParameters: {integration.request.header.connectionId: context.connectionId}
    routes: [{routeKey: $connect, target: integrations/be}]
    stages: [{stageName: dev}]
`, be.URL)
	hub := membus.NewHub()
	n1 := gatewaytest.Start(t, cfg, func(o *gateway.Options) { o.Hub, o.Node = hub, 1 })
	n2 := gatewaytest.Start(t, cfg, func(o *gateway.Options) { o.Hub, o.Node = hub, 2 })
	c := gatewaytest.Dial(t, n2.WSURL+"/c/dev", nil)
	id := be.WaitFor(t, 5*time.Second, func(r gatewaytest.Request) bool { return r.Header.Get("connectionId") != "" }).Header.Get("connectionId")
	resp, err := http.Post(n1.HTTPURL+"/c/dev/@connections/"+strings.ReplaceAll(id, "=", "%3D"), "application/octet-stream", strings.NewReader("via node 1"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST via node 1: %d", resp.StatusCode)
	}
	if got := c.Read(); got != "via node 1" {
		t.Fatalf("got %q", got)
	}
}

func TestShutdownClosesConnectionsAndRunsDisconnect(t *testing.T) {
	be := gatewaytest.NewBackend(t, nil)
	f, err := configfile.Parse("cfg.yaml", []byte(fmt.Sprintf(`
apis:
  - name: s
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: be
        integrationType: HTTP_PROXY
        integrationUri: "%s/disconnect"
        requestParameters: {integration.request.header.X-Status: context.disconnectStatusCode}
    routes: [{routeKey: $disconnect, target: integrations/be}]
    stages: [{stageName: dev}]
`, be.URL)))
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(gateway.Options{Listen: "127.0.0.1:0", Bundle: f.Bundle, Logger: gatewaytest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	<-g.Ready()
	clients := []*gatewaytest.Client{
		gatewaytest.Dial(t, "ws://"+g.Addr()+"/dev", nil),
		gatewaytest.Dial(t, "ws://"+g.Addr()+"/dev", nil),
	}
	gatewaytest.Eventually(t, 5*time.Second, func() bool { return g.Connections() == 2 }, "connections not registered")
	cancel()
	for _, c := range clients {
		if code := c.ExpectClose(); code != websocket.StatusGoingAway {
			t.Fatalf("close %d, want 1001", code)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	n := 0
	for _, r := range be.Requests() {
		if r.Header.Get("X-Status") == "1001" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d $disconnect events with 1001 before Run returned, want 2", n)
	}
	if _, err := gatewaytest.TryDial(t, "ws://"+g.Addr()+"/dev", nil); err == nil {
		t.Fatal("dial after shutdown succeeded")
	}
}

func TestBadAWSIntegrationURIIsRejected(t *testing.T) {
	_, err := configfile.Parse("cfg.yaml", []byte(`
apis:
  - name: l
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - {integrationId: fn, integrationType: AWS, integrationUri: "arn:aws:apigateway:us-east-1:dynamodb:PutItem"}
    routes: [{routeKey: $default, target: integrations/fn}]
    stages: [{stageName: dev}]
`))
	if err == nil || !strings.Contains(err.Error(), "cfg.yaml:7") || !strings.Contains(err.Error(), "is not valid for AWS integrations") {
		t.Fatalf("err = %v", err)
	}
}
