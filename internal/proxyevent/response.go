package proxyevent

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// Response is a Lambda function's result read as a proxy integration response (spec §2.8–2.10).
type Response struct {
	// StatusCode is the result's statusCode, 200 when it has none.
	StatusCode int
	// Header merges headers and multiValueHeaders under canonical names. Where both name a header,
	// multiValueHeaders' values win, as with REST proxy integrations.
	Header http.Header
	// Body is the body to send back, base64-decoded when isBase64Encoded is true; nil when there is none.
	Body []byte
}

// ErrMalformedResponse reports a result that cannot be read as a proxy response. Clients see the
// integration failure: a 502 handshake on $connect, the "Internal server error" frame on messages.
var ErrMalformedResponse = errors.New("malformed Lambda proxy response")

// MaxMessageBody is the largest body a function may return to a message route: API Gateway's 128 KiB
// message payload quota.
const MaxMessageBody = 128 << 10

// ErrBodyTooLarge reports a message route's result whose body is over MaxMessageBody.
var ErrBodyTooLarge = errors.New("response body is over 128 KiB")

// proxyKeys are the members that make a JSON object a proxy response.
var proxyKeys = [...]string{"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}

// ParseResponse reads a function's result. AWS documents only the well-formed case; the rest are
// Switchboard's choices (README, "differences from AWS"):
//
//   - not JSON at all, or an empty payload → ErrMalformedResponse (the integration failed).
//   - null (a handler that returned nothing) → 200, no headers, no body: the connection is accepted, a
//     message gets no reply.
//   - a JSON string → 200 with the string's value as body (Node handlers that return text).
//   - a number, boolean or array → 200 with the JSON text as body.
//   - an object with none of statusCode, headers, multiValueHeaders, body, isBase64Encoded (and at
//     least one member) → 200 with the object's JSON text as body, as written: the handler returned its
//     reply rather than a proxy response. An empty object is a proxy response with nothing set.
//   - statusCode missing or null → 200; a JSON integer or a string holding one (Jackson's coercion) →
//     that status; anything else, or a status outside 100–599 → ErrMalformedResponse.
//   - headers: values may be strings, numbers or booleans (their JSON text); null values are skipped;
//     objects or arrays → ErrMalformedResponse. multiValueHeaders: arrays of the same; a bare scalar
//     counts as a one-element array.
//   - body missing or null → no body; a string → its value; any other JSON value → its JSON text.
//   - isBase64Encoded true → body is standard base64 and is decoded (invalid base64, or a non-string
//     body → ErrMalformedResponse); a non-boolean isBase64Encoded → ErrMalformedResponse.
//   - other members (cookies, …) are ignored.
//
// The 128 KiB message limit is not applied here (see MaxMessageBody): on $connect the body is not a message.
func ParseResponse(payload []byte) (*Response, error) {
	p := bytes.TrimSpace(payload)
	if len(p) == 0 {
		return nil, fmt.Errorf("%w: empty result", ErrMalformedResponse)
	}
	if p[0] == '{' {
		if m, ok := scanFlat(p); ok { // valid JSON, so no json.Valid
			return m.response(p)
		}
	}
	if !json.Valid(p) {
		return nil, fmt.Errorf("%w: result is not JSON", ErrMalformedResponse)
	}
	switch p[0] {
	case 'n':
		return &Response{StatusCode: http.StatusOK}, nil
	case '"':
		var s string
		if err := json.Unmarshal(p, &s); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformedResponse, err)
		}
		return &Response{StatusCode: http.StatusOK, Body: []byte(s)}, nil
	case '{':
	default:
		return &Response{StatusCode: http.StatusOK, Body: append([]byte(nil), p...)}, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(p, &obj); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedResponse, err)
	}
	m := membersOf(obj)
	return m.response(p)
}

// members are the top-level members of a result object that matter: how many there are, whether any is a
// proxy response's, and the raw values of those (nil when absent). cookies is an HTTP API 2.0 result's
// and does not make the object a proxy response.
type members struct {
	n                                          int
	proxy                                      bool
	status, headers, multi, body, b64, cookies json.RawMessage
}

// membersOf picks the members out of a result object read by encoding/json.
func membersOf(obj map[string]json.RawMessage) members {
	return members{n: len(obj), proxy: hasProxyKey(obj), status: obj["statusCode"], headers: obj["headers"],
		multi: obj["multiValueHeaders"], body: obj["body"], b64: obj["isBase64Encoded"], cookies: obj["cookies"]}
}

