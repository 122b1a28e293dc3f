package controlapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
	"github.com/aws/smithy-go"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// resourceIDMembers are the output members whose values are generated ids, with the kind that names
// their token in golden transcripts (<route-1>, <integration-2>, …).
var resourceIDMembers = map[string]string{
	"apiId": "api", "routeId": "route", "routeResponseId": "routeResponse", "integrationId": "integration",
	"integrationResponseId": "integrationResponse", "authorizerId": "authorizer", "modelId": "model",
	"deploymentId": "deployment",
}

// runResourceGolden sends steps in order over plain HTTP and compares the transcript — each request
// with its status, error type and indented body — with testdata/name. Generated ids become tokens in
// the transcript, and tokens in later steps' paths and bodies stand for the ids they replaced.
func (f *catalogFixture) runResourceGolden(name string, steps []goldenStep) {
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
		status, errType, data := f.do(step.method, path, body)
		if status >= 500 {
			t.Errorf("%s %s: status %d", step.method, path, status)
		}
		recordIDs(data, ids, tokens, counts)
		fmt.Fprintf(&out, ">>> %s %s\n", step.method, step.path)
		if step.body != "" {
			fmt.Fprintf(&out, "%s\n", step.body)
		}
		fmt.Fprintf(&out, "<<< %d", status)
		if errType != "" {
			fmt.Fprintf(&out, " %s", errType)
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
	all := make([]string, 0, len(ids))
	for id := range ids {
		all = append(all, id)
	}
	// Longest ids first, so that no id is replaced inside another.
	sort.Slice(all, func(i, j int) bool { return len(all[i]) > len(all[j]) || len(all[i]) == len(all[j]) && all[i] < all[j] })
	for _, id := range all {
		text = strings.ReplaceAll(text, id, ids[id])
	}
	compareGolden(t, filepath.Join("testdata", name), text)
}

// do sends one request and returns the status, the X-Amzn-ErrorType header and the body.
func (f *catalogFixture) do(method, path, body string) (int, string, []byte) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), data
}

// recordIDs gives every new generated id found in a JSON response a token.
func recordIDs(data []byte, ids, tokens map[string]string, counts map[string]int) {
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
				if kind, ok := resourceIDMembers[k]; ok {
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

// awsErrorCode returns the AWS error code of err as the SDK decoded it, modeled for the operation or not,
// or "" for nil.
func awsErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return "other: " + err.Error()
	}
	return ""
}

// newWebSocketAPI is a CreateApi body for a minimal WEBSOCKET API called name.
func newWebSocketAPI(name string) string {
	return `{"name":"` + name + `","protocolType":"WEBSOCKET","routeSelectionExpression":"$request.body.action"}`
}

