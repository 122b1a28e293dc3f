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
	"strings"
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
	if len(obj) > 0 && !hasProxyKey(obj) {
		return &Response{StatusCode: http.StatusOK, Body: append([]byte(nil), p...)}, nil
	}
	resp := &Response{StatusCode: http.StatusOK}
	var err error
	if resp.StatusCode, err = parseStatus(obj["statusCode"]); err != nil {
		return nil, err
	}
	if resp.Header, err = parseHeaders(obj["headers"], obj["multiValueHeaders"]); err != nil {
		return nil, err
	}
	b64 := false
	if raw := obj["isBase64Encoded"]; !isNull(raw) {
		if err := json.Unmarshal(raw, &b64); err != nil {
			return nil, fmt.Errorf("%w: isBase64Encoded is not a boolean", ErrMalformedResponse)
		}
	}
	raw := obj["body"]
	switch {
	case isNull(raw):
		// No body.
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%w: body: %w", ErrMalformedResponse, err)
		}
		if !b64 {
			resp.Body = []byte(s)
			break
		}
		if resp.Body, err = base64.StdEncoding.DecodeString(s); err != nil {
			return nil, fmt.Errorf("%w: body is not base64: %w", ErrMalformedResponse, err)
		}
	case b64:
		return nil, fmt.Errorf("%w: isBase64Encoded with a body that is not a string", ErrMalformedResponse)
	default:
		resp.Body = append([]byte(nil), raw...)
	}
	return resp, nil
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
	text := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &text); err != nil {
			return 0, fmt.Errorf("%w: statusCode: %w", ErrMalformedResponse, err)
		}
		text = strings.TrimSpace(text)
	}
	code, err := strconv.Atoi(text)
	if err != nil {
		// 200.0 and 2e2 are integers too.
		f, ferr := strconv.ParseFloat(text, 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1e6 {
			return 0, fmt.Errorf("%w: statusCode %s is not an integer", ErrMalformedResponse, raw)
		}
		code = int(f)
	}
	if code < 100 || code > 599 {
		return 0, fmt.Errorf("%w: statusCode %d is out of range", ErrMalformedResponse, code)
	}
	return code, nil
}

func parseHeaders(single, multi json.RawMessage) (http.Header, error) {
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
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false, err
		}
		return s, true, nil
	case raw[0] == '{' || raw[0] == '[':
		return "", false, errors.New("value is not a string, number or boolean")
	}
	return string(raw), true, nil
}
