package gateway_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
	"github.com/switchboard-gw/switchboard/internal/lambda/bootstrap"
	"github.com/switchboard-gw/switchboard/internal/localca"
)

// nodeSDK returns a directory holding the AWS SDK for JavaScript v3: $SWITCHBOARD_NODE_SDK (.ci/run
// installs it there), else one under the user cache directory, installed with npm on first use.
var nodeSDK = sync.OnceValues(func() (string, error) {
	dir := os.Getenv("SWITCHBOARD_NODE_SDK")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(cache, "switchboard-test", "nodejs-sdk")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, err := bootstrap.EnsureNodeSDK(ctx, dir)
	return dir, err
})

// Handlers with the same modes as testdata/handler (the Go handler), in Node.js and Python, and one per
// language that answers by calling the @connections API at the execute-api URL AWS's samples build.
var runtimeCode = map[string]string{
	"node/handler.mjs": `import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
export const handler = async (event) => {
  const action = JSON.parse(event.body || '{}').action;
  const ctx = event.requestContext;
  switch (action) {
    case 'huge': return { statusCode: 200, body: 'x'.repeat(200 << 10) };
    case 'error': throw new Error('boom');
    case 'crash': process.exit(3);
    case 'hang': await new Promise(() => setTimeout(() => {}, 1e9));
    case 'sdk': {
      const client = new ApiGatewayManagementApiClient({ endpoint: 'https://' + ctx.apiId + '.execute-api.us-east-1.amazonaws.com/' + ctx.stage });
      await client.send(new PostToConnectionCommand({ ConnectionId: ctx.connectionId, Data: 'via the JavaScript SDK' }));
      return { statusCode: 200 };
    }
  }
  return { statusCode: 200, body: JSON.stringify({ routeKey: ctx.routeKey, body: event.body, runtime: 'node' }) };
};
`,
	"node/broken.mjs": "export const handler = async () => {;\n",
	// CommonJS finds the provided SDK through NODE_PATH.
	"node/cjs.js": "const { DynamoDBDocumentClient } = require('@aws-sdk/lib-dynamodb');\nexports.handler = async () => ({ statusCode: 200, body: 'lib-dynamodb: ' + typeof DynamoDBDocumentClient.from });\n",
	"python/handler.py": `import json, sys, time

def handler(event, context):
    action = json.loads(event.get("body") or "{}").get("action")
    ctx = event["requestContext"]
    if action == "malformed":
        return b'{"statusCode": 200, "body": '
    if action == "error":
        raise RuntimeError("boom")
    if action == "crash":
        sys.exit(3)
    if action == "hang":
        time.sleep(3600)
    if action == "sdk":
        import boto3
        client = boto3.client("apigatewaymanagementapi",
                              endpoint_url="https://%s.execute-api.us-east-1.amazonaws.com/%s" % (ctx["apiId"], ctx["stage"]))
        client.post_to_connection(ConnectionId=ctx["connectionId"], Data=b"via boto3")
        return {"statusCode": 200}
    return {"statusCode": 200, "body": json.dumps({"routeKey": ctx["routeKey"], "body": event["body"], "runtime": "python"})}
`,
	"python/broken.py": "def handler(event, context)\n    return 1\n",
}

