package controlapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigateway/types"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// The -update flag rewrites golden files; another test file of the package may have registered it.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata/")
	}
}

// v1UpdateGolden reports whether the run was asked to rewrite golden files (-update).
func v1UpdateGolden() bool {
	f := flag.Lookup("update")
	if f == nil {
		return false
	}
	v, _ := f.Value.(flag.Getter).Get().(bool)
	return v
}

// v1Now is the control plane's and the catalog's clock in the v1 tests.
var v1Now = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// v1API is the id of the WebSocket API the v1 fixture holds: stage dev is deployed (served), stage draft
// points at no deployment.
const v1API = "wsapi00001"

// v1Fixture is a control plane over an in-memory catalog holding one WebSocket API. Its Apply compiles
// the served bundle as the gateway does and keeps it, so tests see what the data plane would get.
type v1Fixture struct {
	t       testing.TB
	cat     *catalog.Catalog
	handler http.Handler

	mu         sync.Mutex
	served     *resource.Bundle
	applyError error // the last Apply's error
}

// newV1Fixture opens a catalog with config (nil: none), adds the API v1API and serves the control plane.
func newV1Fixture(t testing.TB, config *resource.Bundle) *v1Fixture {
	t.Helper()
	f := &v1Fixture{t: t}
	opts := catalog.Options{
		Now: func() time.Time { return v1Now },
		Apply: func(_ context.Context, b *resource.Bundle) error {
			_, err := snapshot.Compile(b)
			f.mu.Lock()
			defer f.mu.Unlock()
			f.applyError = err
			if err == nil {
				f.served = b
			}
			return err
		},
	}
	cat, err := catalog.Open(context.Background(), opts, config)
	if err != nil {
		t.Fatal(err)
	}
	f.cat = cat
	b := resource.Bundle{APIs: []resource.API{{
		APIID: v1API, Name: "keys", ProtocolType: resource.ProtocolWebSocket,
		RouteSelectionExpression: "$request.body.action",
		Integrations: []resource.Integration{{IntegrationID: "mock001", IntegrationType: resource.IntegrationMock,
			RequestTemplates: map[string]string{"$default": `{"statusCode":200}`}}},
		Routes: []resource.Route{
			{RouteID: "route01", RouteKey: "$connect", Target: "integrations/mock001", APIKeyRequired: true},
			{RouteID: "route02", RouteKey: "$default", Target: "integrations/mock001"},
		},
		Stages: []resource.Stage{{StageName: "dev", AutoDeploy: true}, {StageName: "draft"}},
	}}}
	resource.ApplyDefaults(&b)
	err = cat.Write(context.Background(), func(st *catalog.State) error {
		st.APIs = append(st.APIs, &catalog.API{API: b.APIs[0], Source: catalog.SourceAPI, CreatedDate: v1Now})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.handler = New(Config{Catalog: cat, Now: func() time.Time { return v1Now }})
	return f
}

// do sends one request to the control plane and returns the status and body.
func (f *v1Fixture) do(method, path, body string) (int, []byte) {
	status, _, resp := f.doTyped(method, path, body)
	return status, resp
}

// doTyped is do that also returns the X-Amzn-ErrorType header, where errors name their type.
func (f *v1Fixture) doTyped(method, path, body string) (int, string, []byte) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, httptest.NewRequest(method, path, rd))
	return rec.Code, rec.Header().Get("X-Amzn-ErrorType"), rec.Body.Bytes()
}

// servedBundle returns the bundle the data plane was last given.
func (f *v1Fixture) servedBundle() *resource.Bundle {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.served
}

// client is the real aws-sdk-go-v2 apigateway client pointed at the fixture.
func (f *v1Fixture) client() *apigateway.Client {
	srv := httptest.NewServer(f.handler)
	f.t.Cleanup(srv.Close)
	return apigateway.New(apigateway.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:       srv.Client(),
		RetryMaxAttempts: 1,
	})
}

// v1Step is one request of a golden scenario: "METHOD PATH" then the body.
type v1Step struct {
	method, path, body string
}

// readV1Steps reads a scenario file: requests separated by blank lines, each "METHOD PATH" on its first
// line and its body (if any) on the next; lines starting with # are comments.
func readV1Steps(t *testing.T, path string) []v1Step {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var steps []v1Step
	for _, block := range strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n\n") {
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(block), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		if len(lines) == 0 {
			continue
		}
		method, p, ok := strings.Cut(lines[0], " ")
		if !ok {
			t.Fatalf("%s: %q is not METHOD PATH", path, lines[0])
		}
		steps = append(steps, v1Step{method: method, path: p, body: strings.Join(lines[1:], "\n")})
	}
	return steps
}

