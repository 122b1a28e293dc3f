package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-gw/switchboard/internal/configfile"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// mappingConfig covers the non-proxy pipeline, with AWS's request validation example
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-request-validation.html):
// a route with a model selection expression and a model, MOCK and HTTP integrations with request
// templates and integration responses. BACKEND is replaced by a test backend.
const mappingConfig = `
apis:
  - name: mapping
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    models:
      - name: emailModel
        contentType: application/json
        schema: '{"$schema": "http://json-schema.org/draft-04/schema#", "title": "emailModel", "type": "object",
          "properties": {"action": {"type": "string"}, "email": {"type": "string", "pattern": "^.+@.+$"}},
          "required": ["action", "email"]}'
    integrations:
      - integrationId: mock
        integrationType: MOCK
        templateSelectionExpression: \$default
        requestTemplates:
          $default: '#if($input.path(''$.email'').endsWith(''@example.com''))#set($s = 200)#{else}#set($s = 403)#end{"statusCode": $s}'
        integrationResponses:
          - integrationResponseKey: /2\d\d/
            responseTemplates:
              $default: '{"subscribed": true, "route": "$context.routeKey", "stage": "$context.stage", "id": "$context.connectionId"}'
          - integrationResponseKey: $default
            responseTemplates: {$default: '{"subscribed": false}'}
      - integrationId: http
        integrationType: HTTP
        integrationUri: BACKEND/store
        integrationMethod: POST
        requestTemplates:
          $default: '{"connection": "$context.connectionId", "items": [#foreach($i in $input.path(''$.items''))"$i.toUpperCase()"#if($foreach.hasNext),#end#end]}'
        integrationResponses:
          - integrationResponseKey: /4\d\d/
            templateSelectionExpression: ${integration.response.statuscode}
            responseTemplates:
              "404": '{"error": "not found: $input.path(''$.missing'')"}'
              $default: '{"error": "client"}'
          - integrationResponseKey: $default
            responseTemplates: {$default: '{"stored": $input.json(''$.count'')}'}
      - integrationId: strict
        integrationType: MOCK
        passthroughBehavior: NEVER
        templateSelectionExpression: $request.body.kind
        requestTemplates: {known: '{"statusCode": 200}'}
        integrationResponses: [{integrationResponseKey: $default, responseTemplates: {$default: 'ok'}}]
      - integrationId: broken
        integrationType: MOCK
        requestTemplates: {$default: '$input.path(''$.a'')'}
    routes:
      - routeKey: subscribe
        target: integrations/mock
        modelSelectionExpression: $request.body.action
        requestModels: {subscribe: emailModel}
        routeResponses: [{routeResponseKey: $default}]
      - {routeKey: store, target: integrations/http, routeResponses: [{routeResponseKey: $default}]}
      - {routeKey: strict, target: integrations/strict, routeResponses: [{routeResponseKey: $default}]}
      - {routeKey: $default, target: integrations/broken, routeResponses: [{routeResponseKey: $default}]}
      - routeKey: needs
        target: integrations/mock
        requestParameters: {route.request.body.email: {required: true}}
        routeResponses: [{routeResponseKey: $default}]
    stages: [{stageName: dev}]
`

