package httpbackend

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/integration"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
	"github.com/switchboard-gw/switchboard/internal/selexpr"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// received is one request as the backend saw it.
type received struct {
	Method  string
	Path    string // escaped, as on the request line
	Query   url.Values
	Header  http.Header
	Body    string
	HasBody bool // a body or Content-Length/Transfer-Encoding was sent
}

// backend is an httptest server that records requests and answers with handler (200 "ok" when nil).
type backend struct {
	*httptest.Server
	mu  sync.Mutex
	got []received
}

func newBackend(t *testing.T, handler http.HandlerFunc) *backend {
	t.Helper()
	b := &backend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.got = append(b.got, received{
			Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Header: r.Header.Clone(),
			Body: string(body), HasBody: r.ContentLength != 0 || len(r.TransferEncoding) > 0,
		})
		b.mu.Unlock()
		if handler != nil {
			handler(w, r)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(b.Close)
	return b
}

// only returns the single request the backend received.
func (b *backend) only(t *testing.T) received {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.got) != 1 {
		t.Fatalf("backend received %d requests, want 1: %+v", len(b.got), b.got)
	}
	return b.got[0]
}

func invoker(t *testing.T) *Invoker {
	h := New()
	t.Cleanup(h.CloseIdleConnections)
	return h
}

func integ(uri string, params ...snapshot.Parameter) *snapshot.Integration {
	return &snapshot.Integration{ID: "backend", Type: "HTTP_PROXY", URI: uri, Method: http.MethodPost, Timeout: 10 * time.Second, RequestParameters: params}
}

func rc(eventType string) *proxyevent.RequestContext {
	r := &proxyevent.RequestContext{
		RouteKey: "$default", EventType: eventType, Stage: "dev", APIID: "chat", ConnectionID: "R1kmxc2VNjMCFIA=",
		RequestID: "R1knPH17NjMFftw=", ExtendedRequestID: "R1knPH17NjMFftw=", DomainName: "chat.execute-api.us-east-1.amazonaws.com",
		Identity: proxyevent.Identity{SourceIP: "198.51.100.7", UserAgent: "client/1.0"},
	}
	switch eventType {
	case proxyevent.EventConnect:
		r.RouteKey = "$connect"
	case proxyevent.EventDisconnect:
		r.RouteKey = "$disconnect"
	}
	return r
}

func mustInvoke(t *testing.T, h *Invoker, in *snapshot.Integration, req *integration.Request) *integration.Response {
	t.Helper()
	resp, err := h.Invoke(context.Background(), in, req)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	return resp
}

func TestMessageBody(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"JSON object", `{"action":"send","data":"hi"}`, "application/json"},
		{"JSON with spaces", "  [1, 2]\n", "application/json"},
		{"JSON string", `"hi"`, "application/json"},
		{"JSON number", `42`, "application/json"},
		{"text", `hello world`, "text/plain; charset=utf-8"},
		{"broken JSON", `{"action":`, "text/plain; charset=utf-8"},
		{"unicode text", `grüße 👋`, "text/plain; charset=utf-8"},
		{"empty", ``, "text/plain; charset=utf-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, nil)
			mustInvoke(t, invoker(t), integ(b.URL+"/events"), &integration.Request{Context: rc(proxyevent.EventMessage), Body: []byte(tc.body)})
			got := b.only(t)
			if got.Method != http.MethodPost || got.Path != "/events" {
				t.Errorf("request %s %s, want POST /events", got.Method, got.Path)
			}
			if got.Body != tc.body {
				t.Errorf("body = %q, want %q", got.Body, tc.body)
			}
			if ct := got.Header.Get("Content-Type"); ct != tc.want {
				t.Errorf("Content-Type = %q, want %q", ct, tc.want)
			}
			if ua := got.Header.Get("User-Agent"); ua != "AmazonAPIGateway_chat" {
				t.Errorf("User-Agent = %q, want AmazonAPIGateway_chat", ua)
			}
		})
	}
}

func TestMethod(t *testing.T) {
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodGet} {
		t.Run(method, func(t *testing.T) {
			b := newBackend(t, nil)
			in := integ(b.URL + "/m")
			in.Method = method
			mustInvoke(t, invoker(t), in, &integration.Request{Context: rc(proxyevent.EventMessage), Body: []byte(`{}`)})
			if got := b.only(t).Method; got != method {
				t.Errorf("method = %s, want %s", got, method)
			}
		})
	}
}

