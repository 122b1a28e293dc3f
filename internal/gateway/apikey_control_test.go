package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// meteredConfig is a WebSocket API whose $connect and MOCK two-way route "ping" require an API key, with
// no keys or plans: the test makes them through the control plane.
const meteredConfig = `
apis:
  - name: metered
    apiId: metered
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: ok
        integrationType: MOCK
        requestTemplates: {"$default": '{"statusCode": 200}'}
        integrationResponses: [{integrationResponseKey: $default, responseTemplates: {"$default": "pong"}}]
    routes:
      - {routeKey: $connect, target: integrations/ok, apiKeyRequired: true}
      - {routeKey: ping, target: integrations/ok, apiKeyRequired: true, routeResponses: [{routeResponseKey: $default}]}
    stages: [{stageName: dev}]
`

// apiKeyCLI runs `aws apigateway …` (AWS CLI v2) against a control plane.
type apiKeyCLI struct {
	t        *testing.T
	path     string
	endpoint string
	env      []string
}

func newAPIKeyCLI(t *testing.T, endpoint string) *apiKeyCLI {
	home := t.TempDir()
	return &apiKeyCLI{t: t, path: awsCLIv2(t), endpoint: endpoint, env: []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_PAGER=", "AWS_CONFIG_FILE=" + filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
	}}
}

// run runs `aws apigateway args…` and decodes its JSON output into out (when not nil).
func (c *apiKeyCLI) run(out any, args ...string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.path, append([]string{"--endpoint-url", c.endpoint, "--output", "json", "apigateway"}, args...)...)
	cmd.Env = c.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		c.t.Fatalf("aws apigateway %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if out != nil {
		if err := json.Unmarshal(stdout, out); err != nil {
			c.t.Fatalf("aws apigateway %s: output %q: %v", strings.Join(args, " "), stdout, err)
		}
	}
}

