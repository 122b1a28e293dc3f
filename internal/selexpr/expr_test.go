package selexpr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/racebuild"
)

// awsMessage is the message of the AWS documentation's route selection examples.
const awsMessage = `{"service":"chat","action":"join","data":{"room":"room1234"}}`

func TestSelectRouteKey(t *testing.T) {
	tests := []struct {
		name   string
		expr   string
		body   string
		want   string
		wantOK bool
	}{
		// The AWS documentation table.
		{"aws bare", "$request.body.action", awsMessage, "join", true},
		{"aws braced", "${request.body.action}", awsMessage, "join", true},
		{"aws two vars", "${request.body.service}/${request.body.action}", awsMessage, "chat/join", true},
		{"aws invalid path", "${request.body.action}-${request.body.invalidPath}", awsMessage, "join-", true},
		{"aws static", "action", awsMessage, "action", true},
		{"aws escaped dollar", `\$default`, awsMessage, "$default", true},
		{"aws nested", "$request.body.data.room", awsMessage, "room1234", true},

		// Scalars.
		{"integer", "$request.body.n", `{"n":1}`, "1", true},
		{"decimal as written", "$request.body.n", `{"n":1.50}`, "1.50", true},
		{"exponent as written", "$request.body.n", `{"n":-2E+3}`, "-2E+3", true},
		{"true", "$request.body.b", `{"b":true}`, "true", true},
		{"false", "$request.body.b", `{"b":false}`, "false", true},
		{"null", "$request.body.x", `{"x":null}`, "", true},
		{"escaped string", "$request.body.s", `{"s":"a\"b\\c\u00e9\n"}`, "a\"b\\c\u00e9\n", true},
		{"empty string", "$request.body.s", `{"s":""}`, "", true},
		{"dollar in value not re-evaluated", "$request.body.s", `{"s":"$request.body.s"}`, "$request.body.s", true},

		// Containers.
		{"array", "$request.body.a", `{"a":["a","b"]}`, "[a, b]", true},
		{"empty array", "$request.body.a", `{"a":[]}`, "[]", true},
		{"array of mixed", "$request.body.a", `{"a":[1, true, null, "x", [2], {"k":"v"}]}`, "[1, true, , x, [2], {k=v}]", true},
		{"object in message order", "$request.body.o", `{"o":{"z":1,"a":{"y":"2","b":[3]}}}`, "{z=1, a={y=2, b=[3]}}", true},
		{"empty object", "$request.body.o", `{"o":{}}`, "{}", true},
		{"object duplicate keeps first position last value", "$request.body.o", `{"o":{"a":1,"b":2,"a":3}}`, "{a=3, b=2}", true},
		{"whole body", "$request.body", awsMessage, "{service=chat, action=join, data={room=room1234}}", true},

		// Paths.
		{"bracket single quotes", "$request.body['some key']", `{"some key":"v"}`, "v", true},
		{"bracket double quotes", `$request.body["k"]`, `{"k":"v"}`, "v", true},
		{"bracket escaped quote", `$request.body['it\'s']`, `{"it's":"v"}`, "v", true},
		{"bracket with dot and brace", "${request.body['a.b}']}", `{"a.b}":"v"}`, "v", true},
		{"index", "$request.body.items[0].name", `{"items":[{"name":"first"},{"name":"second"}]}`, "first", true},
		{"second index", "$request.body.items[1].name", `{"items":[{"name":"first"},{"name":"second"}]}`, "second", true},
		{"index out of range", "$request.body.items[2]", `{"items":[1,2]}`, "", true},
		{"index into object", "$request.body.o[0]", `{"o":{"0":"x"}}`, "", true},
		{"name into array", "$request.body.a.0", `{"a":["x"]}`, "", true},
		{"nested indexes", "$request.body.m[1][0]", `{"m":[[1],[2,3]]}`, "2", true},
		{"path through scalar", "$request.body.action.x", awsMessage, "", true},
		{"duplicate key last wins", "$request.body.a", `{"a":"first","a":"last"}`, "last", true},
		{"escaped key", "$request.body.action", `{"\u0061ction":"join"}`, "join", true},
		{"hyphen and underscore names", "$request.body.x-y_z", `{"x-y_z":"v"}`, "v", true},
		{"trailing dot is static", "$request.body.action.", awsMessage, "join.", true},
		{"brace needed for suffix", "${request.body.action}-beta", awsMessage, "join-beta", true},
		{"bare swallows hyphen", "$request.body.action-beta", awsMessage, "", true},

		// Bodies.
		{"not json", "$request.body.action", `hello`, "", false},
		{"empty body", "$request.body.action", ``, "", false},
		{"trailing garbage", "$request.body.action", `{"action":"join"} x`, "", false},
		{"not json but body unused", "static", `hello`, "static", true},
		{"not json with mixed expr", "x-${request.body.action}", `{`, "", false},
		{"top-level array path", "$request.body[0]", `["a","b"]`, "", true},
		{"top-level array whole", "$request.body", `["a","b"]`, "[a, b]", true},
		{"top-level string path", "$request.body.action", `"join"`, "", true},
		{"top-level string whole", "$request.body", `"join"`, "join", true},
		{"top-level number whole", "$request.body", ` 42 `, "42", true},
		{"top-level null whole", "$request.body", `null`, "", true},
		{"whitespace in body", "$request.body.action", " {\n\t\"action\" :  \"join\" ,\"x\":[ 1 , 2 ] }\r\n", "join", true},
		{"whitespace in expression", " $request.body.action ", awsMessage, " join ", true},
		{"unicode value", "$request.body.greeting", `{"greeting":"héllo 世界 🎉"}`, "héllo 世界 🎉", true},
		{"unicode key", "$request.body['clé']", `{"clé":"v"}`, "v", true},
		{"unicode static", "→${request.body.action}←", awsMessage, "→join←", true},
		{"invalid utf8 replaced", "$request.body.s", "{\"s\":\"a\xffb\"}", "a\uFFFDb", true},

		// Escapes.
		{"backslash kept", `/2\d\d/`, awsMessage, `/2\d\d/`, true},
		{"trailing backslash kept", `a\`, awsMessage, `a\`, true},
		{"double backslash then escaped dollar", `\\$default`, awsMessage, `\$default`, true},
		{"escaped dollar before variable", `\$${request.body.action}`, awsMessage, "$join", true},

		// Other sources have no value in SelectRouteKey.
		{"header unresolved", "$request.header.x-route", awsMessage, "", true},
		{"context unresolved", "$context.routeKey", `not json`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.expr)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.expr, err)
			}
			got, ok := SelectRouteKey(e, []byte(tt.body))
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("SelectRouteKey(%q, %q) = %q, %v; want %q, %v", tt.expr, tt.body, got, ok, tt.want, tt.wantOK)
			}
			// The scanner must agree with decoding the whole document.
			if ok && e.UsesBody() {
				if ref := refEval(t, e, []byte(tt.body)); sortedEval(e, []byte(tt.body)) != ref {
					t.Errorf("scanner and decoder disagree: %q vs %q", sortedEval(e, []byte(tt.body)), ref)
				}
			}
		})
	}
}

// refEval evaluates e the slow way: decode the whole body with UseNumber, then Lookup and Stringify.
func refEval(t testing.TB, e *Expr, body []byte) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	var b strings.Builder
	for _, p := range e.parts {
		if p.v < 0 {
			b.WriteString(p.lit)
			continue
		}
		v := &e.vars[p.v]
		if v.Source != SourceRequestBody {
			continue
		}
		if _, isObj := doc.(map[string]any); len(v.Path) > 0 && !isObj {
			continue
		}
		if x, ok := Lookup(doc, v.Path); ok {
			b.WriteString(Stringify(x))
		}
	}
	return b.String()
}

// sortedEval is the scanner-based evaluation with object members sorted, comparable with refEval.
func sortedEval(e *Expr, body []byte) string {
	var b strings.Builder
	for _, p := range e.parts {
		if p.v < 0 {
			b.WriteString(p.lit)
			continue
		}
		v := &e.vars[p.v]
		if v.Source != SourceRequestBody {
			continue
		}
		i := skipWS(body, 0)
		if len(v.Path) > 0 && (i >= len(body) || body[i] != '{') {
			continue
		}
		if raw, ok := locate(body, v.Path); ok {
			b.WriteString(stringifyRaw(raw, true))
		}
	}
	return b.String()
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		expr string
		want string
		off  int
	}{
		{"empty", "", "selexpr: empty expression at offset 0", 0},
		{"unknown root", "$foo.bar", `selexpr: unknown variable "$foo.bar" at offset 0`, 0},
		{"unknown root braced", "x${foo}", `selexpr: unknown variable "${foo}" at offset 1`, 1},
		{"unknown request source", "$request.bodyx", `selexpr: unknown variable "$request.bodyx" at offset 0`, 0},
		{"bare default", "$default", `selexpr: unknown variable "$default" at offset 0`, 0},
		{"basepath with suffix", "$request.basepath.x", `selexpr: unknown variable "$request.basepath.x" at offset 0`, 0},
		{"statuscode with suffix", "$integration.response.statuscode.x", `selexpr: unknown variable "$integration.response.statuscode.x" at offset 0`, 0},
		{"integration without response", "$integration.request.body", `selexpr: unknown variable "$integration.request.body" at offset 0`, 0},
		{"trailing dollar", "abc$", `selexpr: "$" not followed by a variable name (write \$ for a literal dollar sign) at offset 3`, 3},
		{"dollar space", "$ x", `selexpr: "$" not followed by a variable name (write \$ for a literal dollar sign) at offset 0`, 0},
		{"dollar dot", "$.a", `selexpr: "$" not followed by a variable name (write \$ for a literal dollar sign) at offset 0`, 0},
		{"unterminated brace", "${request.body.action", `selexpr: unterminated "${" at offset 0`, 0},
		{"unterminated brace empty", "a${", `selexpr: unterminated "${" at offset 1`, 1},
		{"empty braces", "${}", `selexpr: empty variable "${}" at offset 0`, 0},
		{"space in braces", "${request.body.a b}", `selexpr: unexpected ' ' in "${...}" at offset 16`, 16},
		{"leading space in braces", "${ request.body}", `selexpr: unexpected ' ' in "${...}" at offset 2`, 2},
		{"braced trailing dot", "${request.body.}", `selexpr: expected a name after "." at offset 15`, 15},
		{"header without name", "$request.header", `selexpr: variable "$request.header" needs a name after "request.header." at offset 0`, 0},
		{"context without name", "${context}", `selexpr: variable "${context}" needs a name after "context." at offset 0`, 0},
		{"header with bracket", "$request.header.x[0]", `selexpr: brackets are only allowed in request.body and integration.response.body paths at offset 17`, 17},
		{"unterminated bracket", "$request.body.a[", `selexpr: unterminated "[" at offset 15`, 15},
		{"unterminated index", "$request.body.a[12", `selexpr: unterminated "[" at offset 15`, 15},
		{"bad index", "$request.body.a[1x]", `selexpr: expected "]" after array index at offset 17`, 17},
		{"negative index", "$request.body.a[-1]", `selexpr: negative array index at offset 16`, 16},
		{"huge index", "$request.body.a[99999999999999999999]", `selexpr: array index 99999999999999999999 out of range at offset 16`, 16},
		{"empty bracket", "$request.body[]", `selexpr: malformed "[": expected an array index or a quoted name at offset 13`, 13},
		{"unquoted bracket name", "$request.body[a]", `selexpr: malformed "[": expected an array index or a quoted name at offset 13`, 13},
		{"unterminated quote", "$request.body['a", `selexpr: unterminated quoted name in "[" at offset 13`, 13},
		{"quote without bracket close", "$request.body['a'x", `selexpr: expected "]" after quoted name at offset 17`, 17},
		{"second variable bad", "${request.body.a}/$nope", `selexpr: unknown variable "$nope" at offset 18`, 18},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.expr)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want error", tt.expr, e.parts)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse(%q) error\n got %s\nwant %s", tt.expr, err, tt.want)
			}
			var se *SyntaxError
			if !errors.As(err, &se) || se.Offset != tt.off {
				t.Errorf("Parse(%q) error %#v, want *SyntaxError at offset %d", tt.expr, err, tt.off)
			}
		})
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParse of an invalid expression did not panic")
		}
	}()
	MustParse("$nope")
}

func TestVars(t *testing.T) {
	tests := []struct {
		name   string
		expr   string
		want   []Var
		static bool
		body   bool
	}{
		{"static", "action", nil, true, false},
		{"escaped dollar is static", `\$default`, nil, true, false},
		{"body path", "$request.body.items[0]['a b'].c", []Var{{
			Source: SourceRequestBody,
			Path:   []Step{{Name: "items"}, {Index: 0, IsIndex: true}, {Name: "a b"}, {Name: "c"}},
			Text:   "$request.body.items[0]['a b'].c",
		}}, false, true},
		{"whole body", "${request.body}", []Var{{Source: SourceRequestBody, Text: "${request.body}"}}, false, true},
		{"all named sources", "$request.header.x-api-key$request.querystring.q ${context.authorizer.usageIdentifierKey}$stageVariables.env",
			[]Var{
				{Source: SourceRequestHeader, Name: "x-api-key", Text: "$request.header.x-api-key"},
				{Source: SourceRequestQuery, Name: "q", Text: "$request.querystring.q", Offset: 25},
				{Source: SourceContext, Name: "authorizer.usageIdentifierKey", Text: "${context.authorizer.usageIdentifierKey}", Offset: 48},
				{Source: SourceStageVariables, Name: "env", Text: "$stageVariables.env", Offset: 88},
			}, false, false},
		{"basepath", "$request.basepath/x", []Var{{Source: SourceRequestBasePath, Text: "$request.basepath"}}, false, false},
		{"integration sources", "$integration.response.statuscode ${integration.response.header.Content-Type} $integration.response.multivalueheader.Set-Cookie $integration.response.body.a[1]",
			[]Var{
				{Source: SourceStatusCode, Text: "$integration.response.statuscode"},
				{Source: SourceResponseHeader, Name: "Content-Type", Text: "${integration.response.header.Content-Type}", Offset: 33},
				{Source: SourceResponseMultiHeader, Name: "Set-Cookie", Text: "$integration.response.multivalueheader.Set-Cookie", Offset: 77},
				{Source: SourceResponseBody, Path: []Step{{Name: "a"}, {Index: 1, IsIndex: true}}, Text: "$integration.response.body.a[1]", Offset: 127},
			}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := MustParse(tt.expr)
			if got := e.Vars(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Vars() = %+v\nwant %+v", got, tt.want)
			}
			if e.IsStatic() != tt.static || e.UsesBody() != tt.body {
				t.Errorf("IsStatic, UsesBody = %v, %v; want %v, %v", e.IsStatic(), e.UsesBody(), tt.static, tt.body)
			}
			if e.String() != tt.expr {
				t.Errorf("String() = %q, want %q", e.String(), tt.expr)
			}
		})
	}
}

func TestVarsIsACopy(t *testing.T) {
	e := MustParse("$request.body.a")
	e.Vars()[0].Source = "changed"
	if e.Vars()[0].Source != SourceRequestBody {
		t.Error("changing Vars() changed the Expr")
	}
}

// fallbackEnv resolves every variable to its source name, to test MessageEnv.Fallback.
type fallbackEnv struct{}

func (fallbackEnv) Value(v *Var) string { return "<" + v.Source + ">" }

func TestMessageEnv(t *testing.T) {
	full := &MessageEnv{
		Body:           []byte(awsMessage),
		Header:         func(n string) string { return "h:" + n },
		QueryString:    func(n string) string { return "q:" + n },
		BasePath:       "/v1",
		Context:        func(n string) string { return "c:" + n },
		StageVariables: map[string]string{"env": "prod"},
		Fallback:       fallbackEnv{},
	}
	tests := []struct {
		name string
		env  Env
		expr string
		want string
	}{
		{"header", full, "$request.header.X-Api-Key", "h:X-Api-Key"},
		{"querystring", full, "$request.querystring.token", "q:token"},
		{"basepath", full, "$request.basepath", "/v1"},
		{"context dotted", full, "$context.authorizer.usageIdentifierKey", "c:authorizer.usageIdentifierKey"},
		{"stage variable", full, "${stageVariables.env}-x", "prod-x"},
		{"missing stage variable", full, "[$stageVariables.nope]", "[]"},
		{"body", full, "${request.body.service}/${request.body.action}", "chat/join"},
		{"fallback", full, "$integration.response.statuscode", "<integration.response.statuscode>"},
		{"empty env", &MessageEnv{}, "$request.header.a|$request.querystring.b|$context.c|$stageVariables.d|$integration.response.statuscode|$request.body", "|||||"},
		{"nil env", nil, "a${request.body}b", "ab"},
		{"nil env single var", nil, "$request.body", ""},
		{"static", nil, `\$default`, "$default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MustParse(tt.expr).Eval(tt.env); got != tt.want {
				t.Errorf("Eval(%q) = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
}

func TestBodyIsJSON(t *testing.T) {
	tests := []struct {
		name string
		body string
		want bool
	}{
		{"object", awsMessage, true},
		{"scalar", "1", true},
		{"empty", "", false},
		{"text", "join", false},
		{"two values", "{} {}", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &MessageEnv{Body: []byte(tt.body)}
			if m.BodyIsJSON() != tt.want || m.BodyIsJSON() != tt.want {
				t.Errorf("BodyIsJSON(%q) = %v, want %v", tt.body, !tt.want, tt.want)
			}
		})
	}
}

func TestJSONValue(t *testing.T) {
	tests := []struct {
		name   string
		doc    string
		path   []Step
		want   string
		wantOK bool
	}{
		{"member", `{"a":{"b":[true]}}`, []Step{{Name: "a"}, {Name: "b"}, {IsIndex: true}}, "true", true},
		{"missing", `{"a":1}`, []Step{{Name: "b"}}, "", true},
		{"whole", `{"a":1}`, nil, "{a=1}", true},
		{"invalid", `{"a":`, nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := JSONValue([]byte(tt.doc), tt.path)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("JSONValue = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestStringifyAndLookup(t *testing.T) {
	doc := map[string]any{
		"s": "x", "n": json.Number("1.50"), "f": 2.5, "i": float64(3), "big": 1e21, "t": true, "nil": nil,
		"a": []any{"a", json.Number("1"), nil, map[string]any{"b": "2", "a": "1"}},
	}
	tests := []struct {
		name   string
		path   []Step
		want   string
		wantOK bool
	}{
		{"string", []Step{{Name: "s"}}, "x", true},
		{"number text", []Step{{Name: "n"}}, "1.50", true},
		{"float64", []Step{{Name: "f"}}, "2.5", true},
		{"integral float64", []Step{{Name: "i"}}, "3", true},
		{"large float64", []Step{{Name: "big"}}, "1e+21", true},
		{"bool", []Step{{Name: "t"}}, "true", true},
		{"null", []Step{{Name: "nil"}}, "", true},
		{"array with sorted object", []Step{{Name: "a"}}, "[a, 1, , {a=1, b=2}]", true},
		{"index", []Step{{Name: "a"}, {Index: 3, IsIndex: true}, {Name: "b"}}, "2", true},
		{"missing", []Step{{Name: "zz"}}, "", false},
		{"index on object", []Step{{IsIndex: true}}, "", false},
		{"negative index", []Step{{Name: "a"}, {Index: -1, IsIndex: true}}, "", false},
		{"through scalar", []Step{{Name: "s"}, {Name: "x"}}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, ok := Lookup(doc, tt.path)
			if got := Stringify(v); got != tt.want || ok != tt.wantOK {
				t.Errorf("Stringify(Lookup) = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
	if got := Stringify(7); got != "7" {
		t.Errorf("Stringify(7) = %q, want 7", got)
	}
}

func TestKeyPattern(t *testing.T) {
	tests := []struct {
		name      string
		key       string
		value     string
		match     bool
		isDefault bool
		wantErr   string
	}{
		{"2xx", `/2\d\d/`, "200", true, false, ""},
		{"2xx anchored start", `/2\d\d/`, "1200", false, false, ""},
		{"2xx anchored end", `/2\d\d/`, "2001", false, false, ""},
		{"alternation anchored as a whole", `/200|404/`, "4040", false, false, ""},
		{"alternation", `/200|404/`, "404", true, false, ""},
		{"empty regex matches empty only", `//`, "", true, false, ""},
		{"default", "$default", "200", false, true, ""},
		{"plain status", "200", "", false, false, `selexpr: integration response key "200" is neither "$default" nor a /regex/ at offset 0`},
		{"single slash", "/", "", false, false, `selexpr: integration response key "/" is neither "$default" nor a /regex/ at offset 0`},
		{"bad regex", "/(/", "", false, false, "selexpr: invalid regex in integration response key \"/(/\": error parsing regexp: missing closing ): `^(?:()$` at offset 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseKeyPattern(tt.key)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseKeyPattern(%q) error = %v, want %s", tt.key, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKeyPattern(%q): %v", tt.key, err)
			}
			if p.Match(tt.value) != tt.match || p.IsDefault() != tt.isDefault || p.String() != tt.key {
				t.Errorf("%q: Match(%q), IsDefault, String = %v, %v, %q; want %v, %v, %q",
					tt.key, tt.value, p.Match(tt.value), p.IsDefault(), p.String(), tt.match, tt.isDefault, tt.key)
			}
		})
	}
	var nilp *KeyPattern
	if nilp.Match("") || nilp.IsDefault() || nilp.String() != "" {
		t.Error("nil *KeyPattern is not inert")
	}
}

