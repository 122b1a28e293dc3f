package mgmtapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/aws/smithy-go"
	"github.com/coder/websocket"

	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
	"github.com/switchboard-gw/switchboard/internal/mgmtapi"
)

// chatConfig is one API (apiId chat, stage dev) whose $connect and $disconnect go to a recording backend
// with the connection ID — and for $disconnect the close status and reason — as request headers.
const chatConfig = `
apis:
  - name: chat
    apiId: chat
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: connect
        integrationType: HTTP_PROXY
        integrationUri: %[1]s/connect
        requestParameters:
          integration.request.header.connectionId: context.connectionId
      - integrationId: disconnect
        integrationType: HTTP_PROXY
        integrationUri: %[1]s/disconnect
        requestParameters:
          integration.request.header.connectionId: context.connectionId
          integration.request.header.X-Disconnect-Status: context.disconnectStatusCode
          integration.request.header.X-Disconnect-Reason: context.disconnectReason
    routes:
      - routeKey: $connect
        target: integrations/connect
      - routeKey: $disconnect
        target: integrations/disconnect
    stages:
      - stageName: dev
`

const (
	executeAPIHost = "chat.execute-api.us-east-1.amazonaws.com"
	wait           = 10 * time.Second
)

// fixture is a running gateway with chatConfig and its recording backend.
type fixture struct {
	g       *gatewaytest.Gateway
	backend *gatewaytest.Backend
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	// The backend is created first so that it outlives the gateway: $disconnect runs during shutdown.
	b := gatewaytest.NewBackend(t, nil)
	g := gatewaytest.Start(t, fmt.Sprintf(chatConfig, b.URL))
	return &fixture{g: g, backend: b}
}

// connect dials a client that identifies itself as name (X-Client header and User-Agent) and returns it
// with its connection ID, read from the $connect request the backend recorded.
func (f *fixture) connect(t *testing.T, name string) (*gatewaytest.Client, string) {
	t.Helper()
	h := http.Header{}
	h.Set("X-Client", name)
	h.Set("User-Agent", userAgent(name))
	c := gatewaytest.Dial(t, f.g.WSURL+"/chat/dev", &websocket.DialOptions{HTTPHeader: h})
	req := f.backend.WaitFor(t, wait, func(r gatewaytest.Request) bool {
		return r.Path == "/connect" && r.Header.Get("X-Client") == name
	})
	id := req.Header.Get("connectionId")
	if id == "" {
		t.Fatalf("$connect request of %s has no connectionId header: %v", name, req.Header)
	}
	// The connection is registered before the 101 is written: it is reachable at once.
	resp, err := http.Get(f.g.HTTPURL + "/chat/dev/@connections/" + url.PathEscape(id))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GetConnection right after the handshake: %d, want 200", resp.StatusCode)
	}
	return c, id
}

// waitDisconnect returns the $disconnect request the backend received for id.
func (f *fixture) waitDisconnect(t *testing.T, id string) gatewaytest.Request {
	t.Helper()
	return f.backend.WaitFor(t, wait, func(r gatewaytest.Request) bool {
		return r.Path == "/disconnect" && r.Header.Get("connectionId") == id
	})
}

func userAgent(name string) string { return "switchboard-sdk-test/1.0 (" + name + ")" }

// endpoint is one way of addressing the management API of chat/dev.
type endpoint struct {
	name string
	base func(g *gatewaytest.Gateway) string
	// viaHost, when set, sends every request to the gateway whatever host the URL names.
	viaHost bool
}

var endpoints = []endpoint{
	{name: "api and stage in path", base: func(g *gatewaytest.Gateway) string { return g.HTTPURL + "/chat/dev" }},
	{name: "stage only in path", base: func(g *gatewaytest.Gateway) string { return g.HTTPURL + "/dev" }},
	{name: "execute-api host", base: func(*gatewaytest.Gateway) string { return "http://" + executeAPIHost + "/dev" }, viaHost: true},
}

// httpClient returns a client that talks to the gateway; with viaHost it dials the gateway for any host
// name, so the request keeps the Host the URL names (e.g. chat.execute-api.us-east-1.amazonaws.com).
func httpClient(g *gatewaytest.Gateway, viaHost bool) *http.Client {
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16}
	if viaHost {
		var d net.Dialer
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, g.Addr())
		}
	}
	return &http.Client{Transport: tr, Timeout: wait}
}

