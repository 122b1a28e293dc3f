package selexpr

import (
	"strconv"
	"strings"
)

// Variable sources. Var.Source is always one of these, so callers can switch on it instead of
// re-parsing the variable text.
const (
	// SourceRequestBody is $request.body, the WebSocket message parsed as JSON, optionally followed by a path.
	SourceRequestBody = "request.body"
	// SourceRequestHeader is $request.header.NAME, a header of the connect request.
	SourceRequestHeader = "request.header"
	// SourceRequestQuery is $request.querystring.NAME, a query string parameter of the connect request.
	SourceRequestQuery = "request.querystring"
	// SourceRequestBasePath is $request.basepath, the base path of a custom domain mapping.
	SourceRequestBasePath = "request.basepath"
	// SourceContext is $context.NAME, a request context value; NAME may be dotted
	// (authorizer.usageIdentifierKey).
	SourceContext = "context"
	// SourceStageVariables is $stageVariables.NAME, a stage variable.
	SourceStageVariables = "stageVariables"
	// SourceStatusCode is $integration.response.statuscode, the status code an integration returned.
	SourceStatusCode = "integration.response.statuscode"
	// SourceResponseHeader is $integration.response.header.NAME, a header an integration returned.
	SourceResponseHeader = "integration.response.header"
	// SourceResponseMultiHeader is $integration.response.multivalueheader.NAME, all values of a header an
	// integration returned.
	SourceResponseMultiHeader = "integration.response.multivalueheader"
	// SourceResponseBody is $integration.response.body, the integration's response parsed as JSON,
	// optionally followed by a path.
	SourceResponseBody = "integration.response.body"
)

// Expr is a parsed selection expression: static text and variable references. It is immutable after
// Parse, so one Expr can be shared by every connection of an API and evaluated concurrently.
type Expr struct {
	src      string
	parts    []part
	vars     []Var
	usesBody bool
}

// part is one piece of an expression: static text (v < 0) or the variable vars[v].
type part struct {
	lit string
	v   int
}

// Var is one variable reference in an expression.
type Var struct {
	// Source is one of the Source* constants.
	Source string
	// Name is the header, query string, context or stage variable name, e.g. "x-api-key" or
	// "authorizer.usageIdentifierKey"; it is empty for sources that take no name and for body sources.
	Name string
	// Path is the JSON path for SourceRequestBody and SourceResponseBody; empty means the whole body.
	Path []Step
	// Text is the reference as written, e.g. "$request.body.action" or "${request.body.action}".
	Text string
	// Offset is the byte offset of Text in the expression, so callers can point at it in their own errors.
	Offset int
}

// Step is one JSON path step: a member name or, when IsIndex is set, an array index. Dotted names
// (a.b) and bracketed names (['a']) both become name steps; a dotted name made of digits is still a
// member name, never an array index, as in JSONPath.
type Step struct {
	Name    string
	Index   int
	IsIndex bool
}

// SyntaxError is the error Parse returns. It carries the offset so that API validation can report it
// the way the control plane reports a BadRequestException.
type SyntaxError struct {
	// Offset is the byte offset in the expression where the problem was found.
	Offset int
	// Msg describes the problem without the "selexpr: " prefix and the offset.
	Msg string
}

// Error formats the error as "selexpr: MSG at offset N".
func (e *SyntaxError) Error() string {
	return "selexpr: " + e.Msg + " at offset " + strconv.Itoa(e.Offset)
}

func errorf(off int, msg string) error {
	return &SyntaxError{Offset: off, Msg: msg}
}

// Parse parses a selection expression. The empty expression is an error because API Gateway requires a
// non-empty routeSelectionExpression, and so is a "$" that does not start a known variable: a mistyped
// variable must fail at deploy time rather than silently route every message to $default.
func Parse(src string) (*Expr, error) {
	if src == "" {
		return nil, errorf(0, "empty expression")
	}
	e := &Expr{src: src}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			e.parts = append(e.parts, part{lit: lit.String(), v: -1})
			lit.Reset()
		}
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\\' && i+1 < len(src) && src[i+1] == '$':
			lit.WriteByte('$')
			i += 2
		case c == '$':
			v, end, err := parseVar(src, i)
			if err != nil {
				return nil, err
			}
			flush()
			e.parts = append(e.parts, part{v: len(e.vars)})
			e.vars = append(e.vars, v)
			if v.Source == SourceRequestBody {
				e.usesBody = true
			}
			i = end
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	return e, nil
}

