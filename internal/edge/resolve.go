package edge

import (
	"net"
	"slices"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/registry"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// Endpoint forms the data plane answers (README "Endpoints"):
//
//	Host {apiId}.execute-api.{anything}   /{stage}            AWS's default endpoint
//	any other Host                        /{apiId}/{stage}    works on this machine with no DNS setup
//	any other Host                        /{stage}            when exactly one API whose default
//	                                                          endpoint is enabled has that stage
//
// A trailing slash is accepted; further segments are a path under the stage (426 for a plain request,
// refused for a handshake). The management API lives under the same prefixes:
// {prefix}/@connections/{connectionId}. A custom domain's name wins over all of these.

const executeAPILabel = ".execute-api."

// apiIDFromHost returns the API ID of an execute-api host name, or "".
func apiIDFromHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(host)
	if i := strings.Index(host, executeAPILabel); i > 0 {
		return host[:i]
	}
	return ""
}

// conn is what resolve needs to know about the connection a request arrived on.
type conn struct {
	tls        bool   // the request came over TLS
	serverName string // the server name the client sent in the TLS handshake (SNI), "" without one
	verified   bool   // the TLS handshake verified a client certificate
}

// target is what a request path resolves to.
type target struct {
	stage *snapshot.Stage // the WebSocket endpoint's stage
	// extra is set with stage when the path goes on after the stage or mapping key: a plain request there
	// gets 426 like the stage itself, a handshake is refused (reason says why).
	extra    bool
	mgmt     bool           // an @connections request
	scope    registry.Scope // with mgmt: the endpoint's scope
	connID   string         // with mgmt: the (decoded) connection ID
	apiID    string         // with mgmt: the API the endpoint belongs to, when known (for IAM resource ARNs)
	reason   string         // why nothing matched, for the log
	mgmtPath bool           // the path has an @connections segment (a refusal is then a ForbiddenException)
	// denied is set on a refusal by a security rule (mutual TLS), which the operator sees in the log at
	// info level; other refusals are unknown endpoints, logged at debug level.
	denied bool
}

// resolve maps host, decoded path and the connection's TLS state to a stage or a management request.
func resolve(set *snapshot.Set, host, path string, c conn) target {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	t := resolveSegments(set, host, segs, c)
	t.mgmtPath = slices.Contains(segs, "@connections")
	return t
}

func resolveSegments(set *snapshot.Set, host string, segs []string, c conn) target {
	if d := set.Domain(hostName(host)); d != nil {
		if d.MutualTLS {
			if reason := mutualTLSRefusal(set, d, c); reason != "" {
				return target{reason: reason, denied: true}
			}
		}
		return resolveDomain(d, segs)
	}
	t := resolveDefault(set, host, segs)
	// disableExecuteApiEndpoint: only custom domains reach the API.
	if t.stage != nil && t.stage.API.DisableExecuteAPIEndpoint {
		return target{reason: "the default endpoint of API " + t.stage.API.ID + " is disabled"}
	}
	if t.mgmt && t.apiID != "" {
		if api := set.API(t.apiID); api != nil && api.DisableExecuteAPIEndpoint {
			return target{reason: "the default endpoint of API " + api.ID + " is disabled"}
		}
	}
	return t
}

// mutualTLSRefusal says why a request for domain d, which has mutual TLS, may not use it; "" when it may.
// The client certificate must have been verified against d's own truststore on this very connection:
// the request came over TLS, the handshake named d (the certificate store picks the truststore by that
// name, so a handshake for another domain — or the default certificate — checked nothing of d's), and
// the handshake verified a client certificate.
func mutualTLSRefusal(set *snapshot.Set, d *snapshot.Domain, c conn) string {
	switch {
	case !c.tls:
		return "custom domain " + d.Name + " requires mutual TLS: the request came over plain TCP"
	case c.serverName == "":
		return "custom domain " + d.Name + " requires mutual TLS: the TLS handshake named no server (SNI)"
	case set.Domain(hostName(c.serverName)) != d:
		return "custom domain " + d.Name + " requires mutual TLS: the TLS handshake was for " + c.serverName
	case !c.verified:
		return "custom domain " + d.Name + " requires mutual TLS: no verified client certificate"
	}
	return ""
}

