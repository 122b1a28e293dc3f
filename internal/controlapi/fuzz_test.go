package controlapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/awserr"
	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// inputShapes makes an empty value of every input shape the resource handlers decode.
var inputShapes = []func() any{
	func() any { return new(createAPIInput) },
	func() any { return new(apiInput) },
	func() any { return new(routeInput) },
	func() any { return new(routeResponseInput) },
	func() any { return new(integrationInput) },
	func() any { return new(integrationResponseInput) },
	func() any { return new(authorizerInput) },
	func() any { return new(modelInput) },
	func() any { return new(importInput) },
}

// isBadRequest reports whether err is nil or a 400 BadRequestException, the only failures decoding may
// produce.
func isBadRequest(err error) bool {
	var ae *awserr.Error
	return err == nil || errors.As(err, &ae) && ae.Status == http.StatusBadRequest && ae.Type == awserr.TypeBadRequest && ae.Message != ""
}

// FuzzDecode decodes arbitrary bodies into every input shape, as Create (decode) and Update
// (readBody, then decodePatch over a filled-in shape) do, and turns plain encoding/json failures into answers with
// jsonError: every failure must be a BadRequestException, and nothing may panic.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `"x"`, `1`, `{"name":"chat"}`, `{"name":5}`, `{"colour":"blue"}`, `{"name":"a"} {}`,
		`{"requestParameters":{"route.request.header.a":{"required":"yes"}}}`, `{"timeoutInMillis":1e40}`,
		`{"timeoutInMillis":null,"tlsConfig":{"serverNameToVerify":1}}`, `{"tags":{"a":null}}`, `{"identitySource":[1]}`,
		`{"responseParameters":{"200":{"a":"b"}}}`, `{"corsConfiguration":{"maxAge":"x"}}`, `{"name":"\ud800"}`, "{\"name\":\"\xff\"}",
		`{"name":"a","name":"b"}`, `{"jwtConfiguration":{"audience":"x"}}`, `{`, `{"a":`,
	} {
		for i := range inputShapes {
			f.Add([]byte(seed), uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, shape uint8) {
		newShape := inputShapes[int(shape)%len(inputShapes)]
		if err := decodeBytes(body, newShape()); !isBadRequest(err) {
			t.Fatalf("decodeBytes(%q): %v", body, err)
		}
		r := httptest.NewRequest(http.MethodPatch, "/v2/apis/x", bytes.NewReader(body))
		data, err := readBody(r)
		if err == nil {
			_, err = decodePatch(data, newShape())
		}
		if !isBadRequest(err) {
			t.Fatalf("decodePatch(%q): %v", body, err)
		}
		r = httptest.NewRequest(http.MethodPost, "/v2/apis", bytes.NewReader(body))
		if err := decode(r, newShape()); !isBadRequest(err) {
			t.Fatalf("decode(%q): %v", body, err)
		}
		if err := json.Unmarshal(body, newShape()); err != nil {
			if je := jsonError(err); je == nil || !isBadRequest(je) {
				t.Fatalf("jsonError(%v) = %v", err, je)
			}
		}
	})
}

// fuzzPaths are paths of every resource handler, with ids the seeded catalog has (fuzzapi01, route01,
// …) and ids it does not have. FuzzHandler appends fuzzed text to one of them or, for the last
// selector values, uses the fuzzed text alone.
var fuzzPaths = []string{
	"/v2/apis",
	"/v2/apis/fuzzapi01",
	"/v2/apis/nosuchapi",
	"/v2/apis/fuzzapi01/routes",
	"/v2/apis/fuzzapi01/routes/route01",
	"/v2/apis/fuzzapi01/routes/route02",
	"/v2/apis/fuzzapi01/routes/route01/requestparameters/route.request.header.X",
	"/v2/apis/fuzzapi01/routes/route02/routeresponses",
	"/v2/apis/fuzzapi01/routes/route02/routeresponses/rresp01",
	"/v2/apis/fuzzapi01/integrations",
	"/v2/apis/fuzzapi01/integrations/integ01",
	"/v2/apis/fuzzapi01/integrations/integ02",
	"/v2/apis/fuzzapi01/integrations/integ02/integrationresponses",
	"/v2/apis/fuzzapi01/integrations/integ02/integrationresponses/iresp01",
	"/v2/apis/fuzzapi01/authorizers",
	"/v2/apis/fuzzapi01/authorizers/auth01",
	"/v2/apis/fuzzapi01/models",
	"/v2/apis/fuzzapi01/models/model01",
	"/v2/apis/fuzzapi01/models/model01/template",
	"/v2/apis/fuzzapi01/stages",
	"/v2/apis/fuzzapi01/stages/dev",
	"/v2/apis/fuzzapi01/deployments",
	"/v2/tags/arn:aws:apigateway:us-east-1::%2Fapis%2Ffuzzapi01",
	"/v2/domainnames",
	"/v2/apis/fuzzhttp1",
	"/v2/apis/fuzzhttp1/routes/hroute1",
	"/v2/apis/fuzzhttp1/integrations/hinteg1",
	"/v2/apis/fuzzhttp1/authorizers/hauth01",
	"/v2/apis/fuzzhttp1/stages/$default",
	"/v2/apis/fuzzhttp1/cors",
	"/v2/apis/fuzzhttp1/exports/OAS30",
}