// TestNodeAndPythonFunctions drives Node.js and Python handlers through real WebSocket clients and checks
// that every failure gives the client what a Go handler's failure gives (TestLambdaProxyLocalFunctions),
// and that their SDKs reach this gateway's @connections API at https://{apiId}.execute-api.{region}.amazonaws.com.
func TestNodeAndPythonFunctions(t *testing.T) {
	sdk, err := nodeSDK()
	if err != nil {
		t.Fatalf("the AWS SDK for JavaScript is needed: %v", err)
	}
	dir := t.TempDir()
	for name, body := range runtimeCode {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ca, err := localca.Ensure(filepath.Join(dir, "tls"), append(localca.DefaultHosts, localca.ExecuteAPIHost("us-east-1")))
	if err != nil {
		t.Fatal(err)
	}
	integrations, routes := "", ""
	for _, fn := range []string{"node", "nodesdk", "nodecjs", "nodebroken", "nodemissing", "python", "pysdk", "pybroken", "pymissing"} {
		integrations += fmt.Sprintf("      - {integrationId: %s, integrationType: AWS_PROXY, integrationUri: \"arn:aws:lambda:us-east-1:123456789012:function:%s\"}\n", fn, fn)
		routes += fmt.Sprintf("      - {routeKey: %s, target: integrations/%s, routeResponses: [{routeResponseKey: $default}]}\n", fn, fn)
	}
	cfg := fmt.Sprintf(`
apis:
  - name: rt
    apiId: rtapi
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.fn
    integrations:
%s    routes:
%s    stages: [{stageName: dev}]
functions:
  - {functionName: node, runtime: nodejs20.x, codeUri: %[3]q, handler: handler.handler, timeout: 1}
  - {functionName: nodesdk, runtime: nodejs20.x, codeUri: %[3]q, handler: handler.handler, timeout: 30}
  - {functionName: nodecjs, runtime: nodejs18.x, codeUri: %[3]q, handler: cjs.handler, timeout: 30}
  - {functionName: nodebroken, runtime: nodejs20.x, codeUri: %[3]q, handler: broken.handler}
  - {functionName: nodemissing, runtime: nodejs22.x, codeUri: %[3]q, handler: handler.nothere}
  - {functionName: python, runtime: python3.12, codeUri: %[4]q, handler: handler.handler, timeout: 1}
  - {functionName: pysdk, runtime: python3.12, codeUri: %[4]q, handler: handler.handler, timeout: 30}
  - {functionName: pybroken, runtime: python3.12, codeUri: %[4]q, handler: broken.handler}
  - {functionName: pymissing, runtime: python3.9, codeUri: %[4]q, handler: handler.nothere}
`, integrations, routes, filepath.Join(dir, "node"), filepath.Join(dir, "python"))
	logs := &logRecorder{}
	g := gatewaytest.Start(t, cfg, func(o *gateway.Options) {
		o.Logger = slog.New(logs)
		o.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Certificate}}
		o.CABundle = ca.CertFile
		o.RuntimeDir = filepath.Join(dir, "runtimes")
		o.NodeSDKDir = sdk
	})
	t.Cleanup(func() {
		if t.Failed() {
			logs.mu.Lock()
			for _, l := range logs.lines {
				t.Log(l)
			}
			logs.mu.Unlock()
		}
	})
	c := gatewaytest.Dial(t, g.WSURL+"/rtapi/dev", nil)
	bystander := gatewaytest.Dial(t, g.WSURL+"/rtapi/dev", nil)
	internal := frameRE("Internal server error")
	echo := func(runtime string) *regexp.Regexp {
		return regexp.MustCompile(`^\{"routeKey":\s?"` + runtime + `",\s?"body":\s?"\{\\"fn\\":\\"` + runtime + `\\"[^"]*\}",\s?"runtime":\s?"` + runtime + `"\}$`)
	}
	cases := []struct {
		name    string
		send    string
		want    *regexp.Regexp
		logWith []string
	}{
		{"node echo", `{"fn":"node"}`, echo("node"), nil},
		{"node reply over 128 KB", `{"fn":"node","action":"huge"}`, internal, []string{"integration failed", "function:node", "over 128 KiB"}},
		{"node throws", `{"fn":"node","action":"error"}`, internal, []string{"integration failed", "function:node", "function error"}},
		{"node process.exit", `{"fn":"node","action":"crash"}`, internal, []string{"exited during an invocation", "function=node", "exit status 3"}},
		{"node timeout", `{"fn":"node","action":"hang"}`, internal, []string{"function timed out", "function=node"}},
		{"node syntax error at load", `{"fn":"nodebroken"}`, internal, []string{"function init failed", "function=nodebroken", "Runtime.UserCodeSyntaxError"}},
		{"node handler not found", `{"fn":"nodemissing"}`, internal, []string{"function init failed", "function=nodemissing", "Runtime.HandlerNotFound"}},
		{"node works afterwards", `{"fn":"node"}`, echo("node"), nil},
		{"python echo", `{"fn":"python"}`, echo("python"), nil},
		{"python malformed result", `{"fn":"python","action":"malformed"}`, internal, []string{"integration failed", "function:python", "malformed Lambda proxy response"}},
		{"python raises", `{"fn":"python","action":"error"}`, internal, []string{"integration failed", "function:python", "function error"}},
		{"python sys.exit", `{"fn":"python","action":"crash"}`, internal, []string{"exited during an invocation", "function=python", "exit status 3"}},
		{"python timeout", `{"fn":"python","action":"hang"}`, internal, []string{"function timed out", "function=python"}},
		{"python syntax error at load", `{"fn":"pybroken"}`, internal, []string{"function init failed", "function=pybroken", "Runtime.UserCodeSyntaxError"}},
		{"python handler not found", `{"fn":"pymissing"}`, internal, []string{"function init failed", "function=pymissing", "Runtime.HandlerNotFound"}},
		{"python works afterwards", `{"fn":"python"}`, echo("python"), nil},
		{"node CommonJS requires the provided SDK", `{"fn":"nodecjs"}`, regexp.MustCompile(`^lib-dynamodb: function$`), nil},
		{"node SDK reaches @connections over verified TLS", `{"fn":"nodesdk","action":"sdk"}`, regexp.MustCompile(`^via the JavaScript SDK$`), nil},
		{"boto3 reaches @connections over verified TLS", `{"fn":"pysdk","action":"sdk"}`, regexp.MustCompile(`^via boto3$`), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.Send(tc.send)
			if got := c.Read(); !tc.want.MatchString(got) {
				t.Fatalf("got %.300q, want match for %s", got, tc.want)
			}
			if tc.logWith != nil {
				gatewaytest.Eventually(t, 5*time.Second, func() bool { return logs.has(tc.logWith...) }, "a log line with %q", tc.logWith)
			}
			bystander.Send(`{"fn":"python"}`)
			if got := bystander.Read(); !echo("python").MatchString(got) {
				t.Fatalf("bystander got %.300q", got)
			}
		})
	}
	if !logs.has("local functions' runtime", "language=nodejs") || !logs.has("local functions' runtime", "language=python") {
		t.Error("the interpreters found were not logged")
	}
}
