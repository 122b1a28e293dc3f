package authorizer

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/switchboard-gw/switchboard/internal/proxyevent"
)

// event is the REQUEST authorizer event (spec §5.3.2). Its field order is the wire order of AWS's
// captures.
type event struct {
	Type                            string                     `json:"type"`
	MethodARN                       string                     `json:"methodArn"`
	Headers                         headerMap                  `json:"headers"`
	MultiValueHeaders               multiHeaderMap             `json:"multiValueHeaders"`
	QueryStringParameters           map[string]string          `json:"queryStringParameters,omitempty"`
	MultiValueQueryStringParameters map[string][]string        `json:"multiValueQueryStringParameters,omitempty"`
	StageVariables                  map[string]string          `json:"stageVariables"`
	RequestContext                  *proxyevent.RequestContext `json:"requestContext"`
}

// dropped are the handshake headers the authorizer event does not pass on as the client sent them. AWS's
// front end terminates the client's connection: the event shows its own Connection: upgrade,
// Upgrade: websocket and content-length: 0 whatever the client wrote (clients send "Upgrade", the
// captures show "upgrade"), and the other hop-by-hop headers of RFC 9110 describe the client's connection
// just as much.
var dropped = map[string]bool{
	"Connection": true, "Upgrade": true, "Content-Length": true, "Keep-Alive": true,
	"Proxy-Connection": true, "Te": true, "Trailer": true, "Transfer-Encoding": true,
}

// Event returns the exact bytes of the authorizer event for req: compact JSON in AWS's key order (type,
// methodArn, headers, multiValueHeaders, queryStringParameters, multiValueQueryStringParameters,
// stageVariables, requestContext).
//
// It differs from the $connect integration event (proxyevent.ConnectEvent) the way AWS's captures do:
// headers include Connection: upgrade, Upgrade: websocket and content-length: 0; stageVariables is always
// present ({} without variables); there is no isBase64Encoded. Otherwise the headers are built the same way:
// canonical names with the Sec-WebSocket-* spelling, Host, X-Forwarded-For/-Port/-Proto and
// X-Amzn-Trace-Id added, sorted case-insensitively; the query string maps only when there is a query
// string. requestContext is req.Context as a CONNECT event carries it; give it the TraceID of the
// $connect event so both events of the handshake share a trace id.
func Event(req *Request) []byte {
	rc := *req.Context
	rc.EventType = proxyevent.EventConnect
	rc.MessageID, rc.DisconnectStatusCode, rc.DisconnectReason = "", 0, nil

	hs := newHeaderSet(len(req.Header) + 8)
	for k, vs := range req.Header {
		if len(vs) == 0 || dropped[http.CanonicalHeaderKey(k)] {
			continue
		}
		hs.add(wireName(k), vs...)
	}
	hs.add("Connection", "upgrade")
	hs.add("content-length", "0")
	hs.add("Upgrade", "websocket")
	if !hs.has("Host") {
		hs.add("Host", rc.DomainName)
	}
	xff := rc.Identity.SourceIP
	if prev := hs.take("X-Forwarded-For"); len(prev) > 0 {
		xff = strings.Join(prev, ", ") + ", " + xff
	}
	hs.add("X-Forwarded-For", xff)
	proto, port := forwarded(&rc)
	hs.take("X-Forwarded-Port")
	hs.add("X-Forwarded-Port", port)
	hs.take("X-Forwarded-Proto")
	hs.add("X-Forwarded-Proto", proto)
	if !hs.has("X-Amzn-Trace-Id") {
		trace := rc.TraceID
		if trace == "" {
			trace = proxyevent.NewTraceID(time.UnixMilli(rc.RequestTimeEpoch))
		}
		hs.add("X-Amzn-Trace-Id", trace)
	}

	ev := event{
		Type:           "REQUEST",
		MethodARN:      req.MethodARN,
		StageVariables: req.StageVariables,
		RequestContext: &rc,
	}
	if ev.StageVariables == nil {
		ev.StageVariables = map[string]string{}
	}
	ev.Headers, ev.MultiValueHeaders = hs.maps()
	if len(req.Query) > 0 {
		ev.QueryStringParameters = make(map[string]string, len(req.Query))
		ev.MultiValueQueryStringParameters = make(map[string][]string, len(req.Query))
		for k, vs := range req.Query {
			if len(vs) == 0 {
				continue
			}
			ev.QueryStringParameters[k] = vs[len(vs)-1]
			ev.MultiValueQueryStringParameters[k] = vs
		}
	}
	return encode(&ev)
}

