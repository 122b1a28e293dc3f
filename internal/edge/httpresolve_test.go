package edge

import (
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// httpSet is a snapshot with HTTP APIs beside a WebSocket API: pets ($default and dev stages), closed
// (default endpoint disabled), nodefault (dev only), a plain HTTP domain with multi-level keys, and a
// mutual-TLS HTTP domain.
func httpSet(t testing.TB) *snapshot.Set {
	t.Helper()
	httpAPI := func(id string, disabled bool, stages ...string) resource.API {
		a := resource.API{APIID: id, Name: id, ProtocolType: resource.ProtocolHTTP, DisableExecuteAPIEndpoint: disabled,
			Routes: []resource.Route{{RouteKey: "$default"}}}
		for _, s := range stages {
			a.Stages = append(a.Stages, resource.Stage{StageName: s})
		}
		return a
	}
	b := &resource.Bundle{
		APIs: []resource.API{
			httpAPI("pets", false, "$default", "dev"), httpAPI("closed", true, "$default"), httpAPI("nodefault", false, "dev"),
			{APIID: "chat", Name: "chat", ProtocolType: resource.ProtocolWebSocket, RouteSelectionExpression: "$request.body.action",
				Stages: []resource.Stage{{StageName: "dev"}}},
		},
		DomainNames: []resource.DomainName{
			{DomainName: "api.test", APIMappings: []resource.APIMapping{{APIID: "pets", Stage: "dev", APIMappingKey: "v1"},
				{APIID: "nodefault", Stage: "dev", APIMappingKey: "v1/orders"}}},
			{DomainName: "secure.test", MutualTLSAuthentication: &resource.MutualTLSAuthentication{TruststoreURI: "ca.pem"},
				DomainNameConfigurations: []resource.DomainNameConfiguration{{CertificateFile: "c.pem", PrivateKeyFile: "k.pem"}},
				APIMappings:              []resource.APIMapping{{APIID: "pets", Stage: "$default"}}},
			{DomainName: "ws.test", APIMappings: []resource.APIMapping{{APIID: "chat", Stage: "dev"}}},
		},
	}
	set, err := snapshot.Compile(b)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestResolveHTTP(t *testing.T) {
	set := httpSet(t)
	tests := []struct {
		name, host, path   string
		c                  conn
		notHTTP            bool
		api, stage         string
		routePath, rawPath string
		status             int
	}{
		{name: "execute-api $default", host: "pets.execute-api.us-east-1.amazonaws.com", path: "/a/b", api: "pets", stage: "$default", routePath: "/a/b", rawPath: "/a/b"},
		{name: "execute-api named stage", host: "PETS.execute-api.x:443", path: "/dev/a", api: "pets", stage: "dev", routePath: "/a", rawPath: "/dev/a"},
		{name: "execute-api stage root", host: "pets.execute-api.x", path: "/dev", api: "pets", stage: "dev", routePath: "/", rawPath: "/dev"},
		{name: "the $default stage is not a segment", host: "pets.execute-api.x", path: "/$default/a", api: "pets", stage: "$default", routePath: "/$default/a", rawPath: "/$default/a"},
		{name: "no $default stage", host: "nodefault.execute-api.x", path: "/prod/a", status: http.StatusNotFound},
		{name: "disabled default endpoint", host: "closed.execute-api.x", path: "/a", status: http.StatusForbidden},
		{name: "path form", host: "127.0.0.1:8080", path: "/pets/dev/a%2Fb", api: "pets", stage: "dev", routePath: "/a%2Fb", rawPath: "/dev/a%2Fb"},
		{name: "path form $default", host: "localhost", path: "/pets", api: "pets", stage: "$default", routePath: "/", rawPath: "/"},
		{name: "path form disabled", host: "localhost", path: "/closed/x", status: http.StatusForbidden},
		{name: "WebSocket API is not HTTP", host: "chat.execute-api.x", path: "/dev", notHTTP: true},
		{name: "WebSocket path form is not HTTP", host: "localhost", path: "/chat/dev", notHTTP: true},
		{name: "WebSocket domain is not HTTP", host: "ws.test", path: "/", notHTTP: true},
		{name: "unknown is not HTTP", host: "localhost", path: "/nothing", notHTTP: true},
		{name: "domain longest key", host: "api.test", path: "/v1/orders/7", api: "nodefault", stage: "dev", routePath: "/7", rawPath: "/v1/orders/7"},
		{name: "domain shorter key", host: "api.test", path: "/v1/ordersx", api: "pets", stage: "dev", routePath: "/ordersx", rawPath: "/v1/ordersx"},
		{name: "domain without match", host: "api.test", path: "/v2", status: http.StatusNotFound},
		{name: "mutual TLS over plain TCP", host: "secure.test", path: "/", status: http.StatusForbidden},
		{name: "mutual TLS, other SNI", host: "secure.test", path: "/", c: conn{tls: true, serverName: "api.test", verified: true}, status: http.StatusForbidden},
		{name: "mutual TLS verified", host: "secure.test", path: "/x", c: conn{tls: true, serverName: "secure.test", verified: true}, api: "pets", stage: "$default", routePath: "/x", rawPath: "/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := resolveHTTP(set, tt.host, tt.path, tt.c)
			if ok == tt.notHTTP {
				t.Fatalf("resolveHTTP ok = %v, want %v (%+v)", ok, !tt.notHTTP, got)
			}
			if tt.notHTTP {
				return
			}
			if tt.status != 0 {
				if got.stage != nil || got.status != tt.status || got.reason == "" {
					t.Fatalf("got %+v, want status %d with a reason", got, tt.status)
				}
				return
			}
			if got.stage == nil || got.stage.API.ID != tt.api || got.stage.Name != tt.stage || got.routePath != tt.routePath || got.rawPath != tt.rawPath {
				t.Fatalf("got %+v, want %s/%s %q %q", got, tt.api, tt.stage, tt.routePath, tt.rawPath)
			}
		})
	}
}

// FuzzResolveHTTP: resolveHTTP never panics, a stage it returns belongs to an HTTP API, its route path
// starts with / and is a suffix of the request path, and a mutual-TLS domain is never reached without
// TLS for that domain and a verified client certificate.
func FuzzResolveHTTP(f *testing.F) {
	for _, s := range []string{"/", "/dev/a", "/pets/dev/x", "/v1/orders/7", "//", "/$default", ""} {
		for _, h := range []string{"pets.execute-api.x", "localhost", "api.test", "secure.test", "ws.test", ""} {
			f.Add(h, s, "", false, false)
			f.Add(h, s, h, true, true)
		}
	}
	set := httpSet(f)
	f.Fuzz(func(t *testing.T, host, path, serverName string, tls, verified bool) {
		c := conn{tls: tls, serverName: serverName, verified: verified}
		got, ok := resolveHTTP(set, host, path, c)
		if !ok || got.stage == nil {
			if ok && got.reason == "" {
				t.Fatalf("refusal without a reason: %q %q", host, path)
			}
			return
		}
		if !got.stage.API.HTTP {
			t.Fatalf("%q %q resolved to WebSocket API %s", host, path, got.stage.API.ID)
		}
		if !strings.HasPrefix(got.routePath, "/") || !strings.HasSuffix("/"+strings.TrimPrefix(path, "/"), strings.TrimPrefix(got.routePath, "/")) {
			t.Fatalf("%q %q: route path %q", host, path, got.routePath)
		}
		if d := set.Domain(hostName(host)); d != nil && d.MutualTLS && (!tls || !verified || set.Domain(hostName(serverName)) != d) {
			t.Fatalf("%q %q %+v reached mutual-TLS domain %s", host, path, c, d.Name)
		}
		if _, ok := resolveHTTP(nil, host, path, c); ok {
			t.Fatalf("resolveHTTP(nil) claimed %q %q", host, path)
		}
	})
}
