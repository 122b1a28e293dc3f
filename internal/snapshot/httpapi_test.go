package snapshot

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/resource"
)

// routesOf compiles an HTTP API with the given route keys (each targeting nothing) and returns its
// $default stage's route table.
func routesOf(t testing.TB, keys ...string) *HTTPRoutes {
	t.Helper()
	a := resource.API{APIID: "pets", Name: "pets", ProtocolType: resource.ProtocolHTTP,
		Stages: []resource.Stage{{StageName: resource.StageDefault}}}
	for _, k := range keys {
		a.Routes = append(a.Routes, resource.Route{RouteKey: k})
	}
	set, err := Compile(&resource.Bundle{APIs: []resource.API{a}})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return set.API("pets").Stages[resource.StageDefault].HTTPRoutes
}

// TestHTTPRouteMatch follows AWS's route evaluation
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html): the guide's
// own example first, then the rules it states.
func TestHTTPRouteMatch(t *testing.T) {
	awsExample := []string{"GET /pets/dog/1", "GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /{proxy+}", "$default"}
	tests := []struct {
		name       string
		keys       []string
		method     string
		path       string
		want       string
		wantParams map[string]string
	}{
		{name: "aws example exact", keys: awsExample, method: "GET", path: "/pets/dog/1", want: "GET /pets/dog/1"},
		{name: "aws example variable", keys: awsExample, method: "GET", path: "/pets/dog/2", want: "GET /pets/dog/{id}", wantParams: map[string]string{"id": "2"}},
		{name: "aws example greedy", keys: awsExample, method: "GET", path: "/pets/cat/1", want: "GET /pets/{proxy+}", wantParams: map[string]string{"proxy": "cat/1"}},
		{name: "aws example ANY greedy", keys: awsExample, method: "POST", path: "/test/5", want: "ANY /{proxy+}", wantParams: map[string]string{"proxy": "test/5"}},
		{name: "root falls to $default", keys: awsExample, method: "GET", path: "/", want: "$default"},
		{name: "method before ANY on one path", keys: []string{"ANY /pets", "GET /pets"}, method: "GET", path: "/pets", want: "GET /pets"},
		{name: "ANY takes other methods", keys: []string{"ANY /pets", "GET /pets"}, method: "DELETE", path: "/pets", want: "ANY /pets"},
		{name: "wrong method is not found", keys: []string{"GET /pets"}, method: "POST", path: "/pets", want: ""},
		{name: "literal before variable", keys: []string{"GET /{a}/x", "GET /p/{b}"}, method: "GET", path: "/p/x", want: "GET /p/{b}", wantParams: map[string]string{"b": "x"}},
		{name: "variable before greedy", keys: []string{"GET /p/{proxy+}", "GET /p/{id}"}, method: "GET", path: "/p/1", want: "GET /p/{id}", wantParams: map[string]string{"id": "1"}},
		{name: "greedy needs a segment", keys: []string{"GET /p/{proxy+}"}, method: "GET", path: "/p", want: ""},
		{name: "root route", keys: []string{"GET /", "GET /{proxy+}"}, method: "GET", path: "/", want: "GET /"},
		{name: "decoded variable", keys: []string{"GET /p/{id}"}, method: "GET", path: "/p/a%2Fb%20c", want: "GET /p/{id}", wantParams: map[string]string{"id": "a/b c"}},
		{name: "case matters", keys: []string{"GET /Pets"}, method: "GET", path: "/pets", want: ""},
		{name: "trailing slash is another path", keys: []string{"GET /pets"}, method: "GET", path: "/pets/", want: ""},
		{name: "empty variable does not match", keys: []string{"GET /p/{id}/x"}, method: "GET", path: "/p//x", want: ""},
		{name: "no routes", method: "GET", path: "/", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, params := routesOf(t, tt.keys...).Match(tt.method, tt.path)
			got := ""
			if r != nil {
				got = r.Key
			}
			if got != tt.want || !reflect.DeepEqual(params, tt.wantParams) {
				t.Fatalf("Match(%s %s) = %q %v, want %q %v", tt.method, tt.path, got, params, tt.want, tt.wantParams)
			}
		})
	}
}

func TestDomainMatchHTTP(t *testing.T) {
	a, b, root := &Stage{Name: "a"}, &Stage{Name: "b"}, &Stage{Name: "root"}
	d := &Domain{Mappings: map[string]*Stage{"v1": a, "v1/orders": b, "": root}}
	tests := []struct {
		path string
		want *Stage
		n    int
	}{
		{"v1/orders/7", b, 2}, {"v1/users", a, 1}, {"v1", a, 1}, {"v2/x", root, 0}, {"v1orders", root, 0},
	}
	for _, tt := range tests {
		st, n := d.MatchHTTP(strings.Split(tt.path, "/"))
		if st != tt.want || n != tt.n {
			t.Errorf("MatchHTTP(%q) = %v %d, want %v %d", tt.path, st.Name, n, tt.want.Name, tt.n)
		}
	}
}

