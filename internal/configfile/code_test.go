package configfile

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestLoadFunctionCode checks that the code of Node.js and Python functions is found at load time, with
// errors that name the file, line and what was looked for.
func TestLoadFunctionCode(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"node/index.mjs":        "export const handler = async () => ({})",
		"node/lib/app.cjs":      "exports.h = {x: () => 1}",
		"py/app.py":             "def handler(e, c): return {}",
		"py/pkg/__init__.py":    "",
		"py/pkg/mod.py":         "def fn(e, c): return {}",
		"notadir":               "",
		"node/node_modules/m/x": "",
	} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	head := "apis: []\nfunctions:\n"
	cases := []struct {
		name string
		fn   string
		want string // "" when the file loads
	}{
		{name: "node .mjs", fn: "{functionName: f, runtime: nodejs20.x, handler: index.handler, codeUri: node}"},
		{name: "node nested in a module root", fn: "{functionName: f, runtime: nodejs22.x, handler: lib/app.h.x, codeUri: node}"},
		{name: "node package in node_modules", fn: "{functionName: f, runtime: nodejs18.x, handler: m.handler, codeUri: node}"},
		{name: "python module", fn: "{functionName: f, runtime: python3.12, handler: app.handler, codeUri: py}"},
		{name: "python package path", fn: "{functionName: f, runtime: python3.9, handler: pkg/mod.fn, codeUri: py}"},
		{name: "python dotted package", fn: "{functionName: f, runtime: python3.13, handler: pkg.mod.fn, codeUri: py}"},
		{name: "codeUri missing", fn: "{functionName: f, runtime: nodejs20.x, handler: index.handler, codeUri: nowhere}",
			want: "functions[0].codeUri: codeUri " + filepath.Join(dir, "nowhere") + ": no such file or directory"},
		{name: "codeUri a file", fn: "{functionName: f, runtime: python3.11, handler: app.handler, codeUri: notadir}",
			want: "functions[0].codeUri: codeUri " + filepath.Join(dir, "notadir") + " is not a directory"},
		{name: "node module missing", fn: "{functionName: f, runtime: nodejs20.x, handler: app.handler, codeUri: node}",
			want: `functions[0].handler: handler "app.handler": no module for it in codeUri ` + filepath.Join(dir, "node") + " (looked for app, app.js, app.mjs, app.cjs, node_modules/app)"},
		{name: "python module missing", fn: "{functionName: f, runtime: python3.10, handler: other.handler, codeUri: py}",
			want: `functions[0].handler: handler "other.handler": no module for it in codeUri ` + filepath.Join(dir, "py") + " (looked for other.py, other.pyc, other)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "config.yaml")
			if err := os.WriteFile(path, []byte(head+"  - "+tc.fn+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := Load(path)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				fn := f.Bundle.Functions[0]
				if !filepath.IsAbs(fn.CodeURI) || strings.Contains(fn.Handler, "/"+dir) {
					t.Fatalf("codeUri %q should be absolute and handler %q left as written", fn.CodeURI, fn.Handler)
				}
				return
			}
			if err == nil {
				t.Fatal("Load succeeded")
			}
			// FILE:LINE:COLUMN: path: message, the column being the member's value.
			got := strings.TrimPrefix(err.Error(), dir+string(filepath.Separator))
			loc, msg, _ := strings.Cut(got, " ")
			if !regexp.MustCompile(`^config\.yaml:3:\d+:$`).MatchString(loc) || !strings.HasPrefix(msg, tc.want) {
				t.Fatalf("error:\n%s\nwant config.yaml:3:COLUMN: %s", got, tc.want)
			}
		})
	}
}
