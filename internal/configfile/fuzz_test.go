package configfile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/resource"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, every failure must say something, and
// every success must be a bundle that validates and serialises.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/*.yaml", "testdata/errors/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte(chatYAML))
	f.Add([]byte("apis: [&a {name: x, routes: [*a]}]"))
	f.Add([]byte("apis:\n  - <<: [{name: a}, {name: b}]\n    protocolType: WEBSOCKET\n"))
	// A file with a warning: a static routeSelectionExpression that matches no route.
	f.Add([]byte("apis:\n  - name: x\n    protocolType: WEBSOCKET\n    routeSelectionExpression: request.body.action\n" +
		"    routes: [{routeKey: sendmessage, target: integrations/m}]\n    integrations: [{integrationId: m, integrationType: MOCK}]\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		if err != nil {
			text := err.Error()
			if strings.TrimSpace(text) == "" {
				t.Fatalf("empty error text for %q", data)
			}
			if _, ok := err.(Errors); !ok {
				t.Fatalf("error is %T, not Errors: %v", err, err)
			}
			// One problem per line, each naming the file: messages quote input, never copy raw newlines.
			for _, line := range strings.Split(text, "\n") {
				if !strings.HasPrefix(line, "fuzz.yaml") {
					t.Fatalf("error line %q does not start with the file name; all:\n%s", line, text)
				}
			}
			if file != nil {
				t.Fatalf("Parse returned both a File and an error")
			}
			return
		}
		if file.Bundle == nil || reflect.ValueOf(*file.Bundle).IsZero() {
			t.Fatalf("success for a file that declares nothing: %q", data)
		}
		if errs := resource.Validate(file.Bundle); errs != nil {
			t.Fatalf("Parse accepted a bundle that does not validate: %v", errs)
		}
		if _, err := json.Marshal(file.Bundle); err != nil {
			t.Fatalf("bundle does not serialise: %v", err)
		}
		// Warnings are one line each and name the file, like errors.
		for _, w := range file.Warnings() {
			if text := w.Error(); !strings.HasPrefix(text, "fuzz.yaml") || strings.Contains(text, "\n") {
				t.Fatalf("warning %q is not one line naming the file", text)
			}
		}
	})
}
