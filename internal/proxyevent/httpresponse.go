package proxyevent

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"unicode/utf8"
)

// InternalServerErrorBody is what an HTTP API answers, with status 500, when the function failed or its
// result cannot be read (spec §11.3).
const InternalServerErrorBody = `{"message":"Internal Server Error"}`

// HTTPResponse is a function's result read as an HTTP API's answer.
type HTTPResponse struct {
	// StatusCode is the status to send.
	StatusCode int
	// Header holds the headers to send: headers and multiValueHeaders merged, and each of 2.0's cookies
	// as a Set-Cookie header. nil when there are none.
	Header http.Header
	// Body is the body to send, base64-decoded when isBase64Encoded was true; nil when there is none.
	Body []byte
}

// ParseHTTPResponse reads a function's result in the given payload format version ("1.0", else 2.0).
// An error wraps ErrMalformedResponse and says what is wrong; the client gets 500
// InternalServerErrorBody, as AWS answers for an invalid Lambda response.
//
// 2.0 ("Lambda function response for format 2.0" in AWS's guide): a result that is valid JSON but not an
// object with a statusCode member is inferred: 200, Content-Type application/json, and as body the
// result itself (the text of a JSON string, the JSON text as returned of anything else). An object with
// statusCode is the full form: statusCode (an integer, or a string holding one, 100–599), headers
// (string, number or boolean values), multiValueHeaders, cookies (an array of strings, each a Set-Cookie
// header), body (a string; a number or boolean gives its JSON text) and isBase64Encoded (a boolean; the
// body is then standard base64 and is decoded). Anything else in those members is malformed.
//
// 1.0 ("Lambda function response for format 1.0"): the result must be an object with statusCode; headers,
// multiValueHeaders (whose values win for a name both give), body and isBase64Encoded as in 2.0; cookies
// is not read. No inference: a result without statusCode is malformed, as REST proxy integrations treat
// it.
func ParseHTTPResponse(version string, payload []byte) (*HTTPResponse, error) {
	p := bytes.TrimSpace(payload)
	if len(p) == 0 {
		return nil, fmt.Errorf("%w: empty result", ErrMalformedResponse)
	}
	if p[0] == '{' {
		if m, ok := scanFlat(p); ok { // valid JSON, read without a map
			return m.httpResponse(version, p, true)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(p, &obj); err != nil {
			return nil, fmt.Errorf("%w: result is not JSON: %w", ErrMalformedResponse, err)
		}
		m := membersOf(obj)
		return m.httpResponse(version, p, true)
	}
	if !json.Valid(p) {
		return nil, fmt.Errorf("%w: result is not JSON", ErrMalformedResponse)
	}
	var m members
	return m.httpResponse(version, p, false)
}

// httpResponse reads the result p, whose members are m when it is an object, as ParseHTTPResponse
// documents.
func (m *members) httpResponse(version string, p []byte, object bool) (*HTTPResponse, error) {
	hasStatus := !isNull(m.status)
	if version == PayloadV1 {
		if !object {
			return nil, fmt.Errorf("%w: a payload 1.0 result must be an object", ErrMalformedResponse)
		}
		if !hasStatus {
			return nil, fmt.Errorf("%w: a payload 1.0 result must have a statusCode", ErrMalformedResponse)
		}
	} else if !hasStatus {
		body := append([]byte(nil), p...)
		if p[0] == '"' {
			s, err := jsonString(p)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrMalformedResponse, err)
			}
			body = s
		}
		return &HTTPResponse{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}, nil
	}

	resp := &HTTPResponse{}
	var err error
	if resp.StatusCode, err = parseStatus(m.status); err != nil {
		return nil, err
	}
	if resp.Header, err = responseHeaders(m.headers, m.multi); err != nil {
		return nil, err
	}
	if version != PayloadV1 {
		if resp.Header, err = addCookies(resp.Header, m.cookies); err != nil {
			return nil, err
		}
	}
	b64 := false
	switch raw := m.b64; {
	case isNull(raw):
	case string(raw) == "true":
		b64 = true
	case string(raw) == "false":
	default:
		return nil, fmt.Errorf("%w: isBase64Encoded is not a boolean", ErrMalformedResponse)
	}
	switch raw := m.body; {
	case isNull(raw):
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
	case raw[0] == '{' || raw[0] == '[':
		return nil, fmt.Errorf("%w: body is not a string", ErrMalformedResponse)
	case b64:
		return nil, fmt.Errorf("%w: isBase64Encoded with a body that is not a string", ErrMalformedResponse)
	default:
		resp.Body = append([]byte(nil), raw...)
	}
	return resp, nil
}

// responseHeaders reads headers and multiValueHeaders as parseHeaders does, without a map for the usual
// case: headers alone, an object of strings, numbers, booleans or nulls whose names are plain and differ
// even ignoring case.
func responseHeaders(single, multi json.RawMessage) (http.Header, error) {
	if !isNull(multi) || isNull(single) {
		return parseHeaders(single, multi)
	}
	var names [16]string
	n := 0
	var h http.Header
	ok := eachMember(single, func(key, v []byte) bool {
		name := key[1 : len(key)-1]
		if n == len(names) || bytes.IndexByte(name, '\\') >= 0 || !utf8.Valid(name) {
			return false // encoding/json decodes such a name; parseHeaders reads it
		}
		canon := http.CanonicalHeaderKey(string(name))
		for _, seen := range names[:n] {
			if seen == canon { // which one wins is parseHeaders' to decide
				return false
			}
		}
		names[n] = canon
		n++
		s, set, err := scalar(v)
		if err != nil {
			return false // parseHeaders says which, in its order
		}
		if set {
			if h == nil {
				h = make(http.Header, 4)
			}
			h[canon] = []string{s}
		}
		return true
	})
	if !ok {
		return parseHeaders(single, multi)
	}
	return h, nil
}

// addCookies adds each of a 2.0 result's cookies, a JSON array of strings, to h as a Set-Cookie header.
func addCookies(h http.Header, raw json.RawMessage) (http.Header, error) {
	if isNull(raw) {
		return h, nil
	}
	var cookies []string
	ok := eachElement(raw, func(v []byte) bool {
		if v[0] != '"' {
			return false
		}
		s, err := jsonText(v)
		if err != nil {
			return false
		}
		cookies = append(cookies, s)
		return true
	})
	if !ok {
		cookies = nil
		if err := json.Unmarshal(raw, &cookies); err != nil {
			return nil, fmt.Errorf("%w: cookies is not an array of strings", ErrMalformedResponse)
		}
	}
	if len(cookies) == 0 {
		return h, nil
	}
	if h == nil {
		h = make(http.Header, 1)
	}
	if prior := h["Set-Cookie"]; prior != nil {
		cookies = append(prior, cookies...)
	}
	h["Set-Cookie"] = cookies
	return h, nil
}
