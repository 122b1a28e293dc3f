package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
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
