package gateway_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-gw/switchboard/internal/configfile"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

const accessLogConfig = `
apis:
  - name: logged
    apiId: logged
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: pong
        integrationType: MOCK
        requestTemplates: {"$default": '{"statusCode": 200}'}
        integrationResponses: [{integrationResponseKey: $default, responseTemplates: {"$default": 'pong'}}]
    routes:
      - {routeKey: ping, target: integrations/pong, routeResponses: [{routeResponseKey: $default}]}
    stages:
      - stageName: json
        accessLogSettings:
          destinationArn: arn:aws:logs:us-east-1:123456789012:log-group:/switchboard/logged
          format: '{"requestId":"$context.requestId","connectionId":"$context.connectionId","eventType":"$context.eventType","routeKey":"$context.routeKey","status":"$context.status","error":"$context.error.message","ip":"$context.identity.sourceIp","ua":"$context.identity.userAgent"}'
      - stageName: clf
        accessLogSettings:
          destinationArn: stdout
          format: '$context.identity.sourceIp - - [$context.requestTime] "$context.eventType $context.routeKey" $context.status $context.requestId'
`

// Access logs: one line per event in the stage's format, to a file named after the log group under the
// log directory, or to stdout; values are escaped so a line stays one line of valid JSON.
func TestAccessLogs(t *testing.T) {
	dir := t.TempDir()
	stdout := &syncBuffer{}
	g := gatewaytest.Start(t, accessLogConfig, func(o *gateway.Options) { o.LogDir, o.Stdout = dir, stdout })

	ua := "tester \"quoted\"\tand tabbed"
	c := gatewaytest.Dial(t, g.WSURL+"/logged/json", &websocket.DialOptions{HTTPHeader: map[string][]string{"User-Agent": {ua}}})
	c.Send(`{"action":"ping"}`)
	if got := c.Read(); got != "pong" {
		t.Fatalf("ping: %q", got)
	}
	c.Send(`{"action":"nope"}`)
	c.Read()
	file := filepath.Join(dir, "_switchboard_logged.log")
	var lines []map[string]string
	gatewaytest.Eventually(t, 10*time.Second, func() bool {
		b, _ := os.ReadFile(file)
		lines = nil
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l == "" {
				continue
			}
			var m map[string]string
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("line %q is not the JSON format: %v", l, err)
			}
			lines = append(lines, m)
		}
		return len(lines) == 3
	}, "%s has %d lines, want 3", file, len(lines))
	want := []struct{ eventType, routeKey, status, errMsg string }{
		{"CONNECT", "$connect", "200", "-"},
		{"MESSAGE", "ping", "200", "-"},
		{"MESSAGE", "-", "403", "Forbidden"},
	}
	for i, w := range want {
		l := lines[i]
		if l["eventType"] != w.eventType || l["routeKey"] != w.routeKey || l["status"] != w.status || l["error"] != w.errMsg {
			t.Errorf("line %d: %v, want %+v", i, l, w)
		}
		if l["connectionId"] != lines[0]["connectionId"] || len(l["connectionId"]) != 16 || len(l["requestId"]) != 16 {
			t.Errorf("line %d: connection or request ID: %v", i, l)
		}
		if l["ip"] != "127.0.0.1" || l["ua"] != ua {
			t.Errorf("line %d: identity: %q %q", i, l["ip"], l["ua"])
		}
	}

	c2 := gatewaytest.Dial(t, g.WSURL+"/logged/clf", nil)
	c2.Send(`{"action":"ping"}`)
	c2.Read()
	gatewaytest.Eventually(t, 10*time.Second, func() bool {
		stdout.mu.Lock()
		defer stdout.mu.Unlock()
		return strings.Count(stdout.b.String(), "\n") == 2
	}, "stdout has not two access-log lines")
	stdout.mu.Lock()
	out := strings.Split(strings.TrimSpace(stdout.b.String()), "\n")
	stdout.mu.Unlock()
	for i, l := range out {
		want := []string{`"CONNECT $connect" 200 `, `"MESSAGE ping" 200 `}[i]
		if !strings.HasPrefix(l, "127.0.0.1 - - [") || !strings.Contains(l, "] "+want) {
			t.Errorf("stdout line %d: %q, want the CLF format with %q", i, l, want)
		}
	}
}

// A format AWS would refuse, or a destination that is not a log group, stops the start with the place
// in the file.
func TestAccessLogSettingsRefused(t *testing.T) {
	for _, tc := range []struct{ name, from, to, want string }{
		{"unknown variable", "$context.status $context.requestId'", "$context.status $context.requestId $context.httpMethod'",
			"accessLogSettings.format: The following context variables are not supported: [$context.httpMethod]"},
		{"no request ID", ` $context.requestId'`, `'`, "accessLogSettings.format: the format must contain $context.requestId"},
		{"not a log group", "destinationArn: stdout", "destinationArn: arn:aws:s3:::bucket", "accessLogSettings.destinationArn: destinationArn \"arn:aws:s3:::bucket\" is not a CloudWatch Logs log group ARN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := strings.Replace(accessLogConfig, tc.from, tc.to, 1)
			if cfg == accessLogConfig {
				t.Fatal("the edit did not apply")
			}
			f, err := configfile.Parse("logs.yaml", []byte(cfg))
			if err != nil {
				t.Fatal(err)
			}
			_, err = gateway.New(gateway.Options{Bundle: f.Bundle})
			if err == nil {
				t.Fatal("gateway.New accepted it")
			}
			if got := f.Locate(err).Error(); !strings.Contains(got, tc.want) || !strings.Contains(got, "logs.yaml:") {
				t.Fatalf("error %q, want %q located in logs.yaml", got, tc.want)
			}
		})
	}
}