// generatedValueRE matches key values the control plane generated.
var generatedValueRE = regexp.MustCompile(`^[A-Za-z0-9]{40}$`)

// runV1Golden runs the scenario testdata/{name}.requests and compares the transcript — every request with
// its status and indented response body — with testdata/{name}.golden. Generated ids become tokens
// (<key-1>, <plan-1>), which later requests may use in their paths and bodies; generated key values
// become <generated-value-N>.
func runV1Golden(t *testing.T, f *v1Fixture, name string) {
	t.Helper()
	requests := filepath.Join("testdata", name+".requests")
	steps := readV1Steps(t, requests)
	tokens := map[string]string{} // token → real text
	real := map[string]string{}   // real text → token
	counts := map[string]int{}
	remember := func(kind, s string) {
		if s == "" || real[s] != "" {
			return
		}
		counts[kind]++
		tok := fmt.Sprintf("<%s-%d>", kind, counts[kind])
		tokens[tok], real[s] = s, tok
	}
	var out bytes.Buffer
	for _, st := range steps {
		p, body := st.path, st.body
		for tok, s := range tokens {
			p, body = strings.ReplaceAll(p, tok, s), strings.ReplaceAll(body, tok, s)
		}
		status, errType, resp := f.doTyped(st.method, p, body)
		fmt.Fprintf(&out, "%s %s\n", st.method, st.path)
		if st.body != "" {
			fmt.Fprintf(&out, "%s\n", st.body)
		}
		if errType != "" {
			fmt.Fprintf(&out, "→ %d %s %s\n", status, http.StatusText(status), errType)
		} else {
			fmt.Fprintf(&out, "→ %d %s\n", status, http.StatusText(status))
		}
		if len(resp) > 0 {
			var v any
			if err := json.Unmarshal(resp, &v); err != nil {
				t.Fatalf("%s %s: response is not JSON: %q", st.method, p, resp)
			}
			kind := map[string]string{"POST /apikeys": "key", "POST /usageplans": "plan"}[st.method+" "+st.path]
			if m, ok := v.(map[string]any); ok && kind != "" && status == http.StatusCreated {
				id, _ := m["id"].(string)
				remember(kind, id)
			}
			indented, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			text := string(indented)
			for _, s := range regexp.MustCompile(`"value": "([^"]*)"`).FindAllStringSubmatch(text, -1) {
				if generatedValueRE.MatchString(s[1]) {
					remember("generated-value", s[1])
				}
			}
			// Longest first, so that no token replaces part of another's text.
			reals := make([]string, 0, len(real))
			for s := range real {
				reals = append(reals, s)
			}
			slices.SortFunc(reals, func(a, b string) int { return len(b) - len(a) })
			for _, s := range reals {
				text = strings.ReplaceAll(text, s, real[s])
			}
			fmt.Fprintf(&out, "%s\n", text)
		}
		out.WriteString("\n")
	}
	golden := filepath.Join("testdata", name+".golden")
	if v1UpdateGolden() {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got := out.String(); got != string(want) {
		t.Errorf("%s differs (run go test -update to accept): %s", golden, v1FirstDifference(got, string(want)))
	}
}

// v1FirstDifference describes the first line where got and want differ.
func v1FirstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got: %s\nwant: %s", i+1, gl, wl)
		}
	}
	return "no difference"
}

// TestV1APIKeysGolden runs the API key operations through plain HTTP: creation with and without a value,
// the errors for a duplicate or short value and unknown members, listing with and without values and
// pages, reading, patching and deleting.
func TestV1APIKeysGolden(t *testing.T) {
	runV1Golden(t, newV1Fixture(t, nil), "v1_apikeys")
}

