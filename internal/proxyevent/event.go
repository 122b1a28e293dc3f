package proxyevent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// The Lambda proxy events of a WebSocket API (spec §2.2–2.6). Each builder returns the exact bytes API
// Gateway sends: compact JSON, top-level keys in AWS's order (headers, multiValueHeaders,
// queryStringParameters, multiValueQueryStringParameters, stageVariables, requestContext, body,
// isBase64Encoded), header names sorted case-insensitively as in AWS's captures, and no HTML escaping
// of <, > and & (AWS's serializer leaves them alone).

// envelope is the top level of a WebSocket proxy event. Its field order is the wire order.
type envelope struct {
	Headers                         Headers             `json:"headers,omitempty"`
	MultiValueHeaders               MultiHeaders        `json:"multiValueHeaders,omitempty"`
	QueryStringParameters           map[string]string   `json:"queryStringParameters,omitempty"`
	MultiValueQueryStringParameters map[string][]string `json:"multiValueQueryStringParameters,omitempty"`
	StageVariables                  map[string]string   `json:"stageVariables,omitempty"`
	RequestContext                  *RequestContext     `json:"requestContext"`
	Body                            *string             `json:"body,omitempty"`
	IsBase64Encoded                 bool                `json:"isBase64Encoded"`
}

// hopByHop are the handshake headers that never reach the $connect integration: AWS's captures of the
// integration event lack Connection, Upgrade and content-length (the authorizer event has them); the
// other hop-by-hop headers of RFC 9110 describe the client's connection to the gateway just as much.
var hopByHop = map[string]bool{
	"Connection": true, "Upgrade": true, "Content-Length": true, "Keep-Alive": true,
	"Proxy-Connection": true, "Te": true, "Trailer": true, "Transfer-Encoding": true,
}

// ConnectEvent returns the $connect proxy event: the handshake's headers and query string, the stage's
// variables and rc (its messageId and disconnect fields are left out).
//
// Header names: net/http has already canonicalized them (sec-websocket-key becomes Sec-Websocket-Key), so
// the client's own spelling is lost and AWS's "keeps the client's spelling" cannot be reproduced. The
// event uses the canonical form, except that Sec-Websocket-* is written Sec-WebSocket-*, the RFC 6455
// spelling every common client sends and AWS's captures show. headers holds a header's last value,
// multiValueHeaders all of them.
//
// Like AWS, the event drops the hop-by-hop headers and adds: Host (the handshake's, which net/http keeps
// out of header, else rc.DomainName), X-Forwarded-For (the client's value with rc.Identity.SourceIP
// appended, or just the source IP), X-Forwarded-Port and X-Forwarded-Proto (from rc.ForwardedPort and
// rc.ForwardedProto, replacing the client's), and X-Amzn-Trace-Id (the client's if it sent one, else
// rc.TraceID, else a new one). queryStringParameters and multiValueQueryStringParameters are present only
// when the handshake had a query string, stageVariables only when the stage defines variables.
func ConnectEvent(rc *RequestContext, header http.Header, query url.Values, stageVars map[string]string) []byte {
	c := *rc
	c.EventType = EventConnect
	c.MessageID, c.DisconnectStatusCode, c.DisconnectReason = "", 0, nil

	hs := NewHeaderSet(len(header) + 5)
	for k, vs := range header {
		ck := http.CanonicalHeaderKey(k)
		if len(vs) == 0 || hopByHop[ck] {
			continue
		}
		hs.add(ck, WireName(k), vs)
	}
	// The values the gateway adds share one array rather than taking an allocation each.
	var added [5]string
	n := 0
	one := func(v string) []string {
		added[n] = v
		n++
		return added[n-1 : n : n]
	}
	if !hs.Has("Host") {
		hs.Add("Host", one(rc.DomainName)...)
	}
	xff := rc.Identity.SourceIP
	if prev := hs.Take("X-Forwarded-For"); len(prev) > 0 {
		xff = strings.Join(prev, ", ") + ", " + xff
	}
	hs.Add("X-Forwarded-For", one(xff)...)
	proto, port := Forwarded(rc)
	hs.Take("X-Forwarded-Port")
	hs.Add("X-Forwarded-Port", one(port)...)
	hs.Take("X-Forwarded-Proto")
	hs.Add("X-Forwarded-Proto", one(proto)...)
	if !hs.Has("X-Amzn-Trace-Id") {
		trace := rc.TraceID
		if trace == "" {
			trace = NewTraceID(time.UnixMilli(rc.RequestTimeEpoch))
		}
		hs.Add("X-Amzn-Trace-Id", one(trace)...)
	}

	env := envelope{RequestContext: &c, StageVariables: nonEmpty(stageVars)}
	env.Headers, env.MultiValueHeaders = hs.Maps()
	if len(query) > 0 {
		env.QueryStringParameters = make(map[string]string, len(query))
		env.MultiValueQueryStringParameters = make(map[string][]string, len(query))
		for k, vs := range query {
			if len(vs) == 0 {
				continue
			}
			env.QueryStringParameters[k] = vs[len(vs)-1]
			env.MultiValueQueryStringParameters[k] = vs
		}
	}
	return encodeEnvelope(&env)
}

