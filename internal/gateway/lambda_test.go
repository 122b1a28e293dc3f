package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// buildHandler compiles testdata/handler once per test binary.
var buildHandler = sync.OnceValues(func() (string, error) {
	dir, err := filepathTemp()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "handler")
	out, err := exec.Command("go", "build", "-o", bin, "./testdata/handler").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build handler: %v\n%s", err, out)
	}
	return bin, nil
})

// logRecorder keeps every log message with its attributes as text.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Message)
	rec.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	r.mu.Lock()
	r.lines = append(r.lines, b.String())
	r.mu.Unlock()
	return nil
}
func (r *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &prefixed{r: r, attrs: as}
}
func (r *logRecorder) WithGroup(string) slog.Handler { return r }
func (r *logRecorder) has(parts ...string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.lines {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			return true
		}
	}
	return false
}

type prefixed struct {
	r     *logRecorder
	attrs []slog.Attr
}

func (p *prefixed) Enabled(context.Context, slog.Level) bool { return true }
func (p *prefixed) Handle(ctx context.Context, rec slog.Record) error {
	rec.AddAttrs(p.attrs...)
	return p.r.Handle(ctx, rec)
}
func (p *prefixed) WithAttrs(as []slog.Attr) slog.Handler {
	return &prefixed{r: p.r, attrs: append(append([]slog.Attr(nil), p.attrs...), as...)}
}
func (p *prefixed) WithGroup(string) slog.Handler { return p }

func TestLambdaProxyLocalFunctions(t *testing.T) {
	bin, err := buildHandler()
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`
apis:
  - name: fn
    apiId: fn
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: main
        integrationType: AWS_PROXY
        integrationUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:main/invocations
      - integrationId: quick
        integrationType: AWS_PROXY
        integrationUri: arn:aws:lambda:us-east-1:123456789012:function:main
        timeoutInMillis: 300
      - {integrationId: missing, integrationType: AWS_PROXY, integrationUri: "arn:aws:lambda:us-east-1:123456789012:function:missing"}
      - {integrationId: initfail, integrationType: AWS_PROXY, integrationUri: "arn:aws:lambda:us-east-1:123456789012:function:initfail"}
    routes:
      - {routeKey: $default, target: integrations/main, routeResponses: [{routeResponseKey: $default}]}
      - {routeKey: slow, target: integrations/quick, routeResponses: [{routeResponseKey: $default}]}
      - {routeKey: missing, target: integrations/missing, routeResponses: [{routeResponseKey: $default}]}
      - {routeKey: initfail, target: integrations/initfail, routeResponses: [{routeResponseKey: $default}]}
    stages: [{stageName: dev}]
functions:
  - {functionName: main, handler: %q, timeout: 2, reservedConcurrentExecutions: 4}
  - {functionName: missing, handler: /nonexistent/handler}
  - {functionName: initfail, handler: %q, environment: {FAIL_INIT: "1"}}
`, bin, bin)
	logs := &logRecorder{}
	g := gatewaytest.Start(t, cfg, func(o *gateway.Options) { o.Logger = slog.New(logs) })
	c := gatewaytest.Dial(t, g.WSURL+"/fn/dev", nil)
	bystander := gatewaytest.Dial(t, g.WSURL+"/fn/dev", nil)

	internal := frameRE("Internal server error")
	cases := []struct {
		name    string
		send    string
		want    *regexp.Regexp
		logWith []string // a log line that says which function and why
	}{
		{"echo through a real aws-lambda-go handler", `{"action":"hello"}`, regexp.MustCompile(`^\{"authorizer":null,"body":"\{\\"action\\":\\"hello\\"\}","connectionId":"[A-Za-z0-9_-]{15}=","routeKey":"\$default"\}$`), nil},
		{"malformed JSON result", `{"action":"malformed"}`, internal, []string{"integration failed", "function:main", "malformed Lambda proxy response"}},
		{"non-object result is the body", `{"action":"scalar"}`, regexp.MustCompile(`^42$`), nil},
		{"body over 128 KB", `{"action":"huge"}`, internal, []string{"integration failed", "function:main", "over 128 KiB"}},
		{"returned error", `{"action":"error"}`, internal, []string{"integration failed", "function:main", "function error"}},
		{"process exits mid-invocation", `{"action":"crash"}`, internal, []string{"exited during an invocation", "function=main", "exit status 3"}},
		{"function timeout", `{"action":"hang"}`, internal, []string{"function timed out", "function=main"}},
		{"integration timeout", `{"action":"slow"}`, frameRE("Endpoint request timed out"), nil},
		{"missing executable", `{"action":"missing"}`, internal, []string{"cannot start", "function=missing", "no such file"}},
		{"exit during init", `{"action":"initfail"}`, internal, []string{"exited during an invocation", "function=initfail", "exit status 2"}},
		{"the function still works afterwards", `{"action":"again"}`, regexp.MustCompile(`"routeKey":"\$default"`), nil},
	}
	t.Cleanup(func() {
		if t.Failed() || testing.Verbose() {
			logs.mu.Lock()
			for _, l := range logs.lines {
				t.Log(l)
			}
			logs.mu.Unlock()
		}
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.Send(tc.send)
			if got := c.Read(); !tc.want.MatchString(got) {
				t.Fatalf("got %.200q, want match for %s", got, tc.want)
			}
			if tc.logWith != nil && !logs.has(tc.logWith...) {
				t.Fatalf("no log line with %q", tc.logWith)
			}
			// Another connection is not affected.
			bystander.Send(`{"action":"ping"}`)
			var reply map[string]string
			if err := json.Unmarshal([]byte(bystander.Read()), &reply); err != nil || reply["routeKey"] != "$default" {
				t.Fatalf("bystander got %v (%v)", reply, err)
			}
		})
	}
}

func filepathTemp() (string, error) {
	return tempDirs.dir()
}
