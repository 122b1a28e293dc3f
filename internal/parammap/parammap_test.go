package parammap

import (
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

const prefix = "Invalid mapping expression specified: Validation Result: warnings : [], errors : ["

func TestParseRequestErrors(t *testing.T) {
	cases := []struct {
		name, key, value, want string
	}{
		{"no action", "header.x", "v", "Invalid Request Actioned Parameter destination specified: header.x"},
		{"unknown action", "add:header.x", "v", "Invalid Request Actioned Parameter destination specified: add:header.x"},
		{"unknown target", "append:cookie.x", "v", "Invalid Request Actioned Parameter destination specified: append:cookie.x"},
		{"header without name", "append:header.", "v", "Invalid Request Actioned Parameter destination specified: append:header."},
		{"header name with space", "append:header.a b", "v", "Invalid Request Actioned Parameter destination specified: append:header.a b"},
		{"append path", "append:path", "/x", "Invalid Request Actioned Parameter destination specified: append:path"},
		{"statuscode on a request", "overwrite:statuscode", "200", "Invalid Request Actioned Parameter destination specified: overwrite:statuscode"},
		{"reserved authorization", "overwrite:header.Authorization", "x", "Operations on header Authorization are restricted"},
		{"reserved prefix", "append:header.X-Amzn-Trace-Id", "x", "Operations on header X-Amzn-Trace-Id are restricted"},
		{"reserved access-control", "remove:header.access-control-allow-origin", "", "Operations on header access-control-allow-origin are restricted"},
		{"unknown source", "append:header.x", "$request.cookie.a", "Invalid mapping expression parameter specified: $request.cookie.a"},
		{"response source on a request", "append:header.x", "$response.header.a", "Invalid mapping expression parameter specified: $response.header.a"},
		{"recursive descent", "append:header.x", "$request.body..a", "Invalid mapping expression parameter specified: $request.body..a"},
		{"filter", "append:header.x", "$request.body.a[?(@.b)]", "Invalid mapping expression parameter specified: $request.body.a[?(@.b)]"},
		{"wildcard", "append:header.x", "$request.body.a.*", "Invalid mapping expression parameter specified: $request.body.a.*"},
		{"unclosed placeholder", "append:header.x", "a ${request.header.b", "Invalid mapping expression parameter specified: a ${request.header.b"},
		{"bare dollar", "append:header.x", "$", "Invalid mapping expression parameter specified: $"},
		{"empty context", "append:header.x", "$context.", "Invalid mapping expression parameter specified: $context."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRequest(map[string]string{tc.key: tc.value})
			if !errors.Is(err, ErrInvalid) || err.Error() != prefix+tc.want+"]" {
				t.Errorf("err = %v\nwant %s%s]", err, prefix, tc.want)
			}
		})
	}
}

func TestParseResponseErrors(t *testing.T) {
	cases := []struct {
		name string
		in   map[string]map[string]string
		want string
	}{
		{"status not a number", map[string]map[string]string{"2xx": {"overwrite:statuscode": "200"}}, "Invalid response status code specified: 2xx"},
		{"status out of range", map[string]map[string]string{"600": {"overwrite:statuscode": "200"}}, "Invalid response status code specified: 600"},
		{"querystring in a response", map[string]map[string]string{"200": {"append:querystring.a": "b"}}, "Invalid Response Actioned Parameter destination specified: append:querystring.a"},
		{"append statuscode", map[string]map[string]string{"200": {"append:statuscode": "201"}}, "Invalid Response Actioned Parameter destination specified: append:statuscode"},
		{"static status invalid", map[string]map[string]string{"500": {"overwrite:statuscode": "abc"}}, "Invalid status code specified: abc"},
		{"reserved", map[string]map[string]string{"200": {"overwrite:header.Content-Length": "1"}}, "Operations on header Content-Length are restricted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseResponse(tc.in)
			if !errors.Is(err, ErrInvalid) || err.Error() != prefix+tc.want+"]" {
				t.Errorf("err = %v\nwant %s%s]", err, prefix, tc.want)
			}
		})
	}
}