func FuzzHTTPRouteMatch(f *testing.F) {
	f.Add("GET", "/pets/dog/1")
	f.Add("POST", "/test/5")
	f.Add("GET", "/%zz/a%2F")
	f.Add("DELETE", "//")
	table := routesOf(f, "GET /pets/dog/1", "GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /{proxy+}", "ANY /", "PUT /{a}/{b}/c")
	f.Fuzz(func(t *testing.T, method, path string) {
		r, params := table.Match(method, path)
		if r == nil {
			return
		}
		// What matched must match again with the same route key: every literal segment is the path's.
		segs := splitPath(path)
		if !matchSegments(r.Segments, segs) || (r.Method != method && r.Method != resource.MethodAny) {
			t.Fatalf("%s %q matched %q, which does not fit it", method, path, r.Key)
		}
		for _, s := range r.Segments {
			if s.Param != "" && params[s.Param] == "" {
				t.Fatalf("%s %q: path variable %s of %q is empty", method, path, s.Param, r.Key)
			}
		}
	})
}

func TestCompileServiceParameters(t *testing.T) {
	a := resource.API{APIID: "svc", Name: "svc", ProtocolType: resource.ProtocolHTTP,
		Integrations: []resource.Integration{{IntegrationID: "sqs", IntegrationType: resource.IntegrationAWSProxy, IntegrationSubtype: "SQS-SendMessage",
			RequestParameters: map[string]string{"QueueUrl": "$request.header.q", "MessageBody": "$request.nothing"}}},
		Stages: []resource.Stage{{StageName: resource.StageDefault}}}
	_, err := Compile(&resource.Bundle{APIs: []resource.API{a}})
	if err == nil || !strings.Contains(err.Error(), "apis[0].integrations[0].requestParameters.MessageBody") {
		t.Fatalf("Compile = %v, want the bad MessageBody value reported", err)
	}
	a.Integrations[0].RequestParameters["MessageBody"] = "$request.body"
	if _, err := Compile(&resource.Bundle{APIs: []resource.API{a}}); err != nil {
		t.Fatalf("the whole body is a value: %v", err)
	}
}

// TestHTTPDeploymentDefaults: a deployed HTTP API stage gets the HTTP API defaults (30 s timeout), not
// the WebSocket ones.
func TestHTTPDeploymentDefaults(t *testing.T) {
	in := resource.Integration{IntegrationID: "be", IntegrationType: resource.IntegrationHTTPProxy, IntegrationMethod: "ANY", IntegrationURI: "http://127.0.0.1:9"}
	a := resource.API{APIID: "dep", Name: "dep", ProtocolType: resource.ProtocolHTTP,
		Integrations: []resource.Integration{in},
		Routes:       []resource.Route{{RouteKey: "$default", Target: "integrations/be"}},
		Deployments: []resource.Deployment{{DeploymentID: "d1", Integrations: []resource.Integration{in},
			Routes: []resource.Route{{RouteKey: "$default", Target: "integrations/be"}}}},
		Stages: []resource.Stage{{StageName: "prod", DeploymentID: "d1"}}}
	set, err := Compile(&resource.Bundle{APIs: []resource.API{a}})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := set.API("dep").Stages["prod"].HTTPRoutes.Match("GET", "/x")
	if r == nil || r.Integration == nil || r.Integration.Timeout != 30*time.Second || r.Integration.PayloadFormatVersion != "1.0" {
		t.Fatalf("deployed route %+v", r)
	}
}

func TestCORSOrigin(t *testing.T) {
	c := compileCORS(&resource.Cors{AllowOrigins: []string{"https://App.example", "http://*"}})
	tests := []struct {
		origin, want string
		ok           bool
	}{
		{"https://app.example", "https://app.example", true},
		{"https://APP.example", "https://APP.example", true},
		{"https://other.example", "", false},
		{"http://anything.test:8080", "http://anything.test:8080", true},
		{"http://", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		if got, ok := c.Origin(tt.origin); got != tt.want || ok != tt.ok {
			t.Errorf("Origin(%q) = %q %v, want %q %v", tt.origin, got, ok, tt.want, tt.ok)
		}
	}
	if got, ok := compileCORS(&resource.Cors{AllowOrigins: []string{"*"}}).Origin("https://x"); got != "*" || !ok {
		t.Errorf("* gives %q %v", got, ok)
	}
}