// MustParse is Parse for expressions known to be valid, such as constants and test fixtures; it panics
// on error because such an error is a programming mistake.
func MustParse(src string) *Expr {
	e, err := Parse(src)
	if err != nil {
		panic(err)
	}
	return e
}

// String returns the source text, so an Expr can be written back to the API resource unchanged.
func (e *Expr) String() string { return e.src }

// IsStatic reports whether the expression references no variables; its value is then known without a
// message, which lets callers skip per-message work.
func (e *Expr) IsStatic() bool { return len(e.vars) == 0 }

// Vars returns the referenced variables in source order. It returns a copy of the list so callers
// cannot change the shared Expr (the Path slices are shared and must not be modified).
func (e *Expr) Vars() []Var {
	if len(e.vars) == 0 {
		return nil
	}
	return append([]Var(nil), e.vars...)
}

// UsesBody reports whether the expression references $request.body, because then a message that is not
// JSON cannot be evaluated and must go to the $default route.
func (e *Expr) UsesBody() bool { return e.usesBody }

// Eval evaluates the expression, resolving each variable through env. Unknown or missing values, and
// every variable when env is nil, evaluate to the empty string, as in API Gateway.
func (e *Expr) Eval(env Env) string {
	if len(e.parts) == 1 {
		p := e.parts[0]
		if p.v < 0 {
			return p.lit
		}
		if env == nil {
			return ""
		}
		return env.Value(&e.vars[p.v])
	}
	var b strings.Builder
	for _, p := range e.parts {
		if p.v < 0 {
			b.WriteString(p.lit)
		} else if env != nil {
			b.WriteString(env.Value(&e.vars[p.v]))
		}
	}
	return b.String()
}

// evalMessage is Eval specialised to *MessageEnv so that the environment does not escape to the heap
// on the per-message path.
func (e *Expr) evalMessage(m *MessageEnv) string {
	if len(e.parts) == 1 {
		p := e.parts[0]
		if p.v < 0 {
			return p.lit
		}
		return m.Value(&e.vars[p.v])
	}
	var b strings.Builder
	b.Grow(len(e.src)) // a fair guess: values are usually about as long as the references they replace
	for _, p := range e.parts {
		if p.v < 0 {
			b.WriteString(p.lit)
		} else {
			b.WriteString(m.Value(&e.vars[p.v]))
		}
	}
	return b.String()
}

// seg is one scanned piece of a variable name: a dotted name or a bracket step.
type seg struct {
	name    string
	step    Step
	bracket bool
	off     int
}

func isIdentChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func scanIdent(src string, i int) int {
	for i < len(src) && isIdentChar(src[i]) {
		i++
	}
	return i
}

// parseVar parses the variable whose "$" is at src[start] and returns it with the offset just past it.
func parseVar(src string, start int) (Var, int, error) {
	i := start + 1
	braced := i < len(src) && src[i] == '{'
	if braced {
		i++
	}
	segs, end, err := scanName(src, i, braced)
	if err != nil {
		return Var{}, 0, err
	}
	var text string
	if braced {
		switch {
		case end < len(src) && src[end] == '}':
			if len(segs) == 0 {
				return Var{}, 0, errorf(start, `empty variable "${}"`)
			}
			text = src[start : end+1]
			end++
		case strings.IndexByte(src[end:], '}') < 0:
			return Var{}, 0, errorf(start, `unterminated "${"`)
		default:
			return Var{}, 0, errorf(end, "unexpected "+strconv.QuoteRune(rune(src[end]))+` in "${...}"`)
		}
	} else {
		if len(segs) == 0 {
			return Var{}, 0, errorf(start, `"$" not followed by a variable name (write \$ for a literal dollar sign)`)
		}
		text = src[start:end]
	}
	v, err := resolveVar(segs, text, start)
	return v, end, err
}

// scanName scans a variable name starting at src[i] and returns its pieces and the offset just past it.
// A bare name ends at the first character that cannot continue it; a braced name must be well formed.
func scanName(src string, i int, braced bool) ([]seg, int, error) {
	k := scanIdent(src, i)
	if k == i {
		return nil, i, nil
	}
	segs := []seg{{name: src[i:k], off: i}}
	j := k
	for j < len(src) {
		switch src[j] {
		case '.':
			k := scanIdent(src, j+1)
			if k == j+1 {
				if braced {
					return nil, 0, errorf(j+1, `expected a name after "."`)
				}
				return segs, j, nil
			}
			segs = append(segs, seg{name: src[j+1 : k], off: j + 1})
			j = k
		case '[':
			st, k, err := parseBracket(src, j)
			if err != nil {
				return nil, 0, err
			}
			segs = append(segs, seg{step: st, bracket: true, off: j})
			j = k
		default:
			return segs, j, nil
		}
	}
	return segs, j, nil
}

