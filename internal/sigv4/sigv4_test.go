package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/logging"
)

// Test credentials and clock.
const (
	testAKID    = "AKIDEXAMPLE"
	testSecret  = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testRegion  = "us-east-1"
	testService = "execute-api"
	testToken   = "IQoJb3JpZ2luX2VjEE4aCXVzLWVhc3QtMSJGMEQCIF9skbJTTqOw2J60Y7NwYiJRto0lMA35th4m6ADB+Jy8=="
)

// signTime is when the oracle signs; the verifier's clock is signTime+30s unless a case changes it.
var signTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// fixedNow returns a clock stuck at t.
func fixedNow(t time.Time) func() time.Time { return func() time.Time { return t } }

// newVerifier returns the verifier the oracle tests use.
func newVerifier() *Verifier {
	return &Verifier{
		Service:     testService,
		Region:      testRegion,
		Credentials: StaticCredentials{testAKID: testSecret, "AKIDOTHER": "other-secret"},
		Now:         fixedNow(signTime.Add(30 * time.Second)),
	}
}

// sha256Hex returns the hex SHA-256 of b.
func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// signSpec describes a request for the SDK signer to sign.
type signSpec struct {
	method  string
	url     string
	header  http.Header
	body    []byte
	token   string // session token
	presign bool
	expires int    // presigned X-Amz-Expires; 0 leaves it out
	payload string // payload hash passed to the signer; "" = SHA-256 of body (header) / UNSIGNED-PAYLOAD (presign)
	region  string // "" = testRegion
	service string // "" = testService
	secret  string // "" = testSecret
	at      time.Time
}

// toWire serialises a client request the way net/http's client sends it and parses it back the way
// net/http's server does, so tests verify exactly what a server would see (RequestURI, Host, headers).
func toWire(t testing.TB, req *http.Request) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		t.Fatalf("write request: %v", err)
	}
	sr, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		t.Fatalf("read request: %v\n%s", err, buf.String())
	}
	return sr
}

// signWithSDK signs s with aws-sdk-go-v2's v4 signer and returns the request as a server receives it,
// the body, and the SDK's logged canonical request (for failure messages).
func signWithSDK(t testing.TB, s signSpec) (*http.Request, []byte, string) {
	t.Helper()
	method := s.method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequest(method, s.url, bytes.NewReader(s.body))
	if err != nil {
		t.Fatalf("new request %q: %v", s.url, err)
	}
	if len(s.body) == 0 {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for k, vs := range s.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if s.expires > 0 {
		q := req.URL.Query()
		q.Set("X-Amz-Expires", strconv.Itoa(s.expires))
		req.URL.RawQuery = q.Encode()
	}
	region, service, secret, at := s.region, s.service, s.secret, s.at
	if region == "" {
		region = testRegion
	}
	if service == "" {
		service = testService
	}
	if secret == "" {
		secret = testSecret
	}
	if at.IsZero() {
		at = signTime
	}
	creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: secret, SessionToken: s.token}
	var logged string
	logOpt := func(o *v4.SignerOptions) {
		o.LogSigning = true
		o.Logger = logging.LoggerFunc(func(_ logging.Classification, format string, v ...interface{}) {
			logged = fmt.Sprintf(format, v...)
		})
	}
	signer := v4.NewSigner()
	if !s.presign {
		payload := s.payload
		if payload == "" {
			payload = sha256Hex(s.body)
		}
		if err := signer.SignHTTP(context.Background(), creds, req, payload, service, region, at, logOpt); err != nil {
			t.Fatalf("SignHTTP: %v", err)
		}
		return toWire(t, req), s.body, logged
	}
	payload := s.payload
	if payload == "" {
		payload = UnsignedPayload
	}
	signed, hdr, err := signer.PresignHTTP(context.Background(), creds, req, payload, service, region, at, logOpt)
	if err != nil {
		t.Fatalf("PresignHTTP: %v", err)
	}
	preq, err := http.NewRequest(method, signed, bytes.NewReader(s.body))
	if err != nil {
		t.Fatalf("new request %q: %v", signed, err)
	}
	if len(s.body) == 0 {
		preq.Body, preq.ContentLength = http.NoBody, 0
	}
	for k, vs := range hdr {
		if k == "Host" || k == "Content-Length" {
			continue
		}
		preq.Header[k] = vs
	}
	return toWire(t, preq), s.body, logged
}

// describe renders a verification failure with both sides' canonical requests.
func describe(err error, sdkLog string) string {
	var e *Error
	if errors.As(err, &e) {
		return fmt.Sprintf("%v\n--- ours ---\n%s\n--- SDK ---\n%s", err, e.AWSMessage(), sdkLog)
	}
	return fmt.Sprintf("%v\n--- SDK ---\n%s", err, sdkLog)
}

