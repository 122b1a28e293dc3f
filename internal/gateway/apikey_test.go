package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/coder/websocket"

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
