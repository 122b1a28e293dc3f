package proxyevent

import (
	"slices"
	"strconv"
)

// A hand-written encoder for the proxy events: it appends exactly the bytes Encode (encoding/json without
// HTML escaping) writes for an envelope, without reflection, and sizes its buffer once. Values of type any
// (the authorizer's context, the client certificate) still go through Encode. FuzzEnvelope checks the two
// against each other.

// encodeEnvelope returns the JSON of env, in a buffer sized for it at once.
func encodeEnvelope(env *envelope) []byte {
	n := 640
	if env.Body != nil {
		n += len(*env.Body) + len(*env.Body)/8
	}
	for _, f := range env.Headers {
		n += 2 * (len(f.name) + len(f.value) + 8)
	}
	return appendEnvelope(make([]byte, 0, n), env)
}

// appendEnvelope appends the JSON of env to b.
func appendEnvelope(b []byte, env *envelope) []byte {
	b = append(b, '{')
	first := true
	field := func(name string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
	}
	if len(env.Headers) > 0 {
		field("headers")
		b = appendHeaders(b, env.Headers)
	}
	if len(env.MultiValueHeaders) > 0 {
		field("multiValueHeaders")
		b = appendMultiHeaders(b, env.MultiValueHeaders)
	}
	if len(env.QueryStringParameters) > 0 {
		field("queryStringParameters")
		b = appendStringMap(b, env.QueryStringParameters)
	}
	if len(env.MultiValueQueryStringParameters) > 0 {
		field("multiValueQueryStringParameters")
		b = appendStringsMap(b, env.MultiValueQueryStringParameters)
	}
	if len(env.StageVariables) > 0 {
		field("stageVariables")
		b = appendStringMap(b, env.StageVariables)
	}
	field("requestContext")
	if env.RequestContext == nil {
		b = append(b, "null"...)
	} else {
		b = appendRequestContext(b, env.RequestContext)
	}
	if env.Body != nil {
		field("body")
		b = AppendJSONString(b, *env.Body)
	}
	field("isBase64Encoded")
	b = strconv.AppendBool(b, env.IsBase64Encoded)
	return append(b, '}')
}

// appendRequestContext appends rc as encoding/json writes RequestContext: its fields in declaration order,
// omitempty ones left out when empty.
func appendRequestContext(b []byte, rc *RequestContext) []byte {
	b = append(b, `{"routeKey":`...)
	b = AppendJSONString(b, rc.RouteKey)
	if rc.MessageID != "" {
		b = append(b, `,"messageId":`...)
		b = AppendJSONString(b, rc.MessageID)
	}
	if rc.DisconnectStatusCode != 0 {
		b = append(b, `,"disconnectStatusCode":`...)
		b = strconv.AppendInt(b, int64(rc.DisconnectStatusCode), 10)
	}
	b = append(b, `,"eventType":`...)
	b = AppendJSONString(b, rc.EventType)
	b = append(b, `,"extendedRequestId":`...)
	b = AppendJSONString(b, rc.ExtendedRequestID)
	b = append(b, `,"requestTime":`...)
	b = AppendJSONString(b, rc.RequestTime)
	b = append(b, `,"messageDirection":`...)
	b = AppendJSONString(b, rc.MessageDirection)
	if rc.DisconnectReason != nil {
		b = append(b, `,"disconnectReason":`...)
		b = AppendJSONString(b, *rc.DisconnectReason)
	}
	b = append(b, `,"stage":`...)
	b = AppendJSONString(b, rc.Stage)
	b = append(b, `,"connectedAt":`...)
	b = strconv.AppendInt(b, rc.ConnectedAt, 10)
	b = append(b, `,"requestTimeEpoch":`...)
	b = strconv.AppendInt(b, rc.RequestTimeEpoch, 10)
	b = append(b, `,"identity":{`...)
	id := &rc.Identity
	if id.UserAgent != "" {
		b = append(b, `"userAgent":`...)
		b = AppendJSONString(b, id.UserAgent)
		b = append(b, ',')
	}
	b = append(b, `"sourceIp":`...)
	b = AppendJSONString(b, id.SourceIP)
	if id.APIKey != "" {
		b = append(b, `,"apiKey":`...)
		b = AppendJSONString(b, id.APIKey)
	}
	if id.APIKeyID != "" {
		b = append(b, `,"apiKeyId":`...)
		b = AppendJSONString(b, id.APIKeyID)
	}
	if id.ClientCert != nil {
		b = append(b, `,"clientCert":`...)
		b = append(b, Encode(id.ClientCert)...)
	}
	b = append(b, `},"requestId":`...)
	b = AppendJSONString(b, rc.RequestID)
	b = append(b, `,"domainName":`...)
	b = AppendJSONString(b, rc.DomainName)
	b = append(b, `,"connectionId":`...)
	b = AppendJSONString(b, rc.ConnectionID)
	b = append(b, `,"apiId":`...)
	b = AppendJSONString(b, rc.APIID)
	if len(rc.Authorizer) > 0 {
		b = append(b, `,"authorizer":`...)
		b = append(b, Encode(rc.Authorizer)...)
	}
	return append(b, '}')
}

// appendHeaders appends headers as Headers.MarshalJSON writes them.
func appendHeaders(b []byte, m Headers) []byte {
	b = append(b, '{')
	for i, f := range m {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, f.name)
		b = append(b, ':')
		b = appendString(b, f.value)
	}
	return append(b, '}')
}

// appendMultiHeaders appends headers as MultiHeaders.MarshalJSON writes them.
func appendMultiHeaders(b []byte, m MultiHeaders) []byte {
	b = append(b, '{')
	for i, f := range m {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, f.name)
		b = append(b, ":["...)
		for j, v := range f.values {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendString(b, v)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendStringMap appends m with its keys sorted, as encoding/json writes a map[string]string.
func appendStringMap(b []byte, m map[string]string) []byte {
	b = append(b, '{')
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONString(b, k)
		b = append(b, ':')
		b = AppendJSONString(b, m[k])
	}
	return append(b, '}')
}

// appendStringsMap appends m with its keys sorted, as encoding/json writes a map[string][]string.
func appendStringsMap(b []byte, m map[string][]string) []byte {
	b = append(b, '{')
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONString(b, k)
		b = append(b, ':')
		vs := m[k]
		if vs == nil {
			b = append(b, "null"...)
			continue
		}
		b = append(b, '[')
		for j, v := range vs {
			if j > 0 {
				b = append(b, ',')
			}
			b = AppendJSONString(b, v)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// AppendJSONString appends s as encoding/json writes a string field without HTML escaping (and as every
// event of this package writes its strings): as
// appendString does, and U+2028 and U+2029 escaped too (encoding/json always escapes them; the header
// objects, written by their own MarshalJSON, keep them).
func AppendJSONString(b []byte, s string) []byte { return appendStr(b, s, true) }
