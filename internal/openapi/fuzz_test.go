package openapi

import (
	"os"
	"testing"
)

// FuzzImport feeds Import arbitrary definitions: it must never panic, and whatever it imports must export
// to a definition that imports back without warnings and exports to the same bytes.
func FuzzImport(f *testing.F) {
	for _, name := range []string{"testdata/pets.yaml", "testdata/pets.export.json", "testdata/pets.export.yaml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "")
	}
	f.Add([]byte(`{"openapi":"3.0.1","info":{"title":"t"},"servers":[{"url":"https://x/v1/api"}],"paths":{"/a/{b+}":{"x-amazon-apigateway-any-method":{}}}}`), "split")
	f.Add([]byte("openapi: 3.0.1\ninfo: {title: t}\npaths:\n  $default:\n    x-amazon-apigateway-any-method: {security: []}\n"), "prepend")
	f.Add([]byte("openapi: 3.0.0\ninfo: &i {title: t}\nx: *i\n"), "ignore")
	f.Fuzz(func(t *testing.T, data []byte, basepath string) {
		imp, err := Import(data, ImportOptions{Basepath: basepath, NewID: counter()})
		if err != nil {
			if _, ok := AsError(err); !ok {
				t.Fatalf("error of another type: %T %v", err, err)
			}
			return
		}
		opts := ExportOptions{IncludeExtensions: true, Updated: exportTime}
		first := Export(&imp.API, opts)
		again, err := Import(first, ImportOptions{NewID: counter()})
		if err != nil {
			t.Fatalf("the export does not import: %v\n%s", err, first)
		}
		if second := Export(&again.API, opts); string(second) != string(first) {
			t.Fatalf("export → import → export differs:\n%s\nwant\n%s", second, first)
		}
	})
}
