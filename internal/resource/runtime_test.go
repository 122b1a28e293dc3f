package resource

import (
	"strings"
	"testing"
)

func TestNodeHandler(t *testing.T) {
	cases := []struct {
		name, handler            string
		root, module, exportPath string
		err                      string
	}{
		{name: "file and export", handler: "index.handler", module: "index", exportPath: "handler"},
		{name: "nested export", handler: "app.handlers.connect", module: "app", exportPath: "handlers.connect"},
		{name: "module root", handler: "src/lib/app.handler", root: "src/lib/", module: "app", exportPath: "handler"},
		{name: "dots in the root stay in the root", handler: "v1.2/app.handler", root: "v1.2/", module: "app", exportPath: "handler"},
		{name: "no export", handler: "index", err: "write FILE.EXPORT"},
		{name: "empty module", handler: ".handler", err: "write FILE.EXPORT"},
		{name: "trailing dot", handler: "index.handler.", err: "write FILE.EXPORT"},
		{name: "parent directory", handler: "../x/index.handler", err: "'..'"},
		{name: "absolute", handler: "/var/task/index.handler", err: "relative to codeUri"},
		{name: "empty", handler: "", err: "handler is required"},
		{name: "whitespace", handler: "index .handler", err: "whitespace"},
		{name: "too long", handler: strings.Repeat("a", 126) + ".fn", err: "at most 128"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root, module, exportPath, err := NodeHandler(tc.handler)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || root != tc.root || module != tc.module || exportPath != tc.exportPath {
				t.Fatalf("= %q %q %q %v, want %q %q %q", root, module, exportPath, err, tc.root, tc.module, tc.exportPath)
			}
		})
	}
}

func TestPythonHandler(t *testing.T) {
	cases := []struct {
		name, handler    string
		module, function string
		err              string
	}{
		{name: "module and function", handler: "app.lambda_handler", module: "app", function: "lambda_handler"},
		{name: "dotted package", handler: "pkg.sub.app.handler", module: "pkg.sub.app", function: "handler"},
		{name: "slashed package", handler: "pkg/app.handler", module: "pkg.app", function: "handler"},
		{name: "no function", handler: "app", err: "write MODULE.FUNCTION"},
		{name: "empty function", handler: "app.", err: "write MODULE.FUNCTION"},
		{name: "dash in module", handler: "my-app.handler", err: "not a Python module path"},
		{name: "digit first", handler: "app.1fn", err: "not a Python function name"},
		{name: "empty package part", handler: "pkg//app.fn", err: "not a Python module path"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			module, function, err := PythonHandler(tc.handler)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || module != tc.module || function != tc.function {
				t.Fatalf("= %q %q %v, want %q %q", module, function, err, tc.module, tc.function)
			}
		})
	}
}

func TestValidateFunctionRuntimes(t *testing.T) {
	cases := []struct {
		name string
		fn   Function
		want string // "" for valid
	}{
		{name: "executable without runtime", fn: Function{Handler: "/bin/handler"}},
		{name: "node", fn: Function{Runtime: "nodejs20.x", Handler: "index.handler", CodeURI: "src"}},
		{name: "python", fn: Function{Runtime: "python3.12", Handler: "app.handler", CodeURI: "src"}},
		{name: "unknown runtime", fn: Function{Runtime: "nodejs16.x", Handler: "index.handler", CodeURI: "src"}, want: `functions[0].runtime: runtime "nodejs16.x" is not one Switchboard runs`},
		{name: "java", fn: Function{Runtime: "java21", Handler: "x", CodeURI: "src"}, want: `functions[0].runtime: runtime "java21"`},
		{name: "node handler without export", fn: Function{Runtime: "nodejs22.x", Handler: "index", CodeURI: "src"}, want: "functions[0].handler: handler \"index\" is not valid"},
		{name: "python handler with dash", fn: Function{Runtime: "python3.9", Handler: "a-b.handler", CodeURI: "src"}, want: "functions[0].handler: handler \"a-b.handler\" is not valid"},
		{name: "node without codeUri", fn: Function{Runtime: "nodejs18.x", Handler: "index.handler"}, want: "functions[0].codeUri: codeUri is required for runtime nodejs18.x"},
		{name: "python with args", fn: Function{Runtime: "python3.13", Handler: "app.handler", CodeURI: "src", Args: []string{"-v"}}, want: "functions[0].args: args apply only to executables"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fn := tc.fn
			fn.FunctionName = "f"
			b := &Bundle{Functions: []Function{fn}}
			ApplyDefaults(b)
			errs := Validate(b)
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			all := strings.Join(got, "\n")
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors:\n%s", all)
				}
				return
			}
			if !strings.Contains(all, tc.want) {
				t.Fatalf("errors:\n%s\nwant one containing %q", all, tc.want)
			}
		})
	}
}

func FuzzHandlerStrings(f *testing.F) {
	for _, s := range []string{"index.handler", "src/app.a.b", "pkg/app.fn", "..", "a.", ".a", "/x.y", "a/b/c.d.e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if root, module, exportPath, err := NodeHandler(s); err == nil {
			if root+module+"."+exportPath != s || strings.Contains(module, "/") || module == "" || exportPath == "" {
				t.Fatalf("NodeHandler(%q) = %q %q %q", s, root, module, exportPath)
			}
		}
		if module, function, err := PythonHandler(s); err == nil {
			if strings.ReplaceAll(s, "/", ".") != module+"."+function {
				t.Fatalf("PythonHandler(%q) = %q %q", s, module, function)
			}
		}
	})
}
