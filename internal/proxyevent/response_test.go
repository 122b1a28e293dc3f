package proxyevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"
)

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		status  int
		header  http.Header
		body    string // "<nil>" for no body
		wantErr bool
	}{
		// Well-formed proxy responses.
		{name: "status only", payload: `{"statusCode":200}`, status: 200, body: "<nil>"},
		{name: "status and body", payload: `{"statusCode":201,"body":"hi"}`, status: 201, body: "hi"},
		{name: "rejecting $connect", payload: `{"statusCode":401,"body":"{\"message\":\"no\"}"}`, status: 401, body: `{"message":"no"}`},
		{name: "aws-lambda-go response", payload: `{"statusCode":200,"headers":null,"multiValueHeaders":null,"body":"x"}`, status: 200, body: "x"},
		{name: "subprotocol in headers", payload: `{"statusCode":200,"headers":{"Sec-WebSocket-Protocol":"chat.v1"}}`, status: 200,
			header: http.Header{"Sec-Websocket-Protocol": {"chat.v1"}}, body: "<nil>"},
		{name: "subprotocol in multiValueHeaders, lower case", payload: `{"statusCode":200,"multiValueHeaders":{"sec-websocket-protocol":["chat.v2"]}}`, status: 200,
			header: http.Header{"Sec-Websocket-Protocol": {"chat.v2"}}, body: "<nil>"},
		{name: "multiValueHeaders win over headers", payload: `{"headers":{"X-A":"1","x-b":"2"},"multiValueHeaders":{"x-a":["3","4"]}}`, status: 200,
			header: http.Header{"X-A": {"3", "4"}, "X-B": {"2"}}, body: "<nil>"},
		{name: "scalar header values", payload: `{"headers":{"X-N":12,"X-B":true,"X-Null":null},"multiValueHeaders":{"X-M":[1,"a",null],"X-S":"one"}}`, status: 200,
			header: http.Header{"X-N": {"12"}, "X-B": {"true"}, "X-M": {"1", "a"}, "X-S": {"one"}}, body: "<nil>"},
		{name: "unknown members ignored", payload: `{"statusCode":200,"cookies":["a=b"],"body":"x"}`, status: 200, body: "x"},
		{name: "whitespace around", payload: " \n{\"statusCode\":200}\n", status: 200, body: "<nil>"},
		{name: "empty body string", payload: `{"statusCode":200,"body":""}`, status: 200, body: ""},

		// Choices for what AWS leaves undocumented.
		{name: "null: handler returned nothing", payload: `null`, status: 200, body: "<nil>"},
		{name: "bare string is the body", payload: `"hello \"you\""`, status: 200, body: `hello "you"`},
		{name: "bare number is the body", payload: `42`, status: 200, body: "42"},
		{name: "bare boolean is the body", payload: `true`, status: 200, body: "true"},
		{name: "array is the body", payload: `[1, {"a":2}]`, status: 200, body: `[1, {"a":2}]`},
		{name: "plain object is the body", payload: `{"action":"reply", "data": [1]}`, status: 200, body: `{"action":"reply", "data": [1]}`},
		{name: "empty object", payload: `{}`, status: 200, body: "<nil>"},
		{name: "missing statusCode", payload: `{"body":"x"}`, status: 200, body: "x"},
		{name: "null statusCode", payload: `{"statusCode":null,"body":"x"}`, status: 200, body: "x"},
		{name: "string statusCode", payload: `{"statusCode":"403"}`, status: 403, body: "<nil>"},
		{name: "integral float statusCode", payload: `{"statusCode":2.0e2}`, status: 200, body: "<nil>"},
		{name: "object body is its JSON text", payload: `{"statusCode":200,"body":{"a": [1, 2]}}`, status: 200, body: `{"a": [1, 2]}`},
		{name: "number body", payload: `{"statusCode":200,"body":3.5}`, status: 200, body: "3.5"},
		{name: "null body", payload: `{"statusCode":200,"body":null}`, status: 200, body: "<nil>"},
		{name: "base64 body", payload: `{"statusCode":200,"body":"aGk8Pg==","isBase64Encoded":true}`, status: 200, body: "hi<>"},
		{name: "base64 flag false", payload: `{"statusCode":200,"body":"aGk=","isBase64Encoded":false}`, status: 200, body: "aGk="},
		{name: "base64 without body", payload: `{"statusCode":200,"isBase64Encoded":true}`, status: 200, body: "<nil>"},

		// Malformed results: the integration failed.
		{name: "not JSON", payload: `{"statusCode":200`, wantErr: true},
		{name: "plain text", payload: `hello`, wantErr: true},
		{name: "empty payload", payload: ``, wantErr: true},
		{name: "statusCode too small", payload: `{"statusCode":99}`, wantErr: true},
		{name: "statusCode too large", payload: `{"statusCode":600}`, wantErr: true},
		{name: "negative statusCode", payload: `{"statusCode":-200}`, wantErr: true},
		{name: "fractional statusCode", payload: `{"statusCode":200.5}`, wantErr: true},
		{name: "huge statusCode", payload: `{"statusCode":1e400}`, wantErr: true},
		{name: "boolean statusCode", payload: `{"statusCode":true}`, wantErr: true},
		{name: "non-numeric string statusCode", payload: `{"statusCode":"OK"}`, wantErr: true},
		{name: "headers not an object", payload: `{"statusCode":200,"headers":["a"]}`, wantErr: true},
		{name: "header value an object", payload: `{"statusCode":200,"headers":{"a":{}}}`, wantErr: true},
		{name: "multiValueHeaders not an object", payload: `{"statusCode":200,"multiValueHeaders":"a"}`, wantErr: true},
		{name: "multi header value an array of arrays", payload: `{"statusCode":200,"multiValueHeaders":{"a":[[1]]}}`, wantErr: true},
		{name: "isBase64Encoded not a boolean", payload: `{"statusCode":200,"isBase64Encoded":"true"}`, wantErr: true},
		{name: "invalid base64", payload: `{"statusCode":200,"body":"%%%","isBase64Encoded":true}`, wantErr: true},
		{name: "base64 object body", payload: `{"statusCode":200,"body":{},"isBase64Encoded":true}`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := ParseResponse([]byte(tc.payload))
			if tc.wantErr {
				if !errors.Is(err, ErrMalformedResponse) {
					t.Fatalf("ParseResponse(%s) = %+v, %v; want ErrMalformedResponse", tc.payload, resp, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseResponse(%s): %v", tc.payload, err)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tc.status)
			}
			if len(resp.Header) != 0 || len(tc.header) != 0 {
				if !reflect.DeepEqual(resp.Header, tc.header) {
					t.Errorf("header = %v, want %v", resp.Header, tc.header)
				}
			}
			body := "<nil>"
			if resp.Body != nil {
				body = string(resp.Body)
			}
			if body != tc.body {
				t.Errorf("body = %q, want %q", body, tc.body)
			}
		})
	}
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{
		`{"statusCode":200,"headers":{"a":"b"},"multiValueHeaders":{"a":["c"]},"body":"x","isBase64Encoded":false}`,
		`{"statusCode":"200","body":"aGk=","isBase64Encoded":true}`,
		`{"body":{"a":1}}`, `null`, `"s"`, `[1]`, `{}`, `{"x":1}`, `1e999`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		resp, err := ParseResponse(payload)
		if err != nil {
			if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("error %v is not ErrMalformedResponse", err)
			}
			return
		}
		if resp.StatusCode < 100 || resp.StatusCode > 599 {
			t.Fatalf("status %d out of range", resp.StatusCode)
		}
	})
}

