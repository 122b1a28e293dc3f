package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/console"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/integration"
	"github.com/switchboard-gw/switchboard/internal/lambda"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// tracedInvoker wraps one integration type's invoker so that, while a console page watches or the
// event's route has dataTraceEnabled, the exact request the integration received and what it answered
// are reported: to the console, and to the stage's execution log as API Gateway's "Endpoint request
// body after transformations" and "Endpoint response body before transformations" lines. Otherwise it
// only calls through. Dispatch is not changed: the request it sees is the one after request templates
// (MapRequest), the answer the one before response templates (MapResponse).
type tracedInvoker struct {
	next integration.Invoker
	obs  *observer
}

var _ integration.Invoker = tracedInvoker{}

// traceKey is the context key under which a traced call leaves a *functionCall for the Lambda invoker
// to fill: AWS_PROXY and Lambda integrations build the function's event inside their invoker, so the
// exact bytes are only seen where the function is invoked.
type traceKey struct{}

// functionCall is what the Lambda invoker saw of one traced invocation.
type functionCall struct {
	function      string
	event, answer []byte
	functionError string
}

// Invoke calls the integration and reports the call when it is traced.
func (t tracedInvoker) Invoke(ctx context.Context, in *snapshot.Integration, req *integration.Request) (*integration.Response, error) {
	rc := req.Context
	watching := t.obs.console.Watching()
	logData := false
	if rc != nil {
		level, dataTrace := t.obs.loggingLevel(rc.APIID, rc.Stage, rc.RouteKey)
		logData = dataTrace && (level == "INFO" || level == "ERROR")
	}
	if !watching && !logData {
		return t.next.Invoke(ctx, in, req)
	}
	call := &functionCall{}
	start := time.Now()
	resp, err := t.next.Invoke(context.WithValue(ctx, traceKey{}, call), in, req)
	latency := time.Since(start)
	request, answer := req.Body, []byte(nil)
	if call.function != "" {
		request, answer = call.event, call.answer
	} else if resp != nil {
		answer = resp.Body
	}
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	if logData && rc != nil {
		t.obs.dataTraceLog(rc, in, request, answer, status, err)
	}
	if watching && rc != nil {
		shown, shownAnswer := string(request), string(answer)
		if d, ok := t.next.(httpRequester); ok && call.function == "" {
			// An HTTP backend received a whole request: show its method, URL and headers too.
			if hreq, derr := d.Request(ctx, in, req); derr == nil {
				shown = httpText(hreq.Method+" "+hreq.URL.String(), hreq.Header, request)
			}
			if resp != nil {
				shownAnswer = httpText(fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode)), resp.Header, answer)
			}
		}
		tr := &console.Trace{IntegrationID: in.ID, IntegrationType: in.Type, IntegrationURI: in.URI, Function: call.function,
			FunctionError: call.functionError, Request: shown, Response: shownAnswer, Status: status,
			LatencyMs: float64(latency.Microseconds()) / 1000}
		if err != nil {
			tr.Error = err.Error()
		}
		t.obs.console.Publish(console.Event{Type: "integration", ConnectionID: rc.ConnectionID, RouteKey: rc.RouteKey,
			Status: status, Integration: tr})
	}
	return resp, err
}

// httpRequester is an invoker that can say which HTTP request it sends for an event
// (httpbackend.Invoker).
type httpRequester interface {
	Request(ctx context.Context, in *snapshot.Integration, req *integration.Request) (*http.Request, error)
}

// httpText writes an HTTP message for the console: its first line, its headers in name order, a blank
// line and its body.
func httpText(first string, h http.Header, body []byte) string {
	var b strings.Builder
	b.WriteString(first)
	b.WriteByte('\n')
	for _, k := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[k] {
			b.WriteString(k + ": " + v + "\n")
		}
	}
	b.WriteByte('\n')
	b.Write(body)
	return b.String()
}