func TestSelectRouteKeyAllocs(t *testing.T) {
	e := MustParse("$request.body.action")
	body := []byte(`{"service":"chat","action":"join","data":{"room":"room1234"},"padding":"xxxxxxxxxxxxxxxxxxxxx"}`)
	allocs := testing.AllocsPerRun(100, func() {
		if k, ok := SelectRouteKey(e, body); k != "join" || !ok {
			t.Fatalf("got %q, %v", k, ok)
		}
	})
	limit := 1.0 // the key
	if racebuild.Enabled {
		limit = 2 // plus json.Valid's pooled scanner, which -race's sync.Pool sometimes drops
	}
	if allocs > limit {
		t.Errorf("SelectRouteKey allocates %v times per message, want at most %v", allocs, limit)
	}
}

func BenchmarkSelectRouteKey(b *testing.B) {
	e := MustParse("$request.body.action")
	body := []byte(`{"service":"chat","action":"join","data":{"room":"room1234","members":[1,2,3]},"ts":1700000000}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		SelectRouteKey(e, body)
	}
}

func BenchmarkSelectRouteKeyTwoVars(b *testing.B) {
	e := MustParse("${request.body.service}/${request.body.action}")
	body := []byte(awsMessage)
	b.ReportAllocs()
	for b.Loop() {
		SelectRouteKey(e, body)
	}
}

func ExampleSelectRouteKey() {
	e := MustParse("${request.body.service}/${request.body.action}")
	key, ok := SelectRouteKey(e, []byte(`{"service":"chat","action":"join"}`))
	fmt.Println(key, ok)
	_, ok = SelectRouteKey(e, []byte("not json"))
	fmt.Println(ok)
	// Output:
	// chat/join true
	// false
}
