package schema

import (
	"errors"
	"strings"
	"testing"
)

// The models are those of AWS's request validation guide for WebSocket APIs
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-request-validation.html)
// and the draft 4 keywords models commonly use.
func TestValidate(t *testing.T) {
	models := map[string]string{
		"emailModel": `{"$schema": "http://json-schema.org/draft-04/schema#", "title": "emailModel", "type": "object",
			"properties": {"action": {"type": "string"}, "email": {"type": "string", "pattern": "^.+@.+$"}},
			"required": ["action", "email"]}`,
		// No $schema: draft 4 is the default, so exclusiveMaximum is a boolean.
		"limit":   `{"type": "object", "properties": {"n": {"type": "integer", "maximum": 10, "exclusiveMaximum": true}}}`,
		"withRef": `{"type": "object", "properties": {"mail": {"$ref": "https://apigateway.amazonaws.com/restapis/abc/models/emailModel"}}}`,
	}
	compiled, err := CompileAll("abc", models)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, model, body string
		ok                bool
	}{
		{"valid", "emailModel", `{"action": "subscribe", "email": "a@b.c"}`, true},
		{"missing required", "emailModel", `{"action": "subscribe"}`, false},
		{"bad pattern", "emailModel", `{"action": "subscribe", "email": "nope"}`, false},
		{"not json", "emailModel", `hello`, false},
		{"draft 4 exclusiveMaximum", "limit", `{"n": 10}`, false},
		{"draft 4 below maximum", "limit", `{"n": 9}`, true},
		{"ref to another model", "withRef", `{"mail": {"action": "x"}}`, false},
		{"ref valid", "withRef", `{"mail": {"action": "x", "email": "a@b"}}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := compiled[tc.model].Validate([]byte(tc.body))
			if tc.ok && err != nil {
				t.Fatalf("Validate = %v, want nil", err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		name   string
		models map[string]string
		want   string
	}{
		{"not json", map[string]string{"m": `{`}, "model m: schema is not JSON"},
		{"bad keyword type", map[string]string{"m": `{"type": 5}`}, "model m: invalid JSON Schema"},
		{"bad pattern", map[string]string{"m": `{"pattern": "("}`}, "model m: invalid JSON Schema"},
		{"remote ref", map[string]string{"m": `{"$ref": "http://example.com/s.json"}`}, "is not a model of this API"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CompileAll("abc", tc.models)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CompileAll = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
