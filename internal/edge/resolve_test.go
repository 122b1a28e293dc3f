package edge

import (
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/registry"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// testSet compiles four APIs: alpha, bravo and delta have a stage "dev"; "staging" belongs to alpha only
// and "live" to charlie only; delta has its default endpoint disabled, and shares "pair" with charlie
// and has "solo" alone. secure.test, other.test and *.mtls.test require mutual TLS.
func testSet(t testing.TB) *snapshot.Set {
	t.Helper()
	api := func(id string, stages ...string) resource.API {
		a := resource.API{
			APIID: id, Name: id, ProtocolType: resource.ProtocolWebSocket, RouteSelectionExpression: "$request.body.action",
			Integrations: []resource.Integration{{IntegrationID: "m", IntegrationType: resource.IntegrationMock, RequestTemplates: map[string]string{"$default": `{"statusCode": 200}`}}},
			Routes:       []resource.Route{{RouteKey: "$default", Target: "integrations/m"}},
		}
		for _, s := range stages {
			a.Stages = append(a.Stages, resource.Stage{StageName: s})
		}
		return a
	}
	closed := api("delta", "dev", "solo", "pair")
	closed.DisableExecuteAPIEndpoint = true
	mtls := &resource.MutualTLSAuthentication{TruststoreURI: "clients.pem"}
	files := []resource.DomainNameConfiguration{{CertificateFile: "domain.pem", PrivateKeyFile: "domain-key.pem"}}
	set, err := snapshot.Compile(&resource.Bundle{APIs: []resource.API{
		api("alpha", "dev", "staging"),
		api("bravo", "dev"),
		api("charlie", "live", "pair"),
		closed,
	}, DomainNames: []resource.DomainName{
		{DomainName: "exanub.es", APIMappings: []resource.APIMapping{
			{APIID: "alpha", Stage: "dev", APIMappingKey: "chat"},
			{APIID: "delta", Stage: "dev", APIMappingKey: "v1.2"},
		}},
		{DomainName: "*.Rooms.test", APIMappings: []resource.APIMapping{{APIID: "charlie", Stage: "live"}}},
		{DomainName: "secure.test", MutualTLSAuthentication: mtls, DomainNameConfigurations: files, APIMappings: []resource.APIMapping{{APIID: "alpha", Stage: "dev"}}},
		{DomainName: "other.test", MutualTLSAuthentication: mtls, DomainNameConfigurations: files, APIMappings: []resource.APIMapping{{APIID: "bravo", Stage: "dev", APIMappingKey: "x"}}},
		{DomainName: "*.mtls.test", MutualTLSAuthentication: mtls, DomainNameConfigurations: files, APIMappings: []resource.APIMapping{{APIID: "charlie", Stage: "live"}}},
	}})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return set
}

// want describes an expected target: a stage (apiID/stage), a management call, or nothing.
type want struct {
	stage  string // "api/stage" of the WebSocket endpoint
	extra  bool   // with stage: the path goes on after it
	mgmt   bool
	scope  registry.Scope
	connID string
	denied bool // refused by mutual TLS
}

func TestResolve(t *testing.T) {
	set := testSet(t)
	const (
		alphaHost = "alpha.execute-api.us-east-1.amazonaws.com"
		bravoHost = "bravo.execute-api.eu-west-1.amazonaws.com"
		local     = "127.0.0.1:8080"
		id        = "R1kmxc2VNjMCFIA="
	)
	none := want{}
	stage := func(s string) want { return want{stage: s} }
	under := func(s string) want { return want{stage: s, extra: true} }
	mgmt := func(apiID, stage, connID string) want {
		return want{mgmt: true, scope: registry.Scope{APIID: apiID, Stage: stage}, connID: connID}
	}
	tests := []struct {
		name string
		host string
		path string
		want want
	}{
		// {apiId}.execute-api.{anything} + /{stage}
		{"execute-api host", alphaHost, "/dev", stage("alpha/dev")},
		{"execute-api host, trailing slash", alphaHost, "/dev/", stage("alpha/dev")},
		{"execute-api host with port", alphaHost + ":443", "/dev", stage("alpha/dev")},
		{"execute-api host with port, trailing slash", alphaHost + ":8443", "/staging/", stage("alpha/staging")},
		{"execute-api host, upper case", "ALPHA.Execute-Api.US-EAST-1.amazonaws.com", "/dev", stage("alpha/dev")},
		{"execute-api host, upper case with port", "Bravo.EXECUTE-API.eu-west-1.amazonaws.com:443", "/dev", stage("bravo/dev")},
		{"execute-api host, other API", bravoHost, "/dev", stage("bravo/dev")},
		{"execute-api host, ambiguous stage name is fine", alphaHost, "/dev", stage("alpha/dev")},
		{"execute-api host, any region or suffix", "charlie.execute-api.localhost", "/live", stage("charlie/live")},
		{"execute-api host, stage of another API", bravoHost, "/staging", none},
		{"execute-api host, unknown stage", alphaHost, "/prod", none},
		{"execute-api host, unknown API", "zulu.execute-api.us-east-1.amazonaws.com", "/dev", none},
		{"execute-api host, api in path", alphaHost, "/alpha/dev", none},
		{"execute-api host, extra segment", alphaHost, "/dev/extra", under("alpha/dev")},
		{"execute-api host, extra segments and trailing slash", alphaHost, "/dev/a/b/", under("alpha/dev")},
		{"execute-api host, extra segment after an unknown stage", alphaHost, "/prod/extra", none},
		{"execute-api host, empty path", alphaHost, "", none},
		{"execute-api host, root", alphaHost, "/", none},
		{"execute-api host, two slashes", alphaHost, "//", none},
		{"stage names are case sensitive", alphaHost, "/DEV", none},
		{"execute-api label without API ID", ".execute-api.us-east-1.amazonaws.com", "/alpha/dev", stage("alpha/dev")},

		// /{apiId}/{stage} on any other host
		{"api and stage", local, "/alpha/dev", stage("alpha/dev")},
		{"api and stage, trailing slash", local, "/alpha/dev/", stage("alpha/dev")},
		{"api and stage, other API", local, "/bravo/dev", stage("bravo/dev")},
		{"api and stage, unique stage", "localhost", "/alpha/staging", stage("alpha/staging")},
		{"api and stage, custom domain", "ws.example.com", "/charlie/live", stage("charlie/live")},
		{"api and stage, no host", "", "/alpha/dev", stage("alpha/dev")},
		{"api and stage, unknown stage", local, "/bravo/staging", none},
		{"api and stage, unknown API", local, "/zulu/dev", none},
		{"api and stage, API IDs are case sensitive in paths", local, "/Alpha/dev", none},
		{"api and stage, extra segment", local, "/alpha/dev/extra", under("alpha/dev")},
		{"api and stage, empty segment after the stage", local, "/alpha/dev//", under("alpha/dev")},
		{"api and stage, empty stage", local, "/alpha//", none},

		// /{stage} when exactly one API has it
		{"unique stage", local, "/staging", stage("alpha/staging")},
		{"unique stage, trailing slash", local, "/staging/", stage("alpha/staging")},
		{"unique stage of another API", local, "/live", stage("charlie/live")},
		{"ambiguous stage", local, "/dev", none},
		{"ambiguous stage, trailing slash", local, "/dev/", none},
		{"ambiguous stage, extra segment", local, "/dev/x", none},
		{"unique stage, extra segments", local, "/staging/some/path", under("alpha/staging")},
		{"unknown stage, extra segment", local, "/prod/x", none},
		{"unknown stage", local, "/prod", none},
		{"empty path", local, "", none},
		{"root", local, "/", none},
		{"two slashes", local, "//", none},
		{"api ID alone is not a stage", local, "/alpha", none},
		{"host that only contains execute-api", "execute-api.example.com", "/staging", stage("alpha/staging")},

		// Management API: {prefix}/@connections/{id}
		{"mgmt, execute-api host", alphaHost, "/dev/@connections/" + id, mgmt("alpha", "dev", id)},
		{"mgmt, execute-api host with port, upper case", "ALPHA.execute-api.us-east-1.amazonaws.com:443", "/dev/@connections/" + id, mgmt("alpha", "dev", id)},
		{"mgmt, execute-api host, missing id", alphaHost, "/dev/@connections/", mgmt("alpha", "dev", "")},
		{"mgmt, execute-api host, no slash after @connections", alphaHost, "/dev/@connections", mgmt("alpha", "dev", "")},
		{"mgmt, execute-api host, unknown stage", alphaHost, "/prod/@connections/" + id, none},
		{"mgmt, execute-api host, stage of another API", bravoHost, "/staging/@connections/" + id, none},
		{"mgmt, execute-api host, unknown API", "zulu.execute-api.us-east-1.amazonaws.com", "/dev/@connections/" + id, none},
		{"mgmt, execute-api host, api in path", alphaHost, "/alpha/dev/@connections/" + id, none},
		{"mgmt, execute-api host, no stage", alphaHost, "/@connections/" + id, none},
		{"mgmt, api and stage", local, "/alpha/dev/@connections/" + id, mgmt("alpha", "dev", id)},
		{"mgmt, api and stage, other API", local, "/bravo/dev/@connections/" + id, mgmt("bravo", "dev", id)},
		{"mgmt, api and stage, missing id", local, "/alpha/dev/@connections/", mgmt("alpha", "dev", "")},
		{"mgmt, api and stage, unknown stage", local, "/bravo/staging/@connections/" + id, none},
		{"mgmt, api and stage, unknown API", local, "/zulu/dev/@connections/" + id, none},
		{"mgmt, unique stage", local, "/staging/@connections/" + id, mgmt("", "staging", id)},
		// The stage-only form scopes by stage alone, so it also works for a stage name several APIs share.
		{"mgmt, shared stage", local, "/dev/@connections/" + id, mgmt("", "dev", id)},
		{"mgmt, stage only, missing id", local, "/live/@connections", mgmt("", "live", "")},
		{"mgmt, stage only, unknown stage", local, "/prod/@connections/" + id, none},
		{"mgmt, stage only, empty stage", local, "//@connections/" + id, none},
		{"mgmt, no prefix", local, "/@connections/" + id, none},
		{"mgmt, too many segments", local, "/x/alpha/dev/@connections/" + id, none},
		{"mgmt, id with slashes is kept whole", local, "/alpha/dev/@connections/a/b", mgmt("alpha", "dev", "a/b")},
		{"mgmt, trailing slash is part of the id", local, "/alpha/dev/@connections/" + id + "/", mgmt("alpha", "dev", id+"/")},
		{"mgmt, first @connections wins", local, "/alpha/dev/@connections/@connections/x", mgmt("alpha", "dev", "@connections/x")},
		{"mgmt, segment must be exactly @connections (else a path under the stage)", local, "/alpha/dev/@Connections/" + id, under("alpha/dev")},
		// Custom domains: the first segment is the API mapping key; the empty key serves the whole domain.
		{"domain, mapping key", "exanub.es", "/chat", stage("alpha/dev")},
		{"domain, mapping key, trailing slash", "exanub.es", "/chat/", stage("alpha/dev")},
		{"domain, host case and port", "EXANUB.ES:8443", "/chat", stage("alpha/dev")},
		{"domain, key is case-sensitive", "exanub.es", "/Chat", none},
		{"domain, key with dots", "exanub.es", "/v1.2", stage("delta/dev")},
		{"domain, unknown key and no root mapping", "exanub.es", "/nope", none},
		{"domain, root without a root mapping", "exanub.es", "/", none},
		{"domain, extra segments", "exanub.es", "/chat/more", under("alpha/dev")},
		{"domain, @connections after extra segments", "exanub.es", "/chat/x/@connections/" + id, none},
		{"domain, host with a trailing dot", "exanub.es.", "/chat", stage("alpha/dev")},
		{"domain, stage name is not a key", "exanub.es", "/dev", none},
		{"domain, @connections under the key", "exanub.es", "/chat/@connections/" + id, mgmt("alpha", "dev", id)},
		{"domain, @connections of a disabled API still works", "exanub.es", "/v1.2/@connections/" + id, mgmt("delta", "dev", id)},
		{"wildcard domain, root mapping", "eu.rooms.test", "/", stage("charlie/live")},
		{"wildcard domain, root mapping, @connections", "eu.rooms.test", "/@connections/" + id, mgmt("charlie", "live", id)},
		{"wildcard domain, any first segment is a path under the root mapping", "eu.rooms.test", "/live", under("charlie/live")},
		{"wildcard matches one label only", "a.b.rooms.test", "/", none},
		{"wildcard does not match the bare domain", "rooms.test", "/live", stage("charlie/live")},
		// disableExecuteApiEndpoint closes every default endpoint form of that API.
		{"disabled API, path form", local, "/delta/dev", none},
		{"disabled API, execute-api host", "delta.execute-api.us-east-1.amazonaws.com", "/dev", none},
		{"disabled API, @connections on the default endpoint", local, "/delta/dev/@connections/" + id, none},
		{"disabled API, path form, extra segment", local, "/delta/dev/x", none},
		{"disabled API, execute-api host, extra segment", "delta.execute-api.us-east-1.amazonaws.com", "/dev/x", none},
		{"disabled API, execute-api host, @connections", "delta.execute-api.us-east-1.amazonaws.com", "/dev/@connections/" + id, none},
		{"disabled API, stage alone", local, "/solo", none},
		{"disabled API, stage alone, extra segment", local, "/solo/x", none},
		{"disabled API, stage alone, @connections", local, "/solo/@connections/" + id, none},
		{"stage shared with a disabled API is the open API's", local, "/pair", stage("charlie/pair")},
		// The registry keeps delta's connections out of this scope (registry.Scope).
		{"stage shared with a disabled API, @connections", local, "/pair/@connections/" + id, mgmt("", "pair", id)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := resolve(set, tc.host, tc.path, conn{})
			checkTarget(t, set, got)
			checkWant(t, tc.host, tc.path, got, tc.want)
		})
	}
}

