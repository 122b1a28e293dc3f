package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// dataTraceEnabled logs what each integration received after the request templates and what it answered
// before the response templates, as API Gateway's execution logs do ("Endpoint request body after
// transformations", "Endpoint response body before transformations"): for a Lambda proxy integration the
// exact event the function (a real aws-lambda-go handler) was invoked with and its raw answer, for an
// HTTP integration the rendered template and the backend's own body. Routes whose loggingLevel is OFF, or
// ERROR with a successful call, log none.
func TestDataTraceLogsIntegrationRequestAndResponse(t *testing.T) {
	bin, err := buildHandler()
	if err != nil {
		t.Fatal(err)
	}
	be := gatewaytest.NewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if strings.Contains(string(b), "broken") {
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, `{"raw":"down"}`)
			return
		}
		io.WriteString(w, `{"raw":"backend"}`)
	})
	logs := &syncBuffer{}
	g := gatewaytest.Start(t, fmt.Sprintf(`
apis:
  - name: traced
    apiId: tr
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: fn
        integrationType: AWS_PROXY
        integrationUri: arn:aws:lambda:us-east-1:123456789012:function:echo
      - integrationId: tpl
        integrationType: HTTP
        integrationUri: %s/store
        integrationMethod: POST
        requestTemplates: {$default: '{"wrapped": $input.body, "conn": "$context.connectionId"}'}
        integrationResponses:
          - {integrationResponseKey: $default, responseTemplates: {$default: '{"mapped":true}'}}
    routes:
      - {routeKey: echo, target: integrations/fn, routeResponses: [{routeResponseKey: $default}]}
      - {routeKey: store, target: integrations/tpl, routeResponses: [{routeResponseKey: $default}]}
      - {routeKey: quiet, target: integrations/tpl, routeResponses: [{routeResponseKey: $default}]}
      - {routeKey: errors, target: integrations/tpl, routeResponses: [{routeResponseKey: $default}]}
    stages:
      - stageName: dev
        defaultRouteSettings: {loggingLevel: INFO, dataTraceEnabled: true}
        routeSettings:
          quiet: {loggingLevel: "OFF"}
          errors: {loggingLevel: ERROR}
functions:
  - {functionName: echo, handler: %q}
`, be.URL, bin), func(o *gateway.Options) {
		o.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	c := gatewaytest.Dial(t, g.WSURL+"/tr/dev", nil)
	for _, msg := range []string{`{"action":"echo","n":1}`, `{"action":"store","n":2}`, `{"action":"quiet","n":3}`,
		`{"action":"errors","n":4}`, `{"action":"errors","n":5,"broken":true}`} {
		c.Send(msg)
		c.Read()
	}
	var id string
	type line struct{ msg, route, data string }
	var got []line
	gatewaytest.Eventually(t, 10*time.Second, func() bool {
		got = nil
		for _, l := range logs.lines() {
			msg, _ := l["msg"].(string)
			if !strings.HasPrefix(msg, "endpoint ") {
				continue
			}
			route, _ := l["route_key"].(string)
			data, _ := l["data"].(string)
			id, _ = l["conn_id"].(string)
			got = append(got, line{msg, route, data})
		}
		return len(got) >= 6
	}, "fewer than 6 data trace lines")
	if len(got) != 6 {
		t.Fatalf("%d data trace lines, want 6: %q", len(got), got)
	}
	const req, resp = "endpoint request body after transformations", "endpoint response body before transformations"

	// The Lambda proxy event, as the function received it, and its raw proxy response.
	if got[0].msg != req || got[0].route != "echo" {
		t.Fatalf("first line %q", got[0])
	}
	var ev struct {
		RequestContext struct {
			ConnectionID string `json:"connectionId"`
			EventType    string `json:"eventType"`
		} `json:"requestContext"`
		Body string `json:"body"`
	}
	if err := json.Unmarshal([]byte(got[0].data), &ev); err != nil || ev.RequestContext.ConnectionID != id ||
		ev.RequestContext.EventType != "MESSAGE" || ev.Body != `{"action":"echo","n":1}` {
		t.Fatalf("the logged Lambda event is not the proxy event of this message (%v): %s", err, got[0].data)
	}
	var answer struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if got[1].msg != resp || json.Unmarshal([]byte(got[1].data), &answer) != nil || answer.StatusCode != 200 ||
		!strings.Contains(answer.Body, `"routeKey":"echo"`) {
		t.Fatalf("the logged Lambda answer: %q", got[1])
	}
	// The HTTP integration: the rendered template out, the backend's body (not the mapped one) back.
	want := []line{
		{req, "store", `{"wrapped": {"action":"store","n":2}, "conn": "` + id + `"}`},
		{resp, "store", `{"raw":"backend"}`},
		// quiet (loggingLevel OFF) and the successful call of errors (ERROR) log nothing.
		{req, "errors", `{"wrapped": {"action":"errors","n":5,"broken":true}, "conn": "` + id + `"}`},
		{resp, "errors", `{"raw":"down"}`},
	}
	if fmt.Sprint(got[2:]) != fmt.Sprint(want) {
		t.Errorf("data trace lines\n%q\nwant\n%q", got[2:], want)
	}
}