// handshakeHeader is a WebSocket upgrade request's headers.
func handshakeHeader() http.Header {
	return http.Header{
		"Upgrade":                  {"websocket"},
		"Connection":               {"Upgrade"},
		"Sec-Websocket-Key":        {"dGhlIHNhbXBsZSBub25jZQ=="},
		"Sec-Websocket-Version":    {"13"},
		"Sec-Websocket-Extensions": {"permessage-deflate;   client_max_window_bits"},
		"User-Agent":               {"switchboard-test/1.0"},
		"Origin":                   {"http://localhost:3000"},
	}
}

// oracleCases are requests signed by the SDK that must verify.
func oracleCases() []struct {
	name string
	spec signSpec
} {
	post := []byte(`{"message":"hello"}`)
	octet := http.Header{"Content-Type": {"application/octet-stream"}}
	return []struct {
		name string
		spec signSpec
	}{
		{"handshake", signSpec{url: "http://127.0.0.1:8080/dev", header: handshakeHeader()}},
		{"handshake query", signSpec{url: "http://127.0.0.1:8080/dev?token=abc&room=lobby", header: handshakeHeader()}},
		{"handshake session token", signSpec{url: "http://127.0.0.1:8080/dev", header: handshakeHeader(), token: testToken}},
		{"handshake presigned", signSpec{url: "http://127.0.0.1:8080/dev", presign: true, expires: 300}},
		{"handshake presigned token", signSpec{url: "http://127.0.0.1:8080/dev?room=a", presign: true, expires: 60, token: testToken}},
		{"handshake presigned no expires", signSpec{url: "http://127.0.0.1:8080/dev", presign: true}},
		{"handshake presigned empty hash (aws4 style)", signSpec{url: "http://127.0.0.1:8080/dev", presign: true, payload: sha256Hex(nil)}},
		{"handshake presigned signed headers", signSpec{url: "http://127.0.0.1:8080/dev", presign: true, expires: 900, header: handshakeHeader()}},
		{"wss host default port", signSpec{url: "http://example.execute-api.local:80/dev", header: handshakeHeader()}},
		{"https host default port", signSpec{url: "https://abc123.execute-api.us-east-1.amazonaws.com:443/prod"}},
		{"ipv6 host", signSpec{url: "http://[::1]:8080/dev"}},
		{"empty path", signSpec{url: "http://127.0.0.1:8080"}},
		{"post to connection", signSpec{method: http.MethodPost, url: "http://127.0.0.1:8080/dev/@connections/R0oXAdfD0kwCH6w%3D", body: post, header: octet}},
		{"post to connection token", signSpec{method: http.MethodPost, url: "http://127.0.0.1:8080/dev/@connections/R0oXAdfD0kwCH6w%3D", body: post, header: octet, token: testToken}},
		{"post to connection awscurl %40", signSpec{method: http.MethodPost, url: "http://127.0.0.1:8080/dev/%40connections/R0oXAdfD0kwCH6w%3D", body: []byte("hello")}},
		{"post to connection literal =", signSpec{method: http.MethodPost, url: "http://127.0.0.1:8080/dev/@connections/R0oXAdfD0kwCH6w=", body: []byte("hello")}},
		{"get connection", signSpec{url: "http://127.0.0.1:8080/dev/@connections/R0oXAdfD0kwCH6w%3D"}},
		{"delete connection", signSpec{method: http.MethodDelete, url: "http://127.0.0.1:8080/dev/@connections/R0oXAdfD0kwCH6w%3D"}},
		{"post presigned", signSpec{method: http.MethodPost, url: "http://127.0.0.1:8080/dev/@connections/abc%3D", body: post, presign: true, expires: 60}},
		{"post presigned body hash", signSpec{method: http.MethodPost, url: "http://127.0.0.1:8080/dev/@connections/abc%3D", body: post, presign: true, payload: sha256Hex(post)}},
		{"content sha256 header", signSpec{method: http.MethodPost, url: "http://127.0.0.1:8080/dev/x", body: post,
			header: http.Header{"X-Amz-Content-Sha256": {sha256Hex(post)}}}},
		{"unsigned payload header", signSpec{method: http.MethodPost, url: "http://127.0.0.1:8080/dev/x", body: post,
			header: http.Header{"X-Amz-Content-Sha256": {UnsignedPayload}}, payload: UnsignedPayload}},
		{"path spaces", signSpec{url: "http://127.0.0.1:8080/dev/a%20b/c+d"}},
		{"path unicode escaped", signSpec{url: "http://127.0.0.1:8080/dev/caf%C3%A9/%E2%9C%93"}},
		{"path unicode literal", signSpec{url: "http://127.0.0.1:8080/dev/日本/ü"}},
		{"path encoded slash", signSpec{url: "http://127.0.0.1:8080/dev/a%2Fb/%2F"}},
		{"path reserved", signSpec{url: "http://127.0.0.1:8080/dev/!$&'()*+,;=:@/x~y_z.w-v"}},
		{"path lower-case escapes", signSpec{url: "http://127.0.0.1:8080/dev/%3d%2f"}},
		{"path dot segments", signSpec{url: "http://127.0.0.1:8080/dev/./a/../b//c/"}},
		{"presigned path unicode", signSpec{url: "http://127.0.0.1:8080/dev/caf%C3%A9/a%2Fb", presign: true, expires: 60}},
		{"query repeated keys", signSpec{url: "http://127.0.0.1:8080/dev?a=2&a=1&a=1&b=x&a=10"}},
		{"query empty values", signSpec{url: "http://127.0.0.1:8080/dev?empty=&flag&=novalue&z"}},
		{"query special characters", signSpec{url: "http://127.0.0.1:8080/dev?q=a+b&r=%2B&s=a%2Fb&t=a-b&u=%E2%9C%93&v=!*'()&w=%26%3D&x=~._-&y=a%20b"}},
		{"query sort after encoding", signSpec{url: "http://127.0.0.1:8080/dev?k=a%2Fb&k=a-b&K=1&_=2"}},
		{"query semicolon dropped by sdk", signSpec{url: "http://127.0.0.1:8080/dev?a=1;b=2&c=3"}},
		{"query x-amz lookalikes", signSpec{url: "http://127.0.0.1:8080/dev?x-amz-signature=abc&X-Amz-Custom=1"}},
		{"presigned query special", signSpec{url: "http://127.0.0.1:8080/dev?q=a+b&r=%2B&k=a%2Fb&k=a-b&empty=", presign: true, expires: 100}},
		{"header values collapse", signSpec{url: "http://127.0.0.1:8080/dev", header: http.Header{
			"X-Custom": {"  a   b  c  ", "second   value"}, "X-Tabs": {"a\t\tb"}, "X-Empty": {""}, "X-Unicode": {"caf\u00e9  \u00a0"}}}},
		{"header content-type params", signSpec{method: http.MethodPut, url: "http://127.0.0.1:8080/dev/x", body: []byte("x"),
			header: http.Header{"Content-Type": {"application/json;  charset=utf-8"}}}},
		{"other region and service", signSpec{url: "http://127.0.0.1:8080/dev", region: "eu-west-3", service: "execute-api"}},
		{"signed just before midnight", signSpec{url: "http://127.0.0.1:8080/dev", at: time.Date(2024, 5, 6, 23, 59, 59, 0, time.UTC)}},
	}
}

