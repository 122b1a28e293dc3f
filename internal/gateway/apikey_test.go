package gateway_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

func TestAPIKeysAndUsagePlans(t *testing.T) {
	bin, err := buildHandler()
	if err != nil {
		t.Fatal(err)
	}
	g := gatewaytest.Start(t, fmt.Sprintf(`
apis:
  - name: keys
    apiId: keys
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - {integrationId: main, integrationType: AWS_PROXY, integrationUri: "arn:aws:lambda:us-east-1:123456789012:function:main"}
    routes:
      - {routeKey: $connect, apiKeyRequired: true}
      - {routeKey: $default, target: integrations/main, routeResponses: [{routeResponseKey: $default}]}
      - {routeKey: metered, target: integrations/main, apiKeyRequired: true, routeResponses: [{routeResponseKey: $default}]}
    stages: [{stageName: dev}]
functions:
  - {functionName: main, handler: %q}
apiKeys:
  - {id: gold, value: gold-key-0123456789abcdef, enabled: true}
  - {id: off, value: disabled-key-0123456789ab, enabled: false}
  - {id: stray, value: stray-key-0123456789abcdef, enabled: true}
usagePlans:
  - id: plan
    apiStages: [{apiId: keys, stage: dev}]
    throttle: {rateLimit: 0.001, burstLimit: 3}
    keyIds: [gold, off]
`, bin))
	dial := func(key string) *gatewaytest.Client {
		h := http.Header{}
		if key != "" {
			h.Set("x-api-key", key)
		}
		c, _ := gatewaytest.TryDial(t, g.WSURL+"/keys/dev", &websocket.DialOptions{HTTPHeader: h})
		return c
	}
	for _, tc := range []struct {
		name, key string
		status    int
	}{
		{"no key", "", http.StatusForbidden},
		{"unknown key", "nope-0123456789abcdefgh", http.StatusForbidden},
		{"disabled key", "disabled-key-0123456789ab", http.StatusForbidden},
		{"key in no plan for this stage", "stray-key-0123456789abcdef", http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if c := dial(tc.key); c.Response == nil || c.Response.StatusCode != tc.status {
				t.Fatalf("handshake %v, want %d", c.Response, tc.status)
			}
		})
	}
	// The plan's bucket (burst 3) is per key: $connect took one token.
	c := dial("gold-key-0123456789abcdef")
	if c.Conn == nil {
		t.Fatalf("handshake with a valid key: %v", c.Response)
	}
	t.Run("the key appears in requestContext.identity", func(t *testing.T) {
		c.Send(`{"action":"free"}`) // $default does not require a key: no token used
		var got struct{ APIKeyID, APIKey string }
		if err := json.Unmarshal([]byte(c.Read()), &got); err != nil {
			t.Fatal(err)
		}
		if got.APIKeyID != "gold" || got.APIKey != "gold-key-0123456789abcdef" {
			t.Fatalf("identity apiKeyId %q apiKey %q", got.APIKeyID, got.APIKey)
		}
	})
	t.Run("metered route uses the plan's throttle", func(t *testing.T) {
		for i := range 2 {
			c.Send(`{"action":"metered"}`)
			if got := c.Read(); !json.Valid([]byte(got)) || frameRE("Limit Exceeded").MatchString(got) {
				t.Fatalf("metered message %d within the burst: %q", i, got)
			}
		}
		c.Send(`{"action":"metered"}`)
		if got := c.Read(); !frameRE("Limit Exceeded").MatchString(got) {
			t.Fatalf("over the plan's throttle: %q", got)
		}
	})
	t.Run("over the plan on $connect is 429", func(t *testing.T) {
		if r := dial("gold-key-0123456789abcdef"); r.Response == nil || r.Response.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("handshake %v, want 429", r.Response)
		}
	})
}

