// Package parammap is the parameter mapping of HTTP API integrations (spec §11.6): requestParameters that
// change a request's headers, query string and path before it reaches the integration, and
// responseParameters, keyed by the integration's status code, that change a response's headers and
// status code. Mappings are parsed once, when a snapshot is compiled, into a form that applies without
// parsing; a parse error carries AWS's BadRequestException text.
//
// AWS documents the keys, the value sources and the reserved headers in "Transforming API requests and
// responses" (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-parameter-mapping.html).
// Its validation messages are not documented; the wording follows the REST-API family of messages AWS
// answers ("Invalid mapping expression specified: Validation Result: warnings : [], errors : [...]"),
// including the one its integration create answers for a bad response destination ("Invalid Response
// Actioned Parameter destination specified: KEY").
package parammap

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// ErrInvalid is wrapped by every parse error; its text is the BadRequestException message.
var ErrInvalid = errors.New("invalid parameter mapping")

// invalid returns a parse error whose message is AWS's.
func invalid(detail string) error {
	return &Error{Message: "Invalid mapping expression specified: Validation Result: warnings : [], errors : [" + detail + "]"}
}

// Error is a mapping AWS would refuse; Message is the BadRequestException message.
type Error struct{ Message string }

// Error returns the BadRequestException message.
func (e *Error) Error() string { return e.Message }

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *Error) Unwrap() error { return ErrInvalid }

// Action is what a mapping does to its target.
type Action uint8

// The actions of a mapping key.
const (
	Append Action = iota + 1
	Overwrite
	Remove
)

// Target is what a mapping changes.
type Target uint8

// The targets of a mapping key.
const (
	Header Target = iota + 1
	QueryString
	Path
	StatusCode
)

// Mapping is one parsed key and value.
type Mapping struct {
	// Key is the key as configured, for logs.
	Key    string
	Action Action
	Target Target
	// Name is the header (canonical form) or query-string parameter; empty for Path and StatusCode.
	Name  string
	Value Value
}

