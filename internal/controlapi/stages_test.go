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
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
	"github.com/aws/smithy-go"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// The -update flag rewrites golden files. It is registered here only if another test file of the
// package has not registered it already (package-level variables are initialised before init runs).
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata/")
	}
}

// updateGolden reports whether the test run was asked to rewrite golden files.
func updateGolden() bool {
	f := flag.Lookup("update")
	if f == nil {
		return false
	}
	v, _ := f.Value.(flag.Getter).Get().(bool)
	return v
}

// fixtureNow is the catalog's and the control plane's clock in these tests.
var fixtureNow = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// fixtureAPI is the apiId of the API seedAPI makes.
const fixtureAPI = "chatapi001"

// catalogFixture is a control plane over an in-memory catalog whose Apply compiles the served bundle as
// the gateway does and keeps what it compiled, so tests can see what the data plane would serve.
type catalogFixture struct {
	t      *testing.T
	cat    *catalog.Catalog
	srv    *httptest.Server
	client *apigatewayv2.Client

	mu     sync.Mutex
	served *resource.Bundle
	set    *snapshot.Set
}

// newCatalogFixture starts a control plane over a catalog opened with config (nil: none).
func newCatalogFixture(t *testing.T, config *resource.Bundle) *catalogFixture {
	t.Helper()
	f := &catalogFixture{t: t}
	opts := catalog.Options{
		Now: func() time.Time { return fixtureNow },
		Apply: func(_ context.Context, b *resource.Bundle) error {
			set, err := snapshot.Compile(b)
			if err != nil {
				return err
			}
			var copied resource.Bundle
			data, err := json.Marshal(b)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(data, &copied); err != nil {
				return err
			}
			f.mu.Lock()
			f.served, f.set = &copied, set
			f.mu.Unlock()
			return nil
		},
	}
	cat, err := catalog.Open(context.Background(), opts, config)
	if err != nil {
		t.Fatal(err)
	}
	f.cat = cat
	f.srv = httptest.NewServer(New(Config{Catalog: cat, Now: func() time.Time { return fixtureNow }}))
	t.Cleanup(f.srv.Close)
	f.client = apigatewayv2.New(apigatewayv2.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(f.srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:       f.srv.Client(),
		RetryMaxAttempts: 1,
	})
	return f
}

// seedAPI adds an API made through the control plane with a MOCK integration and the routes $connect
// and sendmessage, written to the catalog directly.
func (f *catalogFixture) seedAPI(id string) {
	f.t.Helper()
	b := resource.Bundle{APIs: []resource.API{{
		APIID: id, Name: "chat", ProtocolType: resource.ProtocolWebSocket,
		RouteSelectionExpression: "$request.body.action",
		Integrations: []resource.Integration{{IntegrationID: "mock01", IntegrationType: resource.IntegrationMock,
			RequestTemplates: map[string]string{"$default": `{"statusCode":200}`}}},
		Routes: []resource.Route{
			{RouteID: "route01", RouteKey: "$connect", Target: "integrations/mock01"},
			{RouteID: "route02", RouteKey: "sendmessage", Target: "integrations/mock01"},
		},
	}}}
	resource.ApplyDefaults(&b)
	f.write(func(st *catalog.State) error {
		st.APIs = append(st.APIs, &catalog.API{API: b.APIs[0], Source: catalog.SourceAPI, CreatedDate: fixtureNow})
		return nil
	})
}

// seedEmptyAPI adds an API with no routes.
func (f *catalogFixture) seedEmptyAPI(id string) {
	f.t.Helper()
	f.write(func(st *catalog.State) error {
		a := &catalog.API{Source: catalog.SourceAPI, CreatedDate: fixtureNow}
		a.APIID, a.Name, a.ProtocolType = id, "empty", resource.ProtocolWebSocket
		a.RouteSelectionExpression = "$request.body.action"
		a.APIKeySelectionExpression = resource.DefaultAPIKeySelectionExpression
		st.APIs = append(st.APIs, a)
		return nil
	})
}