// TestAPIKeyOnMessageRoutes covers apiKeyRequired on message routes only: $connect does not require a
// key, yet the key the handshake presents (x-api-key, or the authorizer's usageIdentifierKey) is kept
// and checked, and counted against the plan, for every message to those routes. Every refusal is logged
// with the connection, the route and the reason.
func TestAPIKeyOnMessageRoutes(t *testing.T) {
	bin, err := buildHandler()
	if err != nil {
		t.Fatal(err)
	}
	logs := &logRecorder{}
	g := gatewaytest.Start(t, fmt.Sprintf(`
apis:
  - name: hdr
    apiId: hdr
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - {integrationId: main, integrationType: AWS_PROXY, integrationUri: "arn:aws:lambda:us-east-1:123456789012:function:main"}
    routes:
      - {routeKey: $connect, target: integrations/main}
      - {routeKey: $default, target: integrations/main, routeResponses: [{routeResponseKey: $default}]}
      - {routeKey: sendmessage, target: integrations/main, apiKeyRequired: true, routeResponses: [{routeResponseKey: $default}]}
    stages: [{stageName: dev}]
  - name: noconnect
    apiId: noconnect
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - {integrationId: main, integrationType: AWS_PROXY, integrationUri: "arn:aws:lambda:us-east-1:123456789012:function:main"}
    routes:
      - {routeKey: sendmessage, target: integrations/main, apiKeyRequired: true, routeResponses: [{routeResponseKey: $default}]}
    stages: [{stageName: dev}]
  - name: authkey
    apiId: authkey
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    apiKeySelectionExpression: $context.authorizer.usageIdentifierKey
    authorizers:
      - authorizerId: tokens
        name: tokens
        authorizerType: REQUEST
        authorizerUri: arn:aws:lambda:us-east-1:123456789012:function:main
        identitySource: [route.request.querystring.token]
    integrations:
      - {integrationId: main, integrationType: AWS_PROXY, integrationUri: "arn:aws:lambda:us-east-1:123456789012:function:main"}
    routes:
      - {routeKey: $connect, authorizationType: CUSTOM, authorizerId: tokens}
      - {routeKey: sendmessage, target: integrations/main, apiKeyRequired: true, routeResponses: [{routeResponseKey: $default}]}
    stages: [{stageName: dev}]
functions:
  - {functionName: main, handler: %q}
apiKeys:
  - {id: k-hdr, value: header-key-0123456789abcdef, enabled: true}
  - {id: k-noconnect, value: noconnect-key-0123456789ab, enabled: true}
  - {id: k-auth, value: authorizer-key-0123456789ab, enabled: true}
  - {id: k-off, value: disabled-key-0123456789ab, enabled: false}
  - {id: k-stray, value: stray-key-0123456789abcdef, enabled: true}
  - {id: k-quota, value: quota-key-0123456789abcdef, enabled: true}
usagePlans:
  - id: plan
    apiStages: [{apiId: hdr, stage: dev}, {apiId: noconnect, stage: dev}, {apiId: authkey, stage: dev}]
    throttle: {rateLimit: 0.001, burstLimit: 2}
    keyIds: [k-hdr, k-noconnect, k-auth, k-off]
  - id: small
    apiStages: [{apiId: noconnect, stage: dev}]
    quota: {limit: 1, period: DAY}
    keyIds: [k-quota]
`, bin), func(o *gateway.Options) { o.Logger = slog.New(logs) })

	dial := func(path, key string) *gatewaytest.Client {
		h := http.Header{}
		if key != "" {
			h.Set("x-api-key", key)
		}
		return gatewaytest.Dial(t, g.WSURL+path, &websocket.DialOptions{HTTPHeader: h})
	}
	// accepted sends a sendmessage and wants the handler's echo, which shows the event's API key.
	accepted := func(t *testing.T, c *gatewaytest.Client, keyID, key string) {
		t.Helper()
		c.Send(`{"action":"sendmessage"}`)
		var got struct{ RouteKey, APIKeyID, APIKey string }
		if raw := c.Read(); json.Unmarshal([]byte(raw), &got) != nil || got.RouteKey != "sendmessage" {
			t.Fatalf("sendmessage with a valid key: %q", raw)
		}
		if got.APIKeyID != keyID || got.APIKey != key {
			t.Fatalf("event identity apiKeyId %q apiKey %q, want %q %q", got.APIKeyID, got.APIKey, keyID, key)
		}
	}
	// refused sends a sendmessage, wants the frame, and wants the refusal logged with its reason.
	refused := func(t *testing.T, c *gatewaytest.Client, frame, reason string) {
		t.Helper()
		c.Send(`{"action":"sendmessage"}`)
		m := frameRE(frame).FindStringSubmatch(c.Read())
		if m == nil {
			t.Fatalf("want the %s frame", frame)
		}
		if !logs.has("message refused: API key", "conn_id="+m[1], "route_key=sendmessage", "reason="+reason) {
			t.Fatalf("no log of the refusal of %s with reason %q", m[1], reason)
		}
	}

	t.Run("valid header key, $connect without apiKeyRequired", func(t *testing.T) {
		c := dial("/hdr/dev", "header-key-0123456789abcdef")
		accepted(t, c, "k-hdr", "header-key-0123456789abcdef")
		accepted(t, c, "k-hdr", "header-key-0123456789abcdef")
		// The plan's burst of 2 is used up by the two messages: the key is counted per message.
		refused(t, c, "Limit Exceeded", "usage plan throttle limit exceeded")
		c.Send(`{"action":"other"}`) // $default needs no key and takes no token
		if raw := c.Read(); !strings.Contains(raw, `"routeKey":"$default"`) {
			t.Fatalf("$default after a throttled message: %q", raw)
		}
	})
	for _, tc := range []struct{ name, key, reason string }{
		{"no key", "", "no API key presented"},
		{"unknown key", "nope-0123456789abcdefgh", "unknown API key"},
		{"disabled key", "disabled-key-0123456789ab", "API key disabled"},
		{"key in no plan for the stage", "stray-key-0123456789abcdef", "API key in no usage plan for this stage"},
	} {
		t.Run(tc.name+": connects, messages to the keyed route are Forbidden", func(t *testing.T) {
			refused(t, dial("/hdr/dev", tc.key), "Forbidden", tc.reason)
		})
	}
	t.Run("no $connect route at all", func(t *testing.T) {
		accepted(t, dial("/noconnect/dev", "noconnect-key-0123456789ab"), "k-noconnect", "noconnect-key-0123456789ab")
		refused(t, dial("/noconnect/dev", ""), "Forbidden", "no API key presented")
	})
	t.Run("the plan's quota counts messages", func(t *testing.T) {
		c := dial("/noconnect/dev", "quota-key-0123456789abcdef")
		accepted(t, c, "k-quota", "quota-key-0123456789abcdef")
		refused(t, c, "Limit Exceeded", "usage plan quota exceeded")
	})
	t.Run("key from the authorizer's usageIdentifierKey", func(t *testing.T) {
		// The header is not the selected source: only the authorizer's key counts.
		accepted(t, dial("/authkey/dev?token=bob&key=authorizer-key-0123456789ab", "header-key-0123456789abcdef"),
			"k-auth", "authorizer-key-0123456789ab")
		refused(t, dial("/authkey/dev?token=bob", "authorizer-key-0123456789ab"), "Forbidden", "no API key presented")
	})
}
