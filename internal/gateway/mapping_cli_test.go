package gateway_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// TestMappingWithAWSCLI builds a validated MOCK route with the AWS CLI v2 — create-model,
// create-integration with --request-templates, create-integration-response with --response-templates,
// create-route with --model-selection-expression and --request-models — then talks to it and reads
// get-model-template.
func TestMappingWithAWSCLI(t *testing.T) {
	cli := awsCLIv2(t)
	g := gatewaytest.Start(t, "apis: []\n", gatewaytest.WithControlPlane)
	home := t.TempDir()
	aws := func(args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command(cli, append([]string{"--endpoint-url", g.ControlURL, "--output", "json", "apigatewayv2"}, args...)...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret",
			"AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=", "AWS_CONFIG_FILE=" + filepath.Join(home, "config"),
			"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials")}
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		var v map[string]any
		if len(out) > 0 {
			if err := json.Unmarshal(out, &v); err != nil {
				t.Fatalf("aws %s: %v: %s", args[0], err, out)
			}
		}
		return v
	}
	api := aws("create-api", "--name", "cli-mapped", "--protocol-type", "WEBSOCKET", "--route-selection-expression", "$request.body.action")
	apiID := api["ApiId"].(string)
	model := aws("create-model", "--api-id", apiID, "--name", "greeting", "--content-type", "application/json",
		"--schema", `{"type": "object", "properties": {"name": {"type": "string", "minLength": 1}}, "required": ["name"]}`)
	in := aws("create-integration", "--api-id", apiID, "--integration-type", "MOCK",
		"--template-selection-expression", `\$default`,
		"--request-templates", `{"$default": "{\"statusCode\": 200}"}`)
	inID := in["IntegrationId"].(string)
	aws("create-integration-response", "--api-id", apiID, "--integration-id", inID, "--integration-response-key", "$default",
		"--response-templates", `{"$default": "{\"hello\": \"$context.routeKey\"}"}`)
	route := aws("create-route", "--api-id", apiID, "--route-key", "greet", "--target", "integrations/"+inID,
		"--route-response-selection-expression", "$default",
		"--model-selection-expression", "$request.body.action", "--request-models", `{"greet": "greeting"}`)
	if got := route["RequestModels"]; got == nil || got.(map[string]any)["greet"] != "greeting" {
		t.Fatalf("create-route answered %v", route)
	}
	aws("create-route-response", "--api-id", apiID, "--route-id", route["RouteId"].(string), "--route-response-key", "$default")
	aws("create-stage", "--api-id", apiID, "--stage-name", "dev", "--auto-deploy")

	url := api["ApiEndpoint"].(string) + "/dev"
	gatewaytest.Eventually(t, 10*time.Second, func() bool {
		_, err := gatewaytest.TryDial(t, url, nil)
		return err == nil
	}, "stage dev serves")
	if got := send(t, url, `{"action": "greet", "name": "ada"}`); got != `{"hello": "greet"}` {
		t.Fatalf("reply %q", got)
	}
	if got := send(t, url, `{"action": "greet", "name": ""}`); !frameRE("Bad request body").MatchString(got) {
		t.Fatalf("reply %q", got)
	}
	tmpl := aws("get-model-template", "--api-id", apiID, "--model-id", model["ModelId"].(string))
	if v, _ := tmpl["Value"].(string); !strings.Contains(v, "$input.path('$')") {
		t.Fatalf("get-model-template answered %v", tmpl)
	}
}