// TestOracleVerifies checks that every request the SDK signs verifies.
func TestOracleVerifies(t *testing.T) {
	for _, c := range oracleCases() {
		t.Run(c.name, func(t *testing.T) {
			r, body, sdkLog := signWithSDK(t, c.spec)
			v := newVerifier()
			if c.spec.region != "" {
				v.Region = c.spec.region
			}
			if !c.spec.at.IsZero() {
				v.Now = fixedNow(c.spec.at.Add(time.Second))
			}
			id, err := v.Verify(r, body)
			if err != nil {
				t.Fatalf("Verify: %s", describe(err, sdkLog))
			}
			want := Identity{AccessKeyID: testAKID, SessionToken: c.spec.token, Presigned: c.spec.presign,
				UnsignedPayload: c.spec.payload == UnsignedPayload || (c.spec.presign && c.spec.payload == "")}
			if *id != want {
				t.Errorf("identity = %+v, want %+v", *id, want)
			}
		})
	}
}

// TestCanonicalURIKnownAWS checks canonical URIs AWS itself printed in signature-mismatch errors.
func TestCanonicalURIKnownAWS(t *testing.T) {
	for _, c := range []struct{ name, wire, want string }{
		{"kotlin sdk post to connection", "/production/@connections/QtN1PebGFiACG9g%3D", "/production/%40connections/QtN1PebGFiACG9g%253D"},
		{"awscurl literal equals", "/test/@connections/atntqfjloAMCECg=", "/test/%40connections/atntqfjloAMCECg%3D"},
		{"aws4 wss connections", "/wss/@connections", "/wss/%40connections"},
		{"empty", "", "/"},
		{"root", "/", "/"},
		{"unreserved kept", "/AZaz09-._~/", "/AZaz09-._~/"},
		{"space and utf8", "/a b/é", "/a%20b/%C3%A9"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := canonicalURI(c.wire); got != c.want {
				t.Errorf("canonicalURI(%q) = %q, want %q", c.wire, got, c.want)
			}
		})
	}
}

// setTarget replaces the request target (path and query) of a server request.
func setTarget(r *http.Request, path, query string) {
	r.RequestURI = path
	if query != "" {
		r.RequestURI += "?" + query
	}
}

// mutation changes a signed request (and/or the verifier) before verification.
type mutation struct {
	name    string
	presign bool // apply to the presigned variant of the base request instead of the header-signed one
	spec    func(*signSpec)
	mutate  func(r *http.Request, body *[]byte, v *Verifier)
	want    error // nil: must still verify
}