func testInput() *Input {
	return &Input{
		Header:         http.Header{"X-Multi": {"a", "b"}, "Token": {"t0k"}, "Header1": {"h1"}},
		Query:          url.Values{"q": {"1", "2"}, "keep": {"k"}},
		Body:           []byte(`{"user":{"id":42,"name":"Ann","tags":["x","y"],"odd key":true},"list":[{"v":"first"}]}`),
		Path:           "/pets/7",
		PathParameters: map[string]string{"petId": "7"},
		Context: func(name string) (string, bool) {
			v, ok := map[string]string{"requestId": "R1", "authorizer.claims.sub": "u-1"}[name]
			return v, ok
		},
		StageVariables: map[string]string{"env": "prod"},
		ResponseHeader: http.Header{"X-Backend": {"b1"}},
		ResponseBody:   []byte(`{"error":{"code":"E42"}}`),
	}
}

// TestRequestApply covers every source and action of AWS's page, including its rename example.
func TestRequestApply(t *testing.T) {
	params := map[string]string{
		"append:header.header2":        "$request.header.header1", // AWS's "rename a request header"
		"remove:header.header1":        "''",
		"append:header.x-multi":        "c",
		"overwrite:header.x-static":    "static text",
		"overwrite:header.x-mix":       "Bearer ${request.header.token} for ${context.authorizer.claims.sub}",
		"append:header.x-requestid":    "$context.requestId",
		"overwrite:header.x-env":       "$stageVariables.env",
		"overwrite:header.x-body":      "$request.body.user.name",
		"overwrite:header.x-num":       "$request.body.user.id",
		"overwrite:header.x-obj":       "$request.body.user.tags",
		"overwrite:header.x-index":     "$request.body.list[0].v",
		"overwrite:header.x-bracket":   "$request.body.user['odd key']",
		"overwrite:header.x-missing":   "$request.header.absent",
		"overwrite:header.x-path":      "$request.path",
		"overwrite:querystring.pet":    "$request.path.petId",
		"append:querystring.q":         "$request.querystring.q",
		"remove:querystring.keep":      "",
		"overwrite:path":               "/v2${request.path}",
		"overwrite:header.x-multi-src": "$request.header.x-multi",
	}
	r, err := ParseRequest(params)
	if err != nil {
		t.Fatal(err)
	}
	in := testInput()
	out := &Outgoing{Header: in.Header.Clone(), Query: url.Values{"q": {"1", "2"}, "keep": {"k"}}, Path: "/pets/7"}
	r.Apply(in, out)
	wantHeader := http.Header{
		"Header2": {"h1"}, "X-Multi": {"a,b,c"}, "Token": {"t0k"}, "X-Static": {"static text"},
		"X-Mix": {"Bearer t0k for u-1"}, "X-Requestid": {"R1"}, "X-Env": {"prod"}, "X-Body": {"Ann"},
		"X-Num": {"42"}, "X-Obj": {`["x","y"]`}, "X-Index": {"first"}, "X-Bracket": {"true"},
		"X-Path": {"/pets/7"}, "X-Multi-Src": {"a,b"},
	}
	if !reflect.DeepEqual(out.Header, wantHeader) {
		t.Errorf("header\n got %v\nwant %v", out.Header, wantHeader)
	}
	wantQuery := url.Values{"q": {"1", "2", "1,2"}, "pet": {"7"}}
	if !reflect.DeepEqual(out.Query, wantQuery) {
		t.Errorf("query %v, want %v", out.Query, wantQuery)
	}
	if out.Path != "/v2/pets/7" {
		t.Errorf("path %q", out.Path)
	}
}