func forwarded(rc *proxyevent.RequestContext) (proto, port string) {
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

// wireName is the name a header is sent under: net/http's canonical form, with the RFC 6455 spelling of
// the Sec-WebSocket-* headers (as proxyevent does for the $connect event).
func wireName(k string) string {
	if ck := http.CanonicalHeaderKey(k); strings.HasPrefix(ck, "Sec-Websocket-") {
		return "Sec-WebSocket-" + ck[len("Sec-Websocket-"):]
	}
	return k
}

// headerSet collects event headers by name, case-insensitively. It mirrors proxyevent's unexported one.
type headerSet struct {
	names  []string            // wire names, in insertion order
	values map[string][]string // by canonical name
	wire   map[string]string   // canonical name → wire name
}

func newHeaderSet(n int) *headerSet {
	return &headerSet{values: make(map[string][]string, n), wire: make(map[string]string, n)}
}

func (h *headerSet) add(name string, vs ...string) {
	ck := http.CanonicalHeaderKey(name)
	if _, ok := h.wire[ck]; !ok {
		h.wire[ck] = name
		h.names = append(h.names, name)
	}
	h.values[ck] = append(h.values[ck], vs...)
}

func (h *headerSet) has(name string) bool {
	_, ok := h.values[http.CanonicalHeaderKey(name)]
	return ok
}

// take removes a header and returns its values.
func (h *headerSet) take(name string) []string {
	ck := http.CanonicalHeaderKey(name)
	vs, ok := h.values[ck]
	if !ok {
		return nil
	}
	w := h.wire[ck]
	delete(h.values, ck)
	delete(h.wire, ck)
	for i, n := range h.names {
		if n == w {
			h.names = append(h.names[:i], h.names[i+1:]...)
			break
		}
	}
	return vs
}

// maps returns the headers and multiValueHeaders objects, names sorted case-insensitively.
func (h *headerSet) maps() (headerMap, multiHeaderMap) {
	names := append([]string(nil), h.names...)
	sort.Slice(names, func(i, j int) bool {
		a, b := strings.ToLower(names[i]), strings.ToLower(names[j])
		if a != b {
			return a < b
		}
		return names[i] < names[j]
	})
	single := make(headerMap, 0, len(names))
	multi := make(multiHeaderMap, 0, len(names))
	for _, n := range names {
		vs := h.values[http.CanonicalHeaderKey(n)]
		single = append(single, headerField{n, vs[len(vs)-1]})
		multi = append(multi, multiHeaderField{n, vs})
	}
	return single, multi
}

type headerField struct{ name, value string }

// headerMap is a JSON object of string values whose keys keep their order.
type headerMap []headerField

// MarshalJSON writes the object in order.
func (m headerMap) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 64*len(m)+2)
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

// multiHeaderMap is a JSON object of string-array values whose keys keep their order.
type multiHeaderMap []multiHeaderField

// MarshalJSON writes the object in order.
func (m multiHeaderMap) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 64*len(m)+2)
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

// appendString appends s as a JSON string the way proxyevent writes event strings: quotes, backslashes
// and control characters escaped, invalid UTF-8 replaced by U+FFFD, nothing else escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
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

// encode renders ev as compact JSON without HTML escaping.
func encode(ev *event) []byte {
	e := encoders.Get().(*eventEncoder)
	defer encoders.Put(e)
	e.buf.Reset()
	if err := e.enc.Encode(ev); err != nil {
		// Every field is a string, number or string map: encoding cannot fail.
		panic("authorizer: encode event: " + err.Error())
	}
	return append([]byte(nil), bytes.TrimSuffix(e.buf.Bytes(), []byte{'\n'})...)
}