// Reserved says whether a header cannot be mapped: AWS's list of reserved headers.
func Reserved(name string) bool {
	n := strings.ToLower(name)
	for _, p := range []string{"access-control-", "apigw-", "x-amz-", "x-amzn-"} {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	switch n {
	case "authorization", "connection", "content-encoding", "content-length", "content-location", "forwarded",
		"keep-alive", "origin", "proxy-authenticate", "proxy-authorization", "te", "trailers", "transfer-encoding",
		"upgrade", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "via":
		return true
	}
	return false
}

// Request is a parsed requestParameters map.
type Request struct{ Mappings []Mapping }

// Response is a parsed responseParameters map: the mappings of each status code.
type Response struct{ ByStatus map[int][]Mapping }

// ParseRequest parses an integration's requestParameters.
func ParseRequest(params map[string]string) (*Request, error) {
	if len(params) == 0 {
		return nil, nil
	}
	r := &Request{Mappings: make([]Mapping, 0, len(params))}
	for _, key := range sortedKeys(params) {
		m, err := parseKey(key, false)
		if err != nil {
			return nil, err
		}
		if m.Action != Remove {
			if m.Value, err = ParseValue(params[key], false); err != nil {
				return nil, err
			}
		}
		r.Mappings = append(r.Mappings, m)
	}
	return r, nil
}

// ParseResponse parses an integration's responseParameters: status codes (200–599) to mappings.
func ParseResponse(params map[string]map[string]string) (*Response, error) {
	if len(params) == 0 {
		return nil, nil
	}
	r := &Response{ByStatus: make(map[int][]Mapping, len(params))}
	for _, code := range sortedKeys(params) {
		status, err := strconv.Atoi(code)
		if err != nil || status < 200 || status > 599 || strconv.Itoa(status) != code {
			return nil, invalid("Invalid response status code specified: " + code)
		}
		ms := make([]Mapping, 0, len(params[code]))
		for _, key := range sortedKeys(params[code]) {
			m, err := parseKey(key, true)
			if err != nil {
				return nil, err
			}
			if m.Action != Remove {
				if m.Value, err = ParseValue(params[code][key], true); err != nil {
					return nil, err
				}
			}
			if m.Target == StatusCode && m.Value.static() {
				if c, err := strconv.Atoi(m.Value.parts[0].text); err != nil || c < 100 || c > 599 {
					return nil, invalid("Invalid status code specified: " + m.Value.parts[0].text)
				}
			}
			ms = append(ms, m)
		}
		r.ByStatus[status] = ms
	}
	return r, nil
}

// parseKey reads "action:target.name", "overwrite:path" (requests) or "overwrite:statuscode" (responses).
func parseKey(key string, response bool) (Mapping, error) {
	bad := func() error {
		if response {
			return invalid("Invalid Response Actioned Parameter destination specified: " + key)
		}
		return invalid("Invalid Request Actioned Parameter destination specified: " + key)
	}
	m := Mapping{Key: key}
	action, dest, ok := strings.Cut(key, ":")
	if !ok {
		return m, bad()
	}
	switch strings.ToLower(action) {
	case "append":
		m.Action = Append
	case "overwrite":
		m.Action = Overwrite
	case "remove":
		m.Action = Remove
	default:
		return m, bad()
	}
	kind, name, _ := strings.Cut(dest, ".")
	switch strings.ToLower(kind) {
	case "header":
		if !validToken(name) {
			return m, bad()
		}
		if Reserved(name) {
			return m, invalid("Operations on header " + name + " are restricted")
		}
		m.Target, m.Name = Header, http.CanonicalHeaderKey(name)
	case "querystring":
		if response || name == "" {
			return m, bad()
		}
		m.Target, m.Name = QueryString, name
	case "path":
		if response || m.Action != Overwrite || strings.Contains(dest, ".") {
			return m, bad()
		}
		m.Target = Path
	case "statuscode":
		if !response || m.Action != Overwrite || strings.Contains(dest, ".") {
			return m, bad()
		}
		m.Target = StatusCode
	default:
		return m, bad()
	}
	return m, nil
}

// validToken says whether s is a non-empty RFC 9110 token.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// Input is what mapping values read. Any field may be empty.
type Input struct {
	// Header, Query and Body are the client's request; Path is its path without the stage,
	// PathParameters the route's path variables.
	Header         http.Header
	Query          url.Values
	Body           []byte
	Path           string
	PathParameters map[string]string
	// Context returns a $context variable's value and whether it has one.
	Context        func(name string) (string, bool)
	StageVariables map[string]string
	// ResponseHeader and ResponseBody are the integration's response (response mappings).
	ResponseHeader http.Header
	ResponseBody   []byte

	body     [2]any // parsed request and response bodies
	bodyRead [2]bool
}

// Outgoing is the request an integration receives, changed in place by Request.Apply.
type Outgoing struct {
	Header http.Header
	Query  url.Values
	// Path is the path to send; an overwrite:path mapping replaces it.
	Path string
}

// Apply changes out as the mappings say, in key order. A mapping whose value is empty (every variable
// missing and no static text) is skipped, as AWS does not send empty headers or parameters.
func (r *Request) Apply(in *Input, out *Outgoing) {
	if r == nil {
		return
	}
	for i := range r.Mappings {
		m := &r.Mappings[i]
		switch m.Target {
		case Header:
			if out.Header == nil {
				out.Header = make(http.Header)
			}
			applyHeader(m, in, out.Header)
		case QueryString:
			if out.Query == nil {
				out.Query = make(url.Values)
			}
			switch m.Action {
			case Remove:
				out.Query.Del(m.Name)
			case Append:
				if v, ok := m.Value.Eval(in); ok {
					out.Query.Add(m.Name, v)
				}
			case Overwrite:
				if v, ok := m.Value.Eval(in); ok {
					out.Query.Set(m.Name, v)
				}
			}
		case Path:
			if v, ok := m.Value.Eval(in); ok {
				out.Path = v
			}
		}
	}
}

func applyHeader(m *Mapping, in *Input, h http.Header) {
	switch m.Action {
	case Remove:
		h.Del(m.Name)
	case Append:
		if v, ok := m.Value.Eval(in); ok {
			if old := h.Values(m.Name); len(old) > 0 {
				h.Set(m.Name, strings.Join(old, ",")+","+v)
			} else {
				h.Set(m.Name, v)
			}
		}
	case Overwrite:
		if v, ok := m.Value.Eval(in); ok {
			h.Set(m.Name, v)
		}
	}
}

// Apply changes the response's header for the integration's status and returns the status to send.
// err is set when an overwrite:statuscode value is not a status code at run time (the status is then
// left as it was); the caller logs it.
func (r *Response) Apply(status int, in *Input, header http.Header) (int, error) {
	if r == nil {
		return status, nil
	}
	ms, ok := r.ByStatus[status]
	if !ok {
		return status, nil
	}
	out := status
	var err error
	for i := range ms {
		m := &ms[i]
		switch m.Target {
		case Header:
			applyHeader(m, in, header)
		case StatusCode:
			v, ok := m.Value.Eval(in)
			if !ok {
				continue
			}
			c, cerr := strconv.Atoi(strings.TrimSpace(v))
			if cerr != nil || c < 100 || c > 599 {
				err = fmt.Errorf("%s: %q is not a status code", m.Key, v)
				continue
			}
			out = c
		}
	}
	return out, err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
