// Package integration defines how the gateway calls a route's backend. An Invoker runs one event against
// one compiled integration and returns the backend's answer; dispatch turns that answer, or the error,
// into what the client sees. Implementations live in sub-packages named after their integration type:
// mock (MOCK), httpbackend (HTTP_PROXY and HTTP), awsproxy (AWS_PROXY), awslambda (AWS with a
// Lambda URI) and awsservice (AWS service actions). Non-proxy integrations map requests and answers with
// MapRequest and MapResponse (mapping.go).
package integration

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/switchboard-gw/switchboard/internal/proxyevent"
	"github.com/switchboard-gw/switchboard/internal/selexpr"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// Request is one event as an integration receives it.
type Request struct {
	// Context is the event's requestContext; it also resolves context.* parameters.
	Context *proxyevent.RequestContext
	// Body is the message text; empty for $connect and $disconnect. For non-proxy integrations it is what
	// the request template rendered (MapRequest).
	Body []byte
	// Message is the client's message when Body was rendered from it; body parameters read it.
	Message []byte
	// Header and Query are the handshake's headers and query string (kept for $connect only).
	Header http.Header
	Query  url.Values
	// StageVariables are the stage's variables.
	StageVariables map[string]string
}

// Response is a backend's answer.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// Invoker runs an event against an integration.
type Invoker interface {
	Invoke(ctx context.Context, in *snapshot.Integration, req *Request) (*Response, error)
}

// ErrTimeout reports that the integration did not answer within its timeoutInMillis. Clients see
// "Endpoint request timed out"; any other error is "Internal server error".
var ErrTimeout = errors.New("integration timed out")

// Env returns the selection-expression environment of req: its body, handshake headers and query,
// context variables and stage variables.
func (r *Request) Env() *selexpr.MessageEnv {
	env := &selexpr.MessageEnv{Body: r.Body, StageVariables: r.StageVariables}
	if r.Context != nil {
		env.Context = r.Context.Var
	}
	if r.Header != nil {
		env.Header = r.Header.Get
	}
	if r.Query != nil {
		env.QueryString = r.Query.Get
	}
	return env
}

// ParameterValue resolves a request parameter's source for req. ok is false when the source has no value
// (a missing header, a body path that is not there); AWS then leaves the parameter out.
func (r *Request) ParameterValue(src snapshot.ParameterSource) (value string, ok bool) {
	switch src.Kind {
	case snapshot.SourceStatic:
		return src.Value, true
	case snapshot.SourceContext:
		if r.Context == nil {
			return "", false
		}
		v := r.Context.Var(src.Name)
		return v, v != ""
	case snapshot.SourceHeader, snapshot.SourceMultiHeader:
		vs := r.Header.Values(src.Name)
		if len(vs) == 0 {
			return "", false
		}
		if src.Kind == snapshot.SourceMultiHeader {
			return joinComma(vs), true
		}
		return vs[len(vs)-1], true
	case snapshot.SourceQuery, snapshot.SourceMultiQuery:
		vs, found := r.Query[src.Name]
		if !found || len(vs) == 0 {
			return "", false
		}
		if src.Kind == snapshot.SourceMultiQuery {
			return joinComma(vs), true
		}
		return vs[len(vs)-1], true
	case snapshot.SourceBody:
		// JSONValue reports a path that is not there as "" with ok set; it has no value all the same.
		msg := r.Body
		if r.Message != nil {
			msg = r.Message
		}
		v, ok := selexpr.JSONValue(msg, src.Path)
		return v, ok && v != ""
	}
	return "", false
}

func joinComma(vs []string) string {
	n := 0
	for _, v := range vs {
		n += len(v) + 1
	}
	b := make([]byte, 0, n)
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, v...)
	}
	return string(b)
}

// SelectTemplate picks a mapping template: the key the selection expression evaluates to, else $default.
// Without an expression the $default template is used, or the only template when there is just one.
func SelectTemplate(templates map[string]string, sel *selexpr.Expr, env selexpr.Env) (string, bool) {
	if len(templates) == 0 {
		return "", false
	}
	if sel != nil {
		if t, ok := templates[sel.Eval(env)]; ok {
			return t, true
		}
	}
	if t, ok := templates["$default"]; ok {
		return t, true
	}
	if sel == nil && len(templates) == 1 {
		for _, t := range templates {
			return t, true
		}
	}
	return "", false
}
