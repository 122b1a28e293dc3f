package vtl

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzTemplate parses and renders arbitrary templates against arbitrary bodies: nothing may panic, and
// every render ends within its limits.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		`#set($x = $input.path('$.a'))#foreach($i in $x)$i#if($foreach.hasNext),#end#end`,
		`{"a": "$util.escapeJavaScript($input.body)", "b": $input.json('$..c')}`,
		`#if($a == 1 && !$b || $c >= 2.5)x#elseif($d)y#{else}z#end`,
		`#set($m = {"k": [1..3]})$m.k.get(0) $m.put("j", "v") ${m}`,
		`## c\n#* b *##[[raw]]#\$esc $!{q}`,
		`#foreach($i in [1..9])#set($s = "$s$s")#end`,
		`$input.path("$.b[?(@.p < 10)].t") $input.params('x') $context.authorizer.k`,
	} {
		f.Add(s, `{"a":[1,"x",{"c":2}],"b":[{"p":1,"t":"u"}]}`)
	}
	lim := Limits{MaxOutput: 1 << 14, MaxWork: 1 << 16, MaxIterations: 100}
	f.Fuzz(func(t *testing.T, src, body string) {
		tp, err := Parse(src)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) && len(src) <= MaxTemplateSize {
				t.Fatalf("Parse error without a position: %v", err)
			}
			return
		}
		out, err := tp.RenderLimits(&Vars{Body: body, Context: ContextMap(map[string]string{"authorizer.k": "v"})}, lim)
		if err == nil && len(out) > lim.MaxOutput {
			t.Fatalf("output of %d bytes over the limit", len(out))
		}
	})
}

// FuzzJSONPath compiles arbitrary paths and applies them to a document: nothing may panic.
func FuzzJSONPath(f *testing.F) {
	for _, s := range []string{"$", "$.a", "$['a'][0]", "$..c", "$.a[*]", "$.a[0:2]", "$.a[0,1]", "$.b[?(@.p >= 1)]", "a.b", "$.a[-1]", "$[?(@)]"} {
		f.Add(s)
	}
	doc, err := ParseJSON([]byte(`{"a":[1,"x",{"c":2}],"b":[{"p":1,"t":"u"},{"p":"z"}],"c":{"c":{"c":null}}}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path string) {
		jp, err := CompileJSONPath(path)
		if err != nil {
			return
		}
		jp.eval(doc)
	})
}

// FuzzParseJSON checks the JSON scanner against encoding/json: both accept the same documents, and
// what the scanner reads writes back as equivalent JSON.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5,-3e2,"x\u00e9\ud83d\ude00",true,false,null],"b":{}}`, `[]`, `"\\\"\/\b\f\n\r\t"`, `1 2`, `{"a":}`, `-0`, `01`, `"\ud800"`, `"\ud800\u0041"`, `["\udc00\ud800\udc00",1]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseJSON(b)
		if (err == nil) != json.Valid(b) {
			t.Fatalf("ParseJSON(%q) error %v, json.Valid %v", b, err, json.Valid(b))
		}
		if err != nil {
			return
		}
		var sb strings.Builder
		toJSON(&sb, v)
		var want, got any
		if json.Unmarshal(b, &want) != nil {
			return // valid JSON that encoding/json cannot hold (a number beyond float64)
		}
		if json.Unmarshal([]byte(sb.String()), &got) != nil {
			t.Fatalf("round trip of %q gave %q", b, sb.String())
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("round trip of %q: %#v != %#v", b, got, want)
		}
	})
}