func handshakeHeader() http.Header {
	h := http.Header{}
	for k, v := range map[string][]string{
		"Host":                     {"chat.execute-api.us-east-1.amazonaws.com"},
		"Connection":               {"Upgrade"},
		"Upgrade":                  {"websocket"},
		"Sec-WebSocket-Key":        {"dGhlIHNhbXBsZSBub25jZQ=="},
		"Sec-WebSocket-Version":    {"13"},
		"Sec-WebSocket-Extensions": {"permessage-deflate; client_max_window_bits"},
		"Sec-WebSocket-Protocol":   {"chat.v1, chat.v2"},
		"Content-Length":           {"0"},
		"Transfer-Encoding":        {"chunked"},
		"Keep-Alive":               {"timeout=5"},
		"Proxy-Connection":         {"keep-alive"},
		"Te":                       {"trailers"},
		"Trailer":                  {"X-Checksum"},
		"User-Agent":               {"client/1.0"},
		"Authorization":            {"Bearer token"},
		"X-Multi":                  {"one", "two"},
		"Cookie":                   {"a=1; b=2"},
		"Origin":                   {"https://example.com"},
	} {
		h[k] = v
	}
	return h
}

func TestConnectForwardsHandshake(t *testing.T) {
	b := newBackend(t, nil)
	q := url.Values{"token": {"abc 123"}, "x": {"1", "2"}}
	mustInvoke(t, invoker(t), integ(b.URL+"/connect?fixed=yes"), &integration.Request{
		Context: rc(proxyevent.EventConnect), Header: handshakeHeader(), Query: q,
	})
	got := b.only(t)

	for _, name := range []string{"Connection", "Upgrade", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding"} {
		if v, ok := got.Header[http.CanonicalHeaderKey(name)]; ok {
			t.Errorf("hop-by-hop/handshake header %s forwarded: %q", name, v)
		}
	}
	kept := map[string][]string{
		"Sec-Websocket-Protocol": {"chat.v1, chat.v2"},
		"User-Agent":             {"client/1.0"},
		"Authorization":          {"Bearer token"},
		"X-Multi":                {"one", "two"},
		"Cookie":                 {"a=1; b=2"},
		"Origin":                 {"https://example.com"},
	}
	for name, want := range kept {
		if v := got.Header.Values(name); !slices.Equal(v, want) {
			t.Errorf("header %s = %q, want %q", name, v, want)
		}
	}
	// The request goes to the backend's own host, not the client's.
	if got.Header.Get("Host") != "" {
		t.Errorf("Host header forwarded: %q", got.Header.Get("Host"))
	}
	wantQuery := url.Values{"fixed": {"yes"}, "token": {"abc 123"}, "x": {"1", "2"}}
	if got.Query.Encode() != wantQuery.Encode() {
		t.Errorf("query = %v, want %v", got.Query, wantQuery)
	}
	if got.HasBody || got.Body != "" {
		t.Errorf("$connect sent a body %q", got.Body)
	}
	if got.Path != "/connect" {
		t.Errorf("path = %q, want /connect", got.Path)
	}
}

// TestHandshakeOnlyOnConnect checks that MESSAGE and DISCONNECT never carry handshake headers or query.
func TestHandshakeOnlyOnConnect(t *testing.T) {
	for _, ev := range []string{proxyevent.EventMessage, proxyevent.EventDisconnect} {
		t.Run(ev, func(t *testing.T) {
			b := newBackend(t, nil)
			mustInvoke(t, invoker(t), integ(b.URL+"/e"), &integration.Request{
				Context: rc(ev), Body: []byte(`{"a":1}`), Header: handshakeHeader(), Query: url.Values{"token": {"abc"}},
			})
			got := b.only(t)
			for _, name := range []string{"Authorization", "Cookie", "X-Multi", "Origin", "Sec-Websocket-Protocol"} {
				if v := got.Header.Values(name); len(v) > 0 {
					t.Errorf("header %s forwarded on %s: %q", name, ev, v)
				}
			}
			if len(got.Query) > 0 {
				t.Errorf("query forwarded on %s: %v", ev, got.Query)
			}
			if ua := got.Header.Get("User-Agent"); ua != "AmazonAPIGateway_chat" {
				t.Errorf("User-Agent = %q, want AmazonAPIGateway_chat", ua)
			}
			if ev == proxyevent.EventDisconnect && (got.HasBody || got.Body != "") {
				t.Errorf("$disconnect sent a body %q", got.Body)
			}
		})
	}
}

