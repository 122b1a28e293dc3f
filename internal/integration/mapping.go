package integration

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/proxyevent"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/selexpr"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
	"github.com/switchboard-gw/switchboard/internal/vtl"
)

// ErrUnsupportedMediaType reports a message that no request template matches while the integration's
// passthroughBehavior (NEVER, or WHEN_NO_TEMPLATES with templates defined) forbids passing it through.
var ErrUnsupportedMediaType = errors.New("no request template matches and passthroughBehavior forbids passthrough")

// ErrTemplate reports a mapping template that failed to render (an error in the template, or a limit).
var ErrTemplate = errors.New("mapping template failed")

// ErrNoResponse reports a non-proxy integration answer that no integration response matches, with no
// $default one: API Gateway's "No match for output mapping and no default output mapping".
var ErrNoResponse = errors.New("no integration response matches and there is no $default integration response")

// Proxy reports whether integrations of type t pass events through unmapped (AWS_PROXY, HTTP_PROXY).
func Proxy(t string) bool {
	return t == resource.IntegrationAWSProxy || t == resource.IntegrationHTTPProxy
}

// MapRequest applies a non-proxy integration's request side: the request template chosen by the
// templateSelectionExpression (else $default) renders the body, or the body passes through as
// passthroughBehavior allows; then contentHandlingStrategy converts it. It returns req itself for proxy
// integrations, else a copy whose Body is what the backend receives; the copy's Message keeps the
// original message for parameters and response templates.
// https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-data-transformations.html
func MapRequest(in *snapshot.Integration, req *Request) (*Request, error) {
	if Proxy(in.Type) {
		return req, nil
	}
	out := *req
	out.Message = req.Body
	key, ok := selectKey(in.Templates, in.TemplateSelection, req.Env())
	switch {
	case ok:
		body, err := in.Templates[key].Render(TemplateVars(req, string(req.Body)))
		if err != nil {
			return nil, fmt.Errorf("%w: request template %q: %w", ErrTemplate, key, err)
		}
		out.Body = []byte(body)
	case in.PassthroughBehavior == resource.PassthroughNever,
		in.PassthroughBehavior == resource.PassthroughWhenNoTemplates && len(in.RequestTemplates) > 0:
		return nil, ErrUnsupportedMediaType
	}
	body, err := convert(in.ContentHandling, out.Body)
	if err != nil {
		return nil, err
	}
	out.Body = body
	return &out, nil
}

// convert applies a contentHandlingStrategy: CONVERT_TO_TEXT encodes base64, CONVERT_TO_BINARY decodes it.
func convert(strategy string, b []byte) ([]byte, error) {
	switch strategy {
	case "CONVERT_TO_TEXT":
		return []byte(base64.StdEncoding.EncodeToString(b)), nil
	case "CONVERT_TO_BINARY":
		d, err := base64.StdEncoding.DecodeString(string(b))
		if err != nil {
			return nil, fmt.Errorf("CONVERT_TO_BINARY: payload is not base64: %w", err)
		}
		return d, nil
	}
	return b, nil
}

// selectKey picks a template key: the expression's value when it names a template, else $default;
// without an expression, the only template when there is just one.
func selectKey(templates map[string]*vtl.Template, sel *selexpr.Expr, env selexpr.Env) (string, bool) {
	if len(templates) == 0 {
		return "", false
	}
	if sel != nil {
		if k := sel.Eval(env); templates[k] != nil {
			return k, true
		}
	}
	if templates["$default"] != nil {
		return "$default", true
	}
	if sel == nil && len(templates) == 1 {
		for k := range templates {
			return k, true
		}
	}
	return "", false
}

