package httpapi

import (
	"crypto/rand"
	"encoding/hex"
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
// mappings. $context is read by proxyevent.HTTPRequest.ContextVar, the one reader of HTTP API $context
// variables, from ev when the request was built into an event and from one built here otherwise.
func (h *Handler) mappingInput(q *request, params map[string]string, ev *proxyevent.HTTPRequest, respHeader http.Header) *parammap.Input {
	in := &parammap.Input{Header: q.r.Header, Query: q.r.URL.Query(), Path: decodePath(q.routePath),
		PathParameters: params, StageVariables: q.stage.Variables, ResponseHeader: respHeader}
	if ev != nil {
		in.Body = ev.Body
	}
	cv := ev
	if cv == nil || cv.APIID == "" {
		cv = h.event(q, params, nil)
		cv.Authorizer = q.out.Authorizer
	}
	in.Context = cv.ContextVar
	return in
}

// mapResponse applies the integration's responseParameters for status to header and returns the status
// to send. A mapping that yields no status code is logged and left out.
func (h *Handler) mapResponse(q *request, in *snapshot.Integration, status int, header http.Header, ev *proxyevent.HTTPRequest) int {
	if in.ResponseMapping == nil {
		return status
	}
	out, err := in.ResponseMapping.Apply(status, h.mappingInput(q, nil, ev, header), header)
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