// response reads the members of the object p as ParseResponse documents.
func (m *members) response(p []byte) (*Response, error) {
	if m.n > 0 && !m.proxy {
		return &Response{StatusCode: http.StatusOK, Body: append([]byte(nil), p...)}, nil
	}
	resp := &Response{StatusCode: http.StatusOK}
	var err error
	if resp.StatusCode, err = parseStatus(m.status); err != nil {
		return nil, err
	}
	if resp.Header, err = parseHeaders(m.headers, m.multi); err != nil {
		return nil, err
	}
	b64 := false
	if raw := m.b64; !isNull(raw) {
		if err := json.Unmarshal(raw, &b64); err != nil {
			return nil, fmt.Errorf("%w: isBase64Encoded is not a boolean", ErrMalformedResponse)
		}
	}
	raw := m.body
	switch {
	case isNull(raw):
		// No body.
	case raw[0] == '"':
		s, err := jsonString(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: body: %w", ErrMalformedResponse, err)
		}
		if !b64 {
			resp.Body = s
			break
		}
		if resp.Body, err = base64.StdEncoding.DecodeString(string(s)); err != nil {
			return nil, fmt.Errorf("%w: body is not base64: %w", ErrMalformedResponse, err)
		}
	case b64:
		return nil, fmt.Errorf("%w: isBase64Encoded with a body that is not a string", ErrMalformedResponse)
	default:
		resp.Body = append([]byte(nil), raw...)
	}
	return resp, nil
}

// jsonString returns the value of the JSON string raw (valid JSON): decoded here when it is valid UTF-8
// with no \u escape, else by encoding/json (which also replaces invalid UTF-8 with U+FFFD).
func jsonString(raw json.RawMessage) ([]byte, error) {
	inner := raw[1 : len(raw)-1]
	if !utf8.Valid(inner) {
		return decodeJSONString(raw)
	}
	i := bytes.IndexByte(inner, '\\')
	if i < 0 {
		return bytes.Clone(inner), nil // not nil when empty: an empty body is a body
	}
	out := make([]byte, i, len(inner))
	copy(out, inner[:i])
	for ; i < len(inner); i++ {
		c := inner[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch inner[i] {
		case '"', '\\', '/':
			out = append(out, inner[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		default: // \u: surrogate pairs and the rest, as encoding/json reads them
			return decodeJSONString(raw)
		}
	}
	return out, nil
}

// jsonText is jsonString as a string, with one allocation when raw has no escape.
func jsonText(raw json.RawMessage) (string, error) {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), nil
	}
	b, err := jsonString(raw)
	return string(b), err
}

func decodeJSONString(raw json.RawMessage) ([]byte, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	return []byte(s), nil
}

// scanFlat reads the members of p, a JSON object, without building a map, when p has the shape functions
// usually return: members whose keys are plain ASCII and whose values are strings, numbers, booleans,
// null, or objects and arrays of those nested at most scanDepth deep (headers, multiValueHeaders,
// cookies), no proxy member or cookies twice. For anything else it declines (ok false) and encoding/json
// decides; what it accepts is valid JSON, read as encoding/json reads it (FuzzScanFlat and
// FuzzParseHTTPResponse check the two).
func scanFlat(p []byte) (m members, ok bool) {
	i := skipWS(p, 1)
	if i >= len(p) || p[i] == '}' {
		return m, false
	}
	for {
		if i >= len(p) || p[i] != '"' {
			return m, false
		}
		k := i + 1
		for k < len(p) && p[k] != '"' {
			if c := p[k]; c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
				return m, false
			}
			k++
		}
		if k >= len(p) {
			return m, false
		}
		key := p[i+1 : k]
		i = skipWS(p, k+1)
		if i >= len(p) || p[i] != ':' {
			return m, false
		}
		i = skipWS(p, i+1)
		end, ok := scanValue(p, i, scanDepth)
		if !ok {
			return m, false
		}
		value := json.RawMessage(p[i:end:end])
		var slot *json.RawMessage
		switch string(key) {
		case "statusCode":
			slot = &m.status
		case "headers":
			slot = &m.headers
		case "multiValueHeaders":
			slot = &m.multi
		case "body":
			slot = &m.body
		case "isBase64Encoded":
			slot = &m.b64
		case "cookies":
			slot = &m.cookies
		}
		if slot != nil {
			if *slot != nil {
				return m, false // the last one wins in encoding/json; rare enough to leave to it
			}
			*slot = value
			m.proxy = m.proxy || slot != &m.cookies
		}
		m.n++
		i = skipWS(p, end)
		if i >= len(p) {
			return m, false
		}
		switch p[i] {
		case ',':
			i = skipWS(p, i+1)
		case '}':
			return m, i == len(p)-1
		default:
			return m, false
		}
	}
}