// TestAPIKeyControlWithAWSCLI makes an API key and a usage plan with the AWS CLI v2 for an API whose
// routes require a key, and checks that the data plane follows each change: refused without a plan,
// accepted once the key is in the plan, 429 over the plan's quota (which a later unrelated change does
// not reset), and refused again when the key leaves the plan.
func TestAPIKeyControlWithAWSCLI(t *testing.T) {
	g := gatewaytest.Start(t, meteredConfig, gatewaytest.WithControlPlane)
	cli := newAPIKeyCLI(t, g.ControlURL)
	const value = "control-plane-key-0123456789"
	url := g.WSURL + "/metered/dev"
	dial := func(key string) *gatewaytest.Client {
		t.Helper()
		h := http.Header{}
		if key != "" {
			h.Set("x-api-key", key)
		}
		c, _ := gatewaytest.TryDial(t, url, &websocket.DialOptions{HTTPHeader: h})
		return c
	}
	handshake := func(key string, want int) {
		t.Helper()
		c := dial(key)
		switch {
		case want == http.StatusSwitchingProtocols && c.Conn == nil:
			t.Fatalf("handshake with key %q refused: %v", key, c.Response)
		case want != http.StatusSwitchingProtocols && (c.Response == nil || c.Response.StatusCode != want):
			t.Fatalf("handshake with key %q: %v, want %d", key, c.Response, want)
		}
		if c.Conn != nil {
			_ = c.Conn.Close(websocket.StatusNormalClosure, "")
		}
	}

	t.Run("no key and an unknown key are refused", func(t *testing.T) {
		handshake("", http.StatusForbidden)
		handshake(value, http.StatusForbidden)
	})

	var key struct {
		ID, Value, Name string
		Enabled         bool
	}
	cli.run(&key, "create-api-key", "--name", "e2e", "--value", value, "--enabled")
	if key.ID == "" || key.Value != value || !key.Enabled {
		t.Fatalf("create-api-key output %+v", key)
	}
	var plan struct {
		ID    string
		Quota struct {
			Limit  int
			Period string
		}
	}
	cli.run(&plan, "create-usage-plan", "--name", "e2e", "--throttle", "burstLimit=100,rateLimit=100",
		"--quota", "limit=4,period=DAY", "--api-stages", "apiId=metered,stage=dev")
	if plan.ID == "" || plan.Quota.Limit != 4 || plan.Quota.Period != "DAY" {
		t.Fatalf("create-usage-plan output %+v", plan)
	}
	t.Run("a key in no plan is refused", func(t *testing.T) {
		handshake(value, http.StatusForbidden)
	})

	cli.run(nil, "create-usage-plan-key", "--usage-plan-id", plan.ID, "--key-id", key.ID, "--key-type", "API_KEY")
	c := dial(value)
	if c.Conn == nil {
		t.Fatalf("handshake with the key in the plan: %v", c.Response)
	}
	t.Run("the plan's quota counts $connect and messages", func(t *testing.T) {
		for i := range 3 { // $connect used 1 of 4
			c.Send(`{"action":"ping"}`)
			if got := c.Read(); got != "pong" {
				t.Fatalf("ping %d within the quota: %q", i, got)
			}
		}
		c.Send(`{"action":"ping"}`)
		if got := c.Read(); !frameRE("Limit Exceeded").MatchString(got) {
			t.Fatalf("ping over the quota: %q", got)
		}
		handshake(value, http.StatusTooManyRequests)
	})

	t.Run("get-api-keys --include-values", func(t *testing.T) {
		var list struct {
			Items []struct{ ID, Name, Value string }
		}
		cli.run(&list, "get-api-keys", "--include-values")
		if len(list.Items) != 1 || list.Items[0].ID != key.ID || list.Items[0].Value != value {
			t.Fatalf("get-api-keys --include-values: %+v", list)
		}
		var hidden struct {
			Items []struct{ ID, Value string }
		}
		cli.run(&hidden, "get-api-keys")
		if len(hidden.Items) != 1 || hidden.Items[0].Value != "" {
			t.Fatalf("get-api-keys without --include-values shows the value: %+v", hidden)
		}
	})
	t.Run("an unrelated change keeps the used quota", func(t *testing.T) {
		cli.run(nil, "create-api-key", "--name", "other")
		handshake(value, http.StatusTooManyRequests)
	})
	t.Run("a larger quota lets the key in again", func(t *testing.T) {
		cli.run(nil, "update-usage-plan", "--usage-plan-id", plan.ID, "--patch-operations", "op=replace,path=/quota/limit,value=10")
		c.Send(`{"action":"ping"}`)
		if got := c.Read(); got != "pong" {
			t.Fatalf("ping under the new quota: %q", got)
		}
	})
	t.Run("get-usage-plan-keys", func(t *testing.T) {
		var list struct {
			Items []struct{ ID, Type, Value string }
		}
		cli.run(&list, "get-usage-plan-keys", "--usage-plan-id", plan.ID)
		if len(list.Items) != 1 || list.Items[0].ID != key.ID || list.Items[0].Type != "API_KEY" {
			t.Fatalf("get-usage-plan-keys: %+v", list)
		}
	})
	t.Run("a key taken out of the plan is refused", func(t *testing.T) {
		cli.run(nil, "delete-usage-plan-key", "--usage-plan-id", plan.ID, "--key-id", key.ID)
		c.Send(`{"action":"ping"}`)
		if got := c.Read(); !frameRE("Forbidden").MatchString(got) {
			t.Fatalf("ping after delete-usage-plan-key: %q", got)
		}
		handshake(value, http.StatusForbidden)
	})
	t.Run("delete the plan and the key", func(t *testing.T) {
		cli.run(nil, "delete-usage-plan", "--usage-plan-id", plan.ID)
		cli.run(nil, "delete-api-key", "--api-key", key.ID)
		var plans struct{ Items []any }
		cli.run(&plans, "get-usage-plans")
		if len(plans.Items) != 0 {
			t.Fatalf("get-usage-plans after the delete: %+v", plans)
		}
	})
}
