package mgmtapi_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// TestAWSCLISignsPostToConnection runs the AWS CLI against a gateway that enforces IAM: the CLI's own
// SigV4 signature is accepted and the message delivered; a wrong secret is refused with AWS's error.
// .ci/run installs the CLI where it is missing.
func TestAWSCLISignsPostToConnection(t *testing.T) {
	aws, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the aws CLI is not installed; .ci/run installs it")
		}
		t.Skip("the aws CLI is not installed")
	}
	be := gatewaytest.NewBackend(t, nil)
	g := gatewaytest.Start(t, strings.Replace(iamConfig(be.URL), "authorizationType: AWS_IAM", "authorizationType: NONE", 1))
	client := gatewaytest.Dial(t, g.WSURL+"/sec/dev", nil)
	id := be.WaitFor(t, 5*time.Second, func(r gatewaytest.Request) bool { return r.Header.Get("connectionId") != "" }).Header.Get("connectionId")

	args := []string{"apigatewaymanagementapi", "post-to-connection",
		"--endpoint-url", g.HTTPURL + "/sec/dev", "--connection-id", id, "--data", "from the cli"}
	if v, _ := exec.Command(aws, "--version").CombinedOutput(); strings.HasPrefix(string(v), "aws-cli/2") {
		args = append(args, "--cli-binary-format", "raw-in-base64-out") // v2 reads blobs as base64 otherwise
	}
	run := func(secret string) (string, error) {
		cmd := exec.Command(aws, args...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+adminKey, "AWS_SECRET_ACCESS_KEY="+secret,
			"AWS_DEFAULT_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null",
			"AWS_SHARED_CREDENTIALS_FILE=/dev/null")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run(adminSecret)
	if err != nil {
		t.Fatalf("aws post-to-connection: %v\n%s", err, out)
	}
	if got := client.Read(); got != "from the cli" {
		t.Fatalf("client got %q", got)
	}
	out, err = run("wrong")
	if err == nil || !strings.Contains(out, "InvalidSignatureException") {
		t.Fatalf("wrong secret: err %v, output %s", err, out)
	}
}
