package mock

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/integration"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
	"github.com/switchboard-gw/switchboard/internal/selexpr"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
	"github.com/switchboard-gw/switchboard/internal/vtl"
)

func keyPattern(t *testing.T, key string) *selexpr.KeyPattern {
	t.Helper()
	p, err := selexpr.ParseKeyPattern(key)
	if err != nil {
		t.Fatalf("ParseKeyPattern(%q): %v", key, err)
	}
	return p
}

// response builds an integration response with key and templates, and an optional selection expression.
func response(t *testing.T, key string, templates map[string]string, sel string) *snapshot.IntegrationResponse {
	t.Helper()
	ir := &snapshot.IntegrationResponse{Key: key, Pattern: keyPattern(t, key), Templates: templates}
	if sel != "" {
		ir.TemplateSelection = selexpr.MustParse(sel)
	}
	return ir
}

// compile parses the integration's templates as snapshot.Compile does.
func compile(t *testing.T, in *snapshot.Integration) {
	t.Helper()
	parse := func(src map[string]string) map[string]*vtl.Template {
		out := make(map[string]*vtl.Template, len(src))
		for k, s := range src {
			tp, err := vtl.Parse(s)
			if err != nil {
				t.Fatalf("template %q: %v", k, err)
			}
			out[k] = tp
		}
		return out
	}
	in.Templates = parse(in.RequestTemplates)
	for _, ir := range in.Responses {
		ir.Compiled = parse(ir.Templates)
	}
}

// run takes a message through the MOCK pipeline: request template, Invoke, integration response.
func run(in *snapshot.Integration, body string) (*integration.Response, error) {
	req := &integration.Request{
		Context: &proxyevent.RequestContext{EventType: proxyevent.EventMessage, RouteKey: "$default", ConnectionID: "AAAAAAAAAAAAAAA=", Stage: "dev"},
		Body:    []byte(body),
	}
	mapped, err := integration.MapRequest(in, req)
	if err != nil {
		return nil, err
	}
	resp, err := Invoker{}.Invoke(context.Background(), in, mapped)
	if err != nil {
		return nil, err
	}
	return integration.MapResponse(in, mapped, resp)
}

func invoke(t *testing.T, in *snapshot.Integration, body string) *integration.Response {
	t.Helper()
	compile(t, in)
	resp, err := run(in, body)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if resp == nil {
		t.Fatal("run returned a nil response")
	}
	return resp
}

// echoStatus answers each status class with its own text, so a test sees which response was selected.
func echoStatus(t *testing.T) []*snapshot.IntegrationResponse {
	return []*snapshot.IntegrationResponse{
		response(t, "/2\\d\\d/", map[string]string{"$default": "2xx"}, ""),
		response(t, "/4\\d\\d/", map[string]string{"$default": "4xx"}, ""),
		response(t, "$default", map[string]string{"$default": "default"}, ""),
	}
}