// dataTraceLog writes the execution log's data lines for one integration call: the request after
// transformations and the answer before them, each cut at maxTraceData bytes as API Gateway cuts
// execution log events at 1,024 bytes. At ERROR level only a failed call (an error, or a 4XX/5XX
// answer) is logged. Lines count against the execution log's rate limit.
func (o *observer) dataTraceLog(rc *proxyevent.RequestContext, in *snapshot.Integration, request, answer []byte, status int, err error) {
	level, _ := o.loggingLevel(rc.APIID, rc.Stage, rc.RouteKey)
	failed := err != nil || status >= 400
	if level == "ERROR" && !failed {
		return
	}
	lvl := slog.LevelInfo
	if failed {
		lvl = slog.LevelWarn
	}
	base := []slog.Attr{slog.String("api_id", rc.APIID), slog.String("stage", rc.Stage), slog.String("conn_id", rc.ConnectionID),
		slog.String("event_type", rc.EventType), slog.String("route_key", rc.RouteKey), slog.String("request_id", rc.RequestID),
		slog.String("integration_id", in.ID), slog.String("integration_type", in.Type)}
	line := func(msg string, data []byte, extra ...slog.Attr) {
		if !o.limit.allow(time.Now()) {
			o.m.LogDropped("execution")
			return
		}
		cut := len(data) > maxTraceData
		if cut {
			data = data[:maxTraceData]
		}
		attrs := append(append(append(make([]slog.Attr, 0, len(base)+len(extra)+2), base...), extra...),
			slog.String("data", string(data)), slog.Bool("data_truncated", cut))
		o.log.LogAttrs(context.Background(), lvl, msg, attrs...)
	}
	line("endpoint request body after transformations", request)
	resp := []slog.Attr{slog.Int("status", status)}
	if err != nil {
		resp = append(resp, slog.String("error", err.Error()))
	}
	line("endpoint response body before transformations", answer, resp...)
}

// noteFunction keeps what a traced invocation sent and received in the call ctx carries, and tells the
// console about a function invoked outside any traced integration (a Lambda authorizer). It copies:
// the caller may reuse its buffers once Invoke returns.
func (f observedFunctions) noteFunction(ctx context.Context, function string, payload []byte, res *lambda.Result, latency time.Duration, err error) {
	call, traced := ctx.Value(traceKey{}).(*functionCall)
	if !traced {
		if f.console == nil || !f.console.Watching() {
			return
		}
		call = &functionCall{}
	}
	call.function = function
	call.event = append([]byte(nil), payload...)
	call.answer = nil
	if res != nil {
		call.answer = append([]byte(nil), res.Payload...)
		call.functionError = res.FunctionError
	}
	if traced {
		return
	}
	// Not an integration: an authorizer (its event has "type": "REQUEST"), or anything else that invokes
	// a function with a WebSocket event.
	var ev struct {
		Type           string `json:"type"`
		RequestContext struct {
			ConnectionID string `json:"connectionId"`
			RouteKey     string `json:"routeKey"`
		} `json:"requestContext"`
	}
	_ = json.Unmarshal(payload, &ev)
	tr := &console.Trace{Function: function, FunctionError: call.functionError, Authorizer: ev.Type == "REQUEST",
		Request: string(call.event), Response: string(call.answer), LatencyMs: float64(latency.Microseconds()) / 1000}
	if err != nil {
		tr.Error = err.Error()
	}
	f.console.Publish(console.Event{Type: "integration", ConnectionID: ev.RequestContext.ConnectionID,
		RouteKey: ev.RequestContext.RouteKey, Integration: tr})
}

// ConnectionClosed shows how a connection closed in the console, with or without a $disconnect route.
func (o *observer) ConnectionClosed(c *dispatch.Connection, code int, reason string) {
	if o.console.Watching() {
		o.console.Publish(console.Event{Type: "disconnect", ConnectionID: c.ID, CloseCode: code, CloseReason: reason})
	}
}

var _ dispatch.CloseObserver = (*observer)(nil)