func TestAPIsGolden(t *testing.T) {
	f := newCatalogFixture(t, nil)
	f.runResourceGolden("a_apis.golden", []goldenStep{
		{"POST", "/v2/apis", `{"name":"chat","protocolType":"WEBSOCKET","routeSelectionExpression":"${request.body.service}/${request.body.action}",` +
			`"description":"Chat rooms","disableSchemaValidation":true,"version":"2024-05","tags":{"team":"realtime"}}`},
		{"GET", "/v2/apis/<api-1>", ""},
		{"POST", "/v2/apis", newWebSocketAPI("second")},
		{"GET", "/v2/apis", ""},
		{"GET", "/v2/apis?maxResults=1", ""},
		{"GET", "/v2/apis?maxResults=1&nextToken=1", ""},
		// A trailing slash lists as AWS does, here on every endpoint.
		{"GET", "/v2/apis/", ""},
		{"GET", "/v2/apis/<api-2>/", ""},
		{"GET", "/v2/apis/nosuchapi", ""},
		// Refusals, each naming the member at fault.
		{"POST", "/v2/apis", `{"protocolType":"WEBSOCKET","routeSelectionExpression":"$request.body.action"}`},
		{"POST", "/v2/apis", `{"name":"chat","routeSelectionExpression":"$request.body.action"}`},
		{"POST", "/v2/apis", `{"name":"chat","protocolType":"HTTP"}`},
		{"POST", "/v2/apis", `{"name":"chat","protocolType":"GRPC","routeSelectionExpression":"$request.body.action"}`},
		{"POST", "/v2/apis", `{"name":"chat","protocolType":"WEBSOCKET"}`},
		{"POST", "/v2/apis", `{"name":"chat","protocolType":"WEBSOCKET","routeSelectionExpression":"$request.bogus"}`},
		{"POST", "/v2/apis", `{"name":"chat","protocolType":"WEBSOCKET","routeSelectionExpression":"$request.body.action","target":"arn:aws:lambda:us-east-1:123456789012:function:f"}`},
		{"POST", "/v2/apis", `{"name":"chat","protocolType":"WEBSOCKET","routeSelectionExpression":"$request.body.action","corsConfiguration":{"allowOrigins":["*"]}}`},
		{"POST", "/v2/apis", `{"name":"chat","protocolType":"WEBSOCKET","routeSelectionExpression":"$request.body.action","apiKeySelectionExpression":"$request.header.key"}`},
		{"POST", "/v2/apis", `{"name":"chat","protocolType":"WEBSOCKET","routeSelectionExpression":"$request.body.action","ipAddressType":"ipv6"}`},
		{"POST", "/v2/apis", `{"name":"chat","protocolType":"WEBSOCKET","routeSelectionExpression":"$request.body.action","tags":{"aws:owner":"me"}}`},
		{"POST", "/v2/apis", `{"name":"` + strings.Repeat("n", 129) + `","protocolType":"WEBSOCKET","routeSelectionExpression":"$request.body.action"}`},
		// UpdateApi changes the members present only.
		{"PATCH", "/v2/apis/<api-1>", `{"description":"Rooms","disableExecuteApiEndpoint":true,"apiKeySelectionExpression":"$context.authorizer.usageIdentifierKey","ipAddressType":"dualstack"}`},
		{"PATCH", "/v2/apis/<api-1>", `{"routeSelectionExpression":"$request.body.type","description":null}`},
		{"PATCH", "/v2/apis/<api-1>", `{"protocolType":"HTTP"}`},
		{"PATCH", "/v2/apis/<api-1>", `{"name":""}`},
		{"PATCH", "/v2/apis/<api-1>", `{"routeSelectionExpression":"$bogus"}`},
		{"PATCH", "/v2/apis/<api-1>", `{"routeKey":"$default"}`},
		{"PATCH", "/v2/apis/nosuchapi", `{"description":"x"}`},
		{"GET", "/v2/apis/<api-1>", ""},
		{"DELETE", "/v2/apis/<api-2>", ""},
		{"DELETE", "/v2/apis/<api-2>", ""},
		{"GET", "/v2/apis/<api-2>", ""},
		{"GET", "/v2/apis", ""},
	})
}

