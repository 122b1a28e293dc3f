package edge

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/awsid"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// HTTPAPI serves requests to HTTP APIs once the edge has resolved their stage (package httpapi). It is
// the edge's only view of that handler.
type HTTPAPI interface {
	// ServeHTTPAPI answers r for stage. routePath is the raw path the stage's routes are matched against
	// (after the stage segment or API mapping key, starting with /); rawPath is the path AWS reports as
	// rawPath (the stage segment or mapping key kept, the local /{apiId} prefix removed).
	ServeHTTPAPI(w http.ResponseWriter, r *http.Request, stage *snapshot.Stage, routePath, rawPath string)
}

// httpTarget is what a request for an HTTP API resolves to.
type httpTarget struct {
	stage              *snapshot.Stage
	routePath, rawPath string
	status             int    // when stage is nil: 404 (nothing there) or 403 (refused)
	reason             string // why nothing matched, for the log
	denied             bool   // refused by a security rule (mutual TLS)
}

// resolveHTTP resolves a request for an HTTP API, reporting false when the request is not for one (it is
// then a WebSocket endpoint's or @connections'). The forms, beside the WebSocket ones in resolve.go:
//
//	custom domain that maps HTTP APIs        /{mapping key, one or more segments}/...  longest key wins
//	Host {apiId}.execute-api.{anything}      /{stage}/...  else the $default stage at the root
//	any other Host                           /{apiId}/{stage}/...  or /{apiId}/... for $default
//
// AWS's stage choice (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html):
// a first segment naming a stage selects it, else the $default stage serves the whole path, else
// {"message":"Not Found"}. Mutual TLS and disableExecuteApiEndpoint hold as for WebSocket APIs.
func resolveHTTP(set *snapshot.Set, host, rawPath string, c conn) (httpTarget, bool) {
	if set == nil {
		return httpTarget{}, false
	}
	if !strings.HasPrefix(rawPath, "/") {
		rawPath = "/" + rawPath // "" (and "*" of OPTIONS *) have no leading slash
	}
	if d := set.Domain(hostName(host)); d != nil {
		if !d.HTTP {
			return httpTarget{}, false
		}
		if d.MutualTLS {
			if reason := mutualTLSRefusal(set, d, c); reason != "" {
				return httpTarget{status: http.StatusForbidden, reason: reason, denied: true}, true
			}
		}
		segs := strings.Split(strings.TrimPrefix(rawPath, "/"), "/")
		st, n := d.MatchHTTP(segs)
		if st == nil {
			return httpTarget{status: http.StatusNotFound, reason: "no API mapping of " + d.Name + " matches the path"}, true
		}
		return httpTarget{stage: st, routePath: "/" + strings.Join(segs[n:], "/"), rawPath: rawPath}, true
	}
	if id := apiIDFromHost(host); id != "" {
		api := set.API(id)
		if api == nil || !api.HTTP {
			return httpTarget{}, false
		}
		return stageOfHTTP(api, rawPath, rawPath), true
	}
	rest := strings.TrimPrefix(rawPath, "/")
	first, after, _ := strings.Cut(rest, "/")
	api := set.API(first)
	if api == nil || !api.HTTP {
		return httpTarget{}, false
	}
	return stageOfHTTP(api, "/"+after, "/"+after), true
}

// stageOfHTTP picks the stage of api for path: the stage its first segment names, else $default.
func stageOfHTTP(api *snapshot.API, path, rawPath string) httpTarget {
	if api.DisableExecuteAPIEndpoint {
		return httpTarget{status: http.StatusForbidden, reason: "the default endpoint of API " + api.ID + " is disabled"}
	}
	first, after, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if st := api.Stages[first]; st != nil && first != "$default" {
		return httpTarget{stage: st, routePath: "/" + after, rawPath: rawPath}
	}
	if st := api.Stages["$default"]; st != nil {
		return httpTarget{stage: st, routePath: path, rawPath: rawPath}
	}
	return httpTarget{status: http.StatusNotFound, reason: "API " + api.ID + " has no stage " + first + " and no $default stage"}
}

// serveHTTPAPI answers a request resolved to an HTTP API; refusals get AWS's HTTP API bodies.
func (e *Edge) serveHTTPAPI(w http.ResponseWriter, r *http.Request, t httpTarget) {
	if t.stage != nil {
		e.httpAPI.ServeHTTPAPI(w, r, t.stage, t.routePath, t.rawPath)
		return
	}
	level, why, body := slog.LevelDebug, "unknown_endpoint", `{"message":"Not Found"}`
	if t.status == http.StatusForbidden {
		body = `{"message":"Forbidden"}`
	}
	if t.denied {
		level, why = slog.LevelInfo, "mutual_tls"
	}
	e.log.Log(r.Context(), level, "request refused", "host", r.Host, "path", r.URL.Path,
		"source_ip", sourceIP(r.RemoteAddr), "status", t.status, "reason", t.reason)
	e.obs.Refused(why, t.status)
	w.Header().Set("Apigw-Requestid", awsid.NewRequestID())
	writeJSON(w, t.status, body)
}
