package configfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/resource"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with the file at path, or rewrites the file with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestGoldenBundles(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range files {
		t.Run(filepath.Base(in), func(t *testing.T) {
			f, err := Load(in)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if f.Name != in {
				t.Errorf("Name = %q, want %q", f.Name, in)
			}
			got, err := json.MarshalIndent(f.Bundle, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(in, ".yaml")+".bundle.json", append(got, '\n'))
		})
	}
}

func TestGoldenErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range files {
		t.Run(filepath.Base(in), func(t *testing.T) {
			f, err := Load(in)
			if err == nil {
				t.Fatalf("Load succeeded, want errors; bundle: %+v", f.Bundle)
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error is %T, want Errors: %v", err, err)
			}
			for _, e := range es {
				if e.File != in || e.Message == "" {
					t.Errorf("badly formed error %+v", e)
				}
			}
			golden(t, strings.TrimSuffix(in, ".yaml")+".errors.txt", []byte(err.Error()+"\n"))
		})
	}
}

func TestParseSizeLimit(t *testing.T) {
	big := bytes.Repeat([]byte("#"), MaxFileSize+1)
	tests := []struct {
		name string
		run  func() error
	}{
		{name: "parse", run: func() error { _, err := Parse("big.yaml", big); return err }},
		{name: "load", run: func() error {
			path := filepath.Join(t.TempDir(), "big.yaml")
			if err := os.WriteFile(path, big, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil || !strings.Contains(err.Error(), "larger than 10485760 bytes (10 MiB)") {
				t.Errorf("err = %v, want the size error", err)
			}
		})
	}
	// Exactly at the limit is still read (and then fails for want of apis).
	_, err := Parse("limit.yaml", big[:MaxFileSize])
	if err == nil || !strings.Contains(err.Error(), "no apis declared") {
		t.Errorf("at the limit: err = %v, want no apis declared", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "absent.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want os.ErrNotExist", err)
	}
}

const chatYAML = `apis:
  - name: chat
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: mock
        integrationType: MOCK
        requestParameters:
          integration.request.header.x: context.requestId
    routes:
      - routeKey: $default
        target: integrations/mock
      - routeKey: ping
    stages:
      - stageName: dev
        stageVariables:
          a_b: c
`

func TestPosition(t *testing.T) {
	f, err := Parse("chat.yaml", []byte(chatYAML))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want Pos
	}{
		{name: "root", path: "", want: Pos{1, 1}},
		{name: "top-level field", path: "apis", want: Pos{1, 1}},
		{name: "list item", path: "apis[0]", want: Pos{2, 5}},
		{name: "field", path: "apis[0].routeSelectionExpression", want: Pos{4, 5}},
		{name: "nested field", path: "apis[0].routes[1].routeKey", want: Pos{13, 9}},
		{name: "absent field falls back to its mapping", path: "apis[0].routes[1].target", want: Pos{13, 9}},
		{name: "defaulted field falls back", path: "apis[0].integrations[0].timeoutInMillis", want: Pos{6, 9}},
		{name: "map key with dots", path: "apis[0].integrations[0].requestParameters.integration.request.header.x", want: Pos{9, 11}},
		{name: "absent map key with dots falls back to the map", path: "apis[0].integrations[0].requestParameters.integration.request.path.y", want: Pos{8, 9}},
		{name: "map key", path: "apis[0].stages[0].stageVariables.a_b", want: Pos{17, 11}},
		{name: "absent list item falls back to the list", path: "apis[0].routes[7].routeKey", want: Pos{10, 5}},
		{name: "unknown top-level path falls back to root", path: "nothing[3].x", want: Pos{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := f.Position(tt.path)
			if !ok || got != tt.want {
				t.Errorf("Position(%q) = %v, %v; want %v, true", tt.path, got, ok, tt.want)
			}
		})
	}
	if _, ok := (&File{}).Position("apis[0]"); ok {
		t.Error("Position on an empty index reported a position")
	}
}