// hostName is host without its port or trailing dot, lower-cased.
func hostName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// resolveDomain routes a custom domain: the first path segment names an API mapping, else the mapping
// with the empty key serves the whole domain. After the mapping, @connections/{id} is the management API;
// anything else is a path under the stage.
func resolveDomain(d *snapshot.Domain, segs []string) target {
	stage, rest := d.Mappings[segs[0]], segs[1:]
	if segs[0] == "" || stage == nil {
		stage, rest = d.Mappings[""], segs
	}
	if stage == nil {
		return target{reason: "no API mapping of " + d.Name + " matches the path"}
	}
	if len(rest) > 0 && rest[0] == "@connections" {
		return target{mgmt: true, connID: strings.Join(rest[1:], "/"), apiID: stage.API.ID,
			scope: registry.Scope{APIID: stage.API.ID, Stage: stage.Name}}
	}
	if slices.Contains(rest, "@connections") {
		return target{reason: "@connections must follow the API mapping of " + d.Name}
	}
	if len(rest) > 1 || (len(rest) == 1 && rest[0] != "") {
		return target{stage: stage, extra: true, reason: "extra path segments after the API mapping of " + d.Name}
	}
	return target{stage: stage}
}

// resolveDefault resolves the default endpoint forms.
func resolveDefault(set *snapshot.Set, host string, segs []string) target {
	hostAPI := apiIDFromHost(host)
	for i, s := range segs {
		if s == "@connections" {
			return resolveMgmt(set, hostAPI, segs[:i], strings.Join(segs[i+1:], "/"))
		}
	}
	if n := len(segs); n > 1 && segs[n-1] == "" {
		segs = segs[:n-1] // trailing slash
	}
	if segs[0] == "" {
		return target{reason: "no stage in the path"}
	}
	var t target
	var rest []string
	if hostAPI != "" {
		t, rest = stageOf(set.API(hostAPI), segs[0]), segs[1:]
	} else {
		t, rest = resolvePath(set, segs)
	}
	if t.stage != nil && len(rest) > 0 {
		t.extra, t.reason = true, "extra path segments after the stage"
	}
	return t
}

// resolvePath resolves /{apiId}/{stage}, then /{stage} when exactly one API whose default endpoint is
// enabled has that stage. It returns what follows the stage.
func resolvePath(set *snapshot.Set, segs []string) (target, []string) {
	var byID target
	if len(segs) >= 2 {
		if api := set.API(segs[0]); api != nil {
			if byID = stageOf(api, segs[1]); byID.stage != nil {
				return byID, segs[2:]
			}
		}
	}
	all := set.StagesNamed(segs[0])
	open := reachable(all)
	switch {
	case len(open) == 1:
		return target{stage: open[0]}, segs[1:]
	case len(open) > 1:
		return target{reason: "several APIs have stage " + segs[0] + ": use /{apiId}/" + segs[0]}, nil
	case len(all) > 0:
		return target{reason: "the default endpoint of every API with stage " + segs[0] + " is disabled"}, nil
	case byID.reason != "":
		return byID, nil
	}
	return target{reason: "no API has stage " + segs[0]}, nil
}

// reachable keeps the stages of APIs whose default endpoint is enabled.
func reachable(stages []*snapshot.Stage) []*snapshot.Stage {
	var out []*snapshot.Stage
	for _, st := range stages {
		if !st.API.DisableExecuteAPIEndpoint {
			out = append(out, st)
		}
	}
	return out
}

func stageOf(api *snapshot.API, stage string) target {
	if api == nil {
		return target{reason: "unknown API"}
	}
	st := api.Stages[stage]
	if st == nil {
		return target{reason: "API " + api.ID + " has no stage " + stage}
	}
	return target{stage: st}
}

func resolveMgmt(set *snapshot.Set, hostAPI string, prefix []string, id string) target {
	t := target{mgmt: true, connID: id}
	if hostAPI != "" {
		t.apiID = hostAPI
	}
	switch {
	case hostAPI != "" && len(prefix) == 1:
		t.scope = registry.Scope{APIID: hostAPI, Stage: prefix[0]}
	case hostAPI == "" && len(prefix) == 2:
		t.scope = registry.Scope{APIID: prefix[0], Stage: prefix[1]}
		t.apiID = prefix[0]
	case hostAPI == "" && len(prefix) == 1:
		t.scope = registry.Scope{Stage: prefix[0]}
	default:
		return target{reason: "@connections path must be /{stage}/@connections/{id}"}
	}
	if t.scope.APIID != "" {
		if stageOf(set.API(t.scope.APIID), t.scope.Stage).stage == nil {
			return target{reason: "unknown API or stage for @connections"}
		}
		return t
	}
	// The stage alone: the registry keeps connections of APIs whose default endpoint is disabled out of
	// reach (registry.Scope), since this form is one of the default endpoints.
	all := set.StagesNamed(t.scope.Stage)
	open := reachable(all)
	switch {
	case len(all) == 0:
		return target{reason: "no API has stage " + t.scope.Stage}
	case len(open) == 0:
		return target{reason: "the default endpoint of every API with stage " + t.scope.Stage + " is disabled"}
	case len(open) == 1:
		t.apiID = open[0].API.ID
	}
	return t
}