func bodyPath(t *testing.T, path string) []selexpr.Step {
	t.Helper()
	vars := selexpr.MustParse("$request.body." + path).Vars()
	if len(vars) != 1 {
		t.Fatalf("body path %q: %d vars", path, len(vars))
	}
	return vars[0].Path
}

func TestRequestParameters(t *testing.T) {
	static := func(v string) snapshot.ParameterSource {
		return snapshot.ParameterSource{Kind: snapshot.SourceStatic, Value: v}
	}
	ctxVar := func(name string) snapshot.ParameterSource {
		return snapshot.ParameterSource{Kind: snapshot.SourceContext, Name: name}
	}
	header := func(name string) snapshot.ParameterSource {
		return snapshot.ParameterSource{Kind: snapshot.SourceHeader, Name: name}
	}
	query := func(name string) snapshot.ParameterSource {
		return snapshot.ParameterSource{Kind: snapshot.SourceQuery, Name: name}
	}
	body := func(path string) snapshot.ParameterSource {
		return snapshot.ParameterSource{Kind: snapshot.SourceBody, Path: bodyPath(t, path)}
	}
	p := func(location, name string, src snapshot.ParameterSource) snapshot.Parameter {
		return snapshot.Parameter{Location: location, Name: name, Source: src}
	}
	connectHeader := http.Header{"X-Api-Key": {"k1"}, "X-Multi": {"a", "b"}, "X-Empty": {""}}
	connectQuery := url.Values{"token": {"t1"}, "multi": {"x", "y"}, "empty": {""}}

	tests := []struct {
		name       string
		event      string
		uri        string // relative to the backend
		params     []snapshot.Parameter
		body       string
		wantPath   string
		wantHeader map[string]string // "" means absent
		wantQuery  url.Values
	}{
		{
			name:  "static to header and querystring",
			event: proxyevent.EventMessage, uri: "/p",
			params:     []snapshot.Parameter{p("header", "X-Static", static("fixed value")), p("querystring", "mode", static("a&b=c"))},
			body:       `{}`,
			wantPath:   "/p",
			wantHeader: map[string]string{"X-Static": "fixed value"},
			wantQuery:  url.Values{"mode": {"a&b=c"}},
		},
		{
			name:  "context variables",
			event: proxyevent.EventMessage, uri: "/p",
			params: []snapshot.Parameter{
				p("header", "connectionId", ctxVar("connectionId")),
				p("header", "X-Source-Ip", ctxVar("identity.sourceIp")),
				p("querystring", "stage", ctxVar("stage")),
				p("header", "X-Message-Id", ctxVar("messageId")), // empty on this event: left out
				p("header", "X-Unknown", ctxVar("noSuchVariable")),
			},
			body:       `{}`,
			wantPath:   "/p",
			wantHeader: map[string]string{"Connectionid": "R1kmxc2VNjMCFIA=", "X-Source-Ip": "198.51.100.7", "X-Message-Id": "", "X-Unknown": ""},
			wantQuery:  url.Values{"stage": {"dev"}},
		},
		{
			name:  "body paths",
			event: proxyevent.EventMessage, uri: "/p",
			params: []snapshot.Parameter{
				p("header", "X-User", body("user.id")),
				p("querystring", "room", body("room")),
				p("header", "X-First", body("items[0]")),
				p("header", "X-Missing", body("nothing.here")),
			},
			body:       `{"user":{"id":"u-1"},"room":42,"items":["first","second"]}`,
			wantPath:   "/p",
			wantHeader: map[string]string{"X-User": "u-1", "X-First": "first", "X-Missing": ""},
			wantQuery:  url.Values{"room": {"42"}},
		},
		{
			name:  "body path of a non-JSON message is left out",
			event: proxyevent.EventMessage, uri: "/p",
			params:     []snapshot.Parameter{p("header", "X-User", body("user")), p("header", "X-Static", static("s"))},
			body:       `user=1`,
			wantPath:   "/p",
			wantHeader: map[string]string{"X-User": "", "X-Static": "s"},
		},
		{
			name:  "handshake header and query on $connect",
			event: proxyevent.EventConnect, uri: "/p",
			params: []snapshot.Parameter{
				p("header", "X-Key", header("x-api-key")),
				p("querystring", "t", query("token")),
				p("header", "X-All", snapshot.ParameterSource{Kind: snapshot.SourceMultiHeader, Name: "X-Multi"}),
				p("querystring", "all", snapshot.ParameterSource{Kind: snapshot.SourceMultiQuery, Name: "multi"}),
				p("header", "X-Last", header("X-Multi")),
				p("header", "X-Absent", header("X-Not-Sent")),
				p("querystring", "absent", query("notSent")),
			},
			wantPath:   "/p",
			wantHeader: map[string]string{"X-Key": "k1", "X-All": "a,b", "X-Last": "b", "X-Absent": ""},
			wantQuery:  url.Values{"t": {"t1"}, "all": {"x,y"}, "token": {"t1"}, "multi": {"x", "y"}, "empty": {""}},
		},
		{
			name:  "handshake sources are empty on MESSAGE",
			event: proxyevent.EventMessage, uri: "/p",
			params:     []snapshot.Parameter{p("header", "X-Key", header("x-api-key")), p("querystring", "t", query("token"))},
			body:       `{}`,
			wantPath:   "/p",
			wantHeader: map[string]string{"X-Key": ""},
		},
		{
			name:  "path parameters",
			event: proxyevent.EventMessage, uri: "/rooms/{room}/members/{connectionId}",
			params: []snapshot.Parameter{
				p("path", "room", body("room")),
				p("path", "connectionId", ctxVar("connectionId")),
			},
			body:     `{"room":"a b/c?d"}`,
			wantPath: "/rooms/a%20b%2Fc%3Fd/members/R1kmxc2VNjMCFIA=",
		},
		{
			name:  "path parameter used twice",
			event: proxyevent.EventMessage, uri: "/{id}/x/{id}",
			params:   []snapshot.Parameter{p("path", "id", static("7"))},
			body:     `{}`,
			wantPath: "/7/x/7",
		},
		{
			name:  "parameter overrides a forwarded handshake header and query",
			event: proxyevent.EventConnect, uri: "/p?fixed=1",
			params: []snapshot.Parameter{
				p("header", "X-Api-Key", static("replaced")),
				p("querystring", "token", static("replaced")),
				p("querystring", "fixed", static("2")),
			},
			wantPath:   "/p",
			wantHeader: map[string]string{"X-Api-Key": "replaced"},
			wantQuery:  url.Values{"token": {"replaced"}, "fixed": {"2"}, "multi": {"x", "y"}, "empty": {""}},
		},
		{
			name:  "User-Agent from a parameter",
			event: proxyevent.EventMessage, uri: "/p",
			params:     []snapshot.Parameter{p("header", "User-Agent", static("custom/2"))},
			body:       `{}`,
			wantPath:   "/p",
			wantHeader: map[string]string{"User-Agent": "custom/2"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, nil)
			req := &integration.Request{Context: rc(tc.event), Body: []byte(tc.body)}
			if tc.event == proxyevent.EventConnect {
				req.Header, req.Query = connectHeader.Clone(), connectQuery
			}
			mustInvoke(t, invoker(t), integ(b.URL+tc.uri, tc.params...), req)
			got := b.only(t)
			if got.Path != tc.wantPath {
				t.Errorf("path = %q, want %q", got.Path, tc.wantPath)
			}
			for name, want := range tc.wantHeader {
				vs, present := got.Header[http.CanonicalHeaderKey(name)]
				switch {
				case want == "" && present:
					t.Errorf("header %s = %q, want it left out", name, vs)
				case want != "" && !slices.Equal(vs, []string{want}):
					t.Errorf("header %s = %q, want %q", name, vs, want)
				}
			}
			want := tc.wantQuery
			if want == nil {
				want = url.Values{}
			}
			if got.Query.Encode() != want.Encode() {
				t.Errorf("query = %v, want %v", got.Query, want)
			}
		})
	}
}

