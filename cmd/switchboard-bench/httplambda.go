package main

// The httplambda scenario: an HTTP API route to a local Go function against the same route in
// serverless-offline's httpApi, driven by the same HTTP client in the same run.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// targetHTTPLambdaRatio is the HTTP API Lambda route through a local Go function ÷ serverless-offline's
// httpApi with --useInProcess.
const targetHTTPLambdaRatio = 4.0

// serverlessHTTPConfig is the peer's serverless.yml for HTTP APIs: the Node.js echo handler on POST /echo
// as an httpApi event (payload format 2.0, serverless's default for httpApi).
const serverlessHTTPConfig = `service: switchboard-bench-http-peer
frameworkVersion: "3"
provider:
  name: aws
  runtime: nodejs20.x
  region: us-east-1
  stage: ` + benchStage + `
plugins:
  - serverless-offline
functions:
  echo:
    handler: echo.handler
    events:
      - httpApi:
          path: /echo
          method: POST
`

// httpLambdaConfig is an HTTP API whose POST /echo route invokes the bench's own Go echo function locally
// with payload format 2.0.
func httpLambdaConfig(exe string, env map[string]string) string {
	environment := ""
	if len(env) > 0 {
		var pairs []string
		for k, v := range env {
			pairs = append(pairs, strconv.Quote(k)+": "+strconv.Quote(v))
		}
		environment = "    environment: {" + strings.Join(pairs, ", ") + "}\n"
	}
	return `apis:
  - name: http
    apiId: ` + benchAPIID + `
    protocolType: HTTP
    integrations:
      - {integrationId: fn, integrationType: AWS_PROXY, payloadFormatVersion: "2.0", integrationUri: "arn:aws:lambda:us-east-1:123456789012:function:echo"}
    routes:
      - {routeKey: "POST /echo", target: integrations/fn}
    stages: [{stageName: $default}]
functions:
  - functionName: echo
    handler: ` + strconv.Quote(exe) + `
    args: [handler]
` + environment + `    reservedConcurrentExecutions: ` + strconv.Itoa(functionConcurrency) + `
`
}

func (b *bench) httpLambda(ctx context.Context) error {
	node, project, err := b.peerProject(ctx, "httplambda", "http-peer", serverlessHTTPConfig)
	if err != nil || node == "" {
		return err
	}
	sls, err := b.startServerlessOfflineHTTP(ctx, node, project)
	if err != nil {
		return err
	}
	defer sls.stop()
	b.configs++
	path := filepath.Join(b.dir, fmt.Sprintf("gateway-%d.yaml", b.configs))
	if err := os.WriteFile(path, []byte(httpLambdaConfig(b.env.Exe, b.functionEnv())), 0o600); err != nil {
		return err
	}
	gw, err := b.startGatewayFile(ctx, path)
	if err != nil {
		return err
	}
	defer gw.stop()
	servers := []httpServer{
		{name: "sls-httpapi", c: sls, url: "http://" + sls.addr + "/echo"},
		{name: "switchboard-lambda", c: gw, url: "http://" + gw.addr + "/" + benchAPIID + "/echo",
			helpers: &child{name: "functions", childrenOf: gw.pid()}},
	}
	return b.alternate(ctx, "httplambda", servers)
}

// startServerlessOfflineHTTP starts serverless-offline (--useInProcess) on free loopback ports and waits
// until its HTTP endpoint answers.
func (b *bench) startServerlessOfflineHTTP(ctx context.Context, node, project string) (*child, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	args := []string{filepath.Join(project, "node_modules", "serverless", "bin", "serverless.js"), "offline", "start",
		"--host", "127.0.0.1", "--httpPort", strconv.Itoa(ports[0]), "--lambdaPort", strconv.Itoa(ports[1]),
		"--websocketPort", strconv.Itoa(ports[2]), "--useInProcess", "--noPrependStageInUrl"}
	logPath := filepath.Join(b.dir, "sls-httpapi.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(node, args...)
	cmd.Dir = project
	cmd.Env = append(os.Environ(), "SLS_TELEMETRY_DISABLED=1", "SLS_NOTIFICATIONS_MODE=off", "SLS_DEPRECATION_DISABLE=*")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start serverless-offline: %w", err)
	}
	c := &child{name: "sls-httpapi", cmd: cmd, stdin: stdin, done: make(chan struct{}), group: true,
		addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	logf(b.stderr, "sls-httpapi pid %d starting on %s (log %s)", c.pid(), c.addr, logPath)
	deadline := time.Now().Add(60 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Post("http://"+c.addr+"/echo", "text/plain", strings.NewReader("ping"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		select {
		case <-c.done:
			return nil, fmt.Errorf("sls-httpapi exited before listening (%v); see %s", c.err, logPath)
		case <-ctx.Done():
			return nil, joinErr(ctx.Err(), c.stop())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, joinErr(fmt.Errorf("sls-httpapi did not answer POST /echo within 60s; see %s", logPath), c.stop())
		}
	}
}