func TestAPIsSDK(t *testing.T) {
	ctx := context.Background()
	f := newCatalogFixture(t, nil)
	c := f.client

	created, err := c.CreateApi(ctx, &apigatewayv2.CreateApiInput{
		Name: aws.String("chat"), ProtocolType: types.ProtocolTypeWebsocket,
		RouteSelectionExpression: aws.String("$request.body.action"), Description: aws.String("Chat"),
		Tags: map[string]string{"team": "realtime"}, Version: aws.String("1"), IpAddressType: types.IpAddressTypeDualstack,
	})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(created.ApiId)
	if len(id) != 10 || aws.ToString(created.ApiEndpoint) != "wss://"+id+".execute-api.us-east-1.amazonaws.com" ||
		aws.ToString(created.ApiKeySelectionExpression) != resource.DefaultAPIKeySelectionExpression ||
		created.ApiGatewayManaged != nil || created.DisableSchemaValidation != nil || created.DisableExecuteApiEndpoint == nil ||
		!created.CreatedDate.Equal(fixtureNow) || created.Tags["team"] != "realtime" || aws.ToString(created.Version) != "1" ||
		created.IpAddressType != types.IpAddressTypeDualstack || created.ProtocolType != types.ProtocolTypeWebsocket {
		t.Errorf("CreateApi output: %+v", created)
	}
	got, err := c.GetApi(ctx, &apigatewayv2.GetApiInput{ApiId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.Name) != "chat" || aws.ToString(got.Description) != "Chat" || aws.ToString(got.RouteSelectionExpression) != "$request.body.action" {
		t.Errorf("GetApi output: %+v", got)
	}
	upd, err := c.UpdateApi(ctx, &apigatewayv2.UpdateApiInput{ApiId: aws.String(id), Name: aws.String("rooms"), DisableExecuteApiEndpoint: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(upd.Name) != "rooms" || !aws.ToBool(upd.DisableExecuteApiEndpoint) || aws.ToString(upd.Description) != "Chat" {
		t.Errorf("UpdateApi output: %+v", upd)
	}

	// GetApis pages through every API.
	for _, name := range []string{"b", "c", "d"} {
		if _, err := c.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String(name), ProtocolType: types.ProtocolTypeWebsocket,
			RouteSelectionExpression: aws.String("$request.body.action")}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	var token *string
	pages := 0
	for {
		out, err := c.GetApis(ctx, &apigatewayv2.GetApisInput{MaxResults: aws.String("3"), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, it := range out.Items {
			names = append(names, aws.ToString(it.Name))
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	if strings.Join(names, ",") != "rooms,b,c,d" || pages != 2 {
		t.Errorf("GetApis listed %v in %d pages", names, pages)
	}

	cases := []struct {
		name string
		call func() error
		want string
	}{
		{"unknown protocol type", func() error {
			_, err := c.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("h"), ProtocolType: types.ProtocolType("GRPC")})
			return err
		}, "BadRequestException"},
		{"no route selection expression", func() error {
			_, err := c.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("w"), ProtocolType: types.ProtocolTypeWebsocket})
			return err
		}, "BadRequestException"},
		{"quick create", func() error {
			_, err := c.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("w"), ProtocolType: types.ProtocolTypeWebsocket,
				RouteSelectionExpression: aws.String("$request.body.action"), RouteKey: aws.String("$default")})
			return err
		}, "BadRequestException"},
		{"get unknown API", func() error {
			_, err := c.GetApi(ctx, &apigatewayv2.GetApiInput{ApiId: aws.String("nosuchapi")})
			return err
		}, "NotFoundException"},
		{"update unknown API", func() error {
			_, err := c.UpdateApi(ctx, &apigatewayv2.UpdateApiInput{ApiId: aws.String("nosuchapi"), Name: aws.String("x")})
			return err
		}, "NotFoundException"},
		{"delete unknown API", func() error {
			_, err := c.DeleteApi(ctx, &apigatewayv2.DeleteApiInput{ApiId: aws.String("nosuchapi")})
			return err
		}, "NotFoundException"},
		{"invalid update", func() error {
			_, err := c.UpdateApi(ctx, &apigatewayv2.UpdateApiInput{ApiId: aws.String(id), ApiKeySelectionExpression: aws.String("$request.header.k")})
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

	if _, err := c.DeleteApi(ctx, &apigatewayv2.DeleteApiInput{ApiId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetApi(ctx, &apigatewayv2.GetApiInput{ApiId: aws.String(id)}); errorCode(err) != "NotFoundException" {
		t.Errorf("GetApi after DeleteApi: %v", err)
	}
}

// TestDeleteMappedAPI checks that an API a custom domain maps cannot be deleted until the mapping is.
func TestDeleteMappedAPI(t *testing.T) {
	ctx := context.Background()
	f := newCatalogFixture(t, nil)
	c := f.client
	api, err := c.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("chat"), ProtocolType: types.ProtocolTypeWebsocket,
		RouteSelectionExpression: aws.String("$request.body.action")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: api.ApiId, StageName: aws.String("dev"), AutoDeploy: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	f.write(func(st *catalog.State) error {
		st.DomainNames = append(st.DomainNames, &catalog.DomainName{Source: catalog.SourceAPI, DomainName: resource.DomainName{
			DomainName:  "chat.example.com",
			APIMappings: []resource.APIMapping{{APIMappingID: "map001", APIID: aws.ToString(api.ApiId), Stage: "dev"}},
		}})
		return nil
	})
	// DeleteApi's model lists no BadRequestException, so the SDK reports it as a generic API error, as it
	// does with AWS's own answer.
	_, err = c.DeleteApi(ctx, &apigatewayv2.DeleteApiInput{ApiId: api.ApiId})
	if awsErrorCode(err) != "BadRequestException" || !strings.Contains(err.Error(), "chat.example.com") {
		t.Fatalf("DeleteApi of a mapped API: %v", err)
	}
	if _, err := c.DeleteApiMapping(ctx, &apigatewayv2.DeleteApiMappingInput{DomainName: aws.String("chat.example.com"), ApiMappingId: aws.String("map001")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteApi(ctx, &apigatewayv2.DeleteApiInput{ApiId: api.ApiId}); err != nil {
		t.Fatalf("DeleteApi after the mapping is gone: %v", err)
	}
}

// TestConfigFileAPIsReadOnly checks that an API the configuration file declares, and its children, are
// read through the control plane but changed only in the file.
func TestConfigFileAPIsReadOnly(t *testing.T) {
	ctx := context.Background()
	config := &resource.Bundle{APIs: []resource.API{{APIID: "fileapi", Name: "file", ProtocolType: resource.ProtocolWebSocket,
		RouteSelectionExpression: "$request.body.action",
		Integrations:             []resource.Integration{{IntegrationID: "m", IntegrationType: resource.IntegrationMock}},
		Routes:                   []resource.Route{{RouteKey: "$default", Target: "integrations/m"}},
	}}}
	f := newCatalogFixture(t, config)
	c := f.client
	api := aws.String("fileapi")
	routes, err := c.GetRoutes(ctx, &apigatewayv2.GetRoutesInput{ApiId: api})
	if err != nil || len(routes.Items) != 1 || aws.ToString(routes.Items[0].RouteKey) != "$default" {
		t.Fatalf("GetRoutes of a configuration-file API: %+v, %v", routes, err)
	}
	routeID := routes.Items[0].RouteId
	cases := []struct {
		name string
		call func() error
	}{
		{"UpdateApi", func() error {
			_, err := c.UpdateApi(ctx, &apigatewayv2.UpdateApiInput{ApiId: api, Description: aws.String("x")})
			return err
		}},
		{"DeleteApi", func() error {
			_, err := c.DeleteApi(ctx, &apigatewayv2.DeleteApiInput{ApiId: api})
			return err
		}},
		{"CreateRoute", func() error {
			_, err := c.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: api, RouteKey: aws.String("x")})
			return err
		}},
		{"UpdateRoute", func() error {
			_, err := c.UpdateRoute(ctx, &apigatewayv2.UpdateRouteInput{ApiId: api, RouteId: routeID, OperationName: aws.String("x")})
			return err
		}},
		{"DeleteIntegration", func() error {
			_, err := c.DeleteIntegration(ctx, &apigatewayv2.DeleteIntegrationInput{ApiId: api, IntegrationId: aws.String("m")})
			return err
		}},
		{"CreateModel", func() error {
			_, err := c.CreateModel(ctx, &apigatewayv2.CreateModelInput{ApiId: api, Name: aws.String("M"), Schema: aws.String("{}")})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if awsErrorCode(err) != "BadRequestException" || !strings.Contains(err.Error(), "configuration file") {
				t.Errorf("got %v, want a BadRequestException pointing at the configuration file", err)
			}
		})
	}
}

// TestBadRequests sends malformed requests to every kind of endpoint: each gets the AWS error type a
// client expects, never a 500.
func TestBadRequests(t *testing.T) {
	f := newCatalogFixture(t, nil)
	status, _, data := f.do("POST", "/v2/apis", newWebSocketAPI("chat"))
	if status != http.StatusCreated {
		t.Fatalf("CreateApi: %d %s", status, data)
	}
	var api apiOutput
	if err := json.Unmarshal(data, &api); err != nil {
		t.Fatal(err)
	}
	apiPath := "/v2/apis/" + api.APIID
	huge := `{"name":"` + strings.Repeat("x", maxBody) + `"}`
	cases := []struct {
		name, method, path, body string
		status                   int
		errType, message         string
	}{
		{"malformed JSON", "POST", "/v2/apis", `{"name":`, 400, "BadRequestException", "ends early"},
		{"syntax error", "POST", apiPath + "/routes", `{"routeKey" "x"}`, 400, "BadRequestException", "malformed JSON"},
		{"unknown member", "POST", apiPath + "/routes", `{"routeKey":"x","colour":"blue"}`, 400, "BadRequestException", "unknown member colour"},
		{"unknown member in PATCH", "PATCH", apiPath, `{"colour":"blue"}`, 400, "BadRequestException", "unknown member colour"},
		{"unknown nested member", "POST", apiPath + "/routes", `{"routeKey":"x","requestParameters":{"route.request.header.a":{"optional":true}}}`, 400, "BadRequestException", "unknown member optional"},
		{"wrong type", "POST", apiPath + "/integrations", `{"integrationType":"MOCK","timeoutInMillis":"fast"}`, 400, "BadRequestException", "timeoutInMillis must be a number"},
		{"wrong type in PATCH", "PATCH", apiPath, `{"disableSchemaValidation":"yes"}`, 400, "BadRequestException", "disableSchemaValidation must be a boolean"},
		{"fractional number", "POST", apiPath + "/integrations", `{"integrationType":"MOCK","timeoutInMillis":1.5}`, 400, "BadRequestException", "timeoutInMillis must be a number"},
		{"array body", "POST", apiPath + "/models", `[]`, 400, "BadRequestException", "expected a JSON object"},
		{"array body in PATCH", "PATCH", apiPath, `[1]`, 400, "BadRequestException", "expected a JSON object"},
		{"trailing data", "POST", apiPath + "/models", `{"name":"M","schema":"{}"} {}`, 400, "BadRequestException", "after the JSON object"},
		{"huge body", "POST", "/v2/apis", huge, 400, "BadRequestException", "larger than"},
		{"huge PATCH body", "PATCH", apiPath, huge, 400, "BadRequestException", "larger than"},
		{"empty create body", "POST", apiPath + "/authorizers", ``, 400, "BadRequestException", "name is required"},
		{"bad maxResults", "GET", "/v2/apis?maxResults=zero", "", 400, "BadRequestException", "maxResults"},
		{"bad nextToken", "GET", apiPath + "/routes?nextToken=99", "", 400, "BadRequestException", "nextToken"},
		{"wrong method for the path", "PATCH", "/v2/apis", "{}", 404, "NotFoundException", "No operation matches PATCH"},
		{"unknown path", "GET", "/v2/nothing", "", 404, "NotFoundException", "No operation matches"},
		{"unknown child", "GET", apiPath + "/widgets", "", 404, "NotFoundException", "No operation matches"},
		{"wrong method", "PUT", apiPath + "/routes", "{}", 404, "NotFoundException", "No operation matches PUT"},
		{"unsupported operation", "GET", "/v2/vpclinks", "", 400, "BadRequestException", "not supported"},
		{"HTTP-only operation", "DELETE", apiPath + "/cors", "", 400, "BadRequestException", "supported only for HTTP APIs"},
		{"missing API", "GET", "/v2/apis/nosuchapi/models", "", 404, "NotFoundException", "Invalid API identifier specified 123456789012:nosuchapi"},
		{"missing API in PATCH", "PATCH", "/v2/apis/nosuchapi/routes/r", `{}`, 404, "NotFoundException", "Invalid API identifier"},
		{"missing route", "GET", apiPath + "/routes/nosuch", "", 404, "NotFoundException", "Invalid Route identifier specified nosuch"},
		{"missing integration", "DELETE", apiPath + "/integrations/nosuch", "", 404, "NotFoundException", "Invalid Integration identifier specified nosuch"},
		{"missing authorizer", "PATCH", apiPath + "/authorizers/nosuch", `{}`, 404, "NotFoundException", "Invalid Authorizer identifier specified nosuch"},
		{"missing model", "GET", apiPath + "/models/nosuch/template", "", 404, "NotFoundException", "Invalid Model identifier specified nosuch"},
		{"missing route response", "GET", "/v2/apis/nosuchapi/routes/r/routeresponses/x", "", 404, "NotFoundException", "Invalid API identifier"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, errType, data := f.do(tc.method, tc.path, tc.body)
			if status != tc.status || errType != tc.errType {
				t.Fatalf("got %d %s %s, want %d %s", status, errType, data, tc.status, tc.errType)
			}
			if tc.errType == "" {
				return
			}
			// The type travels in X-Amzn-ErrorType only, as API Gateway sends it.
			var body map[string]any
			if err := json.Unmarshal(data, &body); err != nil || body["__type"] != nil {
				t.Errorf("body %s: want a JSON object without __type", data)
			}
			if msg, _ := body["message"].(string); !strings.Contains(msg, tc.message) {
				t.Errorf("body %s, want a message containing %q", data, tc.message)
			}
		})
	}
}