// TestMutations checks that tampering is detected with the right error, and that harmless changes are not.
func TestMutations(t *testing.T) {
	base := func(presign bool) signSpec {
		s := signSpec{
			method: http.MethodPost,
			url:    "http://127.0.0.1:8080/dev/@connections/R0oXAdfD0kwCH6w%3D?b=2&a=1",
			header: http.Header{"Content-Type": {"application/octet-stream"}, "X-Custom": {"v1"}},
			body:   []byte("hello world"),
			token:  testToken,
		}
		if presign {
			s.presign, s.expires, s.payload = true, 300, sha256Hex(s.body)
		}
		return s
	}
	path := func(r *http.Request) string { p, _, _ := strings.Cut(r.RequestURI, "?"); return p }
	query := func(r *http.Request) string { _, q, _ := strings.Cut(r.RequestURI, "?"); return q }
	replaceQuery := func(old, new string) func(r *http.Request, _ *[]byte, _ *Verifier) {
		return func(r *http.Request, _ *[]byte, _ *Verifier) {
			setTarget(r, path(r), strings.Replace(query(r), old, new, 1))
		}
	}
	cases := []mutation{
		{name: "unchanged"},
		{name: "unchanged presigned", presign: true},
		{name: "body changed", mutate: func(_ *http.Request, b *[]byte, _ *Verifier) { *b = []byte("hello World") }, want: ErrInvalidSignature},
		{name: "body dropped", mutate: func(_ *http.Request, b *[]byte, _ *Verifier) { *b = nil }, want: ErrInvalidSignature},
		{name: "body changed presigned body hash", presign: true, mutate: func(_ *http.Request, b *[]byte, _ *Verifier) { *b = []byte("x") }, want: ErrInvalidSignature},
		{name: "body changed presigned unsigned payload", presign: true, spec: func(s *signSpec) { s.payload = "" },
			mutate: func(_ *http.Request, b *[]byte, _ *Verifier) { *b = []byte("anything") }},
		{name: "signed header changed", mutate: func(r *http.Request, _ *[]byte, _ *Verifier) { r.Header.Set("X-Custom", "v2") }, want: ErrInvalidSignature},
		{name: "signed header removed", mutate: func(r *http.Request, _ *[]byte, _ *Verifier) { r.Header.Del("X-Custom") }, want: ErrInvalidSignature},
		{name: "signed header value appended", mutate: func(r *http.Request, _ *[]byte, _ *Verifier) { r.Header.Add("X-Custom", "v1") }, want: ErrInvalidSignature},
		{name: "signed header whitespace only", mutate: func(r *http.Request, _ *[]byte, _ *Verifier) { r.Header.Set("X-Custom", "  v1 ") }},
		{name: "unsigned header added", mutate: func(r *http.Request, _ *[]byte, _ *Verifier) { r.Header.Set("X-Forwarded-For", "10.0.0.1") }},
		{name: "signed header changed presigned", presign: true, mutate: func(r *http.Request, _ *[]byte, _ *Verifier) { r.Header.Set("X-Custom", "v2") }, want: ErrInvalidSignature},
		{name: "content-type changed", mutate: func(r *http.Request, _ *[]byte, _ *Verifier) { r.Header.Set("Content-Type", "text/plain") }, want: ErrInvalidSignature},
		{name: "host changed", mutate: func(r *http.Request, _ *[]byte, _ *Verifier) { r.Host = "127.0.0.1:8081" }, want: ErrInvalidSignature},
		{name: "method changed", mutate: func(r *http.Request, _ *[]byte, _ *Verifier) { r.Method = http.MethodPut }, want: ErrInvalidSignature},
		{name: "path changed", mutate: func(r *http.Request, _ *[]byte, _ *Verifier) {
			setTarget(r, strings.Replace(path(r), "R0oX", "R0oY", 1), query(r))
		}, want: ErrInvalidSignature},
		{name: "path %3D decoded", mutate: func(r *http.Request, _ *[]byte, _ *Verifier) {
			setTarget(r, strings.Replace(path(r), "%3D", "=", 1), query(r))
		}, want: ErrInvalidSignature},
		{name: "path @ encoded", mutate: func(r *http.Request, _ *[]byte, _ *Verifier) {
			setTarget(r, strings.Replace(path(r), "@", "%40", 1), query(r))
		}, want: ErrInvalidSignature},
		{name: "path changed presigned", presign: true, mutate: func(r *http.Request, _ *[]byte, _ *Verifier) {
			setTarget(r, path(r)+"x", query(r))
		}, want: ErrInvalidSignature},
		{name: "query value changed", mutate: replaceQuery("a=1", "a=2"), want: ErrInvalidSignature},
		{name: "query param added", mutate: replaceQuery("a=1", "a=1&c=3"), want: ErrInvalidSignature},
		{name: "query param removed", mutate: replaceQuery("&b=2", ""), want: ErrInvalidSignature},
		{name: "query reordered", mutate: func(r *http.Request, _ *[]byte, _ *Verifier) { setTarget(r, path(r), "b=2&a=1") }},
		{name: "query equivalent encoding", mutate: func(r *http.Request, _ *[]byte, _ *Verifier) { setTarget(r, path(r), "%61=%31&b=2") }},
		{name: "query param added presigned", presign: true, mutate: replaceQuery("a=1", "a=1&c=3"), want: ErrInvalidSignature},
		{name: "expires raised presigned", presign: true, mutate: replaceQuery("X-Amz-Expires=300", "X-Amz-Expires=600"), want: ErrInvalidSignature},
		{name: "token changed", mutate: func(r *http.Request, _ *[]byte, _ *Verifier) { r.Header.Set("X-Amz-Security-Token", "forged") }, want: ErrInvalidSignature},
		{name: "token changed presigned", presign: true, mutate: replaceQuery("X-Amz-Security-Token=", "X-Amz-Security-Token=x"), want: ErrInvalidSignature},
		{name: "wrong secret", spec: func(s *signSpec) { s.secret = "not-the-secret" }, want: ErrInvalidSignature},
		{name: "wrong secret presigned", presign: true, spec: func(s *signSpec) { s.secret = "not-the-secret" }, want: ErrInvalidSignature},
		{name: "unknown key", mutate: func(_ *http.Request, _ *[]byte, v *Verifier) {
			v.Credentials = StaticCredentials{"AKIDOTHER": testSecret}
		}, want: ErrUnknownAccessKey},
		{name: "unknown key presigned", presign: true, mutate: func(_ *http.Request, _ *[]byte, v *Verifier) { v.Credentials = nil }, want: ErrUnknownAccessKey},
		{name: "region mismatch", mutate: func(_ *http.Request, _ *[]byte, v *Verifier) { v.Region = "eu-west-1" }, want: ErrWrongScope},
		{name: "region any", mutate: func(_ *http.Request, _ *[]byte, v *Verifier) { v.Region = "" }},
		{name: "signed for other region", spec: func(s *signSpec) { s.region = "us-west-2" }, want: ErrWrongScope},
		{name: "service mismatch", spec: func(s *signSpec) { s.service = "lambda" }, want: ErrWrongScope},
		{name: "service mismatch presigned", presign: true, spec: func(s *signSpec) { s.service = "s3" }, want: ErrWrongScope},
		{name: "default service", mutate: func(_ *http.Request, _ *[]byte, v *Verifier) { v.Service = "" }},
		{name: "clock 14m ahead", mutate: func(_ *http.Request, _ *[]byte, v *Verifier) { v.Now = fixedNow(signTime.Add(14 * time.Minute)) }},
		{name: "clock 14m behind", mutate: func(_ *http.Request, _ *[]byte, v *Verifier) { v.Now = fixedNow(signTime.Add(-14 * time.Minute)) }},
		{name: "date too old", mutate: func(_ *http.Request, _ *[]byte, v *Verifier) { v.Now = fixedNow(signTime.Add(16 * time.Minute)) }, want: ErrExpired},
		{name: "date in future", mutate: func(_ *http.Request, _ *[]byte, v *Verifier) { v.Now = fixedNow(signTime.Add(-16 * time.Minute)) }, want: ErrExpired},
		{name: "custom skew", mutate: func(_ *http.Request, _ *[]byte, v *Verifier) {
			v.MaxSkew, v.Now = time.Minute, fixedNow(signTime.Add(61*time.Second))
		}, want: ErrExpired},
		{name: "presign at expiry", presign: true, mutate: func(_ *http.Request, _ *[]byte, v *Verifier) { v.Now = fixedNow(signTime.Add(300 * time.Second)) }},
		{name: "presign expired", presign: true, mutate: func(_ *http.Request, _ *[]byte, v *Verifier) { v.Now = fixedNow(signTime.Add(301 * time.Second)) }, want: ErrExpired},
		{name: "presign long expiry within", presign: true, spec: func(s *signSpec) { s.expires = MaxPresignExpires },
			mutate: func(_ *http.Request, _ *[]byte, v *Verifier) { v.Now = fixedNow(signTime.Add(6 * 24 * time.Hour)) }},
		{name: "presign not yet valid", presign: true, mutate: func(_ *http.Request, _ *[]byte, v *Verifier) { v.Now = fixedNow(signTime.Add(-16 * time.Minute)) }, want: ErrExpired},
		{name: "presign no expires uses skew", presign: true, spec: func(s *signSpec) { s.expires = 0 },
			mutate: func(_ *http.Request, _ *[]byte, v *Verifier) { v.Now = fixedNow(signTime.Add(16 * time.Minute)) }, want: ErrExpired},
		{name: "signature truncated", mutate: func(r *http.Request, _ *[]byte, _ *Verifier) {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:len(a)-1])
		}, want: ErrInvalidSignature},
		{name: "signature flipped", mutate: func(r *http.Request, _ *[]byte, _ *Verifier) {
			a := []byte(r.Header.Get("Authorization"))
			a[len(a)-1] ^= 1
			r.Header.Set("Authorization", string(a))
		}, want: ErrInvalidSignature},
		{name: "signature upper-case hex", mutate: func(r *http.Request, _ *[]byte, _ *Verifier) {
			a, sig, _ := strings.Cut(r.Header.Get("Authorization"), "Signature=")
			r.Header.Set("Authorization", a+"Signature="+strings.ToUpper(sig))
		}},
		{name: "signature truncated presigned", presign: true, mutate: func(r *http.Request, _ *[]byte, _ *Verifier) {
			setTarget(r, path(r), query(r)[:len(query(r))-2])
		}, want: ErrInvalidSignature},
		{name: "authorization removed", mutate: func(r *http.Request, _ *[]byte, _ *Verifier) { r.Header.Del("Authorization") }, want: ErrMissingAuthentication},
		{name: "signature param removed presigned", presign: true, mutate: func(r *http.Request, _ *[]byte, _ *Verifier) {
			q, _, _ := strings.Cut(query(r), "&X-Amz-Signature=")
			setTarget(r, path(r), q)
		}, want: ErrIncompleteSignature},
		{name: "date header changed same day", mutate: func(r *http.Request, _ *[]byte, _ *Verifier) {
			r.Header.Set("X-Amz-Date", signTime.Add(time.Minute).Format(timeFormat))
		}, want: ErrInvalidSignature},
		{name: "date header changed other day", mutate: func(r *http.Request, _ *[]byte, v *Verifier) {
			r.Header.Set("X-Amz-Date", signTime.Add(24*time.Hour).Format(timeFormat))
			v.Now = fixedNow(signTime.Add(24 * time.Hour))
		}, want: ErrWrongScope},
		{name: "both auth mechanisms", mutate: func(r *http.Request, _ *[]byte, _ *Verifier) {
			setTarget(r, path(r), query(r)+"&X-Amz-Signature=00")
		}, want: ErrIncompleteSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := base(c.presign)
			if c.spec != nil {
				c.spec(&s)
			}
			r, body, sdkLog := signWithSDK(t, s)
			v := newVerifier()
			if c.mutate != nil {
				c.mutate(r, &body, v)
			}
			id, err := v.Verify(r, body)
			if c.want == nil {
				if err != nil {
					t.Fatalf("Verify: %s", describe(err, sdkLog))
				}
				if id.AccessKeyID != testAKID {
					t.Errorf("AccessKeyID = %q", id.AccessKeyID)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify error = %v, want %v", err, c.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Message == "" {
				t.Fatalf("error %v is not a *Error with a message", err)
			}
			if id != nil {
				t.Errorf("identity %+v returned with error", id)
			}
		})
	}
}

