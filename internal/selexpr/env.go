package selexpr

import "encoding/json"

// Env resolves variables during Eval. It is an interface so that route selection (a WebSocket message)
// and integration response selection (an integration's reply) can supply their own values.
type Env interface {
	// Value returns the value of v, or "" when it has none.
	Value(v *Var) string
}

// MessageEnv resolves variables for one WebSocket message: request.body paths against Body, and the
// other sources through the optional fields. It is meant to be built as a struct literal per message:
// it validates Body at most once, lazily and only if a body variable is evaluated, and then scans the raw
// JSON for each referenced path instead of decoding the whole document. Because of that cache a
// MessageEnv must not be copied or shared between goroutines after first use, and Body must not change.
type MessageEnv struct {
	// Body is the message payload.
	Body []byte
	// Header resolves $request.header.NAME; nil resolves every header to "".
	Header func(name string) string
	// QueryString resolves $request.querystring.NAME; nil resolves every parameter to "".
	QueryString func(name string) string
	// BasePath is the value of $request.basepath.
	BasePath string
	// Context resolves $context.NAME; nil resolves every context variable to "".
	Context func(name string) string
	// StageVariables holds the values of $stageVariables.NAME.
	StageVariables map[string]string
	// Fallback, if set, resolves the sources MessageEnv does not handle itself (the integration.response
	// ones), so callers can extend a MessageEnv instead of reimplementing it.
	Fallback Env

	state bodyState
}

type bodyState uint8

const (
	bodyUnchecked bodyState = iota
	bodyJSON
	bodyNotJSON
)

// BodyIsJSON reports whether Body is one valid JSON value (surrounding whitespace allowed). The answer
// is computed once and cached.
func (m *MessageEnv) BodyIsJSON() bool {
	if m.state == bodyUnchecked {
		m.state = bodyNotJSON
		if json.Valid(m.Body) {
			m.state = bodyJSON
		}
	}
	return m.state == bodyJSON
}

// Value implements Env.
func (m *MessageEnv) Value(v *Var) string {
	switch v.Source {
	case SourceRequestBody:
		if !m.BodyIsJSON() {
			return ""
		}
		return bodyValue(m.Body, v.Path)
	case SourceRequestHeader:
		if m.Header != nil {
			return m.Header(v.Name)
		}
	case SourceRequestQuery:
		if m.QueryString != nil {
			return m.QueryString(v.Name)
		}
	case SourceRequestBasePath:
		return m.BasePath
	case SourceContext:
		if m.Context != nil {
			return m.Context(v.Name)
		}
	case SourceStageVariables:
		return m.StageVariables[v.Name]
	default:
		if m.Fallback != nil {
			return m.Fallback.Value(v)
		}
	}
	return ""
}

// bodyValue returns the stringified value at path in the valid JSON document body. Paths into a top-level
// array or scalar find nothing, because API Gateway only selects into message objects; the empty path
// stringifies the whole document whatever it is.
func bodyValue(body []byte, path []Step) string {
	i := skipWS(body, 0)
	if len(path) > 0 && (i >= len(body) || body[i] != '{') {
		return ""
	}
	raw, ok := locate(body[i:], path)
	if !ok {
		return ""
	}
	return stringifyRaw(raw, false)
}

// SelectRouteKey evaluates a route selection expression against one WebSocket message. It returns
// ok=false when the expression references $request.body and the message is not valid JSON, because API
// Gateway then sends the message to the $default route; otherwise it returns the evaluated route key.
// Only request.body variables have values here; use Eval with a MessageEnv for the other sources.
func SelectRouteKey(e *Expr, body []byte) (key string, ok bool) {
	m := MessageEnv{Body: body}
	if e.usesBody && !m.BodyIsJSON() {
		return "", false
	}
	return e.evalMessage(&m), true
}
