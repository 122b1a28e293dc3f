package gateway_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"

	"github.com/switchboard-gw/switchboard/internal/cfntemplate"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// do sends one request and returns the status, the headers and the body.
func do(t *testing.T, method, url string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

// TestHTTPAPIControlPlaneServes builds HTTP APIs with the AWS SDK for Go v2 — quick create, CORS and
// DeleteCorsConfiguration, ImportApi with an autoDeploy stage, ReimportApi — and checks that the data
// plane serves each change through the API's apiEndpoint at once.
func TestHTTPAPIControlPlaneServes(t *testing.T) {
	ctx := context.Background()
	backend := gatewaytest.NewBackend(t, nil)
	g := gatewaytest.Start(t, "apis: []\n", gatewaytest.WithControlPlane)
	cp := controlClient(g.ControlURL)

	// Quick create: the $default route sends the whole path to the HTTP_PROXY target.
	api, err := cp.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("quick"), ProtocolType: types.ProtocolTypeHttp, Target: aws.String(backend.URL)})
	if err != nil {
		t.Fatal(err)
	}
	endpoint := aws.ToString(api.ApiEndpoint)
	if want := g.HTTPURL + "/" + aws.ToString(api.ApiId); endpoint != want {
		t.Fatalf("apiEndpoint %q, want %q", endpoint, want)
	}
	if status, _, _ := do(t, "GET", endpoint+"/hello/world?x=1"); status != http.StatusOK {
		t.Fatalf("GET through the quick-created API: %d", status)
	}
	backend.WaitFor(t, 10*time.Second, func(r gatewaytest.Request) bool { return r.Path == "/hello/world" && r.Query == "x=1" })

	// CORS: the configured headers are added once the API has a configuration, and stop when it is deleted.
	preflight := func() (int, http.Header) {
		status, h, _ := do(t, "OPTIONS", endpoint+"/hello", "Origin", "https://app.example.com", "Access-Control-Request-Method", "GET")
		return status, h
	}
	if _, err := cp.UpdateApi(ctx, &apigatewayv2.UpdateApiInput{ApiId: api.ApiId,
		CorsConfiguration: &types.Cors{AllowOrigins: []string{"https://app.example.com"}, AllowMethods: []string{"GET"}}}); err != nil {
		t.Fatal(err)
	}
	// The quick-created $default route catches OPTIONS too, so the preflight reaches the backend (AWS's
	// http-api-cors page: "The $default route catches requests for all methods … including OPTIONS
	// requests"), and the gateway puts the configured CORS headers on its answer.
	if status, h := preflight(); status != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("preflight with CORS: %d %v", status, h)
	}
	before := len(backend.Requests())
	if _, err := cp.DeleteCorsConfiguration(ctx, &apigatewayv2.DeleteCorsConfigurationInput{ApiId: api.ApiId}); err != nil {
		t.Fatal(err)
	}
	if _, h := preflight(); h.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight after DeleteCorsConfiguration still answered with CORS headers: %v", h)
	}
	// Without CORS, OPTIONS is routed like any method: to the backend.
	backend.WaitFor(t, 10*time.Second, func(r gatewaytest.Request) bool { return r.Method == "OPTIONS" })
	if len(backend.Requests()) <= before {
		t.Fatal("the OPTIONS request did not reach the backend")
	}

	// ImportApi, then an autoDeploy $default stage serves it; ReimportApi changes what it serves.
	def := "openapi: 3.0.1\ninfo: {title: imported}\npaths:\n  /items/{id}:\n    get:\n      x-amazon-apigateway-integration:\n" +
		"        {type: http_proxy, httpMethod: GET, uri: \"" + backend.URL + "/store/{id}\", payloadFormatVersion: \"1.0\"}\n"
	imp, err := cp.ImportApi(ctx, &apigatewayv2.ImportApiInput{Body: aws.String(def), FailOnWarnings: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cp.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: imp.ApiId, StageName: aws.String("$default"), AutoDeploy: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := do(t, "GET", aws.ToString(imp.ApiEndpoint)+"/items/42"); status != http.StatusOK {
		t.Fatalf("GET /items/42 on the imported API: %d", status)
	}
	backend.WaitFor(t, 10*time.Second, func(r gatewaytest.Request) bool { return r.Path == "/store/42" })
	re := strings.ReplaceAll(def, "/items/{id}", "/things/{id}")
	if _, err := cp.ReimportApi(ctx, &apigatewayv2.ReimportApiInput{ApiId: imp.ApiId, Body: aws.String(re)}); err != nil {
		t.Fatal(err)
	}
	if status, _, body := do(t, "GET", aws.ToString(imp.ApiEndpoint)+"/items/42"); status != http.StatusNotFound || body != `{"message":"Not Found"}` {
		t.Errorf("GET /items/42 after the reimport: %d %s", status, body)
	}
	if status, _, _ := do(t, "GET", aws.ToString(imp.ApiEndpoint)+"/things/7"); status != http.StatusOK {
		t.Errorf("GET /things/7 after the reimport: %d", status)
	}
	backend.WaitFor(t, 10*time.Second, func(r gatewaytest.Request) bool { return r.Path == "/store/7" })
}

// TestServeHTTPTemplates serves an OpenAPI definition given as a template (one HTTP API with a $default
// stage) and a CloudFormation template with a quick-created HTTP API, both proxying to a backend, and
// sends requests through each.
func TestServeHTTPTemplates(t *testing.T) {
	backend := gatewaytest.NewBackend(t, nil)
	dir := t.TempDir()
	definition := filepath.Join(dir, "orders.yaml")
	writeTemplate(t, definition, "openapi: 3.0.1\ninfo: {title: orders}\npaths:\n  /orders/{id}:\n    get:\n"+
		"      x-amazon-apigateway-integration: {type: http_proxy, httpMethod: GET, uri: \""+backend.URL+"/orders/{id}\"}\n")
	template := filepath.Join(dir, "template.yaml")
	writeTemplate(t, template, "Resources:\n  Proxy:\n    Type: AWS::ApiGatewayV2::Api\n"+
		"    Properties: {Name: proxy, ProtocolType: HTTP, Target: \""+backend.URL+"\", RouteKey: \"ANY /legacy/{proxy+}\"}\n")
	var templates []gateway.Template
	var ids []string
	for _, path := range []string{definition, template} {
		tpl, err := cfntemplate.Load(path, cfntemplate.Options{StackName: "http"})
		if err != nil {
			t.Fatal(err)
		}
		templates = append(templates, gateway.Template{Name: path, Bundle: tpl.Bundle})
		ids = append(ids, tpl.Bundle.APIs[0].APIID)
	}
	g := gatewaytest.Start(t, "apis: []\n", func(o *gateway.Options) { o.Templates = templates })

	if status, _, _ := do(t, "GET", g.HTTPURL+"/"+ids[0]+"/orders/7"); status != http.StatusOK {
		t.Fatalf("GET /orders/7 on the OpenAPI definition's API: %d", status)
	}
	backend.WaitFor(t, 10*time.Second, func(r gatewaytest.Request) bool { return r.Path == "/orders/7" })
	if status, _, _ := do(t, "DELETE", g.HTTPURL+"/"+ids[1]+"/legacy/a/b"); status != http.StatusOK {
		t.Fatalf("DELETE /legacy/a/b on the quick-created API: %d", status)
	}
	// As on AWS, only the $default route passes the request's path to an HTTP_PROXY URI without {proxy}:
	// this route's requests go to the URI as it is.
	backend.WaitFor(t, 10*time.Second, func(r gatewaytest.Request) bool { return r.Method == "DELETE" && r.Path == "/" })
}

func writeTemplate(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