// sdkV2 returns an aws-sdk-go-v2 management client for base. Retries are off so that every call is exactly
// one request and errors surface as they are.
func sdkV2(t *testing.T, base string, hc *http.Client) *apigatewaymanagementapi.Client {
	t.Helper()
	t.Cleanup(hc.CloseIdleConnections)
	return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(base),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""),
		HTTPClient:   hc,
		Retryer:      aws.NopRetryer{},
	})
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// statusOf returns the HTTP status of an SDK error, or 0.
func statusOf(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// codeOf returns the AWS error code of an SDK error, or "".
func codeOf(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func isGone(err error) bool {
	var gone *types.GoneException
	return errors.As(err, &gone)
}

// TestSDKv2Lifecycle runs post, get, delete and the calls after the close through every endpoint form.
func TestSDKv2Lifecycle(t *testing.T) {
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			f := newFixture(t)
			hc := httpClient(f.g, ep.viaHost)
			rt := &recordingTransport{next: hc.Transport}
			hc.Transport = rt
			api := sdkV2(t, ep.base(f.g), hc)
			ctx := ctxT(t)
			checkStatus := func(op string, want int) {
				t.Helper()
				if got := rt.lastStatus(); got != want {
					t.Errorf("%s answered HTTP %d, want %d", op, got, want)
				}
			}

			before := time.Now()
			client, id := f.connect(t, "alice")

			// PostToConnection: the exact bytes arrive as one text frame.
			msg := []byte(`{"hello":"wörld","n":1}` + "\n\ttrailing = / + %3D")
			if _, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: msg}); err != nil {
				t.Fatalf("PostToConnection: %v", err)
			}
			checkStatus("PostToConnection", http.StatusOK)
			typ, got, err := readMessage(client)
			if err != nil {
				t.Fatalf("client read: %v", err)
			}
			if typ != websocket.MessageText || !bytes.Equal(got, msg) {
				t.Fatalf("client got %v %q, want text %q", typ, got, msg)
			}

			// GetConnection: timestamps at millisecond precision within the test's window, and the identity.
			out, err := api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
			if err != nil {
				t.Fatalf("GetConnection: %v", err)
			}
			checkStatus("GetConnection", http.StatusOK)
			after := time.Now()
			if out.ConnectedAt == nil || out.LastActiveAt == nil {
				t.Fatalf("GetConnection: connectedAt=%v lastActiveAt=%v, want both", out.ConnectedAt, out.LastActiveAt)
			}
			connectedAt, lastActiveAt := *out.ConnectedAt, *out.LastActiveAt
			for name, ts := range map[string]time.Time{"connectedAt": connectedAt, "lastActiveAt": lastActiveAt} {
				if ts.Nanosecond()%int(time.Millisecond) != 0 {
					t.Errorf("%s = %v: more than millisecond precision", name, ts)
				}
				if ts.Before(before.Truncate(time.Millisecond)) || ts.After(after) {
					t.Errorf("%s = %v, want within [%v, %v]", name, ts, before, after)
				}
			}
			if lastActiveAt.Before(connectedAt) {
				t.Errorf("lastActiveAt %v is before connectedAt %v", lastActiveAt, connectedAt)
			}
			if out.Identity == nil {
				t.Fatal("GetConnection: no identity")
			}
			if ip := aws.ToString(out.Identity.SourceIp); ip != "127.0.0.1" {
				t.Errorf("identity.sourceIp = %q, want 127.0.0.1", ip)
			}
			if ua := aws.ToString(out.Identity.UserAgent); ua != userAgent("alice") {
				t.Errorf("identity.userAgent = %q, want %q", ua, userAgent("alice"))
			}

			// DeleteConnection: 204, the client sees 1000, $disconnect reports it.
			if _, err := api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)}); err != nil {
				t.Fatalf("DeleteConnection: %v", err)
			}
			checkStatus("DeleteConnection", http.StatusNoContent)
			// Gone the moment DeleteConnection has answered, before the close handshake finishes.
			_, err = api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
			checkGone(t, "GetConnection right after DeleteConnection", err)
			_, err = api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)})
			checkGone(t, "a second DeleteConnection", err)
			if code := client.ExpectClose(); code != websocket.StatusNormalClosure {
				t.Errorf("client close code = %d, want 1000", code)
			}
			disc := f.waitDisconnect(t, id)
			if got := disc.Header.Get("X-Disconnect-Status"); got != "1000" {
				t.Errorf("$disconnect status = %q, want 1000", got)
			}
			if got := disc.Header.Get("X-Disconnect-Reason"); got != "Connection Closed Normally" {
				t.Errorf("$disconnect reason = %q, want %q", got, "Connection Closed Normally")
			}

			// After the close every operation answers 410 GoneException.
			_, err = api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("late")})
			checkGone(t, "PostToConnection after close", err)
			_, err = api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
			checkGone(t, "GetConnection after close", err)
			_, err = api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)})
			checkGone(t, "DeleteConnection after close", err)
		})
	}
}