var fuzzMethods = []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete, http.MethodPut, http.MethodHead}

// fuzzCatalog is the seeded API every FuzzHandler call starts from: one of each child resource, with a
// stage that serves it, so that changes must also compile.
var fuzzCatalog = resource.API{
	APIID: "fuzzapi01", Name: "fuzz", ProtocolType: resource.ProtocolWebSocket, RouteSelectionExpression: "$request.body.action",
	Integrations: []resource.Integration{
		{IntegrationID: "integ01", IntegrationType: resource.IntegrationHTTPProxy, IntegrationURI: "https://backend.example.com"},
		{IntegrationID: "integ02", IntegrationType: resource.IntegrationMock,
			IntegrationResponses: []resource.IntegrationResponse{{IntegrationResponseID: "iresp01", IntegrationResponseKey: "$default"}}},
	},
	Authorizers: []resource.Authorizer{{AuthorizerID: "auth01", Name: "auth", AuthorizerType: "REQUEST",
		AuthorizerURI: "arn:aws:lambda:us-east-1:123456789012:function:auth", IdentitySource: []string{"route.request.header.Auth"}}},
	Models: []resource.Model{{ModelID: "model01", Name: "Message", Schema: `{"type":"object","properties":{"a":{"type":"string"}}}`}},
	Routes: []resource.Route{
		{RouteID: "route01", RouteKey: "$connect", Target: "integrations/integ01", AuthorizationType: "CUSTOM", AuthorizerID: "auth01",
			RequestParameters: map[string]resource.ParameterConstraint{"route.request.header.X": {Required: true}}},
		{RouteID: "route02", RouteKey: "echo", Target: "integrations/integ02", RequestModels: map[string]string{"$default": "Message"},
			RouteResponses: []resource.RouteResponse{{RouteResponseID: "rresp01", RouteResponseKey: "$default"}}},
	},
	Stages: []resource.Stage{{StageName: "dev", AutoDeploy: true}},
}

// fuzzHTTPCatalog is the seeded HTTP API: a JWT-protected route, a Lambda and an HTTP integration, CORS
// and an autoDeploy $default stage.
var fuzzHTTPCatalog = resource.API{
	APIID: "fuzzhttp1", Name: "fuzzhttp", ProtocolType: resource.ProtocolHTTP,
	CorsConfiguration: &resource.Cors{AllowOrigins: []string{"https://app.example.com"}},
	Integrations: []resource.Integration{
		{IntegrationID: "hinteg1", IntegrationType: resource.IntegrationHTTPProxy, IntegrationMethod: "ANY", IntegrationURI: "https://backend.example.com/{proxy}"},
		{IntegrationID: "hinteg2", IntegrationType: resource.IntegrationAWSProxy, IntegrationURI: "arn:aws:lambda:us-east-1:123456789012:function:f", PayloadFormatVersion: "2.0"},
	},
	Authorizers: []resource.Authorizer{{AuthorizerID: "hauth01", Name: "jwt", AuthorizerType: "JWT", IdentitySource: []string{"$request.header.Authorization"},
		JWTConfiguration: &resource.JWTConfiguration{Issuer: "https://issuer.example.com", Audience: []string{"a"}}}},
	Routes: []resource.Route{
		{RouteID: "hroute1", RouteKey: "GET /items/{proxy+}", Target: "integrations/hinteg1", AuthorizationType: "JWT", AuthorizerID: "hauth01", AuthorizationScopes: []string{"read"}},
		{RouteID: "hroute2", RouteKey: "$default", Target: "integrations/hinteg2"},
	},
	Stages: []resource.Stage{{StageName: "$default", AutoDeploy: true}},
}