// checkWant compares a target with what a table expects.
func checkWant(t *testing.T, host, path string, got target, w want) {
	t.Helper()
	gotStage := ""
	if got.stage != nil {
		gotStage = got.stage.API.ID + "/" + got.stage.Name
	}
	if gotStage != w.stage || got.extra != w.extra || got.mgmt != w.mgmt || got.scope != w.scope || got.connID != w.connID || got.denied != w.denied {
		t.Errorf("resolve(%q, %q) = {stage %q extra %v mgmt %v scope %+v connID %q denied %v reason %q}, want {stage %q extra %v mgmt %v scope %+v connID %q denied %v}",
			host, path, gotStage, got.extra, got.mgmt, got.scope, got.connID, got.denied, got.reason,
			w.stage, w.extra, w.mgmt, w.scope, w.connID, w.denied)
	}
}

// TestResolveMutualTLS covers the rule for domains with mutual TLS: whatever the host spelling, path or
// endpoint form, the request must have come over TLS for that very domain (SNI) with a verified client
// certificate.
func TestResolveMutualTLS(t *testing.T) {
	set := testSet(t)
	const id = "R1kmxc2VNjMCFIA="
	denied := want{denied: true}
	verifiedFor := func(sni string) conn { return conn{tls: true, serverName: sni, verified: true} }
	tests := []struct {
		name string
		host string
		path string
		conn conn
		want want
	}{
		{"plain TCP", "secure.test", "/", conn{}, denied},
		{"plain TCP, @connections", "secure.test", "/@connections/" + id, conn{}, denied},
		{"plain TCP, host in upper case with a port", "SECURE.Test:8080", "/", conn{}, denied},
		{"plain TCP, host with a trailing dot", "secure.test.", "/", conn{}, denied},
		{"plain TCP, default-endpoint path on the domain's host", "secure.test", "/alpha/dev", conn{}, denied},
		{"plain TCP, wildcard domain", "eu.mtls.test", "/", conn{}, denied},
		{"TLS without a client certificate", "secure.test", "/", conn{tls: true, serverName: "secure.test"}, denied},
		{"TLS for a domain without mutual TLS", "secure.test", "/", conn{tls: true, serverName: "exanub.es"}, denied},
		{"TLS for another mutual-TLS domain, verified there", "secure.test", "/", verifiedFor("other.test"), denied},
		{"TLS for another mutual-TLS domain, @connections", "secure.test", "/@connections/" + id, verifiedFor("other.test"), denied},
		{"TLS without SNI (the default certificate)", "secure.test", "/", conn{tls: true}, denied},
		{"TLS without SNI, a certificate somehow verified", "secure.test", "/", conn{tls: true, verified: true}, denied},
		{"TLS for a name no domain has", "secure.test", "/", verifiedFor("localhost"), denied},
		{"wildcard: SNI for the bare parent", "eu.mtls.test", "/", verifiedFor("mtls.test"), denied},
		{"verified for the domain", "secure.test", "/", verifiedFor("secure.test"), want{stage: "alpha/dev"}},
		{"verified, @connections", "secure.test", "/@connections/" + id, verifiedFor("secure.test"),
			want{mgmt: true, scope: registry.Scope{APIID: "alpha", Stage: "dev"}, connID: id}},
		{"verified, SNI in another case with a trailing dot", "secure.test:443", "/", verifiedFor("SECURE.test."), want{stage: "alpha/dev"}},
		{"verified, mapping key", "other.test", "/x", verifiedFor("other.test"), want{stage: "bravo/dev"}},
		{"verified, path under the stage", "secure.test", "/more", verifiedFor("secure.test"), want{stage: "alpha/dev", extra: true}},
		{"wildcard: SNI and Host are two names of the same domain", "eu.mtls.test", "/", verifiedFor("us.mtls.test"), want{stage: "charlie/live"}},
		// Domains without mutual TLS and the default endpoints ask for nothing (disableExecuteApiEndpoint
		// closes the latter; validate warns).
		{"domain without mutual TLS over plain TCP", "exanub.es", "/chat", conn{}, want{stage: "alpha/dev"}},
		{"domain without mutual TLS, TLS for a mutual-TLS domain", "exanub.es", "/chat", verifiedFor("secure.test"), want{stage: "alpha/dev"}},
		{"default endpoint over plain TCP", "127.0.0.1:8080", "/alpha/dev", conn{}, want{stage: "alpha/dev"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := resolve(set, tc.host, tc.path, tc.conn)
			checkTarget(t, set, got)
			checkWant(t, tc.host, tc.path, got, tc.want)
			if got.denied && got.mgmtPath != hasSegment(tc.path, "@connections") {
				t.Errorf("refusal of %q: mgmtPath %v", tc.path, got.mgmtPath)
			}
		})
	}
}

