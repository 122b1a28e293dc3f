package edge

import (
	"net"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/registry"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// Endpoint forms the data plane answers (README "Endpoints"):
//
//	Host {apiId}.execute-api.{anything}   /{stage}            AWS's default endpoint
//	any other Host                        /{apiId}/{stage}    works on this machine with no DNS setup
//	any other Host                        /{stage}            when exactly one API has that stage
//
// A trailing slash is accepted. The management API lives under the same prefixes:
// {prefix}/@connections/{connectionId}.

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

// target is what a request path resolves to.
type target struct {
	stage    *snapshot.Stage // the WebSocket endpoint's stage
	mgmt     bool            // an @connections request
	scope    registry.Scope  // with mgmt: the endpoint's scope
	connID   string          // with mgmt: the (decoded) connection ID
	apiID    string          // with mgmt: the API the endpoint belongs to, when known (for IAM resource ARNs)
	reason   string          // why nothing matched, for the log
	mgmtPath bool            // an @connections path that is refused
}

// resolve maps host and decoded path to a stage or a management request.
func resolve(set *snapshot.Set, host, path string) target {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if d := set.Domain(hostName(host)); d != nil {
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

// hostName is host without its port, lower-cased.
func hostName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.ToLower(host)
}

// resolveDomain routes a custom domain: the first path segment names an API mapping, else the mapping
// with the empty key serves the whole domain. After the mapping only "" or @connections/{id} may follow.
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
	if len(rest) > 1 || (len(rest) == 1 && rest[0] != "") {
		return target{reason: "extra path segments after the API mapping of " + d.Name}
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
	switch {
	case len(segs) == 1 && segs[0] == "":
		return target{reason: "no stage in the path"}
	case hostAPI != "":
		if len(segs) != 1 {
			return target{reason: "path must be /{stage}"}
		}
		return stageOf(set.API(hostAPI), segs[0])
	case len(segs) == 2:
		return stageOf(set.API(segs[0]), segs[1])
	case len(segs) == 1:
		stages := set.StagesNamed(segs[0])
		switch len(stages) {
		case 0:
			return target{reason: "no API has stage " + segs[0]}
		case 1:
			return target{stage: stages[0]}
		}
		return target{reason: "several APIs have stage " + segs[0] + ": use /{apiId}/" + segs[0]}
	}
	return target{reason: "path must be /{stage} or /{apiId}/{stage}"}
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
	} else if stages := set.StagesNamed(t.scope.Stage); len(stages) == 0 {
		return target{reason: "no API has stage " + t.scope.Stage}
	} else if len(stages) == 1 {
		t.apiID = stages[0].API.ID
	}
	return t
}