func TestMappingTemplatesAndValidation(t *testing.T) {
	be := gatewaytest.NewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var in struct{ Items []string }
		_ = json.Unmarshal(body, &in)
		if len(in.Items) == 0 {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"missing": "items"}`)
			return
		}
		_, _ = io.WriteString(w, `{"count": `+itoa(len(in.Items))+`}`)
	})
	gw := gatewaytest.Start(t, strings.ReplaceAll(mappingConfig, "BACKEND", be.URL))
	c := gatewaytest.Dial(t, gw.WSURL+"/"+apiIDOf(t, gw)+"/dev", nil)

	cases := []struct {
		name, send string
		want       *regexp.Regexp
	}{
		{"valid message renders the MOCK response template", `{"action": "subscribe", "email": "o'brien@example.com"}`,
			regexp.MustCompile(`^\{"subscribed": true, "route": "subscribe", "stage": "dev", "id": "[A-Za-z0-9_-]{15}="\}$`)},
		{"request template picks the status, regex response the reply", `{"action": "subscribe", "email": "a@b.c"}`,
			regexp.MustCompile(`^\{"subscribed": false\}$`)},
		{"missing required member fails validation", `{"action": "subscribe"}`, frameRE("Bad request body")},
		{"pattern mismatch fails validation", `{"action": "subscribe", "email": "nope"}`, frameRE("Bad request body")},
		{"connection stays open after a refusal", `{"action": "subscribe", "email": "x@example.com"}`,
			regexp.MustCompile(`^\{"subscribed": true`)},
		{"required body parameter missing", `{"action": "needs"}`, frameRE("Bad request body")},
		{"required body parameter present", `{"action": "needs", "email": "y@example.com"}`, regexp.MustCompile(`^\{"subscribed": true, "route": "needs"`)},
		{"HTTP backend gets the rendered body; $default response", `{"action": "store", "items": ["a", "b"]}`, regexp.MustCompile(`^\{"stored": 2\}$`)},
		{"HTTP 404 picks /4\\d\\d/ and the 404 template", `{"action": "store", "items": []}`, regexp.MustCompile(`^\{"error": "not found: items"\}$`)},
		{"passthrough NEVER refuses unmatched messages", `{"action": "strict", "kind": "other"}`, frameRE("Unsupported Media Type")},
		{"passthrough NEVER: a matching template works", `{"action": "strict", "kind": "known"}`, regexp.MustCompile(`^ok$`)},
		{"template error is Internal server error", `not json`, frameRE("Internal server error")},
		{"and the connection still works", `{"action": "subscribe", "email": "z@example.com"}`, regexp.MustCompile(`^\{"subscribed": true`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.Send(tc.send)
			if got := c.Read(); !tc.want.MatchString(got) {
				t.Fatalf("got %q, want match for %s", got, tc.want)
			}
		})
	}
	req := be.WaitFor(t, 5*time.Second, func(r gatewaytest.Request) bool { return strings.Contains(r.Body, `"A"`) })
	if !regexp.MustCompile(`^\{"connection": "[A-Za-z0-9_-]{15}=", "items": \["A","B"\]\}$`).MatchString(req.Body) {
		t.Fatalf("backend got %q", req.Body)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// apiIDOf returns the only API's ID.
func apiIDOf(t *testing.T, gw *gatewaytest.Gateway) string {
	t.Helper()
	for id := range gw.Snapshot().APIs {
		return id
	}
	t.Fatal("no API")
	return ""
}

func TestBadTemplatesAndModelsAreRefusedAtLoad(t *testing.T) {
	cases := []struct {
		name, config, want string
	}{
		{"template that does not parse", `
apis:
  - name: a
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: m
        integrationType: MOCK
        requestTemplates: {$default: '#if($x) no end'}
    routes: [{routeKey: $default, target: integrations/m}]
    stages: [{stageName: dev}]
`, `requestTemplates.$default: mapping template does not parse: line 1, column 15: #if is not closed by #end`},
		{"schema that is not JSON Schema", `
apis:
  - name: a
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    models: [{name: bad, schema: '{"type": 7}'}]
    integrations: [{integrationId: m, integrationType: MOCK}]
    routes: [{routeKey: $default, target: integrations/m}]
    stages: [{stageName: dev}]
`, `models[0].schema: model bad: invalid JSON Schema`},
		{"request model that does not exist", `
apis:
  - name: a
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations: [{integrationId: m, integrationType: MOCK}]
    routes: [{routeKey: $default, target: integrations/m, modelSelectionExpression: $request.body.action, requestModels: {$default: ghost}}]
    stages: [{stageName: dev}]
`, `Invalid model identifier specified: ghost`},
		{"response parameter with a bad source", `
apis:
  - name: a
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: m
        integrationType: MOCK
        integrationResponses:
          - {integrationResponseKey: $default, responseParameters: {method.response.header.X: context.connectionId}}
    routes: [{routeKey: $default, target: integrations/m}]
    stages: [{stageName: dev}]
`, `responseParameters.method.response.header.X: response parameter source "context.connectionId" is not valid`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := configfile.Parse("cfg.yaml", []byte(tc.config))
			if err == nil {
				_, err = gateway.New(gateway.Options{Bundle: f.Bundle})
				err = f.Locate(err)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestConnectMapping: a $connect route with a required query string parameter and a MOCK integration
// whose request template decides the handshake's status from $input.params, the pattern of AWS's
// $connect guide (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-route-keys-connect-disconnect.html).
func TestConnectMapping(t *testing.T) {
	gw := gatewaytest.Start(t, `
apis:
  - name: connect
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: gate
        integrationType: MOCK
        requestTemplates:
          $default: '{"statusCode": #if($input.params(''token'') == ''letmein'')200#{else}403#end}'
        integrationResponses:
          - integrationResponseKey: $default
            responseParameters: {method.response.header.Sec-WebSocket-Protocol: "'chat.v1'"}
    routes:
      - routeKey: $connect
        target: integrations/gate
        requestParameters: {route.request.querystring.token: {required: true}}
    stages: [{stageName: dev}]
`)
	base := gw.WSURL + "/" + apiIDOf(t, gw) + "/dev"
	cases := []struct {
		name, query string
		status      int
	}{
		{"missing required parameter", "", http.StatusBadRequest},
		{"template refuses", "?token=nope", http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := gatewaytest.TryDial(t, base+tc.query, nil)
			if c.Response == nil || c.Response.StatusCode != tc.status {
				t.Fatalf("response %v (err %v), want %d", c.Response, err, tc.status)
			}
		})
	}
	t.Run("template accepts; responseParameters pick the subprotocol", func(t *testing.T) {
		c := gatewaytest.Dial(t, base+"?token=letmein", &websocket.DialOptions{Subprotocols: []string{"chat.v1"}})
		if got := c.Conn.Subprotocol(); got != "chat.v1" {
			t.Fatalf("subprotocol %q, want chat.v1", got)
		}
	})
}

// TestMappingExample runs examples/mapping/switchboard.yaml, the README's worked example, with the
// messages the README shows.
func TestMappingExample(t *testing.T) {
	cfg, err := os.ReadFile(filepath.Join("..", "..", "examples", "mapping", "switchboard.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	gw := gatewaytest.Start(t, string(cfg))
	c := gatewaytest.Dial(t, gw.WSURL+"/mapping/dev", nil)
	for _, tc := range []struct {
		send string
		want *regexp.Regexp
	}{
		{`{"action":"subscribe","email":"ada@example.com"}`, regexp.MustCompile(`^\{"subscribed": true, "connectionId": "[A-Za-z0-9_-]{15}=", "at": \d{13}\}$`)},
		{`{"action":"subscribe","email":"ada@elsewhere.org"}`, regexp.MustCompile(`^\{"subscribed": false, "reason": "only example.com addresses"\}$`)},
		{`{"action":"subscribe"}`, frameRE("Bad request body")},
	} {
		c.Send(tc.send)
		if got := c.Read(); !tc.want.MatchString(got) {
			t.Errorf("%s: got %q, want match for %s", tc.send, got, tc.want)
		}
	}
}