// write changes the catalog directly, as another adapter would.
func (f *catalogFixture) write(fn func(*catalog.State) error) {
	f.t.Helper()
	if err := f.cat.Write(context.Background(), fn); err != nil {
		f.t.Fatal(err)
	}
}

// renameRoute changes the key of the API's route routeID in the working copy.
func (f *catalogFixture) renameRoute(apiID, routeID, key string) {
	f.t.Helper()
	f.write(func(st *catalog.State) error {
		a := st.API(apiID)
		for i := range a.Routes {
			if a.Routes[i].RouteID == routeID {
				a.Routes[i].RouteKey = key
				return nil
			}
		}
		return fmt.Errorf("no route %s", routeID)
	})
}

// servedRoutes returns the route keys the data plane serves on the API's stage, sorted, or nil when the
// stage is not served.
func (f *catalogFixture) servedRoutes(apiID, stage string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	api := f.set.API(apiID)
	if api == nil || api.Stages[stage] == nil {
		return nil
	}
	keys := []string{}
	for k := range api.Stages[stage].Routes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// servedSet returns the last compiled snapshot set.
func (f *catalogFixture) servedSet() *snapshot.Set {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.set
}

// servedStage returns the served bundle's stage, or nil when it is not served.
func (f *catalogFixture) servedStage(apiID, stage string) *resource.Stage {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.served.APIs {
		if a.APIID != apiID {
			continue
		}
		for i := range a.Stages {
			if a.Stages[i].StageName == stage {
				return &a.Stages[i]
			}
		}
	}
	return nil
}

// goldenStep is one request of a golden scenario. Tokens like <deployment-1> in path and body stand for
// ids the gateway generated earlier in the scenario.
type goldenStep struct {
	method, path, body string
}

// generatedIDMembers are the response members whose values are random ids, replaced by tokens in the
// golden text so that it is deterministic.
var generatedIDMembers = map[string]string{"deploymentId": "deployment", "apiMappingId": "mapping"}

// runGolden sends the steps in order over plain HTTP and compares the transcript — each request with
// its status, error type and indented body — with testdata/name.
func (f *catalogFixture) runGolden(name string, steps []goldenStep) {
	t := f.t
	t.Helper()
	tokens := map[string]string{} // token → id
	ids := map[string]string{}    // id → token
	counts := map[string]int{}
	var out bytes.Buffer
	for _, step := range steps {
		path, body := step.path, step.body
		for tok, id := range tokens {
			path = strings.ReplaceAll(path, tok, id)
			body = strings.ReplaceAll(body, tok, id)
		}
		req, err := http.NewRequest(step.method, f.srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		registerIDs(data, ids, tokens, counts)
		fmt.Fprintf(&out, ">>> %s %s\n", step.method, step.path)
		if step.body != "" {
			fmt.Fprintf(&out, "%s\n", step.body)
		}
		fmt.Fprintf(&out, "<<< %d", resp.StatusCode)
		if et := resp.Header.Get("X-Amzn-ErrorType"); et != "" {
			fmt.Fprintf(&out, " %s", et)
		}
		out.WriteString("\n")
		if len(data) > 0 {
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, data, "", "  "); err != nil {
				t.Fatalf("%s %s: response is not JSON: %q", step.method, path, data)
			}
			out.Write(pretty.Bytes())
			out.WriteString("\n")
		}
		out.WriteString("\n")
	}
	text := out.String()
	// Longest ids first, so that no id is replaced inside another.
	var all []string
	for id := range ids {
		all = append(all, id)
	}
	sort.Slice(all, func(i, j int) bool { return len(all[i]) > len(all[j]) })
	for _, id := range all {
		text = strings.ReplaceAll(text, id, ids[id])
	}
	compareGolden(t, filepath.Join("testdata", name), text)
}

// registerIDs gives every new generated id found in a JSON response a token.
func registerIDs(data []byte, ids, tokens map[string]string, counts map[string]int) {
	var v any
	if json.Unmarshal(data, &v) != nil {
		return
	}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if kind, ok := generatedIDMembers[k]; ok {
					if id, ok := v[k].(string); ok && id != "" && ids[id] == "" {
						counts[kind]++
						tok := fmt.Sprintf("<%s-%d>", kind, counts[kind])
						ids[id], tokens[tok] = tok, id
					}
				}
				walk(v[k])
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
}

// compareGolden compares got with the file at path, or rewrites it with -update.
func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if updateGolden() {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// errorCode returns the AWS error type of err as the SDK decoded it, or "" for nil. An error type the
// operation's model does not declare (the SDK then cannot give it its Go type) comes back with
// " (untyped)" appended: apigatewayv2's model declares no BadRequestException for the Delete operations,
// though AWS answers one when, say, a deployment still in use is deleted.
func errorCode(err error) string {
	var nf *types.NotFoundException
	var cf *types.ConflictException
	var br *types.BadRequestException
	var generic smithy.APIError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &nf):
		return "NotFoundException"
	case errors.As(err, &cf):
		return "ConflictException"
	case errors.As(err, &br):
		return "BadRequestException"
	case errors.As(err, &generic):
		return generic.ErrorCode() + " (untyped)"
	}
	return "other: " + err.Error()
}