func checkGone(t *testing.T, what string, err error) {
	t.Helper()
	if !isGone(err) {
		t.Errorf("%s: err = %v (%T), want *types.GoneException", what, err, err)
		return
	}
	if s := statusOf(err); s != http.StatusGone {
		t.Errorf("%s: HTTP status %d, want 410", what, s)
	}
}

func readMessage(c *gatewaytest.Client) (websocket.MessageType, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return c.Conn.Read(ctx)
}

// TestSDKv2ConnectionIDErrors checks unknown and malformed IDs for each operation.
func TestSDKv2ConnectionIDErrors(t *testing.T) {
	f := newFixture(t)
	api := sdkV2(t, f.g.HTTPURL+"/chat/dev", httpClient(f.g, false))
	ctx := ctxT(t)
	// A live connection, so the unknown ID is not simply "no connections at all".
	f.connect(t, "bystander")

	ops := []struct {
		name string
		call func(id string) error
	}{
		{"PostToConnection", func(id string) error {
			_, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("x")})
			return err
		}},
		{"GetConnection", func(id string) error {
			_, err := api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
			return err
		}},
		{"DeleteConnection", func(id string) error {
			_, err := api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)})
			return err
		}},
	}
	ids := []struct {
		name       string
		id         string
		wantCode   string
		wantStatus int
	}{
		// Well formed (11 bytes base64url, owned by node 0, this gateway) but never issued.
		{"unknown", "AAAAAAAAAAAAAAA=", "GoneException", http.StatusGone},
		{"unknown, other node", "AAEAAAAAAAAAAAA=", "GoneException", http.StatusGone},
		{"malformed", "abc", "BadRequestException", http.StatusBadRequest},
		{"malformed, no padding", "AAAAAAAAAAAAAAAA", "BadRequestException", http.StatusBadRequest},
		{"malformed, bad base64", "!!!!!!!!!!!!!!!=", "BadRequestException", http.StatusBadRequest},
	}
	for _, tc := range ids {
		for _, op := range ops {
			t.Run(tc.name+"/"+op.name, func(t *testing.T) {
				err := op.call(tc.id)
				if err == nil {
					t.Fatalf("no error, want %s", tc.wantCode)
				}
				if got := codeOf(err); got != tc.wantCode {
					t.Errorf("error code = %q, want %q (err %v)", got, tc.wantCode, err)
				}
				if got := statusOf(err); got != tc.wantStatus {
					t.Errorf("HTTP status = %d, want %d", got, tc.wantStatus)
				}
				if tc.wantCode == "GoneException" && !isGone(err) {
					t.Errorf("err is %T, want *types.GoneException", err)
				}
			})
		}
	}
}

