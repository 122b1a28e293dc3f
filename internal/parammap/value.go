package parammap

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// MaxBodyForPath is how much of a body $request.body and $response.body expressions read: AWS evaluates
// JSONPath on the first 100 KB, so a longer body gives those expressions no value.
const MaxBodyForPath = 100 << 10

// source is where a variable reads from.
type source uint8

const (
	srcStatic source = iota
	srcRequestHeader
	srcRequestQuery
	srcRequestBody
	srcRequestPath
	srcRequestPathParam
	srcContext
	srcStageVar
	srcResponseHeader
	srcResponseBody
)

// part is static text or one variable.
type part struct {
	src  source
	text string // static text, or the variable's name
	path []step // body expressions
}

// step is one JSONPath step: a member name, or an index when isIndex.
type step struct {
	name    string
	index   int
	isIndex bool
}

// Value is a parsed mapping value: static text, one variable ($request.header.x) or a mix of text and
// ${…} variables ("Bearer ${request.header.token}").
type Value struct{ parts []part }

func (v Value) static() bool { return len(v.parts) == 1 && v.parts[0].src == srcStatic }

// ParseValue parses a mapping value; response allows $response.* sources.
func ParseValue(s string, response bool) (Value, error) {
	if strings.HasPrefix(s, "$") && !strings.HasPrefix(s, "${") {
		p, err := parseVar(s[1:], response)
		if err != nil {
			return Value{}, invalid("Invalid mapping expression parameter specified: " + s)
		}
		return Value{parts: []part{p}}, nil
	}
	var v Value
	rest := s
	for rest != "" {
		i := strings.Index(rest, "${")
		if i < 0 {
			v.parts = append(v.parts, part{text: rest})
			break
		}
		if i > 0 {
			v.parts = append(v.parts, part{text: rest[:i]})
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return Value{}, invalid("Invalid mapping expression parameter specified: " + s)
		}
		p, err := parseVar(rest[i+2:i+j], response)
		if err != nil {
			return Value{}, invalid("Invalid mapping expression parameter specified: " + s)
		}
		v.parts = append(v.parts, p)
		rest = rest[i+j+1:]
	}
	if len(v.parts) == 0 {
		v.parts = []part{{text: ""}}
	}
	return v, nil
}

var errBadVar = &Error{Message: "bad variable"}

// parseVar parses a variable without its "$": request.header.x, context.requestId, ….
func parseVar(s string, response bool) (part, error) {
	head, rest, _ := strings.Cut(s, ".")
	switch head {
	case "request":
		kind, name, hasName := strings.Cut(rest, ".")
		switch {
		case kind == "header" && validToken(name):
			return part{src: srcRequestHeader, text: name}, nil
		case kind == "querystring" && name != "":
			return part{src: srcRequestQuery, text: name}, nil
		case kind == "path" && !hasName:
			return part{src: srcRequestPath}, nil
		case kind == "path" && name != "":
			return part{src: srcRequestPathParam, text: name}, nil
		case kind == "body" && hasName:
			path, err := parsePath(name)
			return part{src: srcRequestBody, text: name, path: path}, err
		}
	case "response":
		if !response {
			break
		}
		kind, name, hasName := strings.Cut(rest, ".")
		switch {
		case kind == "header" && validToken(name):
			return part{src: srcResponseHeader, text: name}, nil
		case kind == "body" && hasName:
			path, err := parsePath(name)
			return part{src: srcResponseBody, text: name, path: path}, err
		}
	case "context":
		if validName(rest) {
			return part{src: srcContext, text: rest}, nil
		}
	case "stageVariables":
		if validName(rest) {
			return part{src: srcStageVar, text: rest}, nil
		}
	}
	return part{}, errBadVar
}

// validName says whether s is a context variable name: letters, digits, '_' and dots between them
// (authorizer.claims.sub).
func validName(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '.' || c == '_' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// parsePath parses the JSONPath subset AWS accepts after $request.body.: member names separated by dots,
// [n] indexes and ['name'] members. Recursive descent (..), filters (?(…)) and wildcards are refused, as
// AWS documents.
func parsePath(s string) ([]step, error) {
	var steps []step
	i := 0
	for i < len(s) {
		switch s[i] {
		case '.':
			if i == 0 || i+1 >= len(s) || s[i+1] == '.' || s[i+1] == '[' {
				return nil, errBadVar
			}
			i++
		case '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				return nil, errBadVar
			}
			inner := s[i+1 : i+j]
			switch {
			case len(inner) >= 2 && (inner[0] == '\'' && inner[len(inner)-1] == '\'' || inner[0] == '"' && inner[len(inner)-1] == '"'):
				steps = append(steps, step{name: inner[1 : len(inner)-1]})
			default:
				n, err := strconv.Atoi(inner)
				if err != nil || n < 0 {
					return nil, errBadVar
				}
				steps = append(steps, step{index: n, isIndex: true})
			}
			i += j + 1
			continue
		}
		j := i
		for j < len(s) && s[j] != '.' && s[j] != '[' {
			j++
		}
		name := s[i:j]
		if name == "" || name == "*" || strings.ContainsAny(name, "?()*]'\"") {
			return nil, errBadVar
		}
		steps = append(steps, step{name: name})
		i = j
	}
	if len(steps) == 0 {
		return nil, errBadVar
	}
	return steps, nil
}

// Eval returns the value's text for in; ok is false when the value is empty.
func (v Value) Eval(in *Input) (string, bool) {
	if len(v.parts) == 1 {
		s := v.parts[0].eval(in)
		return s, s != ""
	}
	var b strings.Builder
	for i := range v.parts {
		b.WriteString(v.parts[i].eval(in))
	}
	return b.String(), b.Len() > 0
}

func (p *part) eval(in *Input) string {
	switch p.src {
	case srcStatic:
		return p.text
	case srcRequestHeader:
		return strings.Join(in.Header.Values(p.text), ",")
	case srcRequestQuery:
		return strings.Join(in.Query[p.text], ",")
	case srcRequestPath:
		return in.Path
	case srcRequestPathParam:
		return in.PathParameters[p.text]
	case srcContext:
		if in.Context == nil {
			return ""
		}
		s, _ := in.Context(p.text)
		return s
	case srcStageVar:
		return in.StageVariables[p.text]
	case srcResponseHeader:
		return strings.Join(in.ResponseHeader.Values(p.text), ",")
	case srcRequestBody:
		return in.bodyValue(0, in.Body, p.path)
	case srcResponseBody:
		return in.bodyValue(1, in.ResponseBody, p.path)
	}
	return ""
}

// bodyValue evaluates path on body (parsed once per Input): a string's value, any other JSON value's
// compact text, "" when the path leads nowhere or the body is not JSON.
func (in *Input) bodyValue(which int, body []byte, path []step) string {
	if !in.bodyRead[which] {
		in.bodyRead[which] = true
		if len(body) <= MaxBodyForPath {
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			var v any
			if dec.Decode(&v) == nil {
				in.body[which] = v
			}
		}
	}
	v := in.body[which]
	for _, s := range path {
		switch cur := v.(type) {
		case map[string]any:
			if s.isIndex {
				return ""
			}
			v = cur[s.name]
		case []any:
			if !s.isIndex || s.index >= len(cur) {
				return ""
			}
			v = cur[s.index]
		default:
			return ""
		}
	}
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	}
	out, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(out)
}
