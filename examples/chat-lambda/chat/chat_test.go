package chat_test

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-gw/switchboard/examples/chat-lambda/chat"
	"github.com/switchboard-gw/switchboard/examples/chat-lambda/store"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
	"github.com/switchboard-gw/switchboard/internal/localca"
)

// config is a chat API whose $connect goes to an HTTP backend (the test learns the connection IDs from it)
// and that has no other route: SendMessage is called directly, as Lambda would.
const config = `
apis:
  - name: chat
    apiId: chatlambda
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: connect
        integrationType: HTTP_PROXY
        integrationUri: http://${stageVariables.backend}/connect
        requestParameters:
          integration.request.header.connectionId: context.connectionId
    routes:
      - routeKey: $connect
        target: integrations/connect
    stages:
      - stageName: dev
        stageVariables: {backend: BACKEND}
`

// event returns a WebSocket proxy event from connection id on the gateway's dev stage.
func event(g *gatewaytest.Gateway, id, routeKey, body string) events.APIGatewayWebsocketProxyRequest {
	return events.APIGatewayWebsocketProxyRequest{
		Body: body,
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			ConnectionID: id, RouteKey: routeKey, Stage: "dev", DomainName: g.Addr(), APIID: "chatlambda",
		},
	}
}

// TestFunctions calls Connect, SendMessage and Disconnect the way Lambda would, against a real gateway:
// SendMessage reaches its @connections endpoint over https://, trusting AWS_CA_BUNDLE.
func TestFunctions(t *testing.T) {
	quietLog(t)
	ca, err := localca.Ensure(t.TempDir(), localca.DefaultHosts)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "conns")
	for k, v := range map[string]string{
		store.EnvDir: dir, "AWS_CA_BUNDLE": ca.CertFile, "AWS_REGION": "us-east-1", "AWS_PROFILE": "",
		"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "",
		"AWS_CONFIG_FILE": filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "none"),
	} {
		t.Setenv(k, v)
	}
	backend := gatewaytest.NewBackend(t, func(http.ResponseWriter, *http.Request) {})
	cfg := strings.Replace(config, "BACKEND", backend.Listener.Addr().String(), 1)
	g := gatewaytest.Start(t, cfg, func(o *gateway.Options) {
		o.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Certificate}}
		o.CABundle = ca.CertFile
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Three clients; the third leaves, unknown to the store.
	var clients []*gatewaytest.Client
	var ids []string
	for range 3 {
		clients = append(clients, gatewaytest.Dial(t, g.WSURL+"/chatlambda/dev", nil))
		id := backend.Requests()[len(clients)-1].Header.Get("connectionId")
		ids = append(ids, id)
		if resp, err := chat.Connect(ctx, event(g, id, "$connect", "")); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("Connect: %+v, %v", resp, err)
		}
	}
	clients[2].Conn.CloseNow()
	gatewaytest.Eventually(t, 10*time.Second, func() bool { return g.Connections() == 2 }, "the gateway still has %d connections", g.Connections())

	resp, err := chat.SendMessage(ctx, event(g, ids[0], "sendmessage", `{"action":"sendmessage","data":"hello"}`))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("SendMessage: %+v, %v", resp, err)
	}
	for i, c := range clients[:2] {
		if got := c.Read(); got != "hello" {
			t.Errorf("client %d got %q, want hello", i, got)
		}
	}
	s, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	list := func() []string {
		t.Helper()
		ids, err := s.List()
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	if got, want := list(), slices.Sorted(slices.Values(ids[:2])); !slices.Equal(got, want) {
		t.Errorf("after GoneException the store has %q, want %q", got, want)
	}

	if resp, _ := chat.SendMessage(ctx, event(g, ids[0], "sendmessage", `{"action":"sendmessage"}`)); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("SendMessage without data: status %d, want 400", resp.StatusCode)
	}
	if resp, err := chat.Disconnect(ctx, event(g, ids[1], "$disconnect", "")); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("Disconnect: %+v, %v", resp, err)
	}
	if got := list(); !slices.Equal(got, ids[:1]) {
		t.Errorf("after Disconnect the store has %q, want %q", got, ids[:1])
	}
}

// quietLog sends the in-process functions' log output to the test log when SWITCHBOARD_TEST_LOG is set,
// and discards it otherwise, as gatewaytest does with the gateway's.
func quietLog(t *testing.T) {
	w := log.Writer()
	t.Cleanup(func() { log.SetOutput(w) })
	if os.Getenv("SWITCHBOARD_TEST_LOG") == "" {
		log.SetOutput(io.Discard)
		return
	}
	log.SetOutput(testWriter{t})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