func TestRequestTemplateStatus(t *testing.T) {
	tests := []struct {
		name     string
		template string
		want     int
	}{
		{"200", `{"statusCode": 200}`, 200},
		{"201", `{"statusCode": 201}`, 201},
		{"404", `{"statusCode":404}`, 404},
		{"500 with other members", `{"other": true, "statusCode": 500, "x": [1]}`, 500},
		{"number as string", `{"statusCode": "202"}`, 202},
		{"lowest", `{"statusCode": 100}`, 100},
		{"highest", `{"statusCode": 599}`, 599},
		{"missing", `{"status": 404}`, 200},
		{"empty object", `{}`, 200},
		{"null", `{"statusCode": null}`, 200},
		{"garbage", `statusCode: 404`, 200},
		{"empty template", ``, 200},
		{"truncated JSON", `{"statusCode": 404`, 200},
		{"not an object", `[404]`, 200},
		{"fraction", `{"statusCode": 201.5}`, 200},
		{"below range", `{"statusCode": 99}`, 200},
		{"above range", `{"statusCode": 600}`, 200},
		{"negative", `{"statusCode": -201}`, 200},
		{"not a number", `{"statusCode": "created"}`, 200},
		{"boolean", `{"statusCode": true}`, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &snapshot.Integration{ID: "m", Type: "MOCK", RequestTemplates: map[string]string{"$default": tc.template}}
			if got := invoke(t, in, `{"action":"x"}`).StatusCode; got != tc.want {
				t.Errorf("status = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestNoRequestTemplate(t *testing.T) {
	tests := []struct {
		name      string
		templates map[string]string
		sel       string
	}{
		{"no templates", nil, ""},
		{"empty map", map[string]string{}, ""},
		{"no match and no $default", map[string]string{"create": `{"statusCode": 201}`, "delete": `{"statusCode": 204}`}, "$request.body.op"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &snapshot.Integration{ID: "m", Type: "MOCK", RequestTemplates: tc.templates, Responses: echoStatus(t)}
			if tc.sel != "" {
				in.TemplateSelection = selexpr.MustParse(tc.sel)
			}
			resp := invoke(t, in, `{"op":"update"}`)
			if resp.StatusCode != 200 || string(resp.Body) != "2xx" {
				t.Errorf("got %d %q, want 200 %q", resp.StatusCode, resp.Body, "2xx")
			}
		})
	}
}

func TestIntegrationResponseSelection(t *testing.T) {
	tests := []struct {
		name      string
		status    string
		responses func(t *testing.T) []*snapshot.IntegrationResponse
		wantBody  string
	}{
		{"200 matches /2\\d\\d/", "200", echoStatus, "2xx"},
		{"204 matches /2\\d\\d/", "204", echoStatus, "2xx"},
		{"404 matches /4\\d\\d/", "404", echoStatus, "4xx"},
		{"500 falls back to $default", "500", echoStatus, "default"},
		{"302 falls back to $default", "302", echoStatus, "default"},
		{"regex is anchored: /2/ does not match 200", "200", func(t *testing.T) []*snapshot.IntegrationResponse {
			return []*snapshot.IntegrationResponse{
				response(t, "/2/", map[string]string{"$default": "partial"}, ""),
				response(t, "$default", map[string]string{"$default": "default"}, ""),
			}
		}, "default"},
		{"$default listed first does not shadow a regex", "201", func(t *testing.T) []*snapshot.IntegrationResponse {
			return []*snapshot.IntegrationResponse{
				response(t, "$default", map[string]string{"$default": "default"}, ""),
				response(t, "/2\\d\\d/", map[string]string{"$default": "2xx"}, ""),
			}
		}, "2xx"},
		{"first matching regex wins", "201", func(t *testing.T) []*snapshot.IntegrationResponse {
			return []*snapshot.IntegrationResponse{
				response(t, "/20\\d/", map[string]string{"$default": "20x"}, ""),
				response(t, "/2\\d\\d/", map[string]string{"$default": "2xx"}, ""),
			}
		}, "20x"},
		{"alternation", "401", func(t *testing.T) []*snapshot.IntegrationResponse {
			return []*snapshot.IntegrationResponse{
				response(t, "/401|403/", map[string]string{"$default": "auth"}, ""),
				response(t, "$default", map[string]string{"$default": "default"}, ""),
			}
		}, "auth"},
		{"no integration responses: no body", "200", func(*testing.T) []*snapshot.IntegrationResponse { return nil }, ""},
		{"selected response without templates: no body", "200", func(t *testing.T) []*snapshot.IntegrationResponse {
			return []*snapshot.IntegrationResponse{
				response(t, "/2\\d\\d/", nil, ""),
				response(t, "$default", map[string]string{"$default": "default"}, ""),
			}
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &snapshot.Integration{
				ID: "m", Type: "MOCK",
				RequestTemplates: map[string]string{"$default": `{"statusCode": ` + tc.status + `}`},
				Responses:        tc.responses(t),
			}
			resp := invoke(t, in, `{}`)
			if got := string(resp.Body); got != tc.wantBody {
				t.Errorf("body = %q, want %q", got, tc.wantBody)
			}
			if got := strconv.Itoa(resp.StatusCode); got != tc.status {
				t.Errorf("status = %s, want %s", got, tc.status)
			}
		})
	}
}

func TestRequestTemplateSelection(t *testing.T) {
	templates := map[string]string{
		"create":   `{"statusCode": 201}`,
		"missing":  `{"statusCode": 404}`,
		"$default": `{"statusCode": 202}`,
	}
	tests := []struct {
		name      string
		sel       string
		templates map[string]string
		body      string
		want      int
	}{
		{"key from the body", "$request.body.op", templates, `{"op":"create"}`, 201},
		{"braced key from the body", "${request.body.op}", templates, `{"op":"missing"}`, 404},
		{"unknown key falls back to $default", "$request.body.op", templates, `{"op":"update"}`, 202},
		{"absent member falls back to $default", "$request.body.op", templates, `{"other":"create"}`, 202},
		{"non-JSON body falls back to $default", "$request.body.op", templates, `op=create`, 202},
		{"nested path", "$request.body.meta.kind", templates, `{"meta":{"kind":"create"}}`, 201},
		{"static \\$default", `\$default`, templates, `{"op":"create"}`, 202},
		{"static key", "create", templates, `{}`, 201},
		{"context variable", "$context.routeKey", map[string]string{"$default": `{"statusCode": 500}`, "$connect": `{"statusCode": 403}`}, `{}`, 500},
		{"composite key", "${request.body.op}-${request.body.v}", map[string]string{"create-2": `{"statusCode": 201}`, "$default": `{"statusCode": 400}`}, `{"op":"create","v":2}`, 201},
		{"no expression uses $default", "", templates, `{"op":"create"}`, 202},
		{"no expression, single template", "", map[string]string{"application/json": `{"statusCode": 203}`}, `{}`, 203},
		{"no expression, several templates, no $default", "", map[string]string{"a": `{"statusCode": 203}`, "b": `{"statusCode": 204}`}, `{}`, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &snapshot.Integration{ID: "m", Type: "MOCK", RequestTemplates: tc.templates}
			if tc.sel != "" {
				in.TemplateSelection = selexpr.MustParse(tc.sel)
			}
			if got := invoke(t, in, tc.body).StatusCode; got != tc.want {
				t.Errorf("status = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestResponseTemplateSelection(t *testing.T) {
	templates := map[string]string{
		"xml":      `<pong/>`,
		"text":     `pong`,
		"$default": `{"type":"pong"}`,
	}
	tests := []struct {
		name      string
		status    int
		sel       string
		templates map[string]string
		body      string
		want      string
	}{
		{"key from the request body", 200, "$request.body.format", templates, `{"format":"xml"}`, `<pong/>`},
		{"another key", 200, "${request.body.format}", templates, `{"format":"text"}`, `pong`},
		{"unknown key falls back to $default", 200, "$request.body.format", templates, `{"format":"yaml"}`, `{"type":"pong"}`},
		{"non-JSON request falls back to $default", 200, "$request.body.format", templates, `xml`, `{"type":"pong"}`},
		{"static \\$default", 200, `\$default`, templates, `{"format":"xml"}`, `{"type":"pong"}`},
		{"no expression uses $default", 200, "", templates, `{"format":"xml"}`, `{"type":"pong"}`},
		{"no match and no $default: no body", 200, "$request.body.format", map[string]string{"xml": "<pong/>"}, `{"format":"json"}`, ``},
		{"no expression, single template", 200, "", map[string]string{"text/plain": "only"}, `{}`, `only`},
		{"status code selects the template", 201, "${integration.response.statuscode}", map[string]string{"201": "created", "$default": "other"}, `{}`, `created`},
		{"status code, other status falls back", 202, "$integration.response.statuscode", map[string]string{"201": "created", "$default": "other"}, `{}`, `other`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &snapshot.Integration{
				ID: "m", Type: "MOCK",
				RequestTemplates: map[string]string{"$default": `{"statusCode": ` + strconv.Itoa(tc.status) + `}`},
				Responses:        []*snapshot.IntegrationResponse{response(t, "$default", tc.templates, tc.sel)},
			}
			resp := invoke(t, in, tc.body)
			if got := string(resp.Body); got != tc.want {
				t.Errorf("body = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestInvokeConcurrent invokes one compiled integration from several goroutines, as every connection of
// a stage does; run with -race.
func TestInvokeConcurrent(t *testing.T) {
	in := &snapshot.Integration{
		ID: "m", Type: "MOCK",
		RequestTemplates:  map[string]string{"create": `{"statusCode": 201}`, "$default": `{"statusCode": 200}`},
		TemplateSelection: selexpr.MustParse("$request.body.op"),
		Responses:         echoStatus(t),
	}
	compile(t, in)
	done := make(chan struct{})
	for i := 0; i < 8; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := 0; j < 100; j++ {
				resp, err := run(in, `{"op":"create"}`)
				if err != nil || resp.StatusCode != 201 || string(resp.Body) != "2xx" {
					t.Errorf("got %v %v", resp, err)
					return
				}
			}
		}()
	}
	for i := 0; i < 8; i++ {
		<-done
	}
}

// TestNoMatchingResponse: an answer that no integration response matches, without a $default one, is an
// error (API Gateway's "No match for output mapping and no default output mapping").
func TestNoMatchingResponse(t *testing.T) {
	in := &snapshot.Integration{ID: "m", Type: "MOCK",
		RequestTemplates: map[string]string{"$default": `{"statusCode": 500}`},
		Responses:        []*snapshot.IntegrationResponse{response(t, "/2\\d\\d/", map[string]string{"$default": "2xx"}, "")}}
	compile(t, in)
	if _, err := run(in, `{}`); !errors.Is(err, integration.ErrNoResponse) {
		t.Fatalf("run = %v, want ErrNoResponse", err)
	}
}

// TestTemplatesRender: request and response templates are Velocity, with $input, $context and $util.
// The MOCK pattern is the one of AWS's WebSocket guide (request template {"statusCode": 200}, response
// template rendering the reply).
func TestTemplatesRender(t *testing.T) {
	in := &snapshot.Integration{ID: "m", Type: "MOCK",
		RequestTemplates: map[string]string{"$default": `#if($input.path('$.fail'))#set($s = 404)#{else}#set($s = 200)#end{"statusCode": $s}`},
		Responses: []*snapshot.IntegrationResponse{
			response(t, "/4\\d\\d/", map[string]string{"$default": `{"error": "not found", "connectionId": "$context.connectionId"}`}, ""),
			response(t, "$default", map[string]string{"$default": `{"echo": "$util.escapeJavaScript($input.path('$.text'))", "route": "$context.routeKey"}`}, ""),
		}}
	compile(t, in)
	// The response template's $input is the integration's answer; a MOCK answer is empty, so the
	// request's message is not visible there (as on AWS).
	resp, err := run(in, `{"text": "it's"}`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(resp.Body), `{"echo": "", "route": "$default"}`; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
	resp, err = run(in, `{"fail": true}`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(resp.Body), `{"error": "not found", "connectionId": "AAAAAAAAAAAAAAA="}`; got != want || resp.StatusCode != 404 {
		t.Errorf("got %d %q, want 404 %q", resp.StatusCode, got, want)
	}
}

func TestPassthroughBehavior(t *testing.T) {
	tests := []struct {
		name, behavior string
		templates      map[string]string
		wantErr        bool
	}{
		{"WHEN_NO_MATCH passes through", "WHEN_NO_MATCH", map[string]string{"other": "x"}, false},
		{"NEVER refuses", "NEVER", map[string]string{"other": "x"}, true},
		{"NEVER refuses without templates", "NEVER", nil, true},
		{"WHEN_NO_TEMPLATES refuses with templates", "WHEN_NO_TEMPLATES", map[string]string{"other": "x"}, true},
		{"WHEN_NO_TEMPLATES passes without templates", "WHEN_NO_TEMPLATES", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &snapshot.Integration{ID: "m", Type: "MOCK", PassthroughBehavior: tc.behavior, RequestTemplates: tc.templates,
				TemplateSelection: selexpr.MustParse("$request.body.op")}
			compile(t, in)
			_, err := run(in, `{"op":"nothing"}`)
			if tc.wantErr != errors.Is(err, integration.ErrUnsupportedMediaType) {
				t.Fatalf("run = %v, want ErrUnsupportedMediaType: %v", err, tc.wantErr)
			}
		})
	}
}

func TestTemplateErrors(t *testing.T) {
	in := &snapshot.Integration{ID: "m", Type: "MOCK",
		RequestTemplates: map[string]string{"$default": `$input.path('$.a')`}}
	compile(t, in)
	if _, err := run(in, `not json`); !errors.Is(err, integration.ErrTemplate) {
		t.Fatalf("run = %v, want ErrTemplate", err)
	}
}