// MapResponse applies a non-proxy integration's response side: the integrationResponseSelectionExpression
// (the status code unless set) picks an integration response by its /regex/ key, else $default; that
// response's template, chosen by its own templateSelectionExpression, renders the reply from the
// backend's answer. Without a template the answer passes through. req is what MapRequest returned.
// https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-integration-responses.html
func MapResponse(in *snapshot.Integration, req *Request, resp *Response) (*Response, error) {
	if Proxy(in.Type) || len(in.Responses) == 0 {
		return resp, nil
	}
	env := req.Env()
	if req.Message != nil {
		env.Body = req.Message
	}
	env.Fallback = &responseEnv{resp: resp}
	value := strconv.Itoa(resp.StatusCode)
	if in.ResponseSelection != nil {
		value = in.ResponseSelection.Eval(env)
	}
	ir := SelectResponse(in.Responses, value)
	if ir == nil {
		return nil, fmt.Errorf("%w (selection value %q)", ErrNoResponse, value)
	}
	out := *resp
	if len(ir.ResponseParameters) > 0 {
		h := resp.Header.Clone()
		if h == nil {
			h = http.Header{}
		}
		for _, p := range ir.ResponseParameters {
			switch p.Source.Kind {
			case snapshot.SourceStatic:
				h.Set(p.Header, p.Source.Value)
			case snapshot.SourceResponseHeader:
				if v := resp.Header.Get(p.Source.Name); v != "" {
					h.Set(p.Header, v)
				}
			case snapshot.SourceResponseBody:
				if v, ok := selexpr.JSONValue(resp.Body, p.Source.Path); ok && v != "" {
					h.Set(p.Header, v)
				}
			}
		}
		out.Header = h
	}
	if key, ok := selectKey(ir.Compiled, ir.TemplateSelection, env); ok {
		orig := req
		if req.Message != nil {
			cp := *req
			cp.Body = req.Message
			orig = &cp
		}
		vars := TemplateVars(orig, string(resp.Body))
		body, err := ir.Compiled[key].Render(vars)
		if err != nil {
			return nil, fmt.Errorf("%w: response template %q of integration response %s: %w", ErrTemplate, key, ir.Key, err)
		}
		out.Body = []byte(body)
	}
	body, err := convert(ir.ContentHandling, out.Body)
	if err != nil {
		return nil, err
	}
	out.Body = body
	return &out, nil
}

// SelectResponse returns the first integration response whose /regex/ key matches value, else the
// $default one, else nil.
func SelectResponse(responses []*snapshot.IntegrationResponse, value string) *snapshot.IntegrationResponse {
	var def *snapshot.IntegrationResponse
	for _, ir := range responses {
		if ir.Pattern.IsDefault() {
			if def == nil {
				def = ir
			}
			continue
		}
		if ir.Pattern.Match(value) {
			return ir
		}
	}
	return def
}

// responseEnv resolves $integration.response.* for selection expressions.
type responseEnv struct{ resp *Response }

func (e *responseEnv) Value(v *selexpr.Var) string {
	switch v.Source {
	case selexpr.SourceStatusCode:
		return strconv.Itoa(e.resp.StatusCode)
	case selexpr.SourceResponseHeader:
		return e.resp.Header.Get(v.Name)
	case selexpr.SourceResponseMultiHeader:
		return strings.Join(e.resp.Header.Values(v.Name), ",")
	case selexpr.SourceResponseBody:
		s, _ := selexpr.JSONValue(e.resp.Body, v.Path)
		return s
	}
	return ""
}

// TemplateVars are the variables of a mapping template for req: $input.body is body; $input.params()
// holds the handshake's headers and query string ($connect); $context and $stageVariables are the
// event's.
func TemplateVars(req *Request, body string) *vtl.Vars {
	v := &vtl.Vars{Body: body, StageVariables: req.StageVariables}
	if req.Context != nil {
		v.ContextObject = contextObject{rc: req.Context}
	}
	if req.Header != nil || req.Query != nil {
		v.Params = map[string]map[string]string{"path": {}, "querystring": {}, "header": {}}
		for k, vs := range req.Header {
			if len(vs) > 0 {
				v.Params["header"][k] = vs[0]
			}
		}
		for k, vs := range req.Query {
			if len(vs) > 0 {
				v.Params["querystring"][k] = vs[0]
			}
		}
	}
	return v
}

// contextObject is $context: read from the event's requestContext on use, so that a template that
// names two variables does not pay for building all of them.
type contextObject struct{ rc *proxyevent.RequestContext }

func (c contextObject) Property(name string) (any, bool) {
	switch name {
	case "identity":
		id := vtl.NewMap()
		id.Put("sourceIp", c.rc.Identity.SourceIP)
		id.Put("userAgent", c.rc.Identity.UserAgent)
		if c.rc.Identity.APIKey != "" {
			id.Put("apiKey", c.rc.Identity.APIKey)
			id.Put("apiKeyId", c.rc.Identity.APIKeyID)
		}
		return id, true
	case "authorizer":
		// AWS stringifies the authorizer's context values in mapping templates (1 → "1").
		m := vtl.NewMap()
		for _, k := range sortedKeys(c.rc.Authorizer) {
			m.Put(k, stringify(c.rc.Authorizer[k]))
		}
		return m, true
	}
	if s := c.rc.Var(name); s != "" {
		if name == "connectedAt" || name == "requestTimeEpoch" {
			n, _ := strconv.ParseInt(s, 10, 64)
			return n, true
		}
		return s, true
	}
	return nil, false
}

func (c contextObject) Call(_ *vtl.Renderer, name string, args []any) (any, bool, error) {
	if name == "get" && len(args) == 1 {
		if k, ok := args[0].(string); ok {
			v, _ := c.Property(k)
			return v, true, nil
		}
	}
	return nil, false, nil
}

func stringify(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	return selexpr.Stringify(v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