// parseGeneral is ParseResponse without the scanFlat fast path: encoding/json reads every object.
func parseGeneral(payload []byte) (*Response, error) {
	p := bytes.TrimSpace(payload)
	if len(p) == 0 || p[0] != '{' || !json.Valid(p) {
		return ParseResponse(payload)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(p, &obj); err != nil {
		return nil, err
	}
	m := members{n: len(obj), proxy: hasProxyKey(obj), status: obj["statusCode"], headers: obj["headers"],
		multi: obj["multiValueHeaders"], body: obj["body"], b64: obj["isBase64Encoded"]}
	return m.response(p)
}

// FuzzScanFlat checks that what the fast path accepts is valid JSON and reads as encoding/json reads it.
func FuzzScanFlat(f *testing.F) {
	for _, s := range []string{
		`{"statusCode":200,"headers":null,"multiValueHeaders":null,"body":"{\"action\":\"echo\",\"data\":\"0123\"}"}`,
		`{"statusCode":200,"body":"x"}`, `{"statusCode":"201","body":"aGk=","isBase64Encoded":true}`,
		`{"statusCode":2e2,"body":-0.5E+3,"x":false}`, `{"a":1,"b":"\u00e9\ud83d\ude00\/"}`, `{"body":"\xff\xfe"}`,
		`{"body":"a","body":"b"}`, `{"statusCode":01}`, `{"body":"\u12"}`, `{"headers":"x"}`, `{ "body" : "" } `,
		`{"statusCode":200,}`, `{"x":1}x`, `{"isBase64Encoded":1,"body":"x"}`, `{"statusCode":99}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
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
		got, gotErr := ParseResponse(payload)
		want, wantErr := parseGeneral(payload)
		if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Fatalf("%q: error %v, encoding/json path %v", p, gotErr, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: got %+v, encoding/json path %+v", p, got, want)
		}
	})
}

func BenchmarkParseResponse(b *testing.B) {
	payload := []byte(`{"statusCode":200,"headers":null,"multiValueHeaders":null,"body":"{\"action\":\"lambda\",\"data\":\"0123456789012345678901234567890123456789012345678901234567890123\"}"}`)
	b.Run("fast path", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ParseResponse(payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseGeneral(payload); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzJSONString checks the hand-written string decoder against encoding/json on valid JSON strings, and
// scanScalar's string tokens against json.Valid.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{`""`, `"abc"`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\ud83d\ude00"`, `"\ud800"`, "\"\xff\\n\"", `"é😀\n"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if end, ok := scanScalar(raw, 0); !ok || end != len(raw) || raw[0] != '"' {
			return // jsonString reads one string token, as scanScalar finds them
		}
		if !json.Valid(raw) {
			t.Fatalf("scanScalar accepted %q, which is not JSON", raw)
		}
		got, err := jsonString(raw)
		var want string
		if werr := json.Unmarshal(raw, &want); (err == nil) != (werr == nil) || err == nil && string(got) != want {
			t.Fatalf("%q: got %q (%v), encoding/json %q (%v)", raw, got, err, want, werr)
		}
	})
}
