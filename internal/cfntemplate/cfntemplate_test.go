package cfntemplate

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/lambda"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
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

// dump is what the golden files hold: everything a template turns into.
type dump struct {
	StackName string   `json:"stackName"`
	Bundle    any      `json:"bundle"`
	Notes     []string `json:"notes"`
	Tables    []Table  `json:"tables,omitempty"`
	Outputs   []Output `json:"outputs"`
}

// dumpTemplate renders t with the testdata directory's absolute path replaced by $TESTDATA, so that the
// golden files do not depend on where the repository is.
func dumpTemplate(t *testing.T, tpl *Template) []byte {
	t.Helper()
	abs, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	d := dump{StackName: tpl.StackName, Bundle: tpl.Bundle, Tables: tpl.Tables, Outputs: tpl.Outputs}
	for _, n := range tpl.Notes {
		d.Notes = append(d.Notes, n.String())
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(out.Bytes(), []byte(abs), []byte("$TESTDATA"))
}

// TestGolden loads the SAM template shaped like AWS's simple-websockets-chat-app, a plain CloudFormation
// template and `cdk synth` output (see testdata/cdk/synth.sh), and compares what they turn into.
func TestGolden(t *testing.T) {
	tests := []struct {
		name, path, golden string
		opts               Options
	}{
		{name: "SAM, shaped like the AWS sample", path: "testdata/sam/template.yaml", golden: "testdata/sam.bundle.json"},
		{name: "SAM with parameter overrides", path: "testdata/sam/template.yaml", golden: "testdata/sam-overrides.bundle.json",
			opts: Options{Region: "eu-west-1", StackName: "chat", Parameters: map[string]string{"TableName": "other_table", "StageName": "Dev"}}},
		{name: "plain CloudFormation", path: "testdata/cfn/template.yaml", golden: "testdata/cfn.bundle.json"},
		{name: "plain CloudFormation, prod in another region", path: "testdata/cfn/template.yaml", golden: "testdata/cfn-prod.bundle.json",
			opts: Options{Region: "cn-north-1", Parameters: map[string]string{"Env": "prod"}}},
		{name: "cdk synth", path: "testdata/cdk/cdk.out/ChatStack.template.json", golden: "testdata/cdk.bundle.json"},
		{name: "SAM HTTP APIs", path: "testdata/samhttp/template.yaml", golden: "testdata/samhttp.bundle.json"},
		{name: "OpenAPI definition", path: "testdata/openapi/definition.yaml", golden: "testdata/openapi.bundle.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := Load(tt.path, tt.opts)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if _, err := snapshot.Compile(tpl.Bundle); err != nil {
				t.Fatalf("the bundle does not compile: %v", tpl.Locate(err))
			}
			golden(t, tt.golden, dumpTemplate(t, tpl))
		})
	}
}

// TestIntegrationURIsNameLocalFunctions checks that every AWS_PROXY integration of the sample-shaped
// template names one of the template's functions in a form the Lambda invoker understands.
func TestIntegrationURIsNameLocalFunctions(t *testing.T) {
	for _, path := range []string{"testdata/sam/template.yaml", "testdata/cdk/cdk.out/ChatStack.template.json"} {
		tpl, err := Load(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, fn := range tpl.Bundle.Functions {
			names[fn.FunctionName] = true
		}
		n := 0
		for _, in := range tpl.Bundle.APIs[0].Integrations {
			fn, err := lambda.FunctionFromURI(in.IntegrationURI)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			name := fn[strings.LastIndex(fn, ":")+1:]
			if !names[name] {
				t.Errorf("%s: integration %s names %q, not one of the template's functions %v", path, in.IntegrationID, fn, names)
			}
			n++
		}
		if n < 3 {
			t.Errorf("%s: %d integrations, want at least 3", path, n)
		}
	}
}
