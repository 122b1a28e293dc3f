package policy

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

const (
	connectARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/default/$connect"
	manageARN  = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/dev/POST/@connections/R1kmxc2VNjMCFIA="
)

func TestMatch(t *testing.T) {
	tests := []struct {
		name, pattern, s string
		want             bool
	}{
		{"exact", "abc", "abc", true},
		{"exact mismatch", "abc", "abd", false},
		{"case sensitive", "ABC", "abc", false},
		{"empty both", "", "", true},
		{"empty pattern", "", "a", false},
		{"star alone", "*", "", true},
		{"star anything", "*", "arn:aws:x/y/z", true},
		{"star crosses separators", "arn:aws:execute-api:us-east-1:*:abc/*", "arn:aws:execute-api:us-east-1:1:abc/dev/$connect", true},
		{"star in account", "arn:aws:execute-api:us-east-1:*:abcdef123/*/$connect", connectARN, true},
		{"star wrong api", "arn:aws:execute-api:us-east-1:*:other/*/$connect", connectARN, false},
		{"star suffix", "arn:aws:execute-api:*:*:abcdef123/dev/POST/@connections/*", manageARN, true},
		{"star suffix wrong method", "arn:aws:execute-api:*:*:abcdef123/dev/GET/@connections/*", manageARN, false},
		{"question one char", "a?c", "abc", true},
		{"question needs a char", "a?c", "ac", false},
		{"question multibyte", "a?c", "aéc", true},
		{"question two chars", "a??c", "aéc", false},
		{"trailing stars", "abc***", "abc", true},
		{"backtracking", "*a*b*c", "xaxbxbxc", true},
		{"backtracking fails", "*a*b*c", "xaxbxbx", false},
		{"star then question", "*?", "", false},
		{"star then question one", "*?", "é", true},
		{"literal dollar", "*/$connect", "x/$connect", true},
		{"pathological", strings.Repeat("*a", 30) + "b", strings.Repeat("a", 2000), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Match(tc.pattern, tc.s); got != tc.want {
				t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	tests := []struct {
		name, doc string
	}{
		{"not json", `{`},
		{"array", `[]`},
		{"string", `"x"`},
		{"null", `null`},
		{"no statement", `{"Version":"2012-10-17"}`},
		{"null statement", `{"Version":"2012-10-17","Statement":null}`},
		{"statement string", `{"Statement":"Allow"}`},
		{"bad version", `{"Version":"2020-01-01","Statement":[]}`},
		{"version number", `{"Version":2012,"Statement":[]}`},
		{"lower-case member", `{"Version":"2012-10-17","statement":[]}`},
		{"unknown member", `{"Statement":[],"Extra":1}`},
		{"lower-case effect key", `{"Statement":[{"effect":"Allow","Action":"*","Resource":"*"}]}`},
		{"lower-case effect value", `{"Statement":[{"Effect":"allow","Action":"*","Resource":"*"}]}`},
		{"no effect", `{"Statement":[{"Action":"*","Resource":"*"}]}`},
		{"effect not string", `{"Statement":[{"Effect":true,"Action":"*","Resource":"*"}]}`},
		{"no action", `{"Statement":[{"Effect":"Allow","Resource":"*"}]}`},
		{"action and notaction", `{"Statement":[{"Effect":"Allow","Action":"*","NotAction":"x","Resource":"*"}]}`},
		{"no resource", `{"Statement":[{"Effect":"Allow","Action":"*"}]}`},
		{"null resource", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":null}]}`},
		{"resource number", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":1}]}`},
		{"resource array with number", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":["a",1]}]}`},
		{"empty action array", `{"Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]}`},
		{"statement not object", `{"Statement":[1]}`},
		{"condition not object", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":"x"}]}`},
		{"sid number", `{"Statement":[{"Sid":1,"Effect":"Allow","Action":"*","Resource":"*"}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := Parse([]byte(tc.doc))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse(%s) = %+v, %v; want ErrMalformed", tc.doc, doc, err)
			}
		})
	}
}

func TestEvaluate(t *testing.T) {
	const invoke, manage = "execute-api:Invoke", "execute-api:ManageConnections"
	tests := []struct {
		name, doc, action, resource string
		want                        Effect
	}{
		{
			name:   "allow exact, strings",
			doc:    `{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"` + connectARN + `"}]}`,
			action: invoke, resource: connectARN, want: Allow,
		},
		{
			name:   "allow exact, arrays",
			doc:    `{"Version":"2012-10-17","Statement":[{"Action":["execute-api:Invoke"],"Effect":"Allow","Resource":["arn:x","` + connectARN + `"]}]}`,
			action: invoke, resource: connectARN, want: Allow,
		},
		{
			name:   "single statement object",
			doc:    `{"Version":"2012-10-17","Statement":{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}}`,
			action: invoke, resource: connectARN, want: Allow,
		},
		{
			name:   "no version",
			doc:    `{"Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]}`,
			action: invoke, resource: connectARN, want: Allow,
		},
		{
			name:   "action case-insensitive",
			doc:    `{"Statement":[{"Action":"EXECUTE-API:invoke","Effect":"Allow","Resource":"*"}]}`,
			action: invoke, resource: connectARN, want: Allow,
		},
		{
			name:   "resource case-sensitive",
			doc:    `{"Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"` + strings.ToUpper(connectARN) + `"}]}`,
			action: invoke, resource: connectARN, want: NotMatched,
		},
		{
			name:   "action wildcard",
			doc:    `{"Statement":[{"Action":"execute-api:*","Effect":"Allow","Resource":"*"}]}`,
			action: manage, resource: manageARN, want: Allow,
		},
		{
			name:   "other action",
			doc:    `{"Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]}`,
			action: manage, resource: manageARN, want: NotMatched,
		},
		{
			name:   "resource wildcards",
			doc:    `{"Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"arn:aws:execute-api:us-east-1:*:abcdef123/*/$connect"}]}`,
			action: invoke, resource: connectARN, want: Allow,
		},
		{
			name:   "resource wildcard other stage",
			doc:    `{"Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"arn:aws:execute-api:us-east-1:*:abcdef123/prod/*"}]}`,
			action: invoke, resource: connectARN, want: NotMatched,
		},
		{
			name:   "manage connections wildcard",
			doc:    `{"Statement":[{"Action":"execute-api:ManageConnections","Effect":"Allow","Resource":"arn:aws:execute-api:*:*:abcdef123/dev/POST/@connections/*"}]}`,
			action: manage, resource: manageARN, want: Allow,
		},
		{
			name:   "question mark",
			doc:    `{"Statement":[{"Action":"execute-api:Invok?","Effect":"Allow","Resource":"arn:aws:execute-api:us-east-?:123456789012:abcdef123/default/$connect"}]}`,
			action: invoke, resource: connectARN, want: Allow,
		},
		{
			name: "deny beats allow, deny last",
			doc: `{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"},
				{"Action":"execute-api:Invoke","Effect":"Deny","Resource":"arn:aws:execute-api:*:*:abcdef123/*"}]}`,
			action: invoke, resource: connectARN, want: Deny,
		},
		{
			name: "deny beats allow, deny first",
			doc: `{"Statement":[{"Action":"execute-api:Invoke","Effect":"Deny","Resource":"*"},
				{"Action":"*","Effect":"Allow","Resource":"*"}]}`,
			action: invoke, resource: connectARN, want: Deny,
		},
		{
			name: "deny elsewhere does not apply",
			doc: `{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"},
				{"Action":"*","Effect":"Deny","Resource":"arn:aws:execute-api:*:*:other/*"}]}`,
			action: invoke, resource: connectARN, want: Allow,
		},
		{
			name:   "empty statement list",
			doc:    `{"Version":"2012-10-17","Statement":[]}`,
			action: invoke, resource: connectARN, want: NotMatched,
		},
		{
			name:   "NotAction",
			doc:    `{"Statement":[{"NotAction":"execute-api:ManageConnections","Effect":"Allow","Resource":"*"}]}`,
			action: invoke, resource: connectARN, want: Allow,
		},
		{
			name:   "NotAction excludes",
			doc:    `{"Statement":[{"NotAction":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]}`,
			action: invoke, resource: connectARN, want: NotMatched,
		},
		{
			name:   "NotResource",
			doc:    `{"Statement":[{"Action":"*","Effect":"Deny","NotResource":"arn:aws:execute-api:*:*:abcdef123/*"},{"Action":"*","Effect":"Allow","Resource":"*"}]}`,
			action: invoke, resource: connectARN, want: Allow,
		},
		{
			name:   "conditional allow does not apply",
			doc:    `{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`,
			action: invoke, resource: connectARN, want: NotMatched,
		},
		{
			name:   "conditional deny applies",
			doc:    `{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"},{"Action":"*","Effect":"Deny","Resource":"*","Condition":{"Bool":{"x":"true"}}}]}`,
			action: invoke, resource: connectARN, want: Deny,
		},
		{
			name:   "conditional deny elsewhere",
			doc:    `{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"},{"Action":"*","Effect":"Deny","Resource":"arn:other","Condition":{}}]}`,
			action: invoke, resource: connectARN, want: Allow,
		},
		{
			name:   "sid and principal accepted",
			doc:    `{"Id":"p1","Statement":[{"Sid":"s1","Principal":"*","Action":"*","Effect":"Allow","Resource":"*"}]}`,
			action: invoke, resource: connectARN, want: Allow,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := Parse([]byte(tc.doc))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := doc.Evaluate(tc.action, tc.resource); got != tc.want {
				t.Errorf("Evaluate(%s, %s) = %v, want %v", tc.action, tc.resource, got, tc.want)
			}
		})
	}
}

func TestEvaluateDocuments(t *testing.T) {
	allow := mustParse(t, `{"Statement":[{"Action":"execute-api:*","Effect":"Allow","Resource":"*"}]}`)
	deny := mustParse(t, `{"Statement":[{"Action":"execute-api:ManageConnections","Effect":"Deny","Resource":"*"}]}`)
	other := mustParse(t, `{"Statement":[{"Action":"s3:*","Effect":"Allow","Resource":"*"}]}`)
	tests := []struct {
		name   string
		action string
		docs   []*Document
		want   Effect
	}{
		{"none", "execute-api:Invoke", nil, NotMatched},
		{"nil document", "execute-api:Invoke", []*Document{nil}, NotMatched},
		{"allow", "execute-api:Invoke", []*Document{other, allow}, Allow},
		{"deny in another document wins", "execute-api:ManageConnections", []*Document{allow, deny}, Deny},
		{"deny not for this action", "execute-api:Invoke", []*Document{deny, allow}, Allow},
		{"unrelated", "execute-api:Invoke", []*Document{other}, NotMatched},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Evaluate(tc.action, manageARN, tc.docs...); got != tc.want {
				t.Errorf("Evaluate = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEffectString(t *testing.T) {
	for e, want := range map[Effect]string{NotMatched: "NotMatched", Allow: "Allow", Deny: "Deny"} {
		if e.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(e), e.String(), want)
		}
	}
}

func mustParse(t *testing.T, s string) *Document {
	t.Helper()
	d, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return d
}

// FuzzParse checks that no input makes the parser or the evaluator panic, and that what parses is
// well-formed.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"` + connectARN + `"}]}`,
		`{"Statement":{"Action":["*"],"Effect":"Deny","NotResource":["a?","*b"]}}`,
		`{"Statement":[{"NotAction":"x","Effect":"Allow","Resource":"*","Condition":{}}]}`,
		`{"Statement":[]}`, `{}`, `null`, `[`, `{"Statement":[null]}`,
	} {
		f.Add([]byte(s), "execute-api:Invoke", connectARN)
	}
	f.Fuzz(func(t *testing.T, data []byte, action, resource string) {
		doc, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		for _, st := range doc.Statements {
			if st.Effect != Allow && st.Effect != Deny {
				t.Fatalf("statement with effect %v parsed", st.Effect)
			}
			if (st.Actions == nil) == (st.NotActions == nil) || (st.Resources == nil) == (st.NotResources == nil) {
				t.Fatalf("statement without exactly one action and resource list parsed: %+v", st)
			}
		}
		e := doc.Evaluate(action, resource)
		if e != Evaluate(action, resource, doc) {
			t.Fatal("Evaluate and Document.Evaluate disagree")
		}
	})
}

// FuzzMatch compares Match with a regular-expression reference.
func FuzzMatch(f *testing.F) {
	f.Add("arn:*:x/?/$connect", "arn:aws:x/a/$connect")
	f.Add("*a*b?", "xxaxxbé")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if !utf8.ValidString(pattern) || !utf8.ValidString(s) || len(pattern) > 64 {
			return
		}
		var re strings.Builder
		re.WriteString(`(?s)^`)
		for _, r := range pattern {
			switch r {
			case '*':
				re.WriteString(`.*`)
			case '?':
				re.WriteString(`.`)
			default:
				re.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		re.WriteString(`$`)
		want := regexp.MustCompile(re.String()).MatchString(s)
		if got := Match(pattern, s); got != want {
			t.Fatalf("Match(%q, %q) = %v, regexp says %v", pattern, s, got, want)
		}
	})
}