// TestV1APIKeysSDK drives the API key operations with the real aws-sdk-go-v2 apigateway client, which
// checks the wire format (epoch-second dates, item/position lists, patch operations, 202 deletes) and
// the typed errors.
func TestV1APIKeysSDK(t *testing.T) {
	f := newV1Fixture(t, nil)
	c := f.client()
	ctx := context.Background()

	created, err := c.CreateApiKey(ctx, &apigateway.CreateApiKeyInput{
		Name: aws.String("alice"), Value: aws.String("alice-key-0123456789abcdef"), Enabled: true,
		CustomerId: aws.String("cust-1"), Description: aws.String("Alice's key"), Tags: map[string]string{"team": "chat"},
	})
	if err != nil {
		t.Fatalf("CreateApiKey: %v", err)
	}
	if !regexp.MustCompile(`^[a-z0-9]{10}$`).MatchString(aws.ToString(created.Id)) {
		t.Errorf("id %q is not 10 characters of [a-z0-9]", aws.ToString(created.Id))
	}
	if aws.ToString(created.Value) != "alice-key-0123456789abcdef" || !created.Enabled || aws.ToString(created.CustomerId) != "cust-1" ||
		created.Tags["team"] != "chat" || !created.CreatedDate.Equal(v1Now) || !created.LastUpdatedDate.Equal(v1Now) {
		t.Errorf("CreateApiKey output = %+v", created)
	}
	generated, err := c.CreateApiKey(ctx, &apigateway.CreateApiKeyInput{Name: aws.String("bob")})
	if err != nil {
		t.Fatalf("CreateApiKey without a value: %v", err)
	}
	if !generatedValueRE.MatchString(aws.ToString(generated.Value)) || generated.Enabled {
		t.Errorf("generated key: value %q enabled %v; want 40 letters and digits, disabled", aws.ToString(generated.Value), generated.Enabled)
	}

	t.Run("values only when asked for", func(t *testing.T) {
		got, err := c.GetApiKey(ctx, &apigateway.GetApiKeyInput{ApiKey: created.Id})
		if err != nil || got.Value != nil {
			t.Fatalf("GetApiKey = %v, %v; want no value", got, err)
		}
		got, err = c.GetApiKey(ctx, &apigateway.GetApiKeyInput{ApiKey: created.Id, IncludeValue: aws.Bool(true)})
		if err != nil || aws.ToString(got.Value) != "alice-key-0123456789abcdef" {
			t.Fatalf("GetApiKey includeValue = %v, %v", got, err)
		}
		list, err := c.GetApiKeys(ctx, &apigateway.GetApiKeysInput{IncludeValues: aws.Bool(true)})
		if err != nil || len(list.Items) != 2 || aws.ToString(list.Items[1].Value) != aws.ToString(generated.Value) {
			t.Fatalf("GetApiKeys includeValues = %+v, %v", list, err)
		}
	})
	t.Run("paginator", func(t *testing.T) {
		var names []string
		p := apigateway.NewGetApiKeysPaginator(c, &apigateway.GetApiKeysInput{Limit: aws.Int32(1)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range page.Items {
				names = append(names, aws.ToString(k.Name))
			}
		}
		if !slices.Equal(names, []string{"alice", "bob"}) {
			t.Fatalf("pages gave %v", names)
		}
	})
	t.Run("update", func(t *testing.T) {
		got, err := c.UpdateApiKey(ctx, &apigateway.UpdateApiKeyInput{ApiKey: generated.Id, PatchOperations: []types.PatchOperation{
			{Op: types.OpReplace, Path: aws.String("/enabled"), Value: aws.String("true")},
			{Op: types.OpReplace, Path: aws.String("/name"), Value: aws.String("bobby")},
		}})
		if err != nil || !got.Enabled || aws.ToString(got.Name) != "bobby" {
			t.Fatalf("UpdateApiKey = %+v, %v", got, err)
		}
		if served := f.servedBundle(); len(served.APIKeys) != 2 || !served.APIKeys[1].Enabled {
			t.Fatalf("the data plane was not given the enabled key: %+v", served.APIKeys)
		}
	})

	errorCases := []struct {
		name string
		call func() error
		want any
	}{
		{"duplicate value", func() error {
			_, err := c.CreateApiKey(ctx, &apigateway.CreateApiKeyInput{Value: aws.String("alice-key-0123456789abcdef")})
			return err
		}, new(*types.ConflictException)},
		{"short value", func() error {
			_, err := c.CreateApiKey(ctx, &apigateway.CreateApiKeyInput{Value: aws.String("short")})
			return err
		}, new(*types.BadRequestException)},
		{"unknown key", func() error {
			_, err := c.GetApiKey(ctx, &apigateway.GetApiKeyInput{ApiKey: aws.String("nokey00000")})
			return err
		}, new(*types.NotFoundException)},
		{"update unknown key", func() error {
			_, err := c.UpdateApiKey(ctx, &apigateway.UpdateApiKeyInput{ApiKey: aws.String("nokey00000")})
			return err
		}, new(*types.NotFoundException)},
		{"patch a path keys do not have", func() error {
			_, err := c.UpdateApiKey(ctx, &apigateway.UpdateApiKeyInput{ApiKey: created.Id, PatchOperations: []types.PatchOperation{
				{Op: types.OpReplace, Path: aws.String("/value"), Value: aws.String("another-value-0123456789")}}})
			return err
		}, new(*types.BadRequestException)},
		{"delete unknown key", func() error {
			_, err := c.DeleteApiKey(ctx, &apigateway.DeleteApiKeyInput{ApiKey: aws.String("nokey00000")})
			return err
		}, new(*types.NotFoundException)},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.As(err, tc.want) {
				t.Fatalf("got %v, want %T", err, tc.want)
			}
		})
	}

	t.Run("delete", func(t *testing.T) {
		if _, err := c.DeleteApiKey(ctx, &apigateway.DeleteApiKeyInput{ApiKey: generated.Id}); err != nil {
			t.Fatalf("DeleteApiKey: %v", err)
		}
		var nf *types.NotFoundException
		if _, err := c.GetApiKey(ctx, &apigateway.GetApiKeyInput{ApiKey: generated.Id}); !errors.As(err, &nf) ||
			aws.ToString(nf.Message) != "Invalid API Key identifier specified" {
			t.Fatalf("GetApiKey after delete: %v", err)
		}
	})
}

