package proxyevent

import (
	"bytes"
	"testing"
	"time"
)

// fuzzEnvelope builds an envelope of every shape from a few strings: s fills the strings (a header
// value, a query parameter, a stage variable, the body, the requestContext fields), n the numbers, and the
// bits of flags choose which optional parts are present.
func fuzzEnvelope(s, k string, n int64, flags uint16) *envelope {
	rc := testRC(s, EventMessage, k, time.UnixMilli(n))
	rc.ConnectedAt = n
	rc.Identity = Identity{SourceIP: k}
	env := &envelope{RequestContext: rc, IsBase64Encoded: flags&1 != 0}
	if flags&2 != 0 {
		rc.MessageID = s
	}
	if flags&4 != 0 {
		rc.DisconnectStatusCode = int(n % 5000)
		rc.DisconnectReason = &s
	}
	if flags&8 != 0 {
		rc.Identity.UserAgent, rc.Identity.APIKey, rc.Identity.APIKeyID = s, k, s+k
	}
	if flags&16 != 0 {
		rc.Authorizer = map[string]any{"principalId": s, k: n, "nested": map[string]any{s: []any{k, true, nil}}}
	}
	if flags&32 != 0 {
		rc.Identity.ClientCert = map[string]any{"clientCertPem": s, "validity": map[string]string{"notAfter": k}}
	}
	if flags&64 != 0 {
		hs := NewHeaderSet(3)
		hs.Add("Host", k)
		hs.Add(s, s, k)
		hs.Add("X-Other", s)
		env.Headers, env.MultiValueHeaders = hs.Maps()
	}
	if flags&128 != 0 {
		env.QueryStringParameters = map[string]string{s: k, k: s, "a": s}
		env.MultiValueQueryStringParameters = map[string][]string{s: {k, s}, k: {s}, "a": nil}
	}
	if flags&256 != 0 {
		env.StageVariables = map[string]string{k: s, "stage": k}
	}
	if flags&512 != 0 {
		body := s + k
		env.Body = &body
	}
	return env
}

// FuzzEnvelope checks that the hand-written encoder writes exactly what encoding/json writes (Encode) for
// every envelope.
func FuzzEnvelope(f *testing.F) {
	f.Add("sendmessage", "R1knPH17NjMFftw=", int64(1705751697419), uint16(0xffff))
	f.Add(`{"action":"<&>"}`, "a\"b\\c\n\t\x00\x1f\x7f", int64(0), uint16(512))
	f.Add("line\u2028sep\u2029é😀", "\xff\xfe\xe2\x80", int64(-1), uint16(0x3ff))
	f.Add("", "", int64(1)<<62, uint16(0))
	f.Add("\u2028", "\xe2\x80\xa8\xe2\x80", int64(42), uint16(0x2c0))
	f.Fuzz(func(t *testing.T, s, k string, n int64, flags uint16) {
		env := fuzzEnvelope(s, k, n, flags)
		got := encodeEnvelope(env)
		want := Encode(env)
		if !bytes.Equal(got, want) {
			t.Fatalf("hand-written encoder differs from encoding/json:\n got %s\nwant %s", got, want)
		}
	})
}

// TestEventsMatchEncodingJSON checks the hand-written encoder against encoding/json on an envelope with
// every field set, and on one with none.
func TestEventsMatchEncodingJSON(t *testing.T) {
	rc := testRC("$connect", EventConnect, "R1knPH17NjMFftw=", time.UnixMilli(1705751697419))
	rc.Authorizer = authorizerOutput()
	rc.Identity.APIKey, rc.Identity.APIKeyID, rc.Identity.ClientCert = "key", "id", map[string]string{"subjectDN": "CN=a"}
	reason := "Going away"
	rc.DisconnectReason, rc.DisconnectStatusCode = &reason, 1001
	body := "hello"
	for _, tc := range []struct {
		name string
		env  envelope
	}{
		{"everything", envelope{RequestContext: rc, Body: &body, StageVariables: map[string]string{"a": "b"},
			QueryStringParameters: map[string]string{"q": "1"}, MultiValueQueryStringParameters: map[string][]string{"q": {"0", "1"}},
			Headers: Headers{{"Host", "h\u2028"}}, MultiValueHeaders: MultiHeaders{{"Host", []string{"h"}}}, IsBase64Encoded: true}},
		{"no request context", envelope{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := encodeEnvelope(&tc.env), Encode(&tc.env); !bytes.Equal(got, want) {
				t.Errorf("hand-written encoder differs from encoding/json:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// BenchmarkMessageEventJSON is BenchmarkMessageEvent through encoding/json (Encode), for comparison.
func BenchmarkMessageEventJSON(b *testing.B) {
	rc := testRC("sendmessage", EventMessage, "R1knPH17NjMFftw=", time.Now())
	rc.MessageID = "R1knPc2ntjMCFIA="
	body := []byte(`{"action":"sendmessage","data":"hello, world"}`)
	b.ReportAllocs()
	for b.Loop() {
		c := *rc
		s := string(body)
		Encode(&envelope{RequestContext: &c, Body: &s})
	}
}