// FuzzHandler sends random bodies with random methods to the resource paths (and to random paths) of a
// control plane over a seeded catalog: whatever the request, the answer is never a 5xx and every error
// is a well-formed AWS error.
func FuzzHandler(f *testing.F) {
	f.Add(uint8(0), uint8(1), "", []byte(newWebSocketAPI("chat")))
	f.Add(uint8(1), uint8(3), "", []byte(`{"routeKey":"a","target":"integrations/integ02"}`))
	f.Add(uint8(2), uint8(4), "", []byte(`{"routeKey":"$default","authorizationType":"NONE"}`))
	f.Add(uint8(2), uint8(10), "", []byte(`{"integrationType":"AWS","timeoutInMillis":50}`))
	f.Add(uint8(2), uint8(11), "", []byte(`{"integrationType":"HTTP_PROXY"}`))
	f.Add(uint8(1), uint8(12), "", []byte(`{"integrationResponseKey":"/(/"}`))
	f.Add(uint8(1), uint8(16), "", []byte(`{"name":"M2","schema":"{\"$ref\":\"#\"}"}`))
	f.Add(uint8(0), uint8(18), "", []byte(nil))
	f.Add(uint8(3), uint8(10), "/integ01", []byte(nil))
	f.Add(uint8(3), uint8(15), "", []byte(nil))
	f.Add(uint8(3), uint8(17), "", []byte(nil))
	f.Add(uint8(3), uint8(1), "", []byte(nil))
	f.Add(uint8(2), uint8(8), "", []byte(`{"routeResponseKey":"x","responseModels":{"a":"b"}}`))
	f.Add(uint8(0), uint8(0), "?maxResults=-1&nextToken=x", []byte(nil))
	f.Add(uint8(0), uint8(255), "/v2/apis/%zz", []byte(nil))
	f.Add(uint8(1), uint8(255), "//v2/apis/../apis", []byte(`{`))
	f.Add(uint8(4), uint8(0), "?basepath=split&failOnWarnings=true", []byte(`{"body":"openapi: 3.0.1\ninfo: {title: t}\npaths:\n  /a: {get: {}}\n"}`))
	f.Add(uint8(4), uint8(26), "", []byte(`{"body":"{\"openapi\":\"3.0.1\",\"info\":{\"title\":\"t\"},\"paths\":{\"$default\":{\"x-amazon-apigateway-any-method\":{}}}}"}`))
	f.Add(uint8(2), uint8(26), "", []byte(`{"target":"https://x.example.com","corsConfiguration":{"maxAge":-1}}`))
	f.Add(uint8(2), uint8(27), "", []byte(`{"authorizationType":"CUSTOM","authorizationScopes":["a"]}`))
	f.Add(uint8(2), uint8(28), "", []byte(`{"responseParameters":{"200":{"overwrite:statuscode":"201"}},"payloadFormatVersion":"2.0"}`))
	f.Add(uint8(2), uint8(29), "", []byte(`{"jwtConfiguration":{"issuer":"x","audience":[]}}`))
	f.Add(uint8(2), uint8(30), "", []byte(`{"defaultRouteSettings":{"loggingLevel":"ERROR"}}`))
	f.Add(uint8(3), uint8(31), "", []byte(nil))
	f.Add(uint8(0), uint8(32), "?outputType=YAML&stageName=$default&includeExtensions=false", []byte(nil))
	f.Fuzz(func(t *testing.T, method, pathSel uint8, suffix string, body []byte) {
		h := newFuzzServer(t)
		target := suffix
		if int(pathSel) < len(fuzzPaths)*8 {
			target = fuzzPaths[int(pathSel)%len(fuzzPaths)] + suffix
		}
		u, err := url.Parse(target)
		if err != nil || u.Host != "" || u.Scheme != "" || !strings.HasPrefix(target, "/") {
			return // not an origin-form request target: net/http answers those before any handler runs
		}
		req := &http.Request{
			Method: fuzzMethods[int(method)%len(fuzzMethods)], URL: u, RequestURI: target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/json"}}, Host: "localhost",
			Body: http.NoBody, ContentLength: int64(len(body)),
		}
		if len(body) > 0 {
			req.Body = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)).Body
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req.WithContext(context.Background()))
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", req.Method, target, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 && req.Method != http.MethodHead {
			var e struct {
				Message *string `json:"message"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Message == nil || *e.Message == "" || rec.Header().Get("X-Amzn-ErrorType") == "" {
				t.Fatalf("%s %s %q: error body %q", req.Method, target, body, rec.Body)
			}
		}
	})
}

// newFuzzServer returns a control plane over a fresh catalog holding fuzzCatalog's API.
func newFuzzServer(t *testing.T) http.Handler {
	t.Helper()
	now := func() time.Time { return time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC) }
	cat, err := catalog.Open(context.Background(), catalog.Options{Now: now,
		Apply: func(_ context.Context, b *resource.Bundle) error { _, err := snapshot.Compile(b); return err }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	seed := fuzzCatalog
	// The seed shares its maps and slices with every call: give the catalog a private copy.
	data, err := json.Marshal(seed)
	if err != nil {
		t.Fatal(err)
	}
	var api resource.API
	if err := json.Unmarshal(data, &api); err != nil {
		t.Fatal(err)
	}
	data, err = json.Marshal(fuzzHTTPCatalog)
	if err != nil {
		t.Fatal(err)
	}
	var httpAPI resource.API
	if err := json.Unmarshal(data, &httpAPI); err != nil {
		t.Fatal(err)
	}
	err = cat.Write(context.Background(), func(st *catalog.State) error {
		for _, api := range []resource.API{api, httpAPI} {
			a := &catalog.API{API: api, Source: catalog.SourceAPI, CreatedDate: now()}
			if err := checkAPI(&a.API); err != nil {
				return err
			}
			st.APIs = append(st.APIs, a)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return New(Config{Catalog: cat, Now: now})
}
