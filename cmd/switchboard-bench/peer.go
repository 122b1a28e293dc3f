package main

// Peers: serverless-offline, installed with npm into a cache directory on first use, running a Node.js
// echo handler equivalent to the Go one.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/switchboard-gw/switchboard/internal/loopbackport"
)

// The peer's versions: serverless v3 (v4 needs an account login to run at all) and serverless-offline
// 13.9, the newest release line that supports it.
const (
	serverlessVersion        = "3"
	serverlessOfflineVersion = "13.9"
)

// nodeEchoFile and nodeEchoHandler are the Node.js echo handler, the equivalent of echoFunction: it answers
// a WebSocket proxy event with its body. It is a plain Lambda handler (CommonJS, handler "echo.handler"),
// so it runs unchanged on Lambda's nodejs20.x runtime, in serverless-offline, and in Switchboard as a
// local function with runtime nodejs20.x and the directory it is written to as codeUri.
const (
	nodeEchoFile    = "echo.js"
	nodeEchoHandler = "exports.handler = async (event) => ({ statusCode: 200, body: event.body });\n"
)

// serverlessConfig is the peer's serverless.yml: the echo handler on the "lambda" route with the route
// response sent back ($default), and on $connect, which serverless-offline requires (without one it
// refuses every handshake with 502; API Gateway does not).
const serverlessConfig = `service: switchboard-bench-peer
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
      - websocket:
          route: $connect
      - websocket:
          route: lambda
          routeResponseSelectionExpression: $default
`

// peerModes are serverless-offline's two ways of running a Node handler that are measured.
var peerModes = []struct{ key, name, flag string }{
	{"sls-inprocess", "serverless-offline --useInProcess", "--useInProcess"},
	{"sls-default", "serverless-offline (default: worker threads)", ""},
}

// peers measures serverless-offline's round trips with the same client as the lambda scenario. Without
// node and npm it reports why and measures nothing.
func (b *bench) peers(ctx context.Context) error {
	node, project, err := b.peerProject(ctx, "peers", "peer", serverlessConfig)
	if err != nil || node == "" {
		return err
	}
	var errs error
	msg := message("lambda", b.s.MsgSize)
	for _, m := range peerModes {
		if ctx.Err() != nil {
			break
		}
		c, err := b.startServerlessOffline(ctx, node, project, m.key, m.flag)
		if err != nil {
			errs = joinErr(errs, err)
			continue
		}
		r, err := b.measureRTT(ctx, m.name, "ws://"+c.addr, msg, msg, c)
		if r != nil {
			b.res.RTT[m.key] = r
		}
		errs = joinErr(errs, joinErr(err, c.stop()))
	}
	return errs
}

// installPeer makes sure serverless and serverless-offline are installed in the cache directory and
// returns its node_modules.
func (b *bench) installPeer(ctx context.Context) (string, error) {
	dir, err := filepath.Abs(b.s.PeerCache)
	if err != nil {
		return "", err
	}
	modules := filepath.Join(dir, "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "serverless-offline", "package.json")); err == nil {
		return modules, nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", errors.New("peers: npm is not installed, cannot install serverless-offline")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name":"switchboard-bench-peers","private":true}`+"\n"), 0o644); err != nil {
		return "", err
	}
	logf(b.stderr, "installing serverless@%s and serverless-offline@%s into %s (once)", serverlessVersion, serverlessOfflineVersion, dir)
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--loglevel=error",
		"serverless@"+serverlessVersion, "serverless-offline@"+serverlessOfflineVersion)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = b.stderr, b.stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("peers: npm install in %s: %w", dir, err)
	}
	return modules, nil
}

// startServerlessOffline starts serverless-offline on free loopback ports and waits until its WebSocket
// endpoint accepts a connection. Its output goes to a log file in the run's directory.
func (b *bench) startServerlessOffline(ctx context.Context, node, project, key, flag string) (*child, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	args := []string{filepath.Join(project, "node_modules", "serverless", "bin", "serverless.js"), "offline", "start",
		"--host", "127.0.0.1", "--httpPort", strconv.Itoa(ports[0]), "--lambdaPort", strconv.Itoa(ports[1]),
		"--websocketPort", strconv.Itoa(ports[2])}
	if flag != "" {
		args = append(args, flag)
	}
	logPath := filepath.Join(b.dir, key+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
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
	c := &child{name: key, cmd: cmd, stdin: stdin, done: make(chan struct{}), group: true,
		addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[2]))}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	logf(b.stderr, "%s pid %d starting on %s (log %s)", key, c.pid(), c.addr, logPath)
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := b.dialer.dial(ctx, "ws://"+c.addr, 1024)
		if err == nil {
			_ = conn.Close()
			return c, nil
		}
		select {
		case <-c.done:
			return nil, fmt.Errorf("%s exited before listening (%v); see %s", key, c.err, logPath)
		case <-ctx.Done():
			return nil, joinErr(ctx.Err(), c.stop())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, joinErr(fmt.Errorf("%s did not accept a WebSocket connection within 60s: %v", key, err), c.stop())
		}
	}
}

// peerProject writes a serverless-offline project named dir with config and the Node echo handler,
// its node_modules linked to the installed peer, for scenario. Without node it warns and returns "".
func (b *bench) peerProject(ctx context.Context, scenario, dir, config string) (node, project string, err error) {
	node, err = exec.LookPath("node")
	if err != nil {
		b.res.warnf(b.stderr, "%s: node is not installed, serverless-offline not measured", scenario)
		return "", "", nil
	}
	modules, err := b.installPeer(ctx)
	if err != nil {
		return "", "", err
	}
	project = filepath.Join(b.dir, dir)
	if err := os.MkdirAll(project, 0o755); err != nil {
		return "", "", err
	}
	for name, data := range map[string]string{"serverless.yml": config, nodeEchoFile: nodeEchoHandler} {
		if err := os.WriteFile(filepath.Join(project, name), []byte(data), 0o644); err != nil {
			return "", "", err
		}
	}
	if err := os.Symlink(modules, filepath.Join(project, "node_modules")); err != nil && !errors.Is(err, os.ErrExist) {
		return "", "", err
	}
	return node, project, nil
}

// freePorts returns n loopback ports that were free a moment ago (below the ephemeral range: see
// loopbackport).
func freePorts(n int) ([]int, error) {
	addrs, err := loopbackport.Reserve(n)
	if err != nil {
		return nil, err
	}
	ports := make([]int, 0, n)
	for _, a := range addrs {
		_, p, _ := net.SplitHostPort(a)
		port, err := strconv.Atoi(p)
		if err != nil {
			return nil, err
		}
		ports = append(ports, port)
	}
	return ports, nil
}