// scanDepth is how deep scanFlat follows objects and arrays inside a member's value: multiValueHeaders'
// object of arrays of strings.
const scanDepth = 2

// scanValue returns the end of the JSON value that starts at p[i] when it is a scalar (scanScalar) or,
// with depth > 0, an object or array whose values scanValue accepts at depth-1; ok is false for anything
// else, or one that is not valid JSON.
func scanValue(p []byte, i, depth int) (end int, ok bool) {
	if i >= len(p) || depth <= 0 || p[i] != '{' && p[i] != '[' {
		return scanScalar(p, i)
	}
	closer := byte(']')
	if p[i] == '{' {
		closer = '}'
	}
	i = skipWS(p, i+1)
	if i < len(p) && p[i] == closer {
		return i + 1, true
	}
	for {
		if closer == '}' {
			if i >= len(p) || p[i] != '"' {
				return 0, false
			}
			if i, ok = scanScalar(p, i); !ok {
				return 0, false
			}
			if i = skipWS(p, i); i >= len(p) || p[i] != ':' {
				return 0, false
			}
			i = skipWS(p, i+1)
		}
		if i, ok = scanValue(p, i, depth-1); !ok {
			return 0, false
		}
		if i = skipWS(p, i); i >= len(p) {
			return 0, false
		}
		switch p[i] {
		case ',':
			i = skipWS(p, i+1)
		case closer:
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// eachElement calls fn with each value of raw, a JSON array that scanValue accepts at depth 1, in order,
// until fn returns false; ok is false when raw is not such an array or fn stopped.
func eachElement(raw []byte, fn func(v []byte) bool) (ok bool) {
	if len(raw) == 0 || raw[0] != '[' {
		return false
	}
	if _, ok := scanValue(raw, 0, 1); !ok {
		return false
	}
	for i := skipWS(raw, 1); raw[i] != ']'; {
		end, _ := scanScalar(raw, i)
		if !fn(raw[i:end]) {
			return false
		}
		if i = skipWS(raw, end); raw[i] == ',' {
			i = skipWS(raw, i+1)
		}
	}
	return true
}

// eachMember calls fn with each member of raw, a JSON object that scanValue accepts at depth 1, in order:
// the key still quoted and its value, until fn returns false; ok is false when raw is not such an object
// or fn stopped.
func eachMember(raw []byte, fn func(key, v []byte) bool) (ok bool) {
	if len(raw) == 0 || raw[0] != '{' {
		return false
	}
	if _, ok := scanValue(raw, 0, 1); !ok {
		return false
	}
	for i := skipWS(raw, 1); raw[i] != '}'; {
		k, _ := scanScalar(raw, i)
		j := skipWS(raw, skipWS(raw, k)+1)
		end, _ := scanScalar(raw, j)
		if !fn(raw[i:k], raw[j:end]) {
			return false
		}
		if i = skipWS(raw, end); raw[i] == ',' {
			i = skipWS(raw, i+1)
		}
	}
	return true
}

// skipWS returns the index of the first byte at or after i that is not JSON whitespace.
func skipWS(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
		i++
	}
	return i
}

// scanScalar returns the end of the JSON string, number, true, false or null that starts at p[i]; ok is
// false for anything else, or one that is not valid JSON.
func scanScalar(p []byte, i int) (end int, ok bool) {
	if i >= len(p) {
		return 0, false
	}
	switch c := p[i]; {
	case c == '"':
		for j := i + 1; j < len(p); j++ {
			switch c := p[j]; {
			case c == '"':
				return j + 1, true
			case c < 0x20:
				return 0, false
			case c == '\\':
				j++
				if j >= len(p) {
					return 0, false
				}
				switch p[j] {
				case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				case 'u':
					if j+4 >= len(p) {
						return 0, false
					}
					for _, h := range p[j+1 : j+5] {
						if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
							return 0, false
						}
					}
					j += 4
				default:
					return 0, false
				}
			}
		}
		return 0, false
	case c == 't':
		return literal(p, i, "true")
	case c == 'f':
		return literal(p, i, "false")
	case c == 'n':
		return literal(p, i, "null")
	case c == '-' || '0' <= c && c <= '9':
		return scanNumber(p, i)
	}
	return 0, false
}

func literal(p []byte, i int, word string) (int, bool) {
	if len(p)-i >= len(word) && string(p[i:i+len(word)]) == word {
		return i + len(word), true
	}
	return 0, false
}

// scanNumber returns the end of the JSON number at p[i]: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(p []byte, i int) (int, bool) {
	digits := func(j int) int {
		for j < len(p) && '0' <= p[j] && p[j] <= '9' {
			j++
		}
		return j
	}
	if p[i] == '-' {
		i++
	}
	switch {
	case i < len(p) && p[i] == '0':
		i++
	case i < len(p) && '1' <= p[i] && p[i] <= '9':
		i = digits(i + 1)
	default:
		return 0, false
	}
	if i < len(p) && p[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(p) && (p[i] == 'e' || p[i] == 'E') {
		i++
		if i < len(p) && (p[i] == '+' || p[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

func hasProxyKey(obj map[string]json.RawMessage) bool {
	for _, k := range proxyKeys {
		if _, ok := obj[k]; ok {
			return true
		}
	}
	return false
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

func parseStatus(raw json.RawMessage) (int, error) {
	if isNull(raw) {
		return http.StatusOK, nil
	}
	text := raw
	if raw[0] == '"' {
		s, err := jsonString(raw)
		if err != nil {
			return 0, fmt.Errorf("%w: statusCode: %w", ErrMalformedResponse, err)
		}
		text = bytes.TrimSpace(s)
	}
	if code, ok := smallInt(text); ok {
		return checkStatus(code)
	}
	return parseStatusText(raw, string(text))
}

// smallInt reads text made of one to three ASCII digits, as statusCode usually is, without allocating.
func smallInt(text []byte) (int, bool) {
	if len(text) == 0 || len(text) > 3 {
		return 0, false
	}
	n := 0
	for _, c := range text {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// parseStatusText reads a statusCode's text that is not a plain small integer: the sign, leading zeros,
// fractions and exponents strconv understands.
func parseStatusText(raw json.RawMessage, text string) (int, error) {
	code, err := strconv.Atoi(text)
	if err != nil {
		// 200.0 and 2e2 are integers too.
		f, ferr := strconv.ParseFloat(text, 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1e6 {
			return 0, fmt.Errorf("%w: statusCode %s is not an integer", ErrMalformedResponse, raw)
		}
		code = int(f)
	}
	return checkStatus(code)
}

// checkStatus refuses a status outside 100–599.
func checkStatus(code int) (int, error) {
	if code < 100 || code > 599 {
		return 0, fmt.Errorf("%w: statusCode %d is out of range", ErrMalformedResponse, code)
	}
	return code, nil
}

func parseHeaders(single, multi json.RawMessage) (http.Header, error) {
	if isNull(single) && isNull(multi) {
		return nil, nil
	}
	var sm, mm map[string]json.RawMessage
	if !isNull(single) {
		if err := json.Unmarshal(single, &sm); err != nil {
			return nil, fmt.Errorf("%w: headers is not an object", ErrMalformedResponse)
		}
	}
	if !isNull(multi) {
		if err := json.Unmarshal(multi, &mm); err != nil {
			return nil, fmt.Errorf("%w: multiValueHeaders is not an object", ErrMalformedResponse)
		}
	}
	h := make(http.Header, len(sm)+len(mm))
	// Sorted, so that names differing only in case merge the same way every time.
	for _, k := range sortedKeys(mm) {
		raw := mm[k]
		if isNull(raw) {
			continue
		}
		var vs []json.RawMessage
		if raw[0] == '[' {
			if err := json.Unmarshal(raw, &vs); err != nil {
				return nil, fmt.Errorf("%w: multiValueHeaders.%s: %w", ErrMalformedResponse, k, err)
			}
		} else {
			vs = []json.RawMessage{raw}
		}
		for _, v := range vs {
			s, ok, err := scalar(v)
			if err != nil {
				return nil, fmt.Errorf("%w: multiValueHeaders.%s: %w", ErrMalformedResponse, k, err)
			}
			if ok {
				h.Add(k, s)
			}
		}
	}
	fromMulti := make(map[string]bool, len(h))
	for k := range h {
		fromMulti[k] = true
	}
	for _, k := range sortedKeys(sm) {
		s, ok, err := scalar(sm[k])
		if err != nil {
			return nil, fmt.Errorf("%w: headers.%s: %w", ErrMalformedResponse, k, err)
		}
		if ok && !fromMulti[http.CanonicalHeaderKey(k)] {
			h.Set(k, s)
		}
	}
	if len(h) == 0 {
		return nil, nil
	}
	return h, nil
}

// scalar returns a header value's text: a string's value, a number's or boolean's JSON text. ok is false
// for null.
func scalar(raw json.RawMessage) (s string, ok bool, err error) {
	switch {
	case isNull(raw):
		return "", false, nil
	case raw[0] == '"':
		s, err := jsonText(raw)
		return s, err == nil, err
	case raw[0] == '{' || raw[0] == '[':
		return "", false, errors.New("value is not a string, number or boolean")
	}
	return string(raw), true, nil
}