func TestStagesGolden(t *testing.T) {
	f := newCatalogFixture(t, nil)
	f.seedAPI(fixtureAPI)
	api := "/v2/apis/" + fixtureAPI
	f.runGolden("b_stages.golden", []goldenStep{
		{"POST", api + "/stages", `{"stageName":"dev"}`},
		{"POST", api + "/stages", `{"stageName":"dev"}`},
		{"POST", api + "/stages", `{"stageName":"bad name"}`},
		{"POST", api + "/stages", `{}`},
		{"POST", api + "/stages", `{"stageName":"vars","stageVariables":{"bad-name":"x"}}`},
		{"POST", api + "/stages", `{"stageName":"vars","stageVariables":{"host":"bad value!"}}`},
		{"POST", api + "/stages", `{"stageName":"rs","routeSettings":{"nosuchroute":{"loggingLevel":"INFO"}}}`},
		{"POST", api + "/stages", `{"stageName":"rs","defaultRouteSettings":{"loggingLevel":"LOUD"}}`},
		{"POST", api + "/stages", `{"stageName":"logs","accessLogSettings":{"destinationArn":"arn:aws:logs:us-east-1:123456789012:log-group:x","format":"$context.routeKey"}}`},
		{"POST", api + "/stages", `{"stageName":"both","autoDeploy":true,"deploymentId":"abc123"}`},
		{"POST", api + "/stages", `{"stageName":"nodeploy","deploymentId":"abc123"}`},
		{"POST", api + "/stages", `{"stageName":"unknown","colour":"blue"}`},
		{"POST", "/v2/apis/nosuchapi/stages", `{"stageName":"dev"}`},
		{"POST", api + "/stages", `{"stageName":"prod","description":"Production","autoDeploy":true,` +
			`"stageVariables":{"host":"api.example.com"},"clientCertificateId":"cert01",` +
			`"accessLogSettings":{"destinationArn":"arn:aws:logs:us-east-1:123456789012:log-group:chat","format":"$context.requestId $context.routeKey"},` +
			`"defaultRouteSettings":{"dataTraceEnabled":true,"loggingLevel":"INFO","throttlingBurstLimit":100,"throttlingRateLimit":50.5},` +
			`"routeSettings":{"$connect":{"throttlingBurstLimit":10,"throttlingRateLimit":5},"sendmessage":{"loggingLevel":"ERROR"}},` +
			`"tags":{"team":"realtime"}}`},
		{"GET", api + "/stages/prod", ""},
		{"GET", api + "/stages/nosuch", ""},
		{"GET", api + "/stages", ""},
		{"GET", api + "/stages?maxResults=1", ""},
		{"GET", api + "/stages?maxResults=1&nextToken=1", ""},
		{"PATCH", api + "/stages/prod", `{"description":"Live","stageVariables":{"host":"other.example.com"}}`},
		{"PATCH", api + "/stages/prod", `{"deploymentId":"abc123"}`},
		{"PATCH", api + "/stages/prod", `{"stageName":"renamed"}`},
		{"PATCH", api + "/stages/dev", `{"deploymentId":"abc123"}`},
		{"DELETE", api + "/stages/prod/routesettings/%24connect", ""},
		{"DELETE", api + "/stages/prod/routesettings/%24connect", ""},
		{"DELETE", api + "/stages/prod/accesslogsettings", ""},
		{"DELETE", api + "/stages/prod/cache/authorizers", ""},
		{"DELETE", api + "/stages/nosuch/cache/authorizers", ""},
		{"GET", api + "/stages/prod", ""},
		{"DELETE", api + "/stages/prod", ""},
		{"DELETE", api + "/stages/prod", ""},
		{"GET", api + "/stages", ""},
	})
}