func TestResponsePassedThrough(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", "yes")
		w.Header().Set("Sec-WebSocket-Protocol", "chat.v2")
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, `{"short":"stout"}`)
	})
	resp := mustInvoke(t, invoker(t), integ(b.URL+"/tea"), &integration.Request{Context: rc(proxyevent.EventMessage), Body: []byte("x")})
	if resp.StatusCode != http.StatusTeapot || string(resp.Body) != `{"short":"stout"}` {
		t.Errorf("got %d %q", resp.StatusCode, resp.Body)
	}
	if resp.Header.Get("X-Backend") != "yes" || resp.Header.Get("Sec-WebSocket-Protocol") != "chat.v2" {
		t.Errorf("headers = %v", resp.Header)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/elsewhere", status)
			})
			resp := mustInvoke(t, invoker(t), integ(b.URL+"/start"), &integration.Request{Context: rc(proxyevent.EventMessage), Body: []byte("x")})
			if resp.StatusCode != status {
				t.Errorf("status = %d, want %d", resp.StatusCode, status)
			}
			if loc := resp.Header.Get("Location"); loc != "/elsewhere" {
				t.Errorf("Location = %q, want /elsewhere", loc)
			}
			b.only(t) // exactly one request: /elsewhere was never asked for
		})
	}
}