func TestLocate(t *testing.T) {
	f, err := Parse("chat.yaml", []byte(chatYAML))
	if err != nil {
		t.Fatal(err)
	}
	plain := errors.New("compile: something else")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "nil", err: nil, want: ""},
		{name: "one field error", err: &resource.FieldError{Path: "apis[0].routes[1].routeKey", Message: "bad"}, want: "chat.yaml:13:9: apis[0].routes[1].routeKey: bad"},
		{
			name: "field errors are sorted into file order",
			err: resource.FieldErrors{
				{Path: "apis[0].stages[0].stageName", Message: "second"},
				{Path: "apis[0].name", Message: "first"},
			},
			want: "chat.yaml:2:5: apis[0].name: first\nchat.yaml:15:9: apis[0].stages[0].stageName: second",
		},
		{name: "wrapped field errors", err: errorsJoin("compile", resource.FieldErrors{{Path: "apis[0]", Message: "x"}}), want: "chat.yaml:2:5: apis[0]: x"},
		{name: "other error", err: plain, want: "chat.yaml: compile: something else"},
		{name: "empty field errors", err: resource.FieldErrors{}, want: "chat.yaml: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := f.Locate(tt.err)
			if tt.want == "" {
				if got != nil {
					t.Errorf("Locate(nil) = %v", got)
				}
				return
			}
			if got == nil || got.Error() != tt.want {
				t.Errorf("Locate() = %v, want %q", got, tt.want)
			}
		})
	}
	if !errors.Is(f.Locate(plain), plain) {
		t.Error("Locate does not wrap other errors")
	}
}

func errorsJoin(prefix string, err error) error {
	return &wrapped{prefix: prefix, err: err}
}

type wrapped struct {
	prefix string
	err    error
}

