package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
	"github.com/switchboard-gw/switchboard/internal/localca"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes and reads of a running command.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	badExpr := filepath.Join(dir, "badexpr.yaml")
	unknownAndBad := filepath.Join(dir, "unknownandbad.yaml")
	noDollar := filepath.Join(dir, "nodollar.yaml")
	os.WriteFile(unknownAndBad, []byte("apis:\n  - name: x\n    protocolType: WEBSOCKET\n    routeSelectionExpression: $request.body.action\n    descripton: typo\n    stages: [{stageName: \"no spaces\"}]\n"), 0o644)
	os.WriteFile(noDollar, []byte("apis:\n  - name: x\n    protocolType: WEBSOCKET\n    routeSelectionExpression: request.body.action\n    routes:\n      - {routeKey: sendmessage, target: integrations/m}\n    integrations:\n      - {integrationId: m, integrationType: MOCK}\n"), 0o644)
	os.WriteFile(good, defaultConfig, 0o644)
	os.WriteFile(bad, []byte("apis:\n  - name: x\n    protocolType: WEBSOCKET\n    routeSelectionExpression: $request.body.action\n    stages: [{stageName: \"no spaces\"}]\n"), 0o644)
	os.WriteFile(badExpr, []byte("apis:\n  - name: x\n    protocolType: WEBSOCKET\n    routeSelectionExpression: ${request.body.action\n"), 0o644)
	mtls := filepath.Join(dir, "mtls.yaml")
	os.WriteFile(mtls, []byte(mutualTLSConfig("cert.pem", "key.pem", "clients.pem")), 0o644)
	cases := []struct {
		name    string
		args    []string
		wantErr bool
		stdout  string
		stderr  string
	}{
		{"valid file", []string{"validate", good}, false, "good.yaml: ok (1 APIs, 2 routes)", ""},
		{"field error with line and field", []string{"validate", bad}, true, "", "bad.yaml:5:15: apis[0].stages[0].stageName:"},
		{"expression error from compilation", []string{"validate", badExpr}, true, "", "badexpr.yaml:4:5: apis[0].routeSelectionExpression: invalid selection expression"},
		{"missing file", []string{"validate", filepath.Join(dir, "nope.yaml")}, true, "", "nope.yaml"},
		{"mutual TLS with the default endpoint enabled warns", []string{"validate", mtls}, false, "mtls.yaml: ok (1 APIs, 1 routes)",
			"mtls.yaml:2:5: apis[0].disableExecuteApiEndpoint: API secured is mapped to secure.test, which requires mutual TLS, but its default endpoint is enabled"},
		{"no command", nil, true, "", "Usage:"},
		{"unknown command", []string{"frobnicate"}, true, "", `unknown command "frobnicate"`},
		{"bad flag value", []string{"serve", "--log-level", "loud"}, true, "", ""},
		{"unknown field does not hide other errors", []string{"validate", unknownAndBad}, true, "", "unknownandbad.yaml:6:15: apis[0].stages[0].stageName:"},
		{"unknown field reported too", []string{"validate", unknownAndBad}, true, "", `unknownandbad.yaml:5:5: apis[0].descripton: unknown field "descripton"`},
		{"warning, still valid", []string{"validate", noDollar}, false, "nodollar.yaml: ok", "warning: " + noDollar + ":4:5: apis[0].routeSelectionExpression: "},
		{"warning names the fix", []string{"validate", noDollar}, false, "", "did you mean $request.body.action?"},
		{"serve --help exits 0", []string{"serve", "--help"}, false, "-control-listen", ""},
		{"serve -h exits 0", []string{"serve", "-h"}, false, "-new-connections-per-ip", ""},
		{"help serve prints the serve flags", []string{"help", "serve"}, false, "-listen string", ""},
		{"help validate", []string{"help", "validate"}, false, "usage: switchboard validate", ""},
		{"validate --help exits 0", []string{"validate", "--help"}, false, "usage: switchboard validate", ""},
		{"help of an unknown command", []string{"help", "frobnicate"}, true, "", `unknown command "frobnicate"`},
		{"version", []string{"version"}, false, "switchboard ", ""},
		{"--version", []string{"--version"}, false, "switchboard ", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			err := run(context.Background(), tc.args, func(string) string { return "" }, &stdout, &stderr)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v; stderr %s", err, tc.wantErr, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String()+errText(err), tc.stderr) {
				t.Fatalf("stdout %q, stderr %q, err %v", stdout.String(), stderr.String(), err)
			}
		})
	}
}

