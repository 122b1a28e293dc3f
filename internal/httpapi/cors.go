package httpapi

import (
	"net/http"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// CORS as AWS does it for HTTP APIs with a corsConfiguration
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-cors.html): the gateway answers
// preflight requests that no route takes (no OPTIONS route needed), and on every other answer replaces
// whatever Access-Control-* headers the backend sent with the configured ones. A preflight that an
// OPTIONS, ANY or $default route takes is routed like any request — AWS's guide says $default "catches
// requests for all methods ... including OPTIONS requests" and has an unauthorized OPTIONS /{proxy+}
// route added for preflights when $default has an authorizer. Without a corsConfiguration nothing here
// runs and OPTIONS is routed like any method.

// isPreflight reports whether r is a CORS preflight: OPTIONS with Origin and
// Access-Control-Request-Method.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// preflight answers a preflight no route takes: 204 with the configured headers when the origin is
// allowed, 204 without them when it is not.
func (h *Handler) preflight(q *request, c *snapshot.CORS, origin string) {
	header := q.w.Header()
	if allow, ok := c.Origin(origin); ok {
		header.Set("Access-Control-Allow-Origin", allow)
		if c.AllowMethods != "" {
			header.Set("Access-Control-Allow-Methods", c.AllowMethods)
		}
		if c.AllowHeaders != "" {
			header.Set("Access-Control-Allow-Headers", c.AllowHeaders)
		}
		if c.MaxAge != "" {
			header.Set("Access-Control-Max-Age", c.MaxAge)
		}
		if c.AllowCredentials {
			header.Set("Access-Control-Allow-Credentials", "true")
		}
		if !c.AnyOrigin {
			header.Add("Vary", "Origin")
		}
	} else if h.logOK() {
		h.log.Info("HTTP API preflight from an origin not allowed", "api_id", q.out.APIID, "stage", q.out.Stage,
			"origin", origin, "request_id", q.out.RequestID)
	}
	q.w.WriteHeader(http.StatusNoContent)
	q.out.Status = http.StatusNoContent
}

// cors sets the configured CORS headers on an answer, dropping the backend's own.
func (h *Handler) cors(q *request, header http.Header) {
	c := q.stage.API.CORS
	if c == nil {
		return
	}
	for k := range header {
		if len(k) > 15 && strings.EqualFold(k[:15], "access-control-") {
			delete(header, k)
		}
	}
	allow, ok := c.Origin(q.r.Header.Get("Origin"))
	if !ok {
		return
	}
	header.Set("Access-Control-Allow-Origin", allow)
	if c.AllowCredentials {
		header.Set("Access-Control-Allow-Credentials", "true")
	}
	if c.ExposeHeaders != "" {
		header.Set("Access-Control-Expose-Headers", c.ExposeHeaders)
	}
	if !c.AnyOrigin {
		header.Add("Vary", "Origin")
	}
}