// rawRequest builds a server-side request by hand (for inputs no signer produces).
func rawRequest(method, target string, header http.Header) *http.Request {
	r := &http.Request{Method: method, RequestURI: target, Host: "127.0.0.1:8080", Header: http.Header{}}
	for k, v := range header {
		r.Header[k] = v
	}
	return r
}

// TestMalformed checks inputs that are rejected before any signature is computed.
func TestMalformed(t *testing.T) {
	date := signTime.Format(timeFormat)
	cred := testAKID + "/" + signTime.Format(shortTimeFormat) + "/us-east-1/execute-api/aws4_request"
	sig := strings.Repeat("ab", 32)
	auth := func(s string) http.Header { return http.Header{"Authorization": {s}, "X-Amz-Date": {date}} }
	good := "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host;x-amz-date, Signature=" + sig
	presign := "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + strings.ReplaceAll(cred, "/", "%2F") +
		"&X-Amz-Date=" + date + "&X-Amz-SignedHeaders=host&X-Amz-Signature=" + sig
	for _, c := range []struct {
		name    string
		target  string
		header  http.Header
		want    error
		message string // substring of the message
	}{
		{"no auth", "/dev", nil, ErrMissingAuthentication, "Missing Authentication Token"},
		{"empty authorization", "/dev", http.Header{"Authorization": {""}}, ErrMissingAuthentication, ""},
		{"no auth bad query", "/dev?a=%zz", nil, ErrMissingAuthentication, ""},
		{"bearer", "/dev", http.Header{"Authorization": {"Bearer abc"}}, ErrIncompleteSignature,
			"Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. " +
				"Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=Bearer abc"},
		{"no date", "/dev", http.Header{"Authorization": {good}}, ErrIncompleteSignature, "existence of either a 'X-Amz-Date'"},
		{"bad date", "/dev", http.Header{"Authorization": {good}, "X-Amz-Date": {"2024-05-06T07:08:09Z"}}, ErrIncompleteSignature, "ISO-8601"},
		{"bad http date", "/dev", http.Header{"Authorization": {good}, "Date": {"yesterday"}}, ErrIncompleteSignature, "Date must be"},
		{"sigv4a", "/dev", auth(strings.Replace(good, "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1)), ErrIncompleteSignature, "Unsupported"},
		{"missing signature", "/dev", auth("AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host"), ErrIncompleteSignature, "requires 'Signature'"},
		{"duplicate credential", "/dev", auth(good + ", Credential=" + cred), ErrIncompleteSignature, "repeated"},
		{"two authorization headers", "/dev", http.Header{"Authorization": {good, good}, "X-Amz-Date": {date}}, ErrIncompleteSignature, "more than one"},
		{"too long", "/dev", auth(good + ", X=" + strings.Repeat("a", maxAuthorizationLen)), ErrIncompleteSignature, "longer than"},
		{"credential 4 parts", "/dev", auth(strings.Replace(good, "/aws4_request", "", 1)), ErrIncompleteSignature, "5 slash-delimited"},
		{"credential 6 parts", "/dev", auth(strings.Replace(good, "/aws4_request", "/aws4_request/x", 1)), ErrIncompleteSignature, "5 slash-delimited"},
		{"empty access key", "/dev", auth(strings.Replace(good, testAKID, "", 1)), ErrIncompleteSignature, "5 slash-delimited"},
		{"bad terminator", "/dev", auth(strings.Replace(good, "aws4_request", "aws5_request", 1)), ErrWrongScope, "terminator"},
		{"scope date mismatch", "/dev", auth(strings.Replace(good, signTime.Format(shortTimeFormat), "20240505", 1)), ErrWrongScope, "Date in Credential scope"},
		{"wrong region", "/dev", auth(strings.Replace(good, "us-east-1", "eu-west-1", 1)), ErrWrongScope, "region"},
		{"wrong service", "/dev", auth(strings.Replace(good, "execute-api", "lambda", 1)), ErrWrongScope, "service"},
		{"host not signed", "/dev", auth(strings.Replace(good, "host;", "", 1)), ErrIncompleteSignature, "'Host' or ':authority'"},
		{"empty signed headers", "/dev", auth(strings.Replace(good, "host;x-amz-date", "", 1)), ErrIncompleteSignature, "empty"},
		{"empty signed header name", "/dev", auth(strings.Replace(good, "host;x-amz-date", "host;;x-amz-date", 1)), ErrIncompleteSignature, "empty header name"},
		{"bad signed header name", "/dev", auth(strings.Replace(good, "host;x-amz-date", "host;x amz", 1)), ErrIncompleteSignature, "invalid header name"},
		{"too many signed headers", "/dev", auth(strings.Replace(good, "host;x-amz-date", "host"+strings.Repeat(";x", maxSignedHeaders), 1)), ErrIncompleteSignature, "more than 64"},
		{"signature not hex", "/dev", auth(strings.Replace(good, sig, "zz", 1)), ErrInvalidSignature, "does not match"},
		{"wrong signature", "/dev", auth(good), ErrInvalidSignature, "does not match"},
		{"content sha mismatch", "/dev", http.Header{"Authorization": {good}, "X-Amz-Date": {date}, "X-Amz-Content-Sha256": {strings.Repeat("0", 64)}}, ErrInvalidSignature, "x-amz-content-sha256"},
		{"content sha garbage", "/dev", http.Header{"Authorization": {good}, "X-Amz-Date": {date}, "X-Amz-Content-Sha256": {"STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}}, ErrIncompleteSignature, "x-amz-content-sha256"},
		{"bad query escape with auth", "/dev?a=%zz", auth(good), ErrIncompleteSignature, "percent-encoded"},
		{"too many params", "/dev?" + strings.Repeat("a=1&", maxQueryParams+1), auth(good), ErrIncompleteSignature, "too many"},
		{"uri too long", "/dev?" + strings.Repeat("a", maxRequestTargetLen), auth(good), ErrIncompleteSignature, "too long"},
		{"presign missing params", "/dev?X-Amz-Algorithm=AWS4-HMAC-SHA256", nil, ErrIncompleteSignature,
			"AWS query-string parameters must include 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-SignedHeaders', 'X-Amz-Date'. Re-examine the query-string parameters."},
		{"presign bad algorithm", "/dev?" + strings.Replace(presign, "HMAC", "ECDSA", 1), nil, ErrIncompleteSignature, "only supports"},
		{"presign repeated signature", "/dev?" + presign + "&X-Amz-Signature=" + sig, nil, ErrIncompleteSignature, "repeated"},
		{"presign expires zero", "/dev?" + presign + "&X-Amz-Expires=0", nil, ErrIncompleteSignature, "X-Amz-Expires"},
		{"presign expires too long", "/dev?" + presign + "&X-Amz-Expires=604801", nil, ErrIncompleteSignature, "X-Amz-Expires"},
		{"presign expires negative", "/dev?" + presign + "&X-Amz-Expires=-5", nil, ErrIncompleteSignature, "X-Amz-Expires"},
		{"presign expires huge", "/dev?" + presign + "&X-Amz-Expires=99999999999999999999", nil, ErrIncompleteSignature, "X-Amz-Expires"},
		{"presign bad date", "/dev?" + strings.Replace(presign, date, "20240506", 1), nil, ErrIncompleteSignature, "ISO-8601"},
		{"presign host unsigned", "/dev?" + strings.Replace(presign, "SignedHeaders=host", "SignedHeaders=x-amz-date", 1), nil, ErrIncompleteSignature, "'Host'"},
		{"presign wrong signature", "/dev?" + presign, nil, ErrInvalidSignature, "does not match"},
		{"presign plus header", "/dev?" + presign, auth(good), ErrIncompleteSignature, "Only one auth mechanism"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := newVerifier()
			v.Now = fixedNow(signTime)
			id, err := v.Verify(rawRequest(http.MethodGet, c.target, c.header), nil)
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify error = %v, want %v", err, c.want)
			}
			if id != nil {
				t.Errorf("identity returned with error")
			}
			if !strings.Contains(err.Error(), c.message) {
				t.Errorf("message %q does not contain %q", err.Error(), c.message)
			}
			if len(err.Error()) > 2*maxEcho+1024 {
				t.Errorf("message is %d bytes long", len(err.Error()))
			}
		})
	}
}

// TestDateHeader checks header auth dated by the HTTP Date header instead of X-Amz-Date: the SDK's
// canonicalisation applied by hand with the timestamp taken from Date.
func TestDateHeader(t *testing.T) {
	for _, c := range []struct {
		name string
		date string
		now  time.Time
		want error
	}{
		{"rfc1123", signTime.Format(http.TimeFormat), signTime, nil},
		{"too old", signTime.Format(http.TimeFormat), signTime.Add(time.Hour), ErrExpired},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rawRequest(http.MethodGet, "/dev?x=1", http.Header{"Date": {c.date}})
			names := []string{"date", "host"}
			cr := canonicalRequest(r, "/dev", "x=1", names, "date;host", sha256Hex(nil))
			scope := signTime.Format(shortTimeFormat) + "/us-east-1/execute-api/aws4_request"
			sts := stringToSign(signTime.Format(timeFormat), scope, cr)
			sig := hex.EncodeToString(hmacSHA256(deriveKey(testSecret, signTime.Format(shortTimeFormat), "us-east-1", "execute-api"), sts))
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAKID+"/"+scope+", SignedHeaders=date;host, Signature="+sig)
			v := newVerifier()
			v.Now = fixedNow(c.now)
			_, err := v.Verify(r, nil)
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify error = %v, want %v", err, c.want)
			}
		})
	}
}

