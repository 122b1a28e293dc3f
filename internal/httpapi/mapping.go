package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/parammap"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// mappingInput is what an integration's parameter mappings read: the client's request, the route's path
// variables, the stage's variables, $context, and the integration's response headers for response
// mappings.
func mappingInput(q *request, params map[string]string, ev *proxyevent.HTTPRequest, respHeader http.Header) *parammap.Input {
	in := &parammap.Input{Header: q.r.Header, Query: q.r.URL.Query(), Path: decodePath(q.routePath),
		PathParameters: params, StageVariables: q.stage.Variables, ResponseHeader: respHeader,
		Context: func(name string) (string, bool) { return contextVar(q, name) }}
	if ev != nil {
		in.Body = ev.Body
	}
	return in
}

// contextVar is an HTTP API $context variable
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html).
func contextVar(q *request, name string) (string, bool) {
	o := &q.out
	var v string
	switch name {
	case "requestId", "extendedRequestId":
		v = o.RequestID
	case "apiId":
		v = o.APIID
	case "stage":
		v = o.Stage
	case "routeKey":
		v = o.RouteKey
	case "httpMethod":
		v = o.Method
	case "path":
		v = decodePath(o.Path)
	case "protocol":
		v = o.Protocol
	case "domainName":
		v = o.DomainName
	case "domainPrefix":
		v = domainPrefix(o.DomainName)
	case "identity.sourceIp":
		v = o.SourceIP
	case "identity.userAgent":
		v = o.UserAgent
	case "requestTime":
		v = o.Time.UTC().Format("02/Jan/2006:15:04:05 -0700")
	case "requestTimeEpoch":
		v = strconv.FormatInt(o.Time.UnixMilli(), 10)
	default:
		return authorizerVar(o.Authorizer, name)
	}
	return v, v != ""
}

// authorizerVar reads $context.authorizer.claims.NAME (JWT), $context.authorizer.NAME (Lambda) and
// $context.authorizer.principalId.
func authorizerVar(a *proxyevent.HTTPAuthorizer, name string) (string, bool) {
	prop, ok := strings.CutPrefix(name, "authorizer.")
	if !ok || a == nil {
		return "", false
	}
	if claim, ok := strings.CutPrefix(prop, "claims."); ok && a.JWT != nil {
		v, ok := a.JWT.Claims[claim]
		return v, ok
	}
	if a.Lambda != nil {
		if v, ok := a.Lambda[prop]; ok && v != nil {
			return fmt.Sprint(v), true
		}
	}
	return "", false
}

// mapResponse applies the integration's responseParameters for status to header and returns the status
// to send. A mapping that yields no status code is logged and left out.
func (h *Handler) mapResponse(q *request, in *snapshot.Integration, status int, header http.Header, ev *proxyevent.HTTPRequest) int {
	if in.ResponseMapping == nil {
		return status
	}
	out, err := in.ResponseMapping.Apply(status, mappingInput(q, nil, ev, header), header)
	if err != nil {
		h.log.Info("HTTP API response mapping skipped", "api_id", q.out.APIID, "stage", q.out.Stage,
			"route_key", q.out.RouteKey, "request_id", q.out.RequestID, "err", err)
	}
	return out
}

// readAll reads r whole, sized by the Content-Length when there is one.
func readAll(r io.Reader, n int64) ([]byte, error) {
	if n > 0 && n <= MaxBodyBytes {
		b := make([]byte, 0, n+1)
		for {
			if len(b) == cap(b) {
				b = append(b, 0)[:len(b)]
			}
			m, err := r.Read(b[len(b):cap(b)])
			b = b[:len(b)+m]
			if err == io.EOF {
				return b, nil
			}
			if err != nil {
				return b, err
			}
		}
	}
	return io.ReadAll(r)
}

// decodePath is a raw path with its percent-encoding decoded (left as is when it does not decode).
func decodePath(raw string) string {
	if strings.IndexByte(raw, '%') < 0 {
		return raw
	}
	if p, err := url.PathUnescape(raw); err == nil {
		return p
	}
	return raw
}

// traceRoot is an X-Ray trace ID root: 1-{epoch seconds in hex}-{24 hex digits}.
func traceRoot(t time.Time) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "1-" + strconv.FormatInt(t.Unix(), 16) + "-" + hex.EncodeToString(b[:])
}
