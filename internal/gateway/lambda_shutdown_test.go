package gateway_test

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-gw/switchboard/internal/configfile"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// TestShutdownWithFunctionsRunning: the gateway stops (as on SIGTERM) while local functions run
// invocations. Every client gets the close frame 1001 (the drain closes connections first, and a reply
// that comes after it is not delivered); invocations that end within the grace run to their end, and ones
// that ignore their deadline are cut at the grace, which Run reports; either way no function process is
// left.
func TestShutdownWithFunctionsRunning(t *testing.T) {
	bin, err := buildHandler()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		action    string
		grace     time.Duration
		killed    bool   // the invocations are cut at the grace
		wantError string // in Run's error
	}{
		{name: "invocations end within the grace", action: "sleep", grace: 20 * time.Second},
		{name: "invocations ignore their deadline", action: "hang", grace: 2 * time.Second, killed: true, wantError: "deadline exceeded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := configfile.Parse("shutdown.yaml", []byte(`
apis:
  - name: fn
    apiId: fn
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: main
        integrationType: AWS_PROXY
        integrationUri: arn:aws:lambda:us-east-1:123456789012:function:main
    routes:
      - {routeKey: $default, target: integrations/main, routeResponses: [{routeResponseKey: $default}]}
    stages: [{stageName: dev}]
functions:
  - {functionName: main, handler: "`+bin+`", timeout: 60, reservedConcurrentExecutions: 3}
`))
			if err != nil {
				t.Fatal(err)
			}
			logs := &logRecorder{}
			g, err := gateway.New(gateway.Options{Listen: "127.0.0.1:0", Bundle: f.Bundle, ShutdownTimeout: tc.grace,
				Logger: slog.New(logs)})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- g.Run(ctx) }()
			<-g.Ready()
			var clients []*gatewaytest.Client
			for range 3 {
				c := gatewaytest.Dial(t, "ws://"+g.Addr()+"/fn/dev", nil)
				c.Send(`{"action":"` + tc.action + `"}`)
				clients = append(clients, c)
			}
			started := regexp.MustCompile(`^function process started .*pid=(\d+)`)
			pids := func() []int {
				logs.mu.Lock()
				defer logs.mu.Unlock()
				var out []int
				for _, l := range logs.lines {
					if m := started.FindStringSubmatch(l); m != nil {
						pid, _ := strconv.Atoi(m[1])
						out = append(out, pid)
					}
				}
				return out
			}
			gatewaytest.Eventually(t, 10*time.Second, func() bool { return len(pids()) == 3 }, "three function processes")
			start := time.Now()
			cancel() // what SIGTERM does
			var runErr error
			select {
			case runErr = <-done:
			case <-time.After(tc.grace + 10*time.Second):
				t.Fatalf("the gateway did not stop within %v of a %v grace", time.Since(start), tc.grace)
			}
			if tc.wantError == "" && runErr != nil || tc.wantError != "" && (runErr == nil || !strings.Contains(runErr.Error(), tc.wantError)) {
				t.Errorf("Run = %v, want an error with %q: %v", runErr, tc.wantError, tc.wantError != "")
			}
			for i, c := range clients {
				if _, err := c.TryRead(10 * time.Second); websocket.CloseStatus(err) != websocket.StatusGoingAway {
					t.Errorf("client %d: %v; want the close frame 1001", i, err)
				}
			}
			if killed := logs.has("invocation abandoned; killing its process"); killed != tc.killed {
				t.Errorf("invocations cut at the stop: %v, want %v", killed, tc.killed)
			}
			for _, pid := range pids() {
				if !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
					t.Errorf("function process %d is left after the stop", pid)
				}
			}
		})
	}
}