// TestSDKv2PayloadLimit posts exactly 128 KiB (delivered) and one byte more (413).
func TestSDKv2PayloadLimit(t *testing.T) {
	f := newFixture(t)
	api := sdkV2(t, f.g.HTTPURL+"/chat/dev", httpClient(f.g, false))
	ctx := ctxT(t)
	client, id := f.connect(t, "big")

	tests := []struct {
		name    string
		size    int
		tooLong bool
	}{
		{"128 KiB exactly", mgmtapi.MaxPayload, false},
		{"128 KiB + 1", mgmtapi.MaxPayload + 1, true},
		{"empty", 0, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := bytes.Repeat([]byte{'a' + byte(i)}, tc.size)
			_, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: data})
			if tc.tooLong {
				var tl *types.PayloadTooLargeException
				if !errors.As(err, &tl) {
					t.Fatalf("err = %v (%T), want *types.PayloadTooLargeException", err, err)
				}
				if s := statusOf(err); s != http.StatusRequestEntityTooLarge {
					t.Errorf("HTTP status %d, want 413", s)
				}
				return
			}
			if err != nil {
				t.Fatalf("PostToConnection(%d bytes): %v", tc.size, err)
			}
			typ, got, err := readMessage(client)
			if err != nil {
				t.Fatalf("client read: %v", err)
			}
			if typ != websocket.MessageText || !bytes.Equal(got, data) {
				t.Fatalf("client got a %v message of %d bytes, want text of %d bytes", typ, len(got), len(data))
			}
		})
	}
	// The rejected post delivered nothing: the next message the client reads is a fresh one.
	if _, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("after")}); err != nil {
		t.Fatalf("PostToConnection: %v", err)
	}
	if got := client.Read(); got != "after" {
		t.Fatalf("client read %d bytes %.20q…, want %q", len(got), got, "after")
	}
}

// TestSDKv2SlowClient fills the send queue of a client that never reads until posts answer 429, while
// another client keeps receiving promptly.
func TestSDKv2SlowClient(t *testing.T) {
	f := newFixture(t)
	api := sdkV2(t, f.g.HTTPURL+"/chat/dev", httpClient(f.g, false))
	ctx := ctxT(t)
	_, slowID := f.connect(t, "slow") // never reads
	fast, fastID := f.connect(t, "fast")

	const prompt = 2 * time.Second
	chunk := bytes.Repeat([]byte("s"), 64<<10)
	checkFast := func(n int) {
		t.Helper()
		want := fmt.Sprintf("fast-%d", n)
		start := time.Now()
		if _, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(fastID), Data: []byte(want)}); err != nil {
			t.Fatalf("post to the fast client: %v", err)
		}
		got, err := fast.TryRead(prompt)
		if err != nil || got != want {
			t.Fatalf("fast client: got %q, %v within %v, want %q", got, err, prompt, want)
		}
		if d := time.Since(start); d > prompt {
			t.Fatalf("fast client waited %v", d)
		}
	}

	deadline := time.Now().Add(20 * time.Second)
	posted := 0
	for {
		_, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(slowID), Data: chunk})
		if err != nil {
			var le *types.LimitExceededException
			if !errors.As(err, &le) {
				t.Fatalf("post %d to the slow client: err = %v (%T), want nil or *types.LimitExceededException", posted+1, err, err)
			}
			if s := statusOf(err); s != http.StatusTooManyRequests {
				t.Errorf("HTTP status %d, want 429", s)
			}
			break
		}
		posted++
		if posted%16 == 0 {
			checkFast(posted)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no LimitExceededException after %d posts of 64 KiB (%d MiB) to a client that never reads", posted, posted/16)
		}
	}
	t.Logf("429 after %d posts of 64 KiB", posted)
	checkFast(-1)
	// The slow connection is still open: its queue is full, not closed.
	if _, err := api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(slowID)}); err != nil {
		t.Errorf("GetConnection of the slow client: %v", err)
	}
}

