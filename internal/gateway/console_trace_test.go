package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// consoleEvent is the part of a console event these tests read.
type consoleEvent struct {
	Type         string `json:"type"`
	ConnectionID string `json:"connectionId"`
	RouteKey     string `json:"routeKey"`
	CloseCode    int    `json:"closeCode"`
	CloseReason  string `json:"closeReason"`
	Integration  *struct {
		IntegrationID string `json:"integrationId"`
		Function      string `json:"function"`
		Authorizer    bool   `json:"authorizer"`
		Request       string `json:"request"`
		Response      string `json:"response"`
		Status        int    `json:"status"`
	} `json:"integration"`
}

// watchConsole subscribes to the console's event stream and sends each event on the returned channel
// until the test ends.
func watchConsole(t *testing.T, controlURL string) <-chan consoleEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, controlURL+"/console/api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("event stream: %d", resp.StatusCode)
	}
	events := make(chan consoleEvent, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var ev consoleEvent
			if json.Unmarshal([]byte(data), &ev) == nil {
				select {
				case events <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	return events
}

// next returns the first event that match accepts, failing the test after a while.
func next(t *testing.T, events <-chan consoleEvent, what string, match func(consoleEvent) bool) consoleEvent {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-events:
			if match(ev) {
				return ev
			}
		case <-deadline:
			t.Fatalf("the console never reported %s", what)
		}
	}
}

// The console shows what an HTTP backend received — method, URL, the headers requestParameters set and
// the body — and what it answered, status line and headers included; and a close with its code and
// reason on a stage without a $disconnect route.
func TestConsoleShowsHTTPBackendExchange(t *testing.T) {
	be := gatewaytest.NewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", "yes")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"stored":true}`)
	})
	g := gatewaytest.Start(t, fmt.Sprintf(`
apis:
  - name: http
    apiId: hb
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: be
        integrationType: HTTP_PROXY
        integrationUri: %s/events
        integrationMethod: PUT
        requestParameters:
          integration.request.header.connectionId: context.connectionId
    routes:
      - {routeKey: store, target: integrations/be}
    stages: [{stageName: dev}]
`, be.URL), gatewaytest.WithControlPlane)
	events := watchConsole(t, g.ControlURL)
	c := gatewaytest.Dial(t, g.WSURL+"/hb/dev", nil)
	id := next(t, events, "the connection", func(ev consoleEvent) bool { return ev.Type == "connect" }).ConnectionID
	c.Send(`{"action":"store","n":1}`)
	ev := next(t, events, "the backend call", func(ev consoleEvent) bool { return ev.Type == "integration" })
	tr := ev.Integration
	if ev.ConnectionID != id || ev.RouteKey != "store" || tr == nil || tr.IntegrationID != "be" || tr.Status != http.StatusAccepted {
		t.Fatalf("integration event %+v", ev)
	}
	for _, want := range []string{"PUT " + be.URL + "/events\n", "Connectionid: " + id + "\n", "Content-Type: application/json\n",
		"User-Agent: AmazonAPIGateway_hb\n", "\n\n" + `{"action":"store","n":1}`} {
		if !strings.Contains(tr.Request, want) {
			t.Errorf("the request shown lacks %q:\n%s", want, tr.Request)
		}
	}
	for _, want := range []string{"202 Accepted\n", "X-Backend: yes\n", "\n\n" + `{"stored":true}`} {
		if !strings.Contains(tr.Response, want) {
			t.Errorf("the answer shown lacks %q:\n%s", want, tr.Response)
		}
	}
	_ = c.Conn.Close(websocket.StatusGoingAway, "tab closed") // what the gateway answers is not this test's subject
	closed := next(t, events, "the close", func(ev consoleEvent) bool { return ev.Type == "disconnect" })
	if closed.ConnectionID != id || closed.CloseCode != 1001 || closed.CloseReason != "tab closed" {
		t.Errorf("close event %+v, want connection %s closed with 1001 \"tab closed\"", closed, id)
	}
}

// A Lambda authorizer's invocation is shown too: the REQUEST event it received for the handshake and the
// policy it answered (a real aws-lambda-go handler), under the connection it let in.
func TestConsoleShowsAuthorizerInvocation(t *testing.T) {
	bin, err := buildHandler()
	if err != nil {
		t.Fatal(err)
	}
	g := gatewaytest.Start(t, fmt.Sprintf(`
apis:
  - name: guarded
    apiId: gd
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    authorizers:
      - authorizerId: tokens
        name: tokens
        authorizerType: REQUEST
        authorizerUri: arn:aws:lambda:us-east-1:123456789012:function:main
        identitySource: [route.request.querystring.token]
    routes:
      - {routeKey: $connect, authorizationType: CUSTOM, authorizerId: tokens}
    stages: [{stageName: dev}]
functions:
  - {functionName: main, handler: %q}
`, bin), gatewaytest.WithControlPlane)
	events := watchConsole(t, g.ControlURL)
	gatewaytest.Dial(t, g.WSURL+"/gd/dev?token=alice", nil)
	ev := next(t, events, "the authorizer call", func(ev consoleEvent) bool { return ev.Type == "integration" })
	tr := ev.Integration
	if tr == nil || !tr.Authorizer || !strings.HasSuffix(tr.Function, "function:main") || ev.ConnectionID == "" {
		t.Fatalf("authorizer event %+v", ev)
	}
	var req struct {
		Type  string            `json:"type"`
		Query map[string]string `json:"queryStringParameters"`
	}
	if err := json.Unmarshal([]byte(tr.Request), &req); err != nil || req.Type != "REQUEST" || req.Query["token"] != "alice" {
		t.Errorf("the authorizer's event (%v): %s", err, tr.Request)
	}
	if !strings.Contains(tr.Response, `"principalId":"user-alice"`) {
		t.Errorf("the authorizer's answer: %s", tr.Response)
	}
	connected := next(t, events, "the connection", func(ev consoleEvent) bool { return ev.Type == "connect" })
	if connected.ConnectionID != ev.ConnectionID {
		t.Errorf("authorizer call for %s, connection %s", ev.ConnectionID, connected.ConnectionID)
	}
}
