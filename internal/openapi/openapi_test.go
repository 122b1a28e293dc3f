package openapi

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/resource"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func compareGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
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
	if string(got) != string(want) {
		t.Errorf("%s differs (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// counter returns NewID functions that count, so imports are reproducible.
func counter() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("id%04d", n) }
}

var exportTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func mustImport(t *testing.T, data []byte, opts ImportOptions) *Imported {
	t.Helper()
	if opts.NewID == nil {
		opts.NewID = counter()
	}
	imp, err := Import(data, opts)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	return imp
}

// TestRoundTripGolden imports a definition using every extension HTTP APIs read, checks what it became
// and what exporting it writes (JSON for a stage, YAML for the latest configuration), and that the
// export imports back to the same API: exporting that again gives the same bytes.
func TestRoundTripGolden(t *testing.T) {
	data, err := os.ReadFile("testdata/pets.yaml")
	if err != nil {
		t.Fatal(err)
	}
	imp := mustImport(t, data, ImportOptions{})
	dump, err := json.MarshalIndent(struct {
		API      resource.API `json:"api"`
		Warnings []string     `json:"warnings"`
	}{imp.API, imp.Warnings}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	compareGolden(t, "pets.imported.golden", append(dump, '\n'))

	stage := ExportOptions{IncludeExtensions: true, StageName: "prod", ServerURL: "https://abc123.execute-api.us-east-1.amazonaws.com", Updated: exportTime}
	js := Export(&imp.API, stage)
	compareGolden(t, "pets.export.json", js)
	latest := ExportOptions{IncludeExtensions: true, YAML: true, Updated: exportTime}
	yml := Export(&imp.API, latest)
	compareGolden(t, "pets.export.yaml", yml)
	bare := ExportOptions{Updated: exportTime}
	compareGolden(t, "pets.export-noext.json", Export(&imp.API, bare))

	for name, tc := range map[string]struct {
		doc  []byte
		opts ExportOptions
	}{"json": {js, stage}, "yaml": {yml, latest}} {
		t.Run(name, func(t *testing.T) {
			again := mustImport(t, tc.doc, ImportOptions{})
			if len(again.Warnings) > 0 {
				t.Errorf("re-import warnings: %q", again.Warnings)
			}
			if got := Export(&again.API, tc.opts); string(got) != string(tc.doc) {
				t.Errorf("export → import → export changed the definition:\n%s\nwant\n%s", got, tc.doc)
			}
			if again.API.Name != imp.API.Name || len(again.API.Routes) != len(imp.API.Routes) ||
				len(again.API.Integrations) != len(imp.API.Integrations) || len(again.API.Authorizers) != len(imp.API.Authorizers) {
				t.Errorf("re-import has %d routes, %d integrations, %d authorizers; want %d, %d, %d", len(again.API.Routes),
					len(again.API.Integrations), len(again.API.Authorizers), len(imp.API.Routes), len(imp.API.Integrations), len(imp.API.Authorizers))
			}
		})
	}
}

// TestExportFormat pins the printer to API Gateway's export format: Jackson's pretty printer for JSON
// (`"key" : value`, inline arrays, `{ }`), double-quoted strings in YAML.
func TestExportFormat(t *testing.T) {
	a := &resource.API{Name: "tiny", Routes: []resource.Route{{RouteKey: "GET /items/{id}", Target: "integrations/i1"}},
		Integrations: []resource.Integration{{IntegrationID: "i1", IntegrationType: "HTTP_PROXY", IntegrationMethod: "GET",
			IntegrationURI: "https://example.com/items/{id}", PayloadFormatVersion: "1.0", ConnectionType: "INTERNET"}}}
	got := string(Export(a, ExportOptions{IncludeExtensions: true, StageName: "$default", ServerURL: "https://x.execute-api.us-east-1.amazonaws.com", Updated: exportTime}))
	want := `{
  "openapi" : "3.0.1",
  "info" : {
    "title" : "tiny",
    "version" : "2024-05-06 07:08:09UTC"
  },
  "servers" : [ {
    "url" : "https://x.execute-api.us-east-1.amazonaws.com/{basePath}",
    "variables" : {
      "basePath" : {
        "default" : ""
      }
    }
  } ],
  "paths" : {
    "/items/{id}" : {
      "get" : {
        "responses" : {
          "default" : {
            "description" : "Default response for GET /items/{id}"
          }
        },
        "x-amazon-apigateway-integration" : {
          "payloadFormatVersion" : "1.0",
          "type" : "http_proxy",
          "httpMethod" : "GET",
          "uri" : "https://example.com/items/{id}",
          "connectionType" : "INTERNET"
        }
      },
      "parameters" : [ {
        "name" : "id",
        "in" : "path",
        "description" : "Generated path parameter for id",
        "required" : true,
        "schema" : {
          "type" : "string"
        }
      } ]
    }
  },
  "x-amazon-apigateway-importexport-version" : "1.0"
}`
	if got != want {
		t.Errorf("JSON export:\n%s\nwant\n%s", got, want)
	}
	gotYAML := string(Export(a, ExportOptions{YAML: true, Updated: exportTime}))
	wantYAML := `openapi: "3.0.1"
info:
  title: "tiny"
  version: "2024-05-06 07:08:09UTC"
paths:
  /items/{id}:
    get:
      responses:
        default:
          description: "Default response for GET /items/{id}"
    parameters:
    - name: "id"
      in: "path"
      description: "Generated path parameter for id"
      required: true
      schema:
        type: "string"
`
	if gotYAML != wantYAML {
		t.Errorf("YAML export:\n%s\nwant\n%s", gotYAML, wantYAML)
	}
}

func TestImportBasepath(t *testing.T) {
	doc := func(url string) []byte {
		return []byte(`{"openapi":"3.0.1","info":{"title":"b"},"servers":[{"url":"` + url + `"}],"paths":{"/pets":{"get":{}},"/":{"post":{}}}}`)
	}
	cases := []struct {
		name, url, mode string
		want            []string
	}{
		{"ignore by default", "https://example.com/v1/api", "", []string{"GET /pets", "POST /"}},
		{"ignore", "https://example.com/v1/api", BasepathIgnore, []string{"GET /pets", "POST /"}},
		{"prepend", "https://example.com/v1/api", BasepathPrepend, []string{"GET /v1/api/pets", "POST /v1/api"}},
		{"split", "https://example.com/v1/api", BasepathSplit, []string{"GET /api/pets", "POST /api"}},
		{"split one segment", "https://example.com/v1", BasepathSplit, []string{"GET /pets", "POST /"}},
		{"variable", "https://example.com/{basePath}\",\"variables\":{\"basePath\":{\"default\":\"/stage/x\"}},\"y\":\"", BasepathPrepend, []string{"GET /stage/x/pets", "POST /stage/x"}},
		{"no path", "https://example.com", BasepathPrepend, []string{"GET /pets", "POST /"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			imp := mustImport(t, doc(tc.url), ImportOptions{Basepath: tc.mode})
			var got []string
			for _, r := range imp.API.Routes {
				got = append(got, r.RouteKey)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("route keys %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := Import(doc("https://x/"), ImportOptions{Basepath: "merge"}); err == nil || !strings.Contains(err.Error(), `basepath "merge" is not valid`) {
		t.Errorf("unknown basepath mode: %v", err)
	}
}

// TestImportErrors lists definitions AWS refuses as a whole: each is an *Error naming what is wrong and,
// where it can, the line.
func TestImportErrors(t *testing.T) {
	head := "openapi: 3.0.1\ninfo: {title: t}\n"
	cases := []struct{ name, doc, want string }{
		{"not YAML", "{", "neither JSON nor YAML"},
		{"empty", "", "the definition is empty"},
		{"scalar", "42", "the definition must be an object"},
		{"swagger", "swagger: '2.0'\ninfo: {title: t}\n", "OpenAPI 2.0 (swagger) definitions are not imported"},
		{"no version", "info: {title: t}\n", "openapi is required"},
		{"3.1", "openapi: 3.1.0\ninfo: {title: t}\n", `openapi "3.1.0" is not supported`},
		{"export version", head + "x-amazon-apigateway-importexport-version: '2.0'\n", `"2.0" is not supported`},
		{"no info", "openapi: 3.0.1\n", "info is required"},
		{"no title", "openapi: 3.0.1\ninfo: {version: '1'}\n", "info.title is required"},
		{"duplicate key", head + "paths:\n  /a: {get: {}}\n  /a: {post: {}}\n", `has the key "/a" twice`},
		{"relative path", head + "paths:\n  a: {get: {}}\n", "a path must start with /"},
		{"default with GET", head + "paths:\n  $default: {get: {}}\n", "$default route is written with x-amazon-apigateway-any-method only"},
		{"REST integration", head + "paths:\n  /a:\n    get:\n      x-amazon-apigateway-integration: {type: aws, uri: 'arn:x'}\n",
			"may only be associated with proxy integrations (AWS_PROXY, HTTP_PROXY)"},
		{"integration without type", head + "paths:\n  /a:\n    get:\n      x-amazon-apigateway-integration: {uri: 'https://x'}\n", "type is required"},
		{"dangling integration ref", head + "paths:\n  /a:\n    get:\n      x-amazon-apigateway-integration: {$ref: '#/components/x-amazon-apigateway-integrations/nope'}\n", "names no integration"},
		{"foreign ref", head + "paths:\n  /a:\n    get:\n      x-amazon-apigateway-integration: {$ref: 'other.yaml#/x'}\n", "must refer to #/components/x-amazon-apigateway-integrations/"},
		{"authorizer type", head + "components:\n  securitySchemes:\n    a:\n      x-amazon-apigateway-authorizer: {type: token}\n", `"token" is not supported`},
		{"authorizer without type", head + "components:\n  securitySchemes:\n    a:\n      x-amazon-apigateway-authorizer: {identitySource: x}\n", "type is required: jwt or request"},
		{"wrong kind", head + "x-amazon-apigateway-cors: {allowOrigins: '*'}\n", "allowOrigins must be an array of strings"},
		{"bad integer", head + "x-amazon-apigateway-cors: {maxAge: soon}\n", "maxAge must be an integer"},
		{"bad boolean", head + "x-amazon-apigateway-cors: {allowCredentials: maybe}\n", "allowCredentials must be true or false"},
		{"route twice", head + "paths:\n  /a/:\n    get: {}\n  /a:\n    get: {}\n", "route GET /a is defined twice"},
		{"merge key", head + "paths:\n  /a:\n    <<: {get: {}}\n", "merge key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Import([]byte(tc.doc), ImportOptions{})
			e, ok := AsError(err)
			if !ok {
				t.Fatalf("got %v, want an *Error", err)
			}
			if !strings.Contains(e.Error(), tc.want) || !strings.HasPrefix(e.Error(), "Invalid OpenAPI input: ") {
				t.Errorf("got %q, want it to contain %q", e.Error(), tc.want)
			}
		})
	}
	// Lines are reported where they are known.
	_, err := Import([]byte(head+"paths:\n  /a:\n    get:\n      x-amazon-apigateway-integration: {type: mock}\n"), ImportOptions{})
	if e, _ := AsError(err); e == nil || e.Line != 6 {
		t.Errorf("line of a refused integration type: %+v", err)
	}
}

// TestImportWarnings lists what an import leaves out with a warning, as AWS does (failOnWarnings turns
// them into a failure in the control plane).
func TestImportWarnings(t *testing.T) {
	head := "openapi: 3.0.1\ninfo: {title: t}\n"
	cases := []struct{ name, doc, want string }{
		{"REST-only root extension", head + "x-amazon-apigateway-binary-media-types: ['*/*']\n", "x-amazon-apigateway-binary-media-types is not supported for HTTP APIs"},
		{"unknown root member", head + "colour: blue\n", "Parse issue: attribute colour is unexpected"},
		{"REST-only integration member", head + "paths:\n  /a:\n    get:\n      x-amazon-apigateway-integration: {type: http_proxy, uri: 'https://x', httpMethod: GET, passthroughBehavior: never}\n",
			"paths./a.get.x-amazon-apigateway-integration.passthroughBehavior is not supported for HTTP API integrations"},
		{"trace", head + "paths:\n  /a:\n    trace: {}\n", "HTTP APIs have no TRACE routes"},
		{"undefined scheme", head + "paths:\n  /a:\n    get: {security: [{nobody: []}]}\n", "security scheme nobody is not defined"},
		{"documentation scheme", head + "components:\n  securitySchemes:\n    doc: {type: http, scheme: bearer}\npaths:\n  /a:\n    get: {security: [{doc: []}]}\n", "security scheme doc has no x-amazon-apigateway-authorizer"},
		{"two requirements", head + "components:\n  securitySchemes:\n    s: {type: apiKey, x-amazon-apigateway-authtype: awsSigv4}\npaths:\n  /a:\n    get: {security: [{s: []}, {s: []}]}\n", "only the first security requirement was used"},
		{"route extension", head + "paths:\n  /a:\n    get: {x-amazon-apigateway-request-validator: all}\n", "x-amazon-apigateway-request-validator is not supported for HTTP API routes"},
		{"cors member", head + "x-amazon-apigateway-cors: {allowAll: true}\n", "allowAll is not a member of x-amazon-apigateway-cors"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			imp := mustImport(t, []byte(tc.doc), ImportOptions{})
			if !strings.Contains(strings.Join(imp.Warnings, "\n"), tc.want) {
				t.Errorf("warnings %q, want one containing %q", imp.Warnings, tc.want)
			}
		})
	}
	// A clean definition has none.
	if imp := mustImport(t, []byte(head+"paths:\n  /a:\n    get: {}\n"), ImportOptions{}); len(imp.Warnings) != 0 {
		t.Errorf("warnings for a clean definition: %q", imp.Warnings)
	}
}

// TestImportAliasBomb checks that aliases cannot make a small definition expensive: a thousand paths
// that each alias one thousand-key path item is a million members to look at, from about 30 KB.
func TestImportAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("openapi: 3.0.1\ninfo: {title: t}\nx-item: &item\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "  k%d: {}\n", i)
	}
	b.WriteString("paths:\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "  /p%d: *item\n", i)
	}
	_, err := Import([]byte(b.String()), ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("alias bomb: %v", err)
	}
}
