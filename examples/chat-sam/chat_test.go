package chatsam_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/switchboard-gw/switchboard/internal/dynalitetest"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
	"github.com/switchboard-gw/switchboard/internal/lambda/bootstrap"
)

const waitFor = 30 * time.Second

// switchboardBinary builds cmd/switchboard once per test binary.
var switchboardBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "chat-sam-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "switchboard")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/switchboard").CombinedOutput()
	if err != nil {
		return "", &buildError{err, out}
	}
	return bin, nil
})

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + string(e.out) }

// nodeSDK is the AWS SDK for JavaScript v3 that serve gives Node.js handlers: $SWITCHBOARD_NODE_SDK
// (.ci/run installs it there) or a copy in the user cache directory, installed on first use. The test
// links it into the state directory, where serve would otherwise install it.
func nodeSDK(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SWITCHBOARD_NODE_SDK")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(cache, "switchboard-test", "nodejs-sdk")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := bootstrap.EnsureNodeSDK(ctx, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// serve runs `switchboard serve --template TEMPLATE --create-tables` with DynamoDB at endpoint, as the
// README tells users to, and returns the WebSocket URL it prints. The process is stopped with SIGTERM at
// the end of the test and must exit 0.
func serve(t *testing.T, template, endpoint string) string {
	t.Helper()
	bin, err := switchboardBinary()
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	if err := os.Symlink(nodeSDK(t), filepath.Join(data, "nodejs-sdk")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--template", template, "--create-tables",
		"--listen", "127.0.0.1:0", "--control-listen", "", "--data", data)
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL_DYNAMODB="+endpoint,
		"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	urls := make(chan string, 1)
	go func() { // reads until the process's stdout closes
		url := regexp.MustCompile(`WebSocket:\s+(ws://\S+)`)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := url.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("switchboard serve: %v", err)
			}
		case <-time.After(waitFor):
			_ = cmd.Process.Kill()
			t.Errorf("switchboard serve did not stop within %v of SIGTERM", waitFor)
		}
	})
	select {
	case u := <-urls:
		return u
	case err := <-exited:
		t.Fatalf("switchboard serve exited before serving: %v", err)
	case <-time.After(2 * waitFor):
		t.Fatal("switchboard serve printed no WebSocket URL")
	}
	return ""
}

// testWriter sends the gateway's log to the test log, line by line.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// connections counts the items of the table.
func connections(t *testing.T, db *dynamodb.Client, table string) int {
	t.Helper()
	out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("scan %s: %v", table, err)
	}
	return int(out.Count)
}

// TestChatApps runs AWS's sample app shape unmodified — the SAM template, the handlers, the DynamoDB
// table, the execute-api URL the sendmessage handler builds — with Node.js and with Python handlers, and
// a CDK app synthesized by the real CDK (CommonJS handlers, a two-way sendmessage route): clients
// connect (a row each), chat (everyone gets every message through @connections), and leave (the row
// goes).
func TestChatApps(t *testing.T) {
	endpoint := dynalitetest.Start(t)
	db := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	apps := []struct {
		name     string
		template string
		table    string
		// reply is what the sender gets after the broadcast on a two-way route ("" for none).
		reply func(delivered int) string
	}{
		{"SAM, Node.js handlers", "template.yaml", "chat_sam_connections", nil},
		{"SAM, Python handlers", "../chat-sam-python/template.yaml", "chat_sam_python_connections", nil},
		{"cdk synth output, Node.js CommonJS handlers", "../../internal/cfntemplate/testdata/cdk/cdk.out/ChatStack.template.json",
			"ChatStack-Connections827CEF2F-CHHI72WI059J", func(n int) string { return fmt.Sprintf(`{"delivered":%d}`, n) }},
	}
	for _, app := range apps {
		t.Run(app.name, func(t *testing.T) {
			url := serve(t, app.template, endpoint)
			alice := gatewaytest.Dial(t, url, nil)
			bob := gatewaytest.Dial(t, url, nil)
			gatewaytest.Eventually(t, waitFor, func() bool { return connections(t, db, app.table) == 2 },
				"the $connect handler did not store both connections")

			alice.Send(`{"action":"sendmessage","data":"hello from alice"}`)
			for who, c := range map[string]*gatewaytest.Client{"alice": alice, "bob": bob} {
				if got := c.Read(); got != "hello from alice" {
					t.Fatalf("%s got %q", who, got)
				}
			}
			if app.reply != nil {
				if got, want := alice.Read(), app.reply(2); got != want {
					t.Fatalf("alice's reply %q, want %q", got, want)
				}
			}

			_ = bob.Conn.Close(1000, "bye")
			gatewaytest.Eventually(t, waitFor, func() bool { return connections(t, db, app.table) == 1 },
				"the $disconnect handler did not delete bob's connection")
			alice.Send(`{"action":"sendmessage","data":"anyone?"}`)
			if got := alice.Read(); got != "anyone?" {
				t.Fatalf("alice got %q", got)
			}
			if app.reply != nil {
				if got, want := alice.Read(), app.reply(1); got != want {
					t.Fatalf("alice's reply %q, want %q", got, want)
				}
			}
		})
	}
}
