package proxyevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// TestParseHTTPResponse covers AWS's documented response rules for both payload formats ("Lambda function
// response format" in "Create AWS Lambda proxy integrations for HTTP APIs") and the results that give the
// 500 Internal Server Error.
func TestParseHTTPResponse(t *testing.T) {
	jsonCT := http.Header{"Content-Type": {"application/json"}}
	cases := []struct {
		name, version, payload string
		want                   *HTTPResponse // nil: malformed
	}{
		{"v2 string inferred", PayloadV2, `"Hello from Lambda!"`, &HTTPResponse{200, jsonCT, []byte("Hello from Lambda!")}},
		{"v2 object inferred as written", PayloadV2, `{ "message": "Hello from Lambda!" }`,
			&HTTPResponse{200, jsonCT, []byte(`{ "message": "Hello from Lambda!" }`)}},
		{"v2 object with body but no statusCode inferred", PayloadV2, `{"body":"x","headers":{"a":"b"}}`,
			&HTTPResponse{200, jsonCT, []byte(`{"body":"x","headers":{"a":"b"}}`)}},
		{"v2 number inferred", PayloadV2, `42`, &HTTPResponse{200, jsonCT, []byte("42")}},
		{"v2 array inferred", PayloadV2, `[1,2]`, &HTTPResponse{200, jsonCT, []byte("[1,2]")}},
		{"v2 null statusCode inferred", PayloadV2, `{"statusCode":null}`, &HTTPResponse{200, jsonCT, []byte(`{"statusCode":null}`)}},
		{"v2 full form", PayloadV2, `{"statusCode":201,"headers":{"X-A":"1","x-n":2,"x-b":true},"body":"made","cookies":["a=1; Path=/","b=2"]}`,
			&HTTPResponse{201, http.Header{"X-A": {"1"}, "X-N": {"2"}, "X-B": {"true"}, "Set-Cookie": {"a=1; Path=/", "b=2"}}, []byte("made")}},
		{"v2 base64 body", PayloadV2, `{"statusCode":200,"body":"AAH/","isBase64Encoded":true}`, &HTTPResponse{200, nil, []byte{0, 1, 0xff}}},
		{"v2 string statusCode", PayloadV2, `{"statusCode":"404"}`, &HTTPResponse{404, nil, nil}},
		{"v2 multiValueHeaders", PayloadV2, `{"statusCode":200,"multiValueHeaders":{"x-m":["a","b"]}}`, &HTTPResponse{200, http.Header{"X-M": {"a", "b"}}, nil}},
		{"v2 numeric body", PayloadV2, `{"statusCode":200,"body":12}`, &HTTPResponse{200, nil, []byte("12")}},
		{"v1 full form", PayloadV1, `{"statusCode":200,"headers":{"a":"1"},"multiValueHeaders":{"a":["2","3"]},"body":"ok"}`,
			&HTTPResponse{200, http.Header{"A": {"2", "3"}}, []byte("ok")}},
		{"v1 cookies not read", PayloadV1, `{"statusCode":204,"cookies":["a=1"]}`, &HTTPResponse{204, nil, nil}},

		{"empty", PayloadV2, ``, nil},
		{"not JSON", PayloadV2, `Hello`, nil},
		{"truncated object", PayloadV2, `{"statusCode":200`, nil},
		{"statusCode out of range", PayloadV2, `{"statusCode":99}`, nil},
		{"statusCode not a number", PayloadV2, `{"statusCode":"ok"}`, nil},
		{"statusCode fraction", PayloadV2, `{"statusCode":200.5}`, nil},
		{"headers array", PayloadV2, `{"statusCode":200,"headers":[]}`, nil},
		{"header value object", PayloadV2, `{"statusCode":200,"headers":{"a":{}}}`, nil},
		{"cookies not array", PayloadV2, `{"statusCode":200,"cookies":"a=1"}`, nil},
		{"cookie not string", PayloadV2, `{"statusCode":200,"cookies":[1]}`, nil},
		{"isBase64Encoded string", PayloadV2, `{"statusCode":200,"isBase64Encoded":"true"}`, nil},
		{"bad base64", PayloadV2, `{"statusCode":200,"body":"***","isBase64Encoded":true}`, nil},
		{"body object", PayloadV2, `{"statusCode":200,"body":{"a":1}}`, nil},
		{"v1 string", PayloadV1, `"hello"`, nil},
		{"v1 no statusCode", PayloadV1, `{"body":"hello"}`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseHTTPResponse(tc.version, []byte(tc.payload))
			if tc.want == nil {
				if !errors.Is(err, ErrMalformedResponse) {
					t.Fatalf("got %+v, %v; want ErrMalformedResponse", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %d %v %q\nwant %d %v %q", got.StatusCode, got.Header, got.Body, tc.want.StatusCode, tc.want.Header, tc.want.Body)
			}
		})
	}
}

// TestParseHTTPResponseFromAWSLambdaGo reads what aws-lambda-go's response types marshal to.
func TestParseHTTPResponseFromAWSLambdaGo(t *testing.T) {
	v2 := Encode(events.APIGatewayV2HTTPResponse{StatusCode: 302, Headers: map[string]string{"Location": "/x"},
		Cookies: []string{"s=1"}})
	got, err := ParseHTTPResponse(PayloadV2, v2)
	if err != nil || got.StatusCode != 302 || got.Header.Get("Location") != "/x" || got.Header.Get("Set-Cookie") != "s=1" || len(got.Body) != 0 {
		t.Errorf("2.0: %+v, %v (from %s)", got, err, v2)
	}
	v1 := Encode(events.APIGatewayProxyResponse{StatusCode: 200, Body: "hi", MultiValueHeaders: map[string][]string{"X": {"1", "2"}}})
	got, err = ParseHTTPResponse(PayloadV1, v1)
	if err != nil || got.StatusCode != 200 || string(got.Body) != "hi" || len(got.Header.Values("X")) != 2 {
		t.Errorf("1.0: %+v, %v (from %s)", got, err, v1)
	}
}

// FuzzParseHTTPResponse checks that no result makes the parser panic, that every failure is
// ErrMalformedResponse, and that an accepted result has a status in range.
func FuzzParseHTTPResponse(f *testing.F) {
	for _, s := range []string{`"hi"`, `{"statusCode":200,"body":"x","cookies":["a"]}`, `{"statusCode":"201"}`,
		`{"statusCode":200,"isBase64Encoded":true,"body":"AA=="}`, `[`, `{"headers":{"a":null}}`, `null`} {
		f.Add(PayloadV2, []byte(s))
		f.Add(PayloadV1, []byte(s))
	}
	f.Fuzz(func(t *testing.T, version string, payload []byte) {
		got, err := ParseHTTPResponse(version, payload)
		if err != nil {
			if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("error %v is not ErrMalformedResponse", err)
			}
			return
		}
		if got.StatusCode < 100 || got.StatusCode > 599 {
			t.Fatalf("status %d", got.StatusCode)
		}
	})
}

