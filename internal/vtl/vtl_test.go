package vtl

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func render(t *testing.T, src string, v *Vars) string {
	t.Helper()
	tp, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	out, err := tp.Render(v)
	if err != nil {
		t.Fatalf("Render(%q): %v", src, err)
	}
	return out
}

// TestRender covers the language. Sources: the mapping template reference
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html,
// "AWS ref"), the Velocity 1.7 user guide ("Velocity"), and LocalStack's AWS-validated template tests
// (tests/unit/services/apigateway/test_template_mapping.py, "LocalStack").
func TestRender(t *testing.T) {
	body := `{"action":"join","room":{"name":"lobby","size":3},"tags":["a","b","c"],"price":8.95,"n":null,"ok":true,
"books":[{"title":"Sayings","price":8.95},{"title":"Moby Dick","price":8.99},{"title":"Lord","price":22.99}]}`
	cases := []struct {
		name, tmpl, want string
	}{
		// AWS: a reference without a value renders as nothing (LocalStack patches airspeed to do so:
		// "Apigateway does not return None but returns an empty string").
		{"missing reference is empty", `a$nothing.b`, "a"},
		{"quiet reference", `[$!nothing]`, "[]"},
		{"formal reference", `${input.body}x`, `{}x`},
		{"formal quiet", `$!{nothing}x`, "x"},
		{"dollar without name is text", `costs $5 and $ alone`, "costs $5 and $ alone"},
		{"escaped dollar and hash", `\$x \#set`, "$x #set"},
		{"trailing dot is text", `$input.path('$.action').`, "join."},
		{"set and use", `#set($x = "v")$x`, "v"},
		{"set eats its line", "a\n  #set($x = 1)\nb$x", "a\nb1"},
		{"set null keeps old value", `#set($x = 1)#set($x = $nothing)$x`, "1"},
		{"double quotes interpolate", `#set($n = "w")#set($s = "hello $n")$s`, "hello w"},
		{"single quotes are literal", `#set($s = 'hello $n')$s`, "hello $n"},
		{"doubled quote", `#set($s = "say ""hi""")$s`, `say "hi"`},
		{"if else", `#if($input.path('$.ok'))yes#{else}no#end`, "yes"},
		{"elseif", `#set($a = 2)#if($a == 1)one#elseif($a == 2)two#{else}many#end`, "two"},
		{"empty string is true", `#if("")t#{else}f#end`, "t"},
		{"null is false", `#if($input.path('$.n'))t#{else}f#end`, "f"},
		{"not", `#if(!$nothing)t#end`, "t"},
		{"word operators", `#if(1 lt 2 and not false or false)t#end`, "t"},
		{"compare strings", `#if($input.path('$.action') == "join")t#end`, "t"},
		{"number vs string equality", `#if(1 == "1")t#{else}f#end`, "t"},
		{"arithmetic", `#set($x = 7 / 2)#set($y = 7.0 / 2)#set($z = 7 % 3 * 2 - -1)$x $y $z`, "3 3.5 3"},
		{"foreach with hasNext", `[#foreach($t in $input.path('$.tags'))"$t"#if($foreach.hasNext),#end#end]`, `["a","b","c"]`},
		{"velocityCount and index", `#foreach($t in ["x","y"])$velocityCount$foreach.index$foreach.count #end`, "101 212 "},
		{"foreach eats newlines", "#foreach($i in [1..3])\n$i\n#end\ndone", "1\n2\n3\ndone"},
		{"break", `#foreach($i in [1..5])#if($i == 3)#break#end$i#end`, "12"},
		{"stop", `a#stop b`, "a"},
		{"range descending", `#foreach($i in [3..1])$i#end`, "321"},
		{"line comment", "a## comment\nb", "ab"},
		{"block comment", "a#* x\ny *#b", "ab"},
		{"unparsed", `#[[$x #if]]#`, "$x #if"},
		{"unknown directive is text", `#hashtag #endless`, "#hashtag #endless"},
		{"map literal prints like Java", `#set($m = {"a": 1, "b": [1, "x"], "c": {}})$m`, "{a=1, b=[1, x], c={}}"},
		{"json object prints like Java", `$input.path('$.room')`, "{name=lobby, size=3}"},
		{"json list prints like Java", `$input.path('$.tags')`, "[a, b, c]"},
		{"null in a list", `$input.path('$.*')`, "[join, {name=lobby, size=3}, [a, b, c], 8.95, null, true, [{title=Sayings, price=8.95}, {title=Moby Dick, price=8.99}, {title=Lord, price=22.99}]]"},
		{"map put and get", `#set($m = {})#set($d = $m.put("k", "v"))$m.get("k") $m.k $m.size() $m.isEmpty() $m.empty`, "v v 1 false false"},
		{"map set property", `#set($m = {})#set($m.k = 2)#set($m["j"] = 3)$m`, "{k=2, j=3}"},
		{"map keySet values entrySet", `#set($m = {"a":1,"b":2})$m.keySet() $m.values() #foreach($e in $m.entrySet())$e.key=$e.value;#end`, "[a, b] [1, 2] a=1;b=2;"},
		{"map containsKey remove", `#set($m = {"a":1})$m.containsKey("a") $m.remove("a") $m.containsKey("a")`, "true 1 false"},
		{"list methods", `#set($l = [])#set($d = $l.add("x"))#set($d = $l.add("y"))$l.size() $l.get(1) $l[0] $l.contains("y") $l.isEmpty() $l.indexOf("y")`, "2 y x true false 1"},
		{"string methods", `#set($s = "Hello, World")$s.length() $s.substring(7) $s.substring(0, 5) $s.toLowerCase() $s.toUpperCase() $s.contains("World") $s.indexOf("o") $s.startsWith("He") $s.endsWith("d")`, "12 World Hello hello, world HELLO, WORLD true 4 true true"},
		{"string replace and split", `#set($s = "a-b--c-")$s.replace("-", "+") $s.split("-") $s.replaceAll("-+", "_") $s.replaceFirst("(\w)-", "$1=")`, "a+b++c+ [a, b, , c] a_b_c_ a=b--c-"},
		{"replaceAll quote idiom", `$util.escapeJavaScript("it's").replaceAll("\\'", "'")`, "it's"},
		{"trim isEmpty equals", `#set($s = "  x ")[$s.trim()] $s.isEmpty() $s.trim().equals("x")`, "[x] false true"},
		{"string concatenation", `#set($s = "a" + 1 + "b")$s`, "a1b"},
		{"index on json", `$input.path('$.tags')[2] $input.path('$.room').name $input.path('$.room')["size"]`, "c lobby 3"},
		{"json number types", `$input.path('$.price') $input.path('$.room.size')`, "8.95 3"},
		{"double prints like Java", `#set($d = 2.0 * 5)$d`, "10.0"},

		// $input: AWS ref.
		{"input body", `$input.body`, body},
		{"input json string", `$input.json('$.action')`, `"join"`},
		{"input json object", `$input.json('$.room')`, `{"name":"lobby","size":3}`},
		{"input json missing", `[$input.json('$.nope')]`, "[]"},
		{"input path missing", `[$input.path('$.nope')]`, "[]"},
		{"jsonpath bracket member", `$input.path("$['room']['name']")`, "lobby"},
		{"jsonpath index", `$input.path('$.books[1].title')`, "Moby Dick"},
		{"jsonpath negative index", `$input.path('$.tags[-1]')`, "c"},
		{"jsonpath wildcard", `$input.path('$.books[*].title')`, "[Sayings, Moby Dick, Lord]"},
		{"jsonpath deep scan", `$input.path('$..price')`, "[8.95, 8.95, 8.99, 22.99]"},
		{"jsonpath slice", `$input.path('$.tags[0:2]')`, "[a, b]"},
		{"jsonpath union", `$input.path('$.tags[0,2]')`, "[a, c]"},
		{"jsonpath filter", `$input.path('$.books[?(@.price < 10)].title')`, "[Sayings, Moby Dick]"},
		{"jsonpath filter string", `$input.path("$.books[?(@.title == 'Lord')].price")`, "[22.99]"},
		{"jsonpath relative", `$input.path('room.name')`, "lobby"},
		{"path result size", `$input.path('$.tags').size()`, "3"},

		// $util: AWS ref; LocalStack's test_render_template_values for urlEncode/urlDecode.
		{"escapeJavaScript quotes", `$util.escapeJavaScript('{"foo": "it''s"}')`, `{\"foo\": \"it\'s\"}`},
		{"escapeJavaScript controls", "$util.escapeJavaScript(\"a\tb\nc/\u00e9\")", `a\tb\nc\/\u00E9`},
		{"urlEncode", `$util.urlEncode("x=a+b")`, "x%3Da%2Bb"},
		{"urlDecode", `$util.urlDecode("x=a+b")`, "x=a b"},
		{"base64", `$util.base64Encode("hello") $util.base64Decode("aGVsbG8=")`, "aGVsbG8= hello"},
		{"parseJson", `#set($o = $util.parseJson('{"key1":"var1","key2":{"arr":[1,2,3]}}'))$o.key2.arr[0] $o.key1`, "1 var1"},
		{"parseJson list", `$util.parseJson("[1,2,3]")[0]`, "1"},

		// $stageVariables: AWS ref.
		{"stage variables", `$stageVariables.table ${stageVariables['table']} $stageVariables.get('table') $stageVariables $stageVariables.keySet()`, "conns conns conns {table=conns} [table]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := body
			if tc.name == "formal reference" {
				b = "{}"
			}
			got := render(t, tc.tmpl, &Vars{Body: b, StageVariables: map[string]string{"table": "conns"}})
			if got != tc.want {
				t.Errorf("render(%q)\n got: %q\nwant: %q", tc.tmpl, got, tc.want)
			}
		})
	}
}

