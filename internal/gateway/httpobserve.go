package gateway

import (
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/accesslog"
	"github.com/switchboard-gw/switchboard/internal/console"
	"github.com/switchboard-gw/switchboard/internal/httpapi"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
)

// httpObserver turns what the HTTP API handler reports into API Gateway's HTTP API metrics, the stage's
// access log and the console, with the machinery the WebSocket side uses.
type httpObserver struct {
	o       *observer
	account string
}

var _ httpapi.Observer = (*httpObserver)(nil)

// Request counts one HTTP API request and writes its access-log line.
func (h *httpObserver) Request(out *httpapi.Outcome) {
	o := h.o
	o.m.HTTPRequest(out.APIID, out.Stage, out.RouteKey, out.Status, out.Latency, out.ResponseLength, out.Integrated, out.IntegrationLatency)
	if out.Reason != "" && !out.Integrated {
		o.m.Refused("request", out.Reason)
	}
	h.accessLog(out)
	if o.console.Watching() {
		ce := console.Event{Type: "route", RouteKey: out.RouteKey, Status: out.Status, Error: out.IntegrationError}
		if out.Integrated {
			ms := float64(out.IntegrationLatency.Microseconds()) / 1000
			ce.LatencyMs = &ms
		}
		o.console.Publish(ce)
	}
}

func (h *httpObserver) accessLog(out *httpapi.Outcome) {
	logs := h.o.accessLogs.Load()
	if logs == nil {
		return
	}
	sl, ok := (*logs)[stageKey{out.APIID, out.Stage}]
	if !ok {
		return
	}
	rc := &proxyevent.RequestContext{APIID: out.APIID, Stage: out.Stage, DomainName: out.DomainName, RouteKey: out.RouteKey,
		RequestID: out.RequestID, ExtendedRequestID: out.RequestID,
		Identity: proxyevent.Identity{SourceIP: out.SourceIP, UserAgent: out.UserAgent}}
	rc.SetRequestTime(out.Time)
	rec := accesslog.Record{Context: rc, Status: out.Status, Integrated: out.Integrated, IntegrationStatus: out.IntegrationStatus,
		IntegrationLatency: out.IntegrationLatency, IntegrationError: out.IntegrationError,
		HTTP: &accesslog.HTTPRecord{Method: out.Method, Path: out.Path, Protocol: out.Protocol, ResponseLength: out.ResponseLength,
			ResponseLatency: out.Latency, AccountID: h.account}}
	if i := strings.IndexByte(out.DomainName, '.'); i > 0 {
		rec.HTTP.DomainPrefix = out.DomainName[:i]
	}
	if a := out.Authorizer; a != nil {
		if a.JWT != nil {
			rec.HTTP.Claims = a.JWT.Claims
		}
		if a.Lambda != nil {
			rc.Authorizer = a.Lambda
		}
	}
	if out.Reason != "" {
		rec.ErrorMessage = errorMessage(out.Status)
	}
	sl.sink.Write(sl.format.Append(make([]byte, 0, 256), &rec))
}

// errorMessage is the message of the gateway's own answer with status.
func errorMessage(status int) string {
	switch status {
	case 404:
		return "Not Found"
	case 413:
		return "Request Entity Too Large"
	case 429:
		return "Too Many Requests"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 503:
		return "Service Unavailable"
	}
	return "Internal Server Error"
}

// refusalLogAllowed rate-limits the HTTP API handler's lines about refused and failed requests with the
// limiter of the WebSocket side's refusal lines, counting what it drops.
func (o *observer) refusalLogAllowed() bool {
	if o.limit.allow(time.Now()) {
		return true
	}
	o.m.LogDropped("refusal")
	return false
}
