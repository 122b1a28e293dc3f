package gateway_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// TestHTTPAPIControlPlaneWithAWSCLI runs testdata/cli/http-api.sh — the README's HTTP API workflow — with
// the AWS CLI v2 against a gateway's control plane: quick create, CORS, a JWT authorizer, route settings,
// export-api, import-api, reimport-api, delete-cors-configuration, reset-authorizers-cache and API
// mappings (a multi-level key, and AWS's refusal of a WebSocket API beside an HTTP API).
func TestHTTPAPIControlPlaneWithAWSCLI(t *testing.T) {
	cli := awsCLIv2(t)
	backend := gatewaytest.NewBackend(t, nil)
	g := gatewaytest.Start(t, "apis: []\n", gatewaytest.WithControlPlane)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join("testdata", "cli", "http-api.sh"))
	home := t.TempDir()
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "AWS=" + cli, "ENDPOINT=" + g.ControlURL, "BACKEND=" + backend.URL,
		"WORK=" + t.TempDir(), "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_PAGER=", "AWS_CONFIG_FILE=" + filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
	}
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("script: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			vars[k] = v
		}
	}
	// An HTTP API's apiEndpoint is the data-plane URL with http(s), not ws(s).
	want := "http" + strings.TrimPrefix(g.WSURL, "ws") + "/" + vars["API_ID"]
	if vars["API_ENDPOINT"] != want {
		t.Errorf("apiEndpoint = %q, want %q", vars["API_ENDPOINT"], want)
	}
	if !strings.Contains(string(out), "DONE") {
		t.Errorf("the script did not finish:\n%s", out)
	}
}