// parseHTTPGeneral is ParseHTTPResponse without the scanFlat fast path: encoding/json reads every object
// and parseHeaders every header.
func parseHTTPGeneral(version string, payload []byte) (*HTTPResponse, error) {
	p := bytes.TrimSpace(payload)
	if len(p) == 0 || p[0] != '{' || !json.Valid(p) {
		return ParseHTTPResponse(version, payload)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(p, &obj); err != nil {
		return nil, err
	}
	m := membersOf(obj)
	m.multi = append(json.RawMessage(nil), `{}`...) // parseHeaders, not responseHeaders' own reading
	if raw := obj["multiValueHeaders"]; raw != nil {
		m.multi = raw
	}
	return m.httpResponse(version, p, true)
}

// FuzzParseHTTPResponseFastPath checks that what the map-free reading accepts reads as encoding/json and
// parseHeaders read it, for both payload versions.
func FuzzParseHTTPResponseFastPath(f *testing.F) {
	for _, s := range []string{
		`{"statusCode":200,"headers":null,"multiValueHeaders":null,"body":"{\"a\":1}","cookies":null}`,
		`{"statusCode":200,"headers":{"Content-Type":"application/json","x-n":2,"x-b":true,"x-z":null},"body":"x","cookies":["s=1","t=2"]}`,
		`{"statusCode":200,"headers":{"a":"1","A":"2"}}`, `{"statusCode":200,"headers":{"a":"1","a":null}}`,
		`{"statusCode":200,"headers":{"a\u0062":"1"}}`, `{"statusCode":200,"headers":{"\xff":"1"}}`,
		`{"statusCode":200,"headers":{"a":{}}}`, `{"statusCode":200,"headers":{"a":[1]},"x":[[1]]}`,
		`{"statusCode":200,"cookies":["a",null]}`, `{"statusCode":200,"cookies":[1]}`, `{"statusCode":200,"cookies":"a"}`,
		`{"statusCode":200,"cookies":["\u00e9"],"cookies":[]}`, `{"statusCode":200,"multiValueHeaders":{"a":["1",2]},"headers":{"A":"x"}}`,
		`{"statusCode":200,"isBase64Encoded":true,"body":"AA=="}`, `{"statusCode":200,"isBase64Encoded":1}`,
		`{"statusCode":200,"body":{"a":1}}`, `{"statusCode":200,"body":[]}`, `{"headers":{}}`, `{"statusCode":200,"headers":{ } , "b":[ ]}`,
		`{"statusCode":200,"headers":{"a":"1",}}`, `{"statusCode":200,"cookies":["a",]}`, `{"statusCode":200,"headers":{"a" "1"}}`,
	} {
		f.Add(PayloadV2, []byte(s))
		f.Add(PayloadV1, []byte(s))
	}
	f.Fuzz(func(t *testing.T, version string, payload []byte) {
		p := bytes.TrimSpace(payload)
		if len(p) == 0 || p[0] != '{' {
			return
		}
		if _, ok := scanFlat(p); !ok {
			return
		}
		if !json.Valid(p) {
			t.Fatalf("scanFlat accepted %q, which is not JSON", p)
		}
		got, gotErr := ParseHTTPResponse(version, payload)
		want, wantErr := parseHTTPGeneral(version, payload)
		if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Fatalf("%q: error %v, encoding/json path %v", p, gotErr, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: got %+v, encoding/json path %+v", p, got, want)
		}
	})
}

// TestParseHTTPResponseAllocs holds the allocations of reading the usual 2.0 results: the bench's echo
// function's (aws-lambda-go's APIGatewayProxyResponse) and one with headers and a cookie.
func TestParseHTTPResponseAllocs(t *testing.T) {
	cases := []struct {
		name    string
		payload string
		max     float64
	}{
		{"nulls and a body", `{"statusCode":200,"headers":null,"multiValueHeaders":null,"body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`, 2},
		{"headers and a cookie", `{"statusCode":200,"headers":{"Content-Type":"application/json"},"body":"{\"id\":1,\"name\":\"Rex\"}","cookies":["s=1"]}`, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			payload := []byte(tc.payload)
			if _, err := ParseHTTPResponse(PayloadV2, payload); err != nil {
				t.Fatal(err)
			}
			if n := testing.AllocsPerRun(100, func() { _, _ = ParseHTTPResponse(PayloadV2, payload) }); n > tc.max {
				t.Errorf("%v allocations, want at most %v", n, tc.max)
			}
		})
	}
}

func BenchmarkParseHTTPResponse(b *testing.B) {
	payload := []byte(`{"statusCode":200,"headers":{"Content-Type":"application/json"},"body":"{\"id\":1,\"name\":\"Rex\"}","cookies":["s=1"]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseHTTPResponse(PayloadV2, payload); err != nil {
			b.Fatal(err)
		}
	}
}