// TestResponseApply follows AWS's example: a 500 becomes a 403 with a header, a 404 gets a header, a
// 200 is left alone.
func TestResponseApply(t *testing.T) {
	r, err := ParseResponse(map[string]map[string]string{
		"500": {"append:header.header1": "$context.requestId", "overwrite:statuscode": "403"},
		"404": {"append:header.error": "$stageVariables.env", "overwrite:header.x-code": "$response.body.error.code",
			"overwrite:header.x-from": "$response.header.x-backend", "remove:header.x-backend": ""},
		"418": {"overwrite:statuscode": "$response.body.error.code"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		status     int
		wantStatus int
		wantHeader http.Header
		wantErr    bool
	}{
		{"500 to 403", 500, 403, http.Header{"X-Backend": {"b1"}, "Header1": {"R1"}}, false},
		{"404 headers", 404, 404, http.Header{"Error": {"prod"}, "X-Code": {"E42"}, "X-From": {"b1"}}, false},
		{"200 untouched", 200, 200, http.Header{"X-Backend": {"b1"}}, false},
		{"runtime status not a number", 418, 418, http.Header{"X-Backend": {"b1"}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := testInput()
			h := in.ResponseHeader.Clone()
			got, err := r.Apply(tc.status, in, h)
			if got != tc.wantStatus || !reflect.DeepEqual(h, tc.wantHeader) || (err != nil) != tc.wantErr {
				t.Errorf("got %d %v %v, want %d %v err %v", got, h, err, tc.wantStatus, tc.wantHeader, tc.wantErr)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	v, err := ParseValue("$request.body.a", false)
	if err != nil {
		t.Fatal(err)
	}
	small := &Input{Body: []byte(`{"a":"x"}`)}
	if s, ok := v.Eval(small); !ok || s != "x" {
		t.Errorf("small body: %q %v", s, ok)
	}
	big := &Input{Body: []byte(`{"a":"x","pad":"` + strings.Repeat("p", MaxBodyForPath) + `"}`)}
	if s, ok := v.Eval(big); ok {
		t.Errorf("body over 100 KB gave %q", s)
	}
}

func TestReserved(t *testing.T) {
	for _, h := range []string{"Authorization", "connection", "CONTENT-LENGTH", "Via", "X-Forwarded-For", "x-amz-date",
		"X-Amzn-RequestId", "apigw-requestid", "Access-Control-Allow-Origin", "te", "Trailers"} {
		if !Reserved(h) {
			t.Errorf("%s not reserved", h)
		}
	}
	for _, h := range []string{"X-Api-Key", "Content-Type", "Accept", "X-Forwarded-Port", "X-Amz", "Trailer"} {
		if Reserved(h) {
			t.Errorf("%s reserved", h)
		}
	}
}

// FuzzParse checks that the parsers never panic, that every refusal is ErrInvalid with AWS's prefix, and
// that whatever parses applies without panicking.
func FuzzParse(f *testing.F) {
	for _, s := range [][2]string{
		{"append:header.x", "$request.header.y"}, {"overwrite:path", "/a/${request.path.id}/b"},
		{"overwrite:statuscode", "$response.body.a[0]['b']"}, {"remove:querystring.q", ""},
		{"append:header.x", "${context.a}${stageVariables.b}"}, {"overwrite:header.x", "$request.body.a.b[3]"},
		{"x", "${"}, {"append:header.x", "$request.body[']"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		in := testInput()
		if r, err := ParseRequest(map[string]string{key: value}); err != nil {
			if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), prefix) {
				t.Fatalf("request error %v", err)
			}
		} else {
			r.Apply(in, &Outgoing{Header: http.Header{}, Query: url.Values{}})
		}
		if r, err := ParseResponse(map[string]map[string]string{"200": {key: value}}); err != nil {
			if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), prefix) {
				t.Fatalf("response error %v", err)
			}
		} else if status, _ := r.Apply(200, in, http.Header{}); status < 100 || status > 599 {
			t.Fatalf("status %d", status)
		}
	})
}

func BenchmarkRequestApply(b *testing.B) {
	r, err := ParseRequest(map[string]string{
		"append:header.x-request-id": "$context.requestId",
		"overwrite:header.x-user":    "$request.body.user.name",
		"overwrite:querystring.env":  "$stageVariables.env",
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		in := testInput()
		r.Apply(in, &Outgoing{Header: http.Header{}, Query: url.Values{}})
	}
}