// recordingTransport remembers the escaped path and the response status of every request it sends.
type recordingTransport struct {
	next     http.RoundTripper
	mu       sync.Mutex
	paths    []string
	statuses []int
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := rt.next.RoundTrip(r)
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.paths = append(rt.paths, r.URL.EscapedPath())
	if err == nil {
		rt.statuses = append(rt.statuses, resp.StatusCode)
	}
	return resp, err
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the wrapped transport.
func (rt *recordingTransport) CloseIdleConnections() {
	if c, ok := rt.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// lastStatus is the status of the latest response.
func (rt *recordingTransport) lastStatus() int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if len(rt.statuses) == 0 {
		return 0
	}
	return rt.statuses[len(rt.statuses)-1]
}

// TestConnectionIDEncoding checks that the "=" of connection IDs may be percent-encoded or not, and "@" too.
func TestConnectionIDEncoding(t *testing.T) {
	f := newFixture(t)
	client, id := f.connect(t, "enc")
	if !strings.HasSuffix(id, "=") {
		t.Fatalf("connection ID %q does not end in '='", id)
	}
	bare := strings.TrimSuffix(id, "=")

	t.Run("SDK encodes = as %3D", func(t *testing.T) {
		rt := &recordingTransport{next: &http.Transport{Proxy: nil}}
		api := sdkV2(t, f.g.HTTPURL+"/chat/dev", &http.Client{Transport: rt, Timeout: wait})
		if _, err := api.PostToConnection(ctxT(t), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("via sdk")}); err != nil {
			t.Fatalf("PostToConnection: %v", err)
		}
		if got := client.Read(); got != "via sdk" {
			t.Fatalf("client got %q", got)
		}
		rt.mu.Lock()
		defer rt.mu.Unlock()
		want := "/chat/dev/@connections/" + bare + "%3D"
		if len(rt.paths) != 1 || rt.paths[0] != want {
			t.Errorf("SDK sent paths %q, want [%q]", rt.paths, want)
		}
	})

	raw := []struct {
		name string
		path string
	}{
		{"unencoded =", "/chat/dev/@connections/" + id},
		{"encoded %3D", "/chat/dev/@connections/" + bare + "%3D"},
		{"lower-case %3d", "/chat/dev/@connections/" + bare + "%3d"},
		{"@ as %40", "/chat/dev/%40connections/" + id},
		{"@ as %40 and = as %3D", "/chat/dev/%40connections/" + bare + "%3D"},
		{"stage only, @ as %40", "/dev/%40connections/" + id},
	}
	for _, tc := range raw {
		t.Run("raw POST "+tc.name, func(t *testing.T) {
			msg := "raw: " + tc.name
			resp, err := http.Post(f.g.HTTPURL+tc.path, "application/octet-stream", strings.NewReader(msg))
			if err != nil {
				t.Fatalf("POST %s: %v", tc.path, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("POST %s: %d %s", tc.path, resp.StatusCode, body)
			}
			if got := client.Read(); got != msg {
				t.Fatalf("client got %q, want %q", got, msg)
			}
		})
	}
}

// TestGetConnectionWire checks GetConnection's JSON as sent: lowerCamel members and ISO-8601 times in UTC
// with exactly three fractional digits.
func TestGetConnectionWire(t *testing.T) {
	f := newFixture(t)
	_, id := f.connect(t, "wire")
	resp, err := http.Get(f.g.HTTPURL + "/chat/dev/@connections/" + url.PathEscape(id))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	ts := `"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"`
	re := regexp.MustCompile(`^\{"connectedAt":` + ts + `,"identity":\{"sourceIp":"127\.0\.0\.1","userAgent":"` + regexp.QuoteMeta(userAgent("wire")) + `"\},"lastActiveAt":` + ts + `\}$`)
	if !re.Match(body) {
		t.Errorf("GetConnection body %s does not match %s", body, re)
	}
}

// TestSDKv2WrongEndpoint addresses the management API through endpoints that do not name chat's dev stage.
func TestSDKv2WrongEndpoint(t *testing.T) {
	f := newFixture(t)
	_, id := f.connect(t, "scoped")
	tests := []struct {
		name    string
		base    string
		viaHost bool
	}{
		{"unknown stage", f.g.HTTPURL + "/prod", false},
		{"unknown api", f.g.HTTPURL + "/other/dev", false},
		{"unknown execute-api host", "http://other.execute-api.us-east-1.amazonaws.com/dev", true},
		{"execute-api host with api in path", "http://" + executeAPIHost + "/chat/dev", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := sdkV2(t, tc.base, httpClient(f.g, tc.viaHost))
			_, err := api.GetConnection(ctxT(t), &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
			if err == nil {
				t.Fatal("GetConnection succeeded through an endpoint of another stage")
			}
			var forbidden *types.ForbiddenException
			if !errors.As(err, &forbidden) || statusOf(err) != http.StatusForbidden {
				t.Errorf("err = %v (status %d), want a 403 ForbiddenException", err, statusOf(err))
			}
		})
	}
}