// mutualTLSConfig is an API behind a mutual-TLS domain whose default endpoint is left enabled.
func mutualTLSConfig(cert, key, truststore string) string {
	return `apis:
  - name: secured
    apiId: secured
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations: [{integrationId: m, integrationType: MOCK, requestTemplates: {$default: '{"statusCode": 200}'}}]
    routes: [{routeKey: $default, target: integrations/m}]
    stages: [{stageName: dev}]
domainNames:
  - domainName: secure.test
    domainNameConfigurations: [{certificateFile: "` + cert + `", privateKeyFile: "` + key + `"}]
    mutualTlsAuthentication: {truststoreUri: "` + truststore + `"}
    apiMappings: [{apiId: secured, stage: dev}]
`
}

// TestServeWarnsAboutMutualTLSBypass: the start-up log says which API's default endpoint bypasses a
// mutual-TLS domain, and where in the file to fix it.
func TestServeWarnsAboutMutualTLSBypass(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	ca, err := localca.Ensure(filepath.Join(dir, "ca"), []string{"secure.test"})
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "mtls.yaml")
	os.WriteFile(config, []byte(mutualTLSConfig(filepath.Join(dir, "ca", "server.pem"), filepath.Join(dir, "ca", "server-key.pem"), ca.CertFile)), 0o644)
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", config, "--listen", "127.0.0.1:0", "--control-listen", "", "--data", filepath.Join(dir, "state")},
			func(string) string { return "" }, &stdout, &stderr)
	}()
	gatewaytest.Eventually(t, 10*time.Second, func() bool {
		select {
		case err := <-done:
			t.Fatalf("serve ended early: %v; stderr %s", err, stderr.String())
		default:
		}
		return strings.Contains(stdout.String(), "ws://")
	}, "serve did not start; stderr %q", stderr.String())
	want := regexp.MustCompile(`level=WARN msg="config: \S*mtls.yaml:2:5: apis\[0\].disableExecuteApiEndpoint: API secured is mapped to secure.test, which requires mutual TLS, but its default endpoint is enabled[^"]*disableExecuteApiEndpoint: true[^"]*rest-api-mutual-tls.html\)"`)
	if !want.MatchString(stderr.String()) {
		t.Fatalf("no mutual TLS warning in the start-up log:\n%s", stderr.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

// TestVersionLine reads the version and VCS details from build information as go build records them.
func TestVersionLine(t *testing.T) {
	settings := func(kv ...string) []debug.BuildSetting {
		var out []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			out = append(out, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	cases := []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"release with revision", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"},
			Settings: settings("vcs.revision", "0123abcd", "vcs.time", "2026-12-01T10:00:00Z", "vcs.modified", "false")},
			true, "switchboard v1.2.3, revision 0123abcd (2026-12-01T10:00:00Z), go1.26.8"},
		{"checkout with changes", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: settings("vcs.revision", "0123abcd", "vcs.modified", "true")},
			true, "switchboard (devel), revision 0123abcd +modified, go1.26.8"},
		{"go run", &debug.BuildInfo{GoVersion: "go1.26.8"}, true,
			"switchboard (devel), revision unknown (built without VCS information, e.g. by go run), go1.26.8"},
		{"no build information", nil, false, "switchboard (no build information)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := versionLine(tc.info, tc.ok); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestServeDemoAndStop runs `serve` on the built-in config, talks to it, and stops it with its context.
func TestServeDemoAndStop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	data := t.TempDir()
	go func() {
		done <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--control-listen", "127.0.0.1:0", "--data", filepath.Join(data, "state")}, func(string) string { return "" }, &stdout, &stderr)
	}()
	urlRE := regexp.MustCompile(`ws://(127\.0\.0\.1:\d+)/demo/dev`)
	gatewaytest.Eventually(t, 10*time.Second, func() bool {
		select {
		case err := <-done:
			t.Fatalf("serve ended early: %v; stderr %s", err, stderr.String())
		default:
		}
		return urlRE.MatchString(stdout.String())
	}, "no endpoint printed; stderr %q", stderr.String())
	addr := urlRE.FindStringSubmatch(stdout.String())[1]
	resp, err := http.Get("http://" + addr + "/demo/dev")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("plain GET: %d, want 426", resp.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(data, "state")); err != nil {
		t.Fatalf("state directory not created: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if !strings.Contains(stderr.String(), "stopped") {
		t.Fatalf("no stop log: %s", stderr.String())
	}
}

// TestServeBrokenCatalog: a catalog file that does not load is reported as the catalog's problem, naming
// the file, not as a position in the config file.
func TestServeBrokenCatalog(t *testing.T) {
	data := t.TempDir()
	catalogFile := filepath.Join(data, "catalog.json")
	if err := os.WriteFile(catalogFile, []byte(`{"version":1,"state":{"apis":[{"apiId":"x"`), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncBuffer
	err := run(context.Background(), []string{"serve", "--listen", "127.0.0.1:0", "--control-listen", "", "--data", data},
		func(string) string { return "" }, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "catalog "+catalogFile) || strings.Contains(err.Error(), "built-in demo config") {
		t.Fatalf("err = %v; want the catalog file named, not the config", err)
	}
}

// TestServeReloadsTheConfig: an edited config file is served without a restart while a connection stays
// open; a broken one is reported with its place and the previous configuration keeps serving; SIGHUP
// reloads too.
func TestServeReloadsTheConfig(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "switchboard.yaml")
	config := func(reply string) string {
		return strings.ReplaceAll(string(defaultConfig), `{"action":"pong"}`, `{"action":"`+reply+`"}`)
	}
	if err := os.WriteFile(cfgPath, []byte(config("pong-1")), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", cfgPath, "--listen", "127.0.0.1:0", "--control-listen", "",
			"--metrics-listen", "127.0.0.1:0", "--data", filepath.Join(dir, "state")}, func(string) string { return "" }, &stdout, &stderr)
	}()
	urlRE := regexp.MustCompile(`ws://127\.0\.0\.1:\d+/demo/dev`)
	gatewaytest.Eventually(t, 10*time.Second, func() bool { return urlRE.MatchString(stdout.String()) },
		"no endpoint printed; stderr %q", stderr.String())
	metricsAddr := regexp.MustCompile(`msg="metrics listening" addr=(127\.0\.0\.1:\d+)`).FindStringSubmatch(stderr.String())
	if metricsAddr == nil {
		t.Fatalf("no metrics address logged; stderr %s", stderr.String())
	}
	// metric reads one unlabelled or labelled sample from /metrics, -1 when absent.
	metric := func(series string) float64 {
		resp, err := http.Get("http://" + metricsAddr[1] + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, series+" "); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("%s: %v", line, err)
				}
				return f
			}
		}
		return -1
	}
	firstVersion := metric("switchboard_snapshot_version")
	if firstVersion < 1 {
		t.Fatalf("switchboard_snapshot_version = %v at start", firstVersion)
	}
	c := gatewaytest.Dial(t, urlRE.FindString(stdout.String()), nil)
	ping := func() string {
		c.Send(`{"action":"ping"}`)
		return c.Read()
	}
	if got := ping(); got != `{"action":"pong-1"}` {
		t.Fatalf("before any edit: %s", got)
	}

	// An edit: the same connection gets the new answer.
	if err := os.WriteFile(cfgPath, []byte(config("pong-2")), 0o644); err != nil {
		t.Fatal(err)
	}
	gatewaytest.Eventually(t, 10*time.Second, func() bool { return ping() == `{"action":"pong-2"}` },
		"the edit was not served; stderr %s", stderr.String())
	// The reload is counted once Reload has returned, a moment after the new snapshot serves.
	gatewaytest.Eventually(t, 10*time.Second, func() bool { return metric(`switchboard_reloads_total{outcome="ok"}`) == 1 },
		"the reload was not counted")
	if v := metric("switchboard_snapshot_version"); v <= firstVersion {
		t.Fatalf("after an edit: snapshot version %v (was %v)", v, firstVersion)
	}

	// A broken file: every error with its place, and the previous configuration serves on.
	broken := strings.Replace(config("pong-3"), "stageName: dev", `stageName: "no spaces"`, 1)
	if err := os.WriteFile(cfgPath, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	gatewaytest.Eventually(t, 10*time.Second, func() bool {
		return strings.Contains(stderr.String(), "reload failed") && strings.Contains(stderr.String(), "switchboard.yaml:31:9: apis[0].stages[0].stageName")
	}, "no located reload error; stderr %s", stderr.String())
	if got := ping(); got != `{"action":"pong-2"}` {
		t.Fatalf("after a broken edit: %s, want the previous configuration's answer", got)
	}
	gatewaytest.Eventually(t, 10*time.Second, func() bool { return metric(`switchboard_reloads_total{outcome="error"}`) == 1 },
		"the failed reload was not counted")

	// SIGHUP reloads even when no file changed.
	if err := os.WriteFile(cfgPath, []byte(config("pong-4")), 0o644); err != nil {
		t.Fatal(err)
	}
	gatewaytest.Eventually(t, 10*time.Second, func() bool { return ping() == `{"action":"pong-4"}` }, "fixed file not served")
	before := strings.Count(stderr.String(), "configuration reloaded")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	gatewaytest.Eventually(t, 10*time.Second, func() bool {
		return strings.Count(stderr.String(), "configuration reloaded") > before && strings.Contains(stderr.String(), "reason=SIGHUP")
	}, "SIGHUP did not reload; stderr %s", stderr.String())
	if got := ping(); got != `{"action":"pong-4"}` {
		t.Fatalf("after SIGHUP: %s", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

// TestServeRuntimeChecks: a Node.js or Python function whose code is not there, or whose interpreter is
// missing, stops serve and validate at start with the file, line and function named.
func TestServeRuntimeChecks(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "code"), 0o755)
	os.WriteFile(filepath.Join(dir, "code", "app.mjs"), []byte("export const handler = async () => ({});\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "app.py"), []byte("def handler(e, c):\n    return {}\n"), 0o644)
	write := func(name, functions string) string {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte("apis: []\nfunctions:\n"+functions), 0o644)
		return path
	}
	good := write("good.yaml", "  - {functionName: connect, runtime: nodejs20.x, codeUri: code, handler: app.handler}\n  - {functionName: send, runtime: python3.12, codeUri: ., handler: app.handler}\n")
	typo := write("typo.yaml", "  - {functionName: connect, runtime: nodejs20.x, codeUri: code, handler: ap.handler}\n")
	empty := t.TempDir() // a PATH without node or python3
	cases := []struct {
		name string
		args []string
		path string
		want string
	}{
		{"validate: handler module missing", []string{"validate", typo}, os.Getenv("PATH"), `typo.yaml:3:65: functions[0].handler: handler "ap.handler": no module for it in codeUri`},
		{"serve: handler module missing", []string{"serve", "--config", typo}, os.Getenv("PATH"), `typo.yaml:3:65: functions[0].handler`},
		{"serve: no node or python3", []string{"serve", "--config", good}, empty, "good.yaml:3:29: functions[0].runtime: function connect (runtime nodejs20.x) cannot run: runtime interpreter unusable: node is not installed (not found in PATH)"},
		{"serve: python named too", []string{"serve", "--config", good}, empty, "good.yaml:4:26: functions[1].runtime: function send (runtime python3.12) cannot run: runtime interpreter unusable: python3 is not installed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PATH", tc.path)
			var stdout, stderr syncBuffer
			args := append(tc.args, "--listen", "127.0.0.1:0", "--control-listen", "", "--data", filepath.Join(dir, "state"))
			if tc.args[0] == "validate" {
				args = tc.args
			}
			err := run(context.Background(), args, func(string) string { return "" }, &stdout, &stderr)
			if err == nil || !strings.Contains(stderr.String()+errText(err), tc.want) {
				t.Fatalf("err = %v, stderr %s\nwant one containing %q", err, stderr.String(), tc.want)
			}
		})
	}
}

func TestFunctionEnv(t *testing.T) {
	vars := map[string]string{
		"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
		"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000", "AWS_ENDPOINT_URL_S3": "", "AWS_PROFILE": "dev", "HOME": "/root",
	}
	var environ []string
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	got := functionEnv(environ, func(k string) string { return vars[k] })
	want := map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret",
		"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000"}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}

// A bad --metrics-token-file stops serve with a message naming the flag, before anything listens.
func TestServeRefusesBadMetricsToken(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("  tooshort\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, file, want string
	}{
		{"missing file", filepath.Join(dir, "absent"), "--metrics-token-file: open "},
		{"short token", short, "the token must have at least 16 characters, it has 8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			err := run(context.Background(), []string{"serve", "--listen", "127.0.0.1:0", "--control-listen", "",
				"--data", filepath.Join(dir, "state"), "--metrics-token-file", tc.file}, func(string) string { return "" }, &stdout, &stderr)
			if err == nil || !strings.Contains(errText(err), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
