package gateway_test

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// awsCLIv2 returns the AWS CLI v2 executable: $SWITCHBOARD_AWS_CLI, else Debian's /usr/bin/aws (the awscli
// package, which .ci/run installs). A v1 CLI earlier on PATH is not what this test is about.
func awsCLIv2(t *testing.T) string {
	t.Helper()
	path := os.Getenv("SWITCHBOARD_AWS_CLI")
	if path == "" {
		path = "/usr/bin/aws"
	}
	out, err := exec.Command(path, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "aws-cli/2") {
		t.Fatalf("AWS CLI v2 not found at %s (%v: %s); install Debian's awscli package (.ci/run does) or set SWITCHBOARD_AWS_CLI", path, err, out)
	}
	return path
}

// TestControlPlaneWithAWSCLI runs testdata/cli/control-plane.sh — the README's CLI workflow — with the AWS
// CLI v2 against the control plane, then talks to the API it built, through its apiEndpoint and through
// the custom domain mapping it made, before the script deletes it.
func TestControlPlaneWithAWSCLI(t *testing.T) {
	cli := awsCLIv2(t)
	backend := gatewaytest.NewBackend(t, nil)
	g := gatewaytest.Start(t, "apis: []\n", gatewaytest.WithControlPlane)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join("testdata", "cli", "control-plane.sh"))
	home := t.TempDir()
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "AWS=" + cli, "ENDPOINT=" + g.ControlURL, "BACKEND=" + backend.URL,
		"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_PAGER=", "AWS_CONFIG_FILE=" + filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	vars := map[string]string{}
	for vars["API_ENDPOINT"] == "" && lines.Scan() {
		if k, v, ok := strings.Cut(lines.Text(), "="); ok {
			vars[k] = v
		}
	}
	if vars["API_ENDPOINT"] == "" {
		_ = cmd.Wait()
		t.Fatalf("the script stopped early:\n%s", stderr.String())
	}
	if want := g.WSURL + "/" + vars["API_ID"]; vars["API_ENDPOINT"] != want {
		t.Errorf("apiEndpoint = %q, want %q", vars["API_ENDPOINT"], want)
	}

	// Through apiEndpoint + "/" + stage, and through the custom domain's mapping key.
	for name, dial := range map[string]struct {
		url  string
		opts *websocket.DialOptions
	}{
		"apiEndpoint":   {vars["API_ENDPOINT"] + "/dev", nil},
		"custom domain": {g.WSURL + "/chat", &websocket.DialOptions{Host: "exanub.es"}},
	} {
		c := gatewaytest.Dial(t, dial.url, dial.opts)
		c.Send(`{"action":"sendmessage","data":"` + name + `"}`)
		backend.WaitFor(t, 10*time.Second, func(r gatewaytest.Request) bool {
			return r.Path == "/sendmessage" && strings.Contains(r.Body, name)
		})
		_ = c.Conn.Close(websocket.StatusNormalClosure, "")
	}

	if _, err := io.WriteString(stdin, "go on\n"); err != nil {
		t.Fatal(err)
	}
	var rest strings.Builder
	for lines.Scan() {
		rest.WriteString(lines.Text() + "\n")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("script: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(rest.String(), "DELETED") {
		t.Fatalf("the script did not finish: %s\n%s", rest.String(), stderr.String())
	}
	if _, err := gatewaytest.TryDial(t, vars["API_ENDPOINT"]+"/dev", nil); err == nil {
		t.Fatal("the deleted API still accepts connections")
	}
}

// TestControlPlaneIAMWithAWSCLI enforces signatures: the AWS CLI v2 signs for the service apigateway, a
// user whose policy allows apigateway:* gets through, a wrong secret gets InvalidSignatureException, and
// a user allowed only to read cannot create.
func TestControlPlaneIAMWithAWSCLI(t *testing.T) {
	cli := awsCLIv2(t)
	g := gatewaytest.Start(t, `apis: []
iam:
  enforce: true
  users:
    - name: admin
      accessKeyId: AKIDADMINEXAMPLE1
      secretAccessKey: admin-secret
      policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"apigateway:*","Resource":"arn:aws:apigateway:us-east-1::/*"}]}'
    - name: reader
      accessKeyId: AKIDREADEREXAMPLE
      secretAccessKey: reader-secret
      policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"apigateway:GET","Resource":"*"}]}'
`, gatewaytest.WithControlPlane)
	run := func(key, secret string, args ...string) (string, error) {
		home := t.TempDir()
		cmd := exec.Command(cli, append([]string{"apigatewayv2", "--endpoint-url", g.ControlURL, "--output", "text"}, args...)...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "AWS_ACCESS_KEY_ID=" + key, "AWS_SECRET_ACCESS_KEY=" + secret,
			"AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1",
			"AWS_CONFIG_FILE=" + filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials")}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	create := []string{"create-api", "--name", "signed", "--protocol-type", "WEBSOCKET", "--route-selection-expression", "$request.body.action", "--query", "ApiId"}
	cases := []struct {
		name, key, secret string
		args              []string
		wantErr           string // "" for success
	}{
		{"admin creates", "AKIDADMINEXAMPLE1", "admin-secret", create, ""},
		{"admin lists", "AKIDADMINEXAMPLE1", "admin-secret", []string{"get-apis", "--query", "Items[].Name"}, ""},
		{"wrong secret", "AKIDADMINEXAMPLE1", "not-the-secret", []string{"get-apis"}, "InvalidSignatureException"},
		{"unknown key", "AKIDNOBODYEXAMPLE", "x", []string{"get-apis"}, "UnrecognizedClientException"},
		{"reader reads", "AKIDREADEREXAMPLE", "reader-secret", []string{"get-apis", "--query", "Items[].Name"}, ""},
		{"reader cannot create", "AKIDREADEREXAMPLE", "reader-secret", create, "AccessDeniedException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(tc.key, tc.secret, tc.args...)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("%v: %s", err, out)
				}
				return
			}
			if err == nil || !strings.Contains(out, tc.wantErr) {
				t.Fatalf("got %v: %s; want %s", err, out, tc.wantErr)
			}
		})
	}
	out, err := run("AKIDADMINEXAMPLE1", "admin-secret", "get-apis", "--query", "length(Items)")
	if err != nil || strings.TrimSpace(out) != "1" {
		t.Fatalf("after the refused create: %q (%v); want only the admin's API", out, err)
	}
}