// TestAWSMessage checks the client-facing message format of a signature mismatch.
func TestAWSMessage(t *testing.T) {
	r, body, _ := signWithSDK(t, signSpec{method: http.MethodPost, url: "http://127.0.0.1:8080/dev/@connections/abc%3D", body: []byte("hi"), secret: "wrong"})
	_, err := newVerifier().Verify(r, body)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not *Error", err)
	}
	msg := e.AWSMessage()
	for _, want := range []string{
		"The request signature we calculated does not match the signature you provided.",
		"The Canonical String for this request should have been\n'POST\n/dev/%40connections/abc%253D\n\n",
		"host;x-amz-date\n" + sha256Hex([]byte("hi")) + "'",
		"The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n20240506T070809Z\n20240506/us-east-1/execute-api/aws4_request\n",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if e.Error() != ErrInvalidSignature.Error() {
		t.Errorf("Error() = %q", e.Error())
	}
}

// TestVerifyDoesNotReadBody checks that Verify leaves r.Body alone.
func TestVerifyDoesNotReadBody(t *testing.T) {
	r, body, _ := signWithSDK(t, signSpec{method: http.MethodPost, url: "http://127.0.0.1:8080/dev/x", body: []byte("payload")})
	if _, err := newVerifier().Verify(r, body); err != nil {
		t.Fatal(err)
	}
	rest := new(bytes.Buffer)
	if _, err := rest.ReadFrom(r.Body); err != nil || rest.String() != "payload" {
		t.Errorf("body after Verify = %q, %v", rest.String(), err)
	}
}

// TestRequestTargetFallback checks requests without RequestURI (built in-process) use r.URL like the SDK.
func TestRequestTargetFallback(t *testing.T) {
	for _, c := range []struct {
		name, url string
		opaque    string
	}{
		{"escaped path", "http://127.0.0.1:8080/dev/@connections/abc%3D?b=2&a=1", ""},
		{"opaque", "http://127.0.0.1:8080/ignored?q=1", "//127.0.0.1:8080/dev/a%2Fb"},
		{"absolute request uri", "http://127.0.0.1:8080/dev/x%20y", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, c.url, nil)
			if c.opaque != "" {
				req.URL.Opaque = c.opaque
			}
			if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret},
				req, sha256Hex(nil), testService, testRegion, signTime); err != nil {
				t.Fatal(err)
			}
			if c.name == "absolute request uri" {
				req.RequestURI = req.URL.String()
			}
			if _, err := newVerifier().Verify(req, nil); err != nil {
				t.Fatalf("Verify: %s", describe(err, ""))
			}
		})
	}
}