// parseBracket parses a bracket step ([0], ['name'] or ["name"]) at src[j] == '['.
func parseBracket(src string, j int) (Step, int, error) {
	k := j + 1
	if k >= len(src) {
		return Step{}, 0, errorf(j, `unterminated "["`)
	}
	switch c := src[k]; {
	case c >= '0' && c <= '9':
		for k < len(src) && src[k] >= '0' && src[k] <= '9' {
			k++
		}
		if k >= len(src) {
			return Step{}, 0, errorf(j, `unterminated "["`)
		}
		if src[k] != ']' {
			return Step{}, 0, errorf(k, `expected "]" after array index`)
		}
		n, err := strconv.Atoi(src[j+1 : k])
		if err != nil {
			return Step{}, 0, errorf(j+1, "array index "+src[j+1:k]+" out of range")
		}
		return Step{Index: n, IsIndex: true}, k + 1, nil
	case c == '\'' || c == '"':
		var name strings.Builder
		for k++; k < len(src) && src[k] != c; k++ {
			if src[k] == '\\' && k+1 < len(src) {
				k++
			}
			name.WriteByte(src[k])
		}
		if k >= len(src) {
			return Step{}, 0, errorf(j, `unterminated quoted name in "["`)
		}
		k++
		if k >= len(src) || src[k] != ']' {
			return Step{}, 0, errorf(k, `expected "]" after quoted name`)
		}
		return Step{Name: name.String()}, k + 1, nil
	case c == '-':
		return Step{}, 0, errorf(k, "negative array index")
	default:
		return Step{}, 0, errorf(j, `malformed "[": expected an array index or a quoted name`)
	}
}

// resolveVar maps the scanned pieces of a variable name to its source, name and path.
func resolveVar(segs []seg, text string, off int) (Var, error) {
	v := Var{Text: text, Offset: off}
	unknown := func() (Var, error) {
		return Var{}, errorf(off, "unknown variable "+strconv.Quote(text))
	}
	nameAt := func(i int) string {
		if i < len(segs) && !segs[i].bracket {
			return segs[i].name
		}
		return ""
	}
	// body turns segs[i:] into a JSON path.
	body := func(source string, i int) (Var, error) {
		v.Source = source
		for _, s := range segs[i:] {
			if s.bracket {
				v.Path = append(v.Path, s.step)
			} else {
				v.Path = append(v.Path, Step{Name: s.name})
			}
		}
		return v, nil
	}
	// named joins segs[i:] with dots into the variable's name, which must exist and has no brackets.
	named := func(source string, i int) (Var, error) {
		v.Source = source
		if i >= len(segs) {
			return Var{}, errorf(off, "variable "+strconv.Quote(text)+` needs a name after "`+source+`."`)
		}
		var b strings.Builder
		for k, s := range segs[i:] {
			if s.bracket {
				return Var{}, errorf(s.off, "brackets are only allowed in request.body and integration.response.body paths")
			}
			if k > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.name)
		}
		v.Name = b.String()
		return v, nil
	}
	// exact accepts a source that takes no name or path.
	exact := func(source string, n int) (Var, error) {
		if len(segs) != n {
			return unknown()
		}
		v.Source = source
		return v, nil
	}
	switch nameAt(0) {
	case "request":
		switch nameAt(1) {
		case "body":
			return body(SourceRequestBody, 2)
		case "header":
			return named(SourceRequestHeader, 2)
		case "querystring":
			return named(SourceRequestQuery, 2)
		case "basepath":
			return exact(SourceRequestBasePath, 2)
		}
	case "context":
		return named(SourceContext, 1)
	case "stageVariables":
		return named(SourceStageVariables, 1)
	case "integration":
		if nameAt(1) != "response" {
			return unknown()
		}
		switch nameAt(2) {
		case "statuscode":
			return exact(SourceStatusCode, 3)
		case "header":
			return named(SourceResponseHeader, 3)
		case "multivalueheader":
			return named(SourceResponseMultiHeader, 3)
		case "body":
			return body(SourceResponseBody, 3)
		}
	}
	return unknown()
}