func TestStagesSDK(t *testing.T) {
	ctx := context.Background()
	f := newCatalogFixture(t, nil)
	f.seedAPI(fixtureAPI)
	c := f.client
	api := aws.String(fixtureAPI)

	created, err := c.CreateStage(ctx, &apigatewayv2.CreateStageInput{
		ApiId: api, StageName: aws.String("dev"), Description: aws.String("Development"),
		StageVariables:       map[string]string{"table": "connections"},
		DefaultRouteSettings: &types.RouteSettings{LoggingLevel: types.LoggingLevelError, ThrottlingRateLimit: aws.Float64(20)},
		RouteSettings:        map[string]types.RouteSettings{"$connect": {ThrottlingBurstLimit: aws.Int32(5)}},
		AccessLogSettings:    &types.AccessLogSettings{DestinationArn: aws.String("arn:aws:logs:us-east-1:123456789012:log-group:x"), Format: aws.String("$context.requestId")},
		Tags:                 map[string]string{"env": "dev"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(created.StageName) != "dev" || aws.ToBool(created.AutoDeploy) || aws.ToBool(created.ApiGatewayManaged) ||
		created.DefaultRouteSettings.LoggingLevel != types.LoggingLevelError || aws.ToFloat64(created.DefaultRouteSettings.ThrottlingRateLimit) != 20 ||
		aws.ToInt32(created.RouteSettings["$connect"].ThrottlingBurstLimit) != 5 || created.Tags["env"] != "dev" ||
		!created.CreatedDate.Equal(fixtureNow) || !created.LastUpdatedDate.Equal(fixtureNow) || created.DeploymentId != nil {
		t.Errorf("CreateStage output: %+v", created)
	}
	if got := f.servedRoutes(fixtureAPI, "dev"); got != nil {
		t.Errorf("a stage without a deployment is served with routes %v", got)
	}

	// Errors, typed as the SDK decodes them.
	cases := []struct {
		name string
		call func() error
		want string
	}{
		{"duplicate stage", func() error {
			_, err := c.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: api, StageName: aws.String("dev")})
			return err
		}, "ConflictException"},
		{"invalid stage name", func() error {
			_, err := c.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: api, StageName: aws.String("a/b")})
			return err
		}, "BadRequestException"},
		{"unknown API", func() error {
			_, err := c.GetStages(ctx, &apigatewayv2.GetStagesInput{ApiId: aws.String("nosuchapi")})
			return err
		}, "NotFoundException"},
		{"unknown stage", func() error {
			_, err := c.GetStage(ctx, &apigatewayv2.GetStageInput{ApiId: api, StageName: aws.String("nosuch")})
			return err
		}, "NotFoundException"},
		{"unknown deployment", func() error {
			_, err := c.UpdateStage(ctx, &apigatewayv2.UpdateStageInput{ApiId: api, StageName: aws.String("dev"), DeploymentId: aws.String("nosuch")})
			return err
		}, "NotFoundException"},
		{"route settings for no route", func() error {
			_, err := c.UpdateStage(ctx, &apigatewayv2.UpdateStageInput{ApiId: api, StageName: aws.String("dev"),
				RouteSettings: map[string]types.RouteSettings{"nosuchroute": {}}})
			return err
		}, "BadRequestException"},
		{"unknown route settings key", func() error {
			_, err := c.DeleteRouteSettings(ctx, &apigatewayv2.DeleteRouteSettingsInput{ApiId: api, StageName: aws.String("dev"), RouteKey: aws.String("sendmessage")})
			return err
		}, "NotFoundException"},
		{"reserved tag key", func() error {
			_, err := c.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: api, StageName: aws.String("t"), Tags: map[string]string{"aws:x": "y"}})
			return err
		}, "BadRequestException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := errorCode(tc.call()); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}

	// The route key $connect travels percent-encoded in the path.
	if _, err := c.DeleteRouteSettings(ctx, &apigatewayv2.DeleteRouteSettingsInput{ApiId: api, StageName: aws.String("dev"), RouteKey: aws.String("$connect")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteAccessLogSettings(ctx, &apigatewayv2.DeleteAccessLogSettingsInput{ApiId: api, StageName: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ResetAuthorizersCache(ctx, &apigatewayv2.ResetAuthorizersCacheInput{ApiId: api, StageName: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetStage(ctx, &apigatewayv2.GetStageInput{ApiId: api, StageName: aws.String("dev")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.RouteSettings) != 0 || got.AccessLogSettings != nil || got.StageVariables["table"] != "connections" {
		t.Errorf("after deleting route and access log settings: %+v", got)
	}

	// UpdateStage changes only the members it is given.
	upd, err := c.UpdateStage(ctx, &apigatewayv2.UpdateStageInput{ApiId: api, StageName: aws.String("dev"), Description: aws.String("Changed")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(upd.Description) != "Changed" || upd.StageVariables["table"] != "connections" || upd.DefaultRouteSettings.LoggingLevel != types.LoggingLevelError {
		t.Errorf("UpdateStage output: %+v", upd)
	}

	// List with pagination.
	for _, name := range []string{"b", "c"} {
		if _, err := c.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: api, StageName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	var token *string
	for pages := 0; ; pages++ {
		out, err := c.GetStages(ctx, &apigatewayv2.GetStagesInput{ApiId: api, MaxResults: aws.String("2"), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			names = append(names, aws.ToString(it.StageName))
		}
		if token = out.NextToken; token == nil {
			if pages != 1 {
				t.Errorf("3 stages took %d pages of 2", pages+1)
			}
			break
		}
	}
	if strings.Join(names, ",") != "dev,b,c" {
		t.Errorf("stages listed: %v", names)
	}

	if _, err := c.DeleteStage(ctx, &apigatewayv2.DeleteStageInput{ApiId: api, StageName: aws.String("b")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetStage(ctx, &apigatewayv2.GetStageInput{ApiId: api, StageName: aws.String("b")})
	if errorCode(err) != "NotFoundException" {
		t.Errorf("deleted stage: %v", err)
	}
}

// TestAutoDeployFollowsChanges checks that an autoDeploy stage serves every change at once, that
// deploymentId cannot be set on it, and that switching autoDeploy on deploys the current API.
func TestAutoDeployFollowsChanges(t *testing.T) {
	ctx := context.Background()
	f := newCatalogFixture(t, nil)
	f.seedAPI(fixtureAPI)
	c := f.client
	api := aws.String(fixtureAPI)

	live, err := c.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: api, StageName: aws.String("live"), AutoDeploy: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if live.DeploymentId == nil || !aws.ToBool(live.AutoDeploy) ||
		aws.ToString(live.LastDeploymentStatusMessage) != "Successfully deployed stage with deployment ID '"+aws.ToString(live.DeploymentId)+"'" {
		t.Fatalf("CreateStage with autoDeploy: %+v", live)
	}
	if got := strings.Join(f.servedRoutes(fixtureAPI, "live"), ","); got != "$connect,sendmessage" {
		t.Fatalf("autoDeploy stage serves %q", got)
	}

	f.renameRoute(fixtureAPI, "route02", "chat")
	if got := strings.Join(f.servedRoutes(fixtureAPI, "live"), ","); got != "$connect,chat" {
		t.Errorf("after a change, the autoDeploy stage serves %q", got)
	}
	after, err := c.GetStage(ctx, &apigatewayv2.GetStageInput{ApiId: api, StageName: aws.String("live")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(after.DeploymentId) == aws.ToString(live.DeploymentId) {
		t.Errorf("the stage kept deployment %s after a change", aws.ToString(live.DeploymentId))
	}
	deps, err := c.GetDeployments(ctx, &apigatewayv2.GetDeploymentsInput{ApiId: api})
	if err != nil {
		t.Fatal(err)
	}
	// The first automatic deployment is no longer used by any stage, so only the new one is left.
	if len(deps.Items) != 1 || !aws.ToBool(deps.Items[0].AutoDeployed) || aws.ToString(deps.Items[0].DeploymentId) != aws.ToString(after.DeploymentId) ||
		aws.ToString(deps.Items[0].Description) != autoDeployDescription || deps.Items[0].DeploymentStatus != types.DeploymentStatusDeployed {
		t.Errorf("deployments: %+v", deps.Items)
	}

	_, err = c.UpdateStage(ctx, &apigatewayv2.UpdateStageInput{ApiId: api, StageName: aws.String("live"), DeploymentId: after.DeploymentId})
	if errorCode(err) != "BadRequestException" {
		t.Errorf("setting deploymentId on an autoDeploy stage: %v", err)
	}
	_, err = c.CreateDeployment(ctx, &apigatewayv2.CreateDeploymentInput{ApiId: api, StageName: aws.String("live")})
	if errorCode(err) != "BadRequestException" {
		t.Errorf("deploying explicitly to an autoDeploy stage: %v", err)
	}

	// A manual stage on an old deployment, then switched to autoDeploy: it serves the API as it is now.
	if _, err := c.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: api, StageName: aws.String("manual")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDeployment(ctx, &apigatewayv2.CreateDeploymentInput{ApiId: api, StageName: aws.String("manual")}); err != nil {
		t.Fatal(err)
	}
	f.renameRoute(fixtureAPI, "route02", "talk")
	if got := strings.Join(f.servedRoutes(fixtureAPI, "manual"), ","); got != "$connect,chat" {
		t.Fatalf("manual stage serves %q", got)
	}
	if _, err := c.UpdateStage(ctx, &apigatewayv2.UpdateStageInput{ApiId: api, StageName: aws.String("manual"), AutoDeploy: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.servedRoutes(fixtureAPI, "manual"), ","); got != "$connect,talk" {
		t.Errorf("after switching autoDeploy on, the stage serves %q", got)
	}
	// And switched off again: it keeps its deployment and no longer follows changes.
	off, err := c.UpdateStage(ctx, &apigatewayv2.UpdateStageInput{ApiId: api, StageName: aws.String("manual"), AutoDeploy: aws.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	if off.DeploymentId == nil || off.LastDeploymentStatusMessage != nil {
		t.Errorf("after switching autoDeploy off: %+v", off)
	}
	f.renameRoute(fixtureAPI, "route02", "whisper")
	if got := strings.Join(f.servedRoutes(fixtureAPI, "manual"), ","); got != "$connect,talk" {
		t.Errorf("with autoDeploy off again, the stage serves %q", got)
	}
	if got := strings.Join(f.servedRoutes(fixtureAPI, "live"), ","); got != "$connect,whisper" {
		t.Errorf("the autoDeploy stage serves %q", got)
	}
}

// TestStageSettingsServed checks that stage variables and route settings reach the served bundle.
func TestStageSettingsServed(t *testing.T) {
	ctx := context.Background()
	f := newCatalogFixture(t, nil)
	f.seedAPI(fixtureAPI)
	c := f.client
	api := aws.String(fixtureAPI)
	if _, err := c.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: api, StageName: aws.String("live"), AutoDeploy: aws.Bool(true),
		StageVariables: map[string]string{"room": "lobby"},
		RouteSettings:  map[string]types.RouteSettings{"sendmessage": {ThrottlingRateLimit: aws.Float64(3)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateStage(ctx, &apigatewayv2.UpdateStageInput{ApiId: api, StageName: aws.String("live"),
		StageVariables: map[string]string{"room": "hall"}}); err != nil {
		t.Fatal(err)
	}
	st := f.servedSet().API(fixtureAPI).Stages["live"]
	if st == nil || st.Variables["room"] != "hall" || st.RouteSettings["sendmessage"].ThrottlingRateLimit != 3 {
		t.Errorf("served stage: %+v", st)
	}
	if s := f.servedStage(fixtureAPI, "live"); s == nil || !s.AutoDeploy {
		t.Errorf("served bundle stage: %+v", s)
	}
}

// TestConfigFileResourcesReadOnly checks that the control plane shows what the configuration file
// declares but refuses to change it.
func TestConfigFileResourcesReadOnly(t *testing.T) {
	ctx := context.Background()
	config := &resource.Bundle{
		APIs: []resource.API{{APIID: "fileapi", Name: "file", ProtocolType: resource.ProtocolWebSocket,
			RouteSelectionExpression: "$request.body.action",
			Integrations:             []resource.Integration{{IntegrationID: "m", IntegrationType: resource.IntegrationMock}},
			Routes:                   []resource.Route{{RouteKey: "$default", Target: "integrations/m"}},
			Stages:                   []resource.Stage{{StageName: "dev"}}}},
		DomainNames: []resource.DomainName{{DomainName: "file.example.com",
			APIMappings: []resource.APIMapping{{APIID: "fileapi", Stage: "dev", APIMappingKey: "chat"}}}},
	}
	f := newCatalogFixture(t, config)
	c := f.client
	api := aws.String("fileapi")

	st, err := c.GetStage(ctx, &apigatewayv2.GetStageInput{ApiId: api, StageName: aws.String("dev")})
	if err != nil {
		t.Fatal(err)
	}
	if !aws.ToBool(st.AutoDeploy) || st.DeploymentId == nil {
		t.Errorf("a configuration-file stage: %+v", st)
	}
	d, err := c.GetDomainName(ctx, &apigatewayv2.GetDomainNameInput{DomainName: aws.String("file.example.com")})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.DomainNameConfigurations) != 1 || d.DomainNameConfigurations[0].EndpointType != types.EndpointTypeRegional {
		t.Errorf("a configuration-file domain: %+v", d)
	}

	cases := []struct {
		name string
		call func() error
	}{
		{"CreateStage", func() error {
			_, err := c.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: api, StageName: aws.String("other")})
			return err
		}},
		{"UpdateStage", func() error {
			_, err := c.UpdateStage(ctx, &apigatewayv2.UpdateStageInput{ApiId: api, StageName: aws.String("dev"), Description: aws.String("x")})
			return err
		}},
		{"DeleteStage", func() error {
			_, err := c.DeleteStage(ctx, &apigatewayv2.DeleteStageInput{ApiId: api, StageName: aws.String("dev")})
			return err
		}},
		{"CreateDeployment", func() error {
			_, err := c.CreateDeployment(ctx, &apigatewayv2.CreateDeploymentInput{ApiId: api})
			return err
		}},
		{"UpdateDomainName", func() error {
			_, err := c.UpdateDomainName(ctx, &apigatewayv2.UpdateDomainNameInput{DomainName: aws.String("file.example.com"),
				DomainNameConfigurations: []types.DomainNameConfiguration{{EndpointType: types.EndpointTypeRegional}}})
			return err
		}},
		{"DeleteDomainName", func() error {
			_, err := c.DeleteDomainName(ctx, &apigatewayv2.DeleteDomainNameInput{DomainName: aws.String("file.example.com")})
			return err
		}},
		{"CreateApiMapping", func() error {
			_, err := c.CreateApiMapping(ctx, &apigatewayv2.CreateApiMappingInput{DomainName: aws.String("file.example.com"), ApiId: api, Stage: aws.String("dev")})
			return err
		}},
		{"TagResource", func() error {
			_, err := c.TagResource(ctx, &apigatewayv2.TagResourceInput{ResourceArn: aws.String("arn:aws:apigateway:us-east-1::/apis/fileapi/stages/dev"), Tags: map[string]string{"a": "b"}})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !strings.HasPrefix(errorCode(err), "BadRequestException") || !strings.Contains(err.Error(), "configuration file") {
				t.Errorf("got %v, want a BadRequestException pointing at the configuration file", err)
			}
		})
	}
}

// TestStageNamesInPaths checks stage names that need no escaping and the DeleteRouteSettings key, which
// does, through the SDK's own path encoding.
func TestStageNamesInPaths(t *testing.T) {
	ctx := context.Background()
	f := newCatalogFixture(t, nil)
	f.seedAPI(fixtureAPI)
	c := f.client
	api := aws.String(fixtureAPI)
	for _, name := range []string{"a", "Prod_2", "with-dash", strings.Repeat("x", 128)} {
		t.Run(name[:min(len(name), 10)], func(t *testing.T) {
			if _, err := c.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: api, StageName: aws.String(name)}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.GetStage(ctx, &apigatewayv2.GetStageInput{ApiId: api, StageName: aws.String(name)}); err != nil {
				t.Fatal(err)
			}
		})
	}
	_, err := c.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: api, StageName: aws.String(strings.Repeat("x", 129))})
	if errorCode(err) != "BadRequestException" {
		t.Errorf("a 129-character stage name: %v", err)
	}
	if !regexp.MustCompile(`stageName`).MatchString(fmt.Sprint(err)) {
		t.Errorf("the message does not name stageName: %v", err)
	}
}

// TestRouteSettingsOfDeployedRoutes: a stage's route settings may name a route its deployment serves,
// even when the working copy has renamed it since.
func TestRouteSettingsOfDeployedRoutes(t *testing.T) {
	ctx := context.Background()
	f := newCatalogFixture(t, nil)
	f.seedAPI(fixtureAPI)
	c := f.client
	api := aws.String(fixtureAPI)
	if _, err := c.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: api, StageName: aws.String("pinned")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDeployment(ctx, &apigatewayv2.CreateDeploymentInput{ApiId: api, StageName: aws.String("pinned")}); err != nil {
		t.Fatal(err)
	}
	routes, err := c.GetRoutes(ctx, &apigatewayv2.GetRoutesInput{ApiId: api})
	if err != nil {
		t.Fatal(err)
	}
	var id *string
	for _, r := range routes.Items {
		if aws.ToString(r.RouteKey) == "sendmessage" {
			id = r.RouteId
		}
	}
	if id == nil {
		t.Fatal("the fixture has no sendmessage route")
	}
	if _, err := c.UpdateRoute(ctx, &apigatewayv2.UpdateRouteInput{ApiId: api, RouteId: id, RouteKey: aws.String("send")}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		key     string
		wantErr bool
	}{
		{"a key the deployment serves", "sendmessage", false},
		{"a key of the working copy", "send", false},
		{"a key of neither", "nothing", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.UpdateStage(ctx, &apigatewayv2.UpdateStageInput{ApiId: api, StageName: aws.String("pinned"),
				RouteSettings: map[string]types.RouteSettings{tc.key: {ThrottlingBurstLimit: aws.Int32(5)}}})
			var bad *types.BadRequestException
			if tc.wantErr != errors.As(err, &bad) || (!tc.wantErr && err != nil) {
				t.Fatalf("UpdateStage routeSettings[%s]: %v", tc.key, err)
			}
		})
	}
}