// MessageEvent returns the proxy event of a message routed to a custom route or $default: the message
// text as body, no headers, rc with its messageId (disconnect fields left out).
func MessageEvent(rc *RequestContext, body []byte, stageVars map[string]string) []byte {
	c := *rc
	c.EventType = EventMessage
	c.DisconnectStatusCode, c.DisconnectReason = 0, nil
	s := string(body)
	return encodeEnvelope(&envelope{StageVariables: nonEmpty(stageVars), RequestContext: &c, Body: &s})
}

// DisconnectEvent returns the $disconnect proxy event. Its headers are the fixed set AWS sends: Host
// (rc.DomainName) and empty x-api-key, X-Forwarded-For and x-restapi. rc's disconnectStatusCode and
// disconnectReason are kept (a nil reason is sent as ""); its messageId is left out.
func DisconnectEvent(rc *RequestContext, stageVars map[string]string) []byte {
	c := *rc
	c.EventType = EventDisconnect
	c.MessageID = ""
	if c.DisconnectReason == nil {
		empty := ""
		c.DisconnectReason = &empty
	}
	hs := NewHeaderSet(4)
	hs.Add("Host", rc.DomainName)
	hs.Add("x-api-key", "")
	hs.Add("X-Forwarded-For", "")
	hs.Add("x-restapi", "")
	env := envelope{StageVariables: nonEmpty(stageVars), RequestContext: &c}
	env.Headers, env.MultiValueHeaders = hs.Maps()
	return encodeEnvelope(&env)
}

// NewTraceID returns an X-Amzn-Trace-Id value the way AWS makes them: Root=1-{epoch seconds of t, 8 hex
// digits}-{96 random bits, 24 hex digits}.
func NewTraceID(t time.Time) string {
	return fmt.Sprintf("Root=1-%08x-%016x%08x", uint32(t.Unix()), rand.Uint64(), rand.Uint32())
}

func Forwarded(rc *RequestContext) (proto, port string) {
	proto, port = rc.ForwardedProto, rc.ForwardedPort
	if proto == "" {
		proto = "https"
	}
	if port == "" {
		port = "443"
		if proto == "http" {
			port = "80"
		}
	}
	return proto, port
}

// WireName is the name a header is sent under: net/http's canonical form, with the RFC 6455 spelling of
// the Sec-WebSocket-* headers.
func WireName(k string) string {
	ck := http.CanonicalHeaderKey(k)
	if !strings.HasPrefix(ck, "Sec-Websocket-") {
		return k
	}
	switch ck { // the handshake's own headers, without building their names again for every event
	case "Sec-Websocket-Key":
		return "Sec-WebSocket-Key"
	case "Sec-Websocket-Version":
		return "Sec-WebSocket-Version"
	case "Sec-Websocket-Extensions":
		return "Sec-WebSocket-Extensions"
	case "Sec-Websocket-Protocol":
		return "Sec-WebSocket-Protocol"
	}
	return "Sec-WebSocket-" + ck[len("Sec-Websocket-"):]
}

func nonEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// HeaderSet collects event headers by name, case-insensitively. An event has a dozen headers or so: a
// slice searched in order costs less than maps, and it is built for every $connect event.
type HeaderSet struct {
	entries []headerEntry // in insertion order until Maps sorts them
}

type headerEntry struct {
	canonical, wire string
	values          []string // shared with the caller's slice when added once; clipped, so appends copy
}

// NewHeaderSet returns an empty set with room for n headers.
func NewHeaderSet(n int) *HeaderSet {
	return &HeaderSet{entries: make([]headerEntry, 0, n)}
}

