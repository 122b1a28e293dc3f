package selexpr

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// exprSeeds are expressions every fuzzer starts from: the AWS examples and the parser's edge cases.
var exprSeeds = []string{
	"$request.body.action", "${request.body.action}", "${request.body.service}/${request.body.action}",
	"${request.body.action}-${request.body.invalidPath}", "action", `\$default`, "$request.body.data.room",
	"$request.body", "$request.body.items[0].name", "$request.body['some key']", `$request.body["k"]`,
	`${request.body['a.b}']}`, "$request.header.x-api-key", "$context.authorizer.usageIdentifierKey",
	"${stageVariables.env}-x", "$integration.response.statuscode", "/2\\d\\d/", "abc$", "${", "${}",
	"$request.body.a[", "$request.body.a[-1]", "$foo.bar", "$request.body.action.", `a\`, `\\$x`,
	"$request.body.a[99999999999999999999]", "$request.body['it\\'s']", "$request.body.m[1][0]",
}

// bodySeeds are message bodies every fuzzer starts from.
var bodySeeds = []string{
	awsMessage, `{"a":["a","b"],"o":{"z":1,"a":null}}`, `{"a":1,"a":2}`, `["a"]`, `"s"`, `1.50`, `null`,
	"", "not json", `{"\u0061ction":"x"}`, "{\"s\":\"a\xffb\"}", ` { "items" : [ {"name":"n"} ] } `,
	`{"a":"\ud800"}`, `{"o":{"b":1,"a":{"d":[],"c":{}},"b":true}}`,
}

func FuzzParse(f *testing.F) {
	for _, s := range exprSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || !strings.HasPrefix(err.Error(), "selexpr: ") || se.Offset < 0 || se.Offset > len(src) {
				t.Fatalf("Parse(%q): bad error %#v", src, err)
			}
			return
		}
		if e.String() != src {
			t.Fatalf("String() = %q, want %q", e.String(), src)
		}
		for _, v := range e.Vars() {
			if v.Offset < 0 || v.Offset+len(v.Text) > len(src) || src[v.Offset:v.Offset+len(v.Text)] != v.Text {
				t.Fatalf("Parse(%q): Var %+v does not point at its text", src, v)
			}
		}
		env := &MessageEnv{
			Body:           []byte(awsMessage),
			Header:         func(n string) string { return n },
			QueryString:    func(n string) string { return n },
			Context:        func(n string) string { return n },
			StageVariables: map[string]string{"env": "prod"},
		}
		e.Eval(env)
		e.Eval(nil)
		if e.IsStatic() && e.Eval(nil) != e.Eval(env) {
			t.Fatalf("static expression %q depends on its environment", src)
		}
	})
}

func FuzzSelectRouteKey(f *testing.F) {
	for i, s := range exprSeeds {
		f.Add(s, []byte(bodySeeds[i%len(bodySeeds)]))
	}
	for _, b := range bodySeeds {
		f.Add("$request.body", []byte(b))
	}
	f.Fuzz(func(t *testing.T, src string, body []byte) {
		e, err := Parse(src)
		if err != nil {
			return
		}
		key, ok := SelectRouteKey(e, body)
		key2, ok2 := SelectRouteKey(e, body)
		if key != key2 || ok != ok2 {
			t.Fatalf("not deterministic: %q, %v then %q, %v", key, ok, key2, ok2)
		}
		if !ok {
			if !e.UsesBody() || json.Valid(body) {
				t.Fatalf("ok=false for %q on %q", src, body)
			}
			return
		}
		if e.UsesBody() {
			if ref := refEval(t, e, body); sortedEval(e, body) != ref {
				t.Fatalf("scanner %q != decoder %q for %q on %q", sortedEval(e, body), ref, src, body)
			}
		}
	})
}

// FuzzBodyPaths checks the raw scanner against encoding/json for every path that exists in a body,
// which random expressions would rarely hit.
func FuzzBodyPaths(f *testing.F) {
	for _, b := range bodySeeds {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var doc any
		if err := dec.Decode(&doc); err != nil {
			t.Fatalf("Valid but Decode failed: %v", err)
		}
		budget := 200
		var walk func(v any, path []Step)
		walk = func(v any, path []Step) {
			if budget--; budget < 0 {
				return
			}
			raw, ok := locate(body, path)
			if !ok {
				t.Fatalf("locate(%q, %+v) found nothing", body, path)
			}
			if got, want := stringifyRaw(raw, true), Stringify(v); got != want {
				t.Fatalf("path %+v in %q: scanner %q, decoder %q", path, body, got, want)
			}
			if got := stringifyRaw(raw, false); len(got) != len(Stringify(v)) {
				t.Fatalf("path %+v in %q: ordered %q has a different length from sorted %q", path, body, got, Stringify(v))
			}
			path = path[:len(path):len(path)]
			switch x := v.(type) {
			case map[string]any:
				for k, e := range x {
					walk(e, append(path, Step{Name: k}))
				}
				if _, ok := locate(body, append(path, Step{IsIndex: true})); ok {
					t.Fatalf("index step found something in an object")
				}
			case []any:
				for i, e := range x {
					walk(e, append(path, Step{Index: i, IsIndex: true}))
				}
				if _, ok := locate(body, append(path, Step{Index: len(x), IsIndex: true})); ok {
					t.Fatalf("index past the end found something")
				}
			}
		}
		walk(doc, nil)
	})
}
