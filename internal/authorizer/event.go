package authorizer

import (
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/proxyevent"
)

// event is the REQUEST authorizer event (spec §5.3.2). Its field order is the wire order of AWS's
// captures.
type event struct {
	Type                            string                     `json:"type"`
	MethodARN                       string                     `json:"methodArn"`
	Headers                         proxyevent.Headers         `json:"headers"`
	MultiValueHeaders               proxyevent.MultiHeaders    `json:"multiValueHeaders"`
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

	hs := proxyevent.NewHeaderSet(len(req.Header) + 8)
	for k, vs := range req.Header {
		if len(vs) == 0 || dropped[http.CanonicalHeaderKey(k)] {
			continue
		}
		hs.Add(proxyevent.WireName(k), vs...)
	}
	hs.Add("Connection", "upgrade")
	hs.Add("content-length", "0")
	hs.Add("Upgrade", "websocket")
	if !hs.Has("Host") {
		hs.Add("Host", rc.DomainName)
	}
	xff := rc.Identity.SourceIP
	if prev := hs.Take("X-Forwarded-For"); len(prev) > 0 {
		xff = strings.Join(prev, ", ") + ", " + xff
	}
	hs.Add("X-Forwarded-For", xff)
	proto, port := proxyevent.Forwarded(&rc)
	hs.Take("X-Forwarded-Port")
	hs.Add("X-Forwarded-Port", port)
	hs.Take("X-Forwarded-Proto")
	hs.Add("X-Forwarded-Proto", proto)
	if !hs.Has("X-Amzn-Trace-Id") {
		trace := rc.TraceID
		if trace == "" {
			trace = proxyevent.NewTraceID(time.UnixMilli(rc.RequestTimeEpoch))
		}
		hs.Add("X-Amzn-Trace-Id", trace)
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
	ev.Headers, ev.MultiValueHeaders = hs.Maps()
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
	return proxyevent.Encode(&ev)
}