func (h *HeaderSet) find(canonical string) int {
	for i := range h.entries {
		if h.entries[i].canonical == canonical {
			return i
		}
	}
	return -1
}

// Add adds values to the header name, the first name added for it being the one the event shows. The
// set keeps vs (without copying it) and never writes to it.
func (h *HeaderSet) Add(name string, vs ...string) {
	h.add(http.CanonicalHeaderKey(name), name, vs)
}

// add is Add with name's canonical form already known: canonicalizing a wire name such as
// Sec-WebSocket-Key again would build a new string.
func (h *HeaderSet) add(canonical, name string, vs []string) {
	if i := h.find(canonical); i >= 0 {
		h.entries[i].values = append(h.entries[i].values, vs...)
		return
	}
	h.entries = append(h.entries, headerEntry{canonical: canonical, wire: name, values: slices.Clip(vs)})
}

// Has reports whether the set holds the header name, whatever its case.
func (h *HeaderSet) Has(name string) bool {
	return h.find(http.CanonicalHeaderKey(name)) >= 0
}

// Take removes a header and returns its values.
func (h *HeaderSet) Take(name string) []string {
	i := h.find(http.CanonicalHeaderKey(name))
	if i < 0 {
		return nil
	}
	vs := h.entries[i].values
	h.entries = slices.Delete(h.entries, i, i+1)
	return vs
}

// Maps returns the headers and multiValueHeaders objects, names sorted case-insensitively.
func (h *HeaderSet) Maps() (Headers, MultiHeaders) {
	slices.SortFunc(h.entries, func(a, b headerEntry) int { return compareHeaderNames(a.wire, b.wire) })
	single := make(Headers, 0, len(h.entries))
	multi := make(MultiHeaders, 0, len(h.entries))
	for _, e := range h.entries {
		single = append(single, headerField{e.wire, e.values[len(e.values)-1]})
		multi = append(multi, multiHeaderField{e.wire, e.values})
	}
	return single, multi
}

// compareHeaderNames orders header names as their strings.ToLower forms, then byte-wise: without
// allocating for ASCII names (what HTTP allows), since every $connect event sorts its headers and
// lowering each name on each comparison was a measurable share of a handshake's CPU.
func compareHeaderNames(a, b string) int {
	if !isASCII(a) || !isASCII(b) {
		if c := strings.Compare(strings.ToLower(a), strings.ToLower(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		if ca, cb := lowerASCII(a[i]), lowerASCII(b[i]); ca != cb {
			return int(ca) - int(cb)
		}
	}
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

type headerField struct{ name, value string }

// Headers is a JSON object of string values whose keys keep their order.
type Headers []headerField

// MarshalJSON writes the object in order.
func (m Headers) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 64*len(m))
	b = append(b, '{')
	for i, f := range m {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, f.name)
		b = append(b, ':')
		b = appendString(b, f.value)
	}
	return append(b, '}'), nil
}

type multiHeaderField struct {
	name   string
	values []string
}

// MultiHeaders is a JSON object of string-array values whose keys keep their order.
type MultiHeaders []multiHeaderField

// MarshalJSON writes the object in order.
func (m MultiHeaders) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 64*len(m))
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
	return append(b, '}'), nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string: quotes, backslashes and control characters escaped (\b \f \n
// \r \t short, the rest \u00XX), invalid UTF-8 replaced by U+FFFD, nothing else escaped.
func appendString(b []byte, s string) []byte { return appendStr(b, s, false) }

// plainASCII says which ASCII bytes a JSON string holds as they are.
var plainASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendStr is appendString, with U+2028 and U+2029 escaped too when escapeLS is set.
func appendStr(b []byte, s string, escapeLS bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plainASCII[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if escapeLS && (r == '\u2028' || r == '\u2029') {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// encoders reuse buffers and encoders across events.
var encoders = sync.Pool{New: func() any {
	e := &eventEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

type eventEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// Encode renders v (an event: strings, numbers, maps and the header types of this package) as compact
// JSON without HTML escaping, as API Gateway writes events.
func Encode(v any) []byte {
	e := encoders.Get().(*eventEncoder)
	defer encoders.Put(e)
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		// Every field is a string, number, bool or string map: encoding cannot fail.
		panic("proxyevent: encode event: " + err.Error())
	}
	out := bytes.TrimSuffix(e.buf.Bytes(), []byte{'\n'})
	return append([]byte(nil), out...)
}