func TestTimeout(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"no answer", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}},
		{"headers but body never finishes", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "partial")
			http.NewResponseController(w).Flush()
			<-r.Context().Done()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, tc.handler)
			in := integ(b.URL + "/slow?token=secret")
			in.Timeout = 50 * time.Millisecond
			start := time.Now()
			resp, err := invoker(t).Invoke(context.Background(), in, &integration.Request{Context: rc(proxyevent.EventMessage), Body: []byte("x")})
			if !errors.Is(err, integration.ErrTimeout) {
				t.Fatalf("err = %v (resp %v), want integration.ErrTimeout", err, resp)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Invoke took %v with a 50ms timeout", d)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the query string", err)
			}
		})
	}
}

// TestCallerCancelIsNotTimeout checks that a cancelled event (e.g. shutdown) is not reported as a timeout.
func TestCallerCancelIsNotTimeout(t *testing.T) {
	arrived := make(chan struct{})
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	_, err := invoker(t).Invoke(ctx, integ(b.URL+"/slow"), &integration.Request{Context: rc(proxyevent.EventMessage), Body: []byte("x")})
	if err == nil || errors.Is(err, integration.ErrTimeout) {
		t.Fatalf("err = %v, want a non-timeout error", err)
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, err = invoker(t).Invoke(context.Background(), integ("http://"+addr+"/x?secret=1"), &integration.Request{Context: rc(proxyevent.EventMessage), Body: []byte("x")})
	if err == nil {
		t.Fatal("Invoke succeeded against a closed port")
	}
	if errors.Is(err, integration.ErrTimeout) {
		t.Errorf("err = %v: a refused connection is not a timeout", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q shows the query string", err)
	}
}

func TestResponseSize(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		wantErr bool
	}{
		{"exactly MaxResponseBytes", MaxResponseBytes, false},
		{"one byte over", MaxResponseBytes + 1, true},
		{"far over", 3 * MaxResponseBytes, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				chunk := bytes.Repeat([]byte("z"), 64<<10)
				for n := tc.size; n > 0; {
					k := min(n, len(chunk))
					if _, err := w.Write(chunk[:k]); err != nil {
						return
					}
					n -= k
				}
			})
			resp, err := invoker(t).Invoke(context.Background(), integ(b.URL+"/big"), &integration.Request{Context: rc(proxyevent.EventMessage), Body: []byte("x")})
			if tc.wantErr {
				if err == nil {
					t.Fatalf("no error for a %d-byte answer", tc.size)
				}
				if errors.Is(err, integration.ErrTimeout) {
					t.Errorf("err = %v: an oversized answer is not a timeout", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if len(resp.Body) != tc.size {
				t.Errorf("body is %d bytes, want %d", len(resp.Body), tc.size)
			}
		})
	}
}

func TestBadURI(t *testing.T) {
	_, err := invoker(t).Invoke(context.Background(), integ("http://[::1"), &integration.Request{Context: rc(proxyevent.EventMessage)})
	if err == nil || errors.Is(err, integration.ErrTimeout) {
		t.Fatalf("err = %v, want a non-timeout error", err)
	}
}