// TestGolden renders the examples of AWS's documentation kept in testdata/ (each .vtl names its
// source) and compares them with the .out files.
func TestGolden(t *testing.T) {
	ctx := ContextMap(map[string]string{
		"stage": "prod", "requestId": "abcdefg-000-000-0000-abcdefg", "apiId": "abcd1234",
		"identity.sourceIp": "192.0.2.1", "identity.userAgent": "curl/7.84.0", "identity.accountId": "111122223333",
		"identity.apiKey": "MyTestKey", "identity.caller": "ABCD-0000-12345", "identity.user": "ABCD-0000-12345",
		"identity.userArn": "arn:aws:sts::111122223333:assumed-role/Admin/carlos-salazar",
		"connectionId":     "L0SM9cOFvHcCIhw=", "eventType": "CONNECT", "routeKey": "$connect",
		"domainName": "abc.execute-api.us-east-1.amazonaws.com", "connectedAt": "1547230720092",
		"requestTimeEpoch": "1547230720092", "authorizer.principalId": "me", "authorizer.tier": "1",
	})
	vars := &Vars{
		Body:    `{"kind":"cat","tags":["a","b"]}`,
		Context: ctx,
		Params: map[string]map[string]string{
			"querystring": {"name": `pet's "friend"`, "page": "2", "token": "t0k"},
			"header":      {"Host": "abc.execute-api.us-east-1.amazonaws.com"},
		},
		StageVariables: map[string]string{"table": "connections"},
	}
	files, _ := filepath.Glob("testdata/*.vtl")
	if len(files) == 0 {
		t.Fatal("no golden templates in testdata/")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got := render(t, string(src), vars)
			golden := strings.TrimSuffix(f, ".vtl") + ".out"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("%s\n got: %q\nwant: %q", f, got, want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, tmpl, want string
	}{
		{"unclosed if", "a\n#if($x)b", "line 2, column 9: #if is not closed by #end"},
		{"stray end", "a #end", "#end without #if or #foreach"},
		{"unclosed string", `#set($x = "abc)`, `line 1, column 11: string is not closed by "`},
		{"set without ref", `#set(x = 1)`, "#set needs a reference"},
		{"foreach without in", `#foreach($x of $y)#end`, "#foreach needs 'in'"},
		{"bad expression", `#if($x == )#end`, "unexpected"},
		{"unclosed formal", `${x`, "reference ${x is not closed"},
		{"unclosed call", `$x.y(1`, `expected`},
		{"macro unsupported", `#macro(m)#end`, "#macro is not supported"},
		{"unclosed comment", `#* abc`, "comment #* is not closed"},
		{"too big", strings.Repeat("x", MaxTemplateSize+1), "over API Gateway's limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.tmpl)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse(%.40q) = %v, want an error containing %q", tc.tmpl, err, tc.want)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	lim := Limits{MaxOutput: 1 << 16, MaxWork: 1 << 20, MaxIterations: 1000}
	cases := []struct{ name, tmpl string }{
		{"output", `#foreach($i in [1..999])#foreach($j in [1..999])xxxxxxxxxx#end#end`},
		{"string doubling", `#set($s = "ab")#foreach($i in [1..100])#set($s = "$s$s")#end`},
		{"list growth", `#set($l = [1])#foreach($i in [1..999])#foreach($x in $l)#set($d = $l.add($x))#end#end`},
		{"foreach over too many", `#foreach($i in $input.path('$'))#end`},
		{"huge range", `#foreach($i in [0..100000000])#end`},
		{"replace growth", `#set($s = "aaaaaaaaaa")#foreach($i in [1..50])#set($s = $s.replace("a", "aa"))#end`},
	}
	big := "[" + strings.Repeat("1,", 1500) + "1]"
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tp, err := Parse(tc.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tp.RenderLimits(&Vars{Body: big}, lim)
			if !errors.Is(err, ErrLimit) {
				t.Fatalf("render = %v, want ErrLimit", err)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	cases := []struct{ name, tmpl, body, want string }{
		{"body not json", `$input.path('$.a')`, "hello", "the body is not JSON"},
		{"bad jsonpath", `$input.path('$.a[')`, "{}", "is not closed"},
		{"substring out of range", `#set($s = "ab")$s.substring(5)`, "", "out of range"},
		{"bad regex", `#set($s = "ab")$s.replaceAll("(", "")`, "", "regular expression"},
		{"parseJson bad", `$util.parseJson("{")`, "", "parseJson"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tp, err := Parse(tc.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tp.Render(&Vars{Body: tc.body})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("render = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestEscapeJavaScript(t *testing.T) {
	// commons-lang 2 StringEscapeUtils.escapeJavaScript, which API Gateway's $util.escapeJavaScript is.
	cases := []struct{ in, want string }{
		{"it's", `it\'s`},
		{`{"foo": 123}`, `{\"foo\": 123}`},
		{`a\b`, `a\\b`},
		{"</script>", `<\/script>`},
		{"\x01\x7f", `\u0001` + "\x7f"},
		{"€😀", `\u20AC\uD83D\uDE00`},
	}
	for _, tc := range cases {
		if got := EscapeJavaScript(tc.in); got != tc.want {
			t.Errorf("EscapeJavaScript(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestConcurrentRender(t *testing.T) {
	tp, err := Parse(`#set($m = $input.path('$'))#set($d = $m.put("x", 1))$m $input.path('$.a')`)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 8)
	for i := 0; i < 8; i++ {
		go func() {
			out, err := tp.Render(&Vars{Body: `{"a":"b"}`})
			if err != nil {
				out = err.Error()
			}
			done <- out
		}()
	}
	for i := 0; i < 8; i++ {
		if got := <-done; got != "{a=b, x=1} b" {
			t.Errorf("render = %q", got)
		}
	}
}

// TestDefaultLimitsStopRunawayTemplates: under the limits every render uses, nested loops that would
// run for minutes stop with ErrLimit.
func TestDefaultLimitsStopRunawayTemplates(t *testing.T) {
	tp, err := Parse(`#foreach($a in [1..999])#foreach($b in [1..999])#foreach($c in [1..999])#set($x = "$a$b$c")#end#end#end`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tp.Render(nil); !errors.Is(err, ErrLimit) {
		t.Fatalf("render = %v, want ErrLimit", err)
	}
}
