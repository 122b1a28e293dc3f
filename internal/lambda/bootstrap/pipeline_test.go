package bootstrap

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/resource"
)

// TestBootstrapsPipeline runs each bootstrap against a Runtime API that answers the first GET /next with an
// event and then answers nothing: the invocation's outcome and the next GET /next must both arrive, on the
// same connection, before the outcome is answered (one write and one read fewer per invocation on each
// side). A runtime that waits for each answer never sends the second request.
func TestBootstrapsPipeline(t *testing.T) {
	installed, err := Install(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		lang          resource.Language
		file, handler string
		code          string
	}{
		{resource.LanguageNode, "echo.js", "echo.handler", "exports.handler = async (event) => ({ statusCode: 200, body: event.body });\n"},
		{resource.LanguagePython, "echo.py", "echo.handler", "def handler(event, context):\n    return {'statusCode': 200, 'body': event['body']}\n"},
	} {
		t.Run(string(tc.lang), func(t *testing.T) {
			interp, err := Find(context.Background(), tc.lang)
			if err != nil {
				t.Fatal(err)
			}
			code := t.TempDir()
			if err := os.WriteFile(filepath.Join(code, tc.file), []byte(tc.code), 0o644); err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			cmd := exec.Command(interp.Path, Script(installed, tc.lang))
			cmd.Dir = code
			cmd.Env = append(os.Environ(), "AWS_LAMBDA_RUNTIME_API="+ln.Addr().String(), "_HANDLER="+tc.handler, "LAMBDA_TASK_ROOT="+code)
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			}()

			conn, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
			br := bufio.NewReader(conn)
			req := readRequest(t, br)
			if req.Method != http.MethodGet || req.URL.Path != "/2018-06-01/runtime/invocation/next" {
				t.Fatalf("first request %s %s, want GET …/next", req.Method, req.URL.Path)
			}
			event := `{"body":"hello"}`
			_, err = io.WriteString(conn, "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: req-1\r\n"+
				"Lambda-Runtime-Deadline-Ms: "+itoa(time.Now().Add(time.Minute).UnixMilli())+"\r\n"+
				"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:echo\r\n"+
				"Content-Type: application/json\r\nContent-Length: "+itoa(int64(len(event)))+"\r\n\r\n"+event)
			if err != nil {
				t.Fatal(err)
			}
			post := readRequest(t, br)
			body, _ := io.ReadAll(post.Body)
			if post.Method != http.MethodPost || post.URL.Path != "/2018-06-01/runtime/invocation/req-1/response" ||
				strings.ReplaceAll(string(body), " ", "") != `{"statusCode":200,"body":"hello"}` {
				t.Fatalf("outcome %s %s %s", post.Method, post.URL.Path, body)
			}
			// Nothing is answered yet: a runtime that pipelines has sent its next poll already.
			next := readRequest(t, br)
			if next.Method != http.MethodGet || next.URL.Path != "/2018-06-01/runtime/invocation/next" {
				t.Fatalf("after the outcome: %s %s, want GET …/next", next.Method, next.URL.Path)
			}
		})
	}
}

func readRequest(t *testing.T, br *bufio.Reader) *http.Request {
	t.Helper()
	req, err := http.ReadRequest(br)
	if err != nil {
		t.Fatalf("reading a request from the runtime: %v", err)
	}
	return req
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
