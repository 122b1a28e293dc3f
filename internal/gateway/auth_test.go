package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
	"github.com/switchboard-gw/switchboard/internal/throttle"
)

// TestLambdaAuthorizer runs a real aws-lambda-go REQUEST authorizer on $connect.
func TestLambdaAuthorizer(t *testing.T) {
	bin, err := buildHandler()
	if err != nil {
		t.Fatal(err)
	}
	g := gatewaytest.Start(t, fmt.Sprintf(`
apis:
  - name: auth
    apiId: auth
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    authorizers:
      - authorizerId: tokens
        name: tokens
        authorizerType: REQUEST
        authorizerUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:main/invocations
        identitySource: [route.request.querystring.token]
    integrations:
      - {integrationId: main, integrationType: AWS_PROXY, integrationUri: "arn:aws:lambda:us-east-1:123456789012:function:main"}
    routes:
      - {routeKey: $connect, authorizationType: CUSTOM, authorizerId: tokens}
      - {routeKey: $default, target: integrations/main, routeResponses: [{routeResponseKey: $default}]}
    stages: [{stageName: dev}]
functions:
  - {functionName: main, handler: %q}
`, bin))
	cases := []struct {
		name   string
		query  string
		status int
	}{
		{"allowed", "?token=alice", http.StatusSwitchingProtocols},
		{"missing identity source: 401 without calling the function", "", http.StatusUnauthorized},
		{"empty identity source", "?token=", http.StatusUnauthorized},
		{"policy denies", "?token=deny", http.StatusForbidden},
		{"function fails with Unauthorized", "?token=unauthorized", http.StatusUnauthorized},
		{"malformed authorizer output", "?token=garbage", http.StatusInternalServerError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := gatewaytest.TryDial(t, g.WSURL+"/auth/dev"+tc.query, nil)
			if c.Response == nil || c.Response.StatusCode != tc.status {
				t.Fatalf("response %v (err %v), want %d", c.Response, err, tc.status)
			}
		})
	}
	t.Run("principalId and context reach later events", func(t *testing.T) {
		c := gatewaytest.Dial(t, g.WSURL+"/auth/dev?token=bob", nil)
		c.Send(`{"action":"hi"}`)
		var got struct {
			Authorizer map[string]any `json:"authorizer"`
		}
		if err := json.Unmarshal([]byte(c.Read()), &got); err != nil {
			t.Fatal(err)
		}
		if got.Authorizer["principalId"] != "user-bob" || got.Authorizer["tier"] != "gold" || got.Authorizer["n"] != float64(7) {
			t.Fatalf("requestContext.authorizer = %v", got.Authorizer)
		}
		// integrationLatency: the authorizer call's duration in whole milliseconds, a JSON number.
		if ms, ok := got.Authorizer["integrationLatency"].(float64); !ok || ms < 0 || ms != float64(int64(ms)) {
			t.Fatalf("requestContext.authorizer.integrationLatency = %#v, want a whole number of milliseconds", got.Authorizer["integrationLatency"])
		}
	})
}

func TestThrottling(t *testing.T) {
	g := gatewaytest.Start(t, `
apis:
  - name: th
    apiId: th
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: ok
        integrationType: MOCK
        integrationResponses: [{integrationResponseKey: $default, responseTemplates: {"$default": "ok"}}]
    routes:
      - {routeKey: $connect, target: integrations/ok}
      - {routeKey: limited, target: integrations/ok, routeResponses: [{routeResponseKey: $default}]}
      - {routeKey: free, target: integrations/ok, routeResponses: [{routeResponseKey: $default}]}
    stages:
      - stageName: dev
        routeSettings:
          limited: {throttlingBurstLimit: 2, throttlingRateLimit: 0.001}
          $connect: {throttlingBurstLimit: 3, throttlingRateLimit: 0.001}
`)
	c := gatewaytest.Dial(t, g.WSURL+"/dev", nil)
	for i := range 2 {
		c.Send(`{"action":"limited"}`)
		if got := c.Read(); got != "ok" {
			t.Fatalf("message %d within the burst: %q", i, got)
		}
	}
	c.Send(`{"action":"limited"}`)
	if got := c.Read(); !frameRE("Too Many Requests").MatchString(got) {
		t.Fatalf("over the limit: %q", got)
	}
	c.Send(`{"action":"free"}`)
	if got := c.Read(); got != "ok" {
		t.Fatalf("another route is not throttled, and the connection is healthy: %q", got)
	}
	// $connect: a burst of 3 — this client, then two more, then 429 before any upgrade.
	gatewaytest.Dial(t, g.WSURL+"/dev", nil)
	gatewaytest.Dial(t, g.WSURL+"/dev", nil)
	r, _ := gatewaytest.TryDial(t, g.WSURL+"/dev", nil)
	if r.Response == nil || r.Response.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("fourth $connect: %v, want 429", r.Response)
	}
}

func TestConnectionGuard(t *testing.T) {
	g := gatewaytest.Start(t, `
apis:
  - name: gd
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    stages: [{stageName: dev}]
`, func(o *gateway.Options) {
		o.Guard = throttle.GuardConfig{MaxConnections: 2, PerIP: throttle.Unlimited()}
	})
	a := gatewaytest.Dial(t, g.WSURL+"/dev", nil)
	gatewaytest.Dial(t, g.WSURL+"/dev", nil)
	r, _ := gatewaytest.TryDial(t, g.WSURL+"/dev", nil)
	if r.Response == nil || r.Response.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third connection: %v, want 429", r.Response)
	}
	a.Conn.CloseNow()
	gatewaytest.Eventually(t, 5e9, func() bool {
		c, err := gatewaytest.TryDial(t, g.WSURL+"/dev", nil)
		if err == nil {
			c.Conn.CloseNow()
		}
		return err == nil
	}, "a closed connection's slot was not given back")
	if !strings.Contains(r.Response.Status, "429") {
		t.Fatal(r.Response.Status)
	}
}