func (w *wrapped) Error() string { return w.prefix + ": " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		name string
		err  Error
		want string
	}{
		{name: "full", err: Error{File: "a.yaml", Pos: Pos{3, 7}, Path: "apis[0].name", Message: "m"}, want: "a.yaml:3:7: apis[0].name: m"},
		{name: "line only", err: Error{File: "a.yaml", Pos: Pos{Line: 3}, Message: "m"}, want: "a.yaml:3: m"},
		{name: "no position", err: Error{File: "a.yaml", Path: "apis", Message: "m"}, want: "a.yaml: apis: m"},
		{name: "no file", err: Error{Pos: Pos{1, 2}, Message: "m"}, want: "1:2: m"},
		{name: "message only", err: Error{Message: "m"}, want: "m"},
		{name: "control characters escaped", err: Error{File: "a.yaml", Path: "apis[0].stageVariables.a\nb", Message: "Route with key x\ty already exists"}, want: `a.yaml: apis[0].stageVariables.a\nb: Route with key x\ty already exists`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
	es := Errors{{File: "a", Message: "x"}, {File: "b", Message: "y"}}
	if got := es.Error(); got != "a: x\nb: y" {
		t.Errorf("Errors.Error() = %q", got)
	}
	var one Error
	if !errors.As(es, &one) || one.File != "a" {
		t.Errorf("errors.As(Errors, *Error) = %+v", one)
	}
}

func TestParseEdgeCases(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string // substring; "" means success
	}{
		{name: "empty input", yaml: "", wantErr: "e.yaml: no apis declared"},
		{name: "null document", yaml: "~\n", wantErr: "e.yaml:1:1: no apis declared"},
		{name: "apis null", yaml: "apis:\n", wantErr: "e.yaml:1:1: no apis declared"},
		{name: "an empty apis list is allowed (APIs from the control plane)", yaml: "apis: []\n"},
		{name: "trailing document marker", yaml: chatYAML + "...\n"},
		{name: "scalar top level", yaml: "hello\n", wantErr: `e.yaml:1:1: expected the top level (a mapping with an apis list), got the string "hello"`},
		{name: "null list item", yaml: "apis: [~]\n", wantErr: "e.yaml:1:8: apis[0].name: name is required"},
		{name: "complex key", yaml: "apis: []\n? [a]\n: b\n", wantErr: "e.yaml:2:3: mapping keys must be strings, got a list"},
		{name: "unknown anchor", yaml: "apis:\n  - name: a\n  - *nope\n", wantErr: "e.yaml:3: YAML syntax error: unknown anchor 'nope' referenced"},
		{name: "syntax error on first line", yaml: "apis: [\n", wantErr: "e.yaml:1: YAML syntax error: did not find expected node content"},
		{name: "tab indentation", yaml: "apis:\n  - name: a\n\t  protocolType: WEBSOCKET\n", wantErr: "e.yaml:3: YAML syntax error: found a tab character that violates indentation"},
		{name: "bad binary", yaml: "apis:\n  - name: !!binary ==\n", wantErr: "e.yaml:2:11: apis[0].name: !!binary value contains invalid base64 data"},
		{name: "integer overflow", yaml: strings.Replace(chatYAML, "integrationType: MOCK", "integrationType: MOCK\n        timeoutInMillis: 99999999999999999999", 1), wantErr: "apis[0].integrations[0].timeoutInMillis: expected an integer, got the number 99999999999999999999"},
		{name: "NaN rate", yaml: strings.Replace(chatYAML, "stageName: dev", "stageName: dev\n        defaultRouteSettings: {throttlingRateLimit: .nan}", 1), wantErr: "throttlingRateLimit: throttlingRateLimit NaN is not valid"},
		{name: "yaml 1.1 booleans", yaml: strings.Replace(chatYAML, "name: chat", "name: chat\n    disableSchemaValidation: yes", 1)},
		{name: "numbers as strings", yaml: strings.Replace(chatYAML, "a_b: c", "a_b: 2024", 1)},
		{name: "x- extension at top level", yaml: "x-shared: &x {name: chat}\n" + chatYAML},
		{name: "x- extension below top level", yaml: strings.Replace(chatYAML, "name: chat", "name: chat\n    x-note: hi", 1), wantErr: `apis[0].x-note: unknown field "x-note" in an API (a mapping)`},
		{name: "misspelt field suggests", yaml: strings.Replace(chatYAML, "stageName: dev", "stagename: dev", 1), wantErr: `unknown field "stagename" in a stage (a mapping); did you mean "stageName"?`},
		{name: "merge of scalar", yaml: "apis:\n  - <<: 1\n", wantErr: "e.yaml:2:9: apis[0]: a merge key (<<) takes a mapping or a list of mappings, got the integer 1"},
		{
			name:    "alias bomb",
			yaml:    aliasBomb(),
			wantErr: "refusing to read it",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("e.yaml", []byte(tt.yaml))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if f.Bundle == nil || f.Bundle.APIs == nil {
					t.Fatalf("no bundle")
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse succeeded, want error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse error:\n%v\nwant it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// aliasBomb builds a 500 KB document whose aliases expand to a million routes, past maxExpandedNodes.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("x-r0: &r0 [" + strings.Repeat("{routeKey: a}, ", 9) + "{routeKey: a}]\n")
	b.WriteString("x-api: &api {name: a, routes: *r0}\n")
	b.WriteString("apis: [" + strings.Repeat("*api, ", 99999) + "*api]\n")
	return b.String()
}

func TestParseDefaultsAndValidates(t *testing.T) {
	f, err := Parse("chat.yaml", []byte(chatYAML))
	if err != nil {
		t.Fatal(err)
	}
	a := f.Bundle.APIs[0]
	if a.APIID == "" || a.APIKeySelectionExpression != resource.DefaultAPIKeySelectionExpression {
		t.Errorf("defaults not applied: %+v", a)
	}
	if a.Integrations[0].TimeoutInMillis != resource.DefaultTimeoutInMillis {
		t.Errorf("integration defaults not applied: %+v", a.Integrations[0])
	}
	if errs := resource.Validate(f.Bundle); errs != nil {
		t.Errorf("parsed bundle does not validate: %v", errs)
	}
}

// TestEveryFieldCovered keeps testdata/every-field.yaml honest: each member of each resource type must be
// set (non-zero) somewhere in it, so a field added to package resource without a golden case fails here.
func TestEveryFieldCovered(t *testing.T) {
	f, err := Load("testdata/every-field.yaml")
	if err != nil {
		t.Fatal(err)
	}
	set := make(map[string]bool)
	all := make(map[string]bool)
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		case reflect.Map:
			for _, k := range v.MapKeys() {
				walk(v.MapIndex(k))
			}
		case reflect.Struct:
			for i := range v.NumField() {
				if v.Type().Field(i).Tag.Get("yaml") == "-" {
					continue // not part of the file format (set by the control plane only)
				}
				name := v.Type().Name() + "." + v.Type().Field(i).Name
				all[name] = true
				if !v.Field(i).IsZero() {
					set[name] = true
				}
				walk(v.Field(i))
			}
		}
	}
	walk(reflect.ValueOf(f.Bundle))
	for name := range all {
		if !set[name] {
			t.Errorf("%s is never set in testdata/every-field.yaml", name)
		}
	}
	if len(all) < 60 {
		t.Errorf("walked only %d fields; the walk is broken", len(all))
	}
}