// TestV1PatchAPIKey checks UpdateApiKey's patch operations one by one.
func TestV1PatchAPIKey(t *testing.T) {
	cases := []struct {
		name    string
		ops     string
		want    func(k *catalog.APIKey) bool
		wantErr string // a part of the BadRequestException's message
	}{
		{"no operations", `[]`, func(k *catalog.APIKey) bool { return k.Name == "alice" && k.Enabled }, ""},
		{"rename", `[{"op":"replace","path":"/name","value":"carol"}]`, func(k *catalog.APIKey) bool { return k.Name == "carol" }, ""},
		{"disable", `[{"op":"replace","path":"/enabled","value":"false"}]`, func(k *catalog.APIKey) bool { return !k.Enabled }, ""},
		{"describe and set the customer", `[{"op":"replace","path":"/description","value":"d"},{"op":"replace","path":"/customerId","value":"c"}]`,
			func(k *catalog.APIKey) bool { return k.Description == "d" && k.CustomerID == "c" }, ""},
		{"clear the name without a value", `[{"op":"replace","path":"/name"}]`, func(k *catalog.APIKey) bool { return k.Name == "" }, ""},
		{"enabled is a boolean", `[{"op":"replace","path":"/enabled","value":"yes please"}]`, nil, "Invalid value for /enabled"},
		{"add is not an operation keys take", `[{"op":"add","path":"/name","value":"x"}]`, nil, "Invalid patch path '/name' specified for op 'add'"},
		{"the value cannot change", `[{"op":"replace","path":"/value","value":"x"}]`, nil, "Invalid patch path '/value'"},
		{"stages are for REST APIs", `[{"op":"add","path":"/stages","value":"api/dev"}]`, nil, "Invalid patch path '/stages'"},
		{"unknown op", `[{"op":"merge","path":"/name","value":"x"}]`, nil, `patchOperations[0].op "merge" is not valid`},
		{"missing op", `[{"path":"/name","value":"x"}]`, nil, "patchOperations[0].op is required"},
		{"relative path", `[{"op":"replace","path":"name","value":"x"}]`, nil, `patchOperations[0].path "name" is not valid`},
		{"unknown member", `[{"op":"replace","path":"/name","value":"x","extra":1}]`, nil, "unknown member extra"},
		{"value is a string", `[{"op":"replace","path":"/enabled","value":true}]`, nil, "must be a string"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := &catalog.APIKey{APIKey: resource.APIKey{ID: "key", Name: "alice", Enabled: true}}
			ops, err := decodePatchOps([]byte(`{"patchOperations":` + tc.ops + `}`))
			if err == nil {
				err = patchAPIKey(k, ops)
			}
			v1CheckBadRequest(t, err, tc.wantErr)
			if tc.wantErr == "" && !tc.want(k) {
				t.Fatalf("key after the patch: %+v", k)
			}
		})
	}
}

// v1CheckBadRequest checks that err is nil when want is "", else a BadRequestException whose message
// contains want.
func v1CheckBadRequest(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error; want a BadRequestException containing %q", want)
	}
	if !strings.HasPrefix(err.Error(), "BadRequestException: ") || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q; want a BadRequestException containing %q", err, want)
	}
}