func TestResolveNilSet(t *testing.T) {
	for _, tc := range []struct{ host, path string }{
		{"alpha.execute-api.us-east-1.amazonaws.com", "/dev"},
		{"localhost", "/alpha/dev"},
		{"localhost", "/dev"},
		{"localhost", "/dev/@connections/x"},
		{"alpha.execute-api.us-east-1.amazonaws.com", "/dev/@connections/x"},
	} {
		got := resolve(nil, tc.host, tc.path, conn{})
		if got.stage != nil || got.mgmt || got.reason == "" {
			t.Errorf("resolve(nil, %q, %q) = %+v, want no match with a reason", tc.host, tc.path, got)
		}
	}
}

// checkTarget asserts what must hold for every result of resolve.
func checkTarget(t testing.TB, set *snapshot.Set, got target) {
	t.Helper()
	switch {
	case got.mgmt && got.stage != nil:
		t.Fatalf("target is both a stage and a management call: %+v", got)
	case got.extra && got.stage == nil:
		t.Fatalf("extra path without a stage: %+v", got)
	case got.denied && (got.stage != nil || got.mgmt):
		t.Fatalf("a denied target matched: %+v", got)
	case got.mgmt:
		if got.scope.Stage == "" {
			t.Fatalf("management target with an empty scope stage: %+v", got)
		}
		if got.scope.APIID != "" {
			if set.API(got.scope.APIID) == nil || set.API(got.scope.APIID).Stages[got.scope.Stage] == nil {
				t.Fatalf("management scope %+v names a stage that does not exist", got.scope)
			}
		} else if len(set.StagesNamed(got.scope.Stage)) == 0 {
			t.Fatalf("management scope %+v names a stage no API has", got.scope)
		}
	case got.stage != nil:
		if set.API(got.stage.API.ID) == nil || set.API(got.stage.API.ID).Stages[got.stage.Name] != got.stage {
			t.Fatalf("stage %s/%s is not in the set", got.stage.API.ID, got.stage.Name)
		}
		if got.connID != "" || got.scope != (registry.Scope{}) {
			t.Fatalf("stage target carries management fields: %+v", got)
		}
	default:
		if got.reason == "" {
			t.Fatalf("no match and no reason: %+v", got)
		}
		if got.connID != "" || got.scope != (registry.Scope{}) {
			t.Fatalf("no-match target carries management fields: %+v", got)
		}
	}
}

// hasSegment reports whether path has a segment equal to s.
func hasSegment(path, s string) bool {
	for _, seg := range strings.Split(path, "/") {
		if seg == s {
			return true
		}
	}
	return false
}
