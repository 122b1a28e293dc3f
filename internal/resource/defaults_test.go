package resource

import (
	"regexp"
	"testing"
)

func TestApplyDefaults(t *testing.T) {
	tests := []struct {
		name  string
		in    Bundle
		check func(t *testing.T, a API)
	}{
		{
			name: "api",
			in:   Bundle{APIs: []API{{Name: "chat"}}},
			check: func(t *testing.T, a API) {
				if a.APIKeySelectionExpression != "$request.header.x-api-key" {
					t.Errorf("apiKeySelectionExpression = %q", a.APIKeySelectionExpression)
				}
				if !regexp.MustCompile(`^[a-z0-9]{10}$`).MatchString(a.APIID) {
					t.Errorf("apiId = %q, want 10 of [a-z0-9]", a.APIID)
				}
			},
		},
		{
			name: "api keeps set members",
			in:   Bundle{APIs: []API{{Name: "chat", APIID: "mine", APIKeySelectionExpression: "$context.authorizer.usageIdentifierKey"}}},
			check: func(t *testing.T, a API) {
				if a.APIID != "mine" || a.APIKeySelectionExpression != "$context.authorizer.usageIdentifierKey" {
					t.Errorf("api = %+v", a)
				}
			},
		},
		{
			name: "route",
			in: Bundle{APIs: []API{{Name: "chat", Routes: []Route{
				{RouteKey: "a"},
				{RouteKey: "b", RouteResponses: []RouteResponse{{RouteResponseKey: "$default"}}},
				{RouteKey: "c", AuthorizationType: "AWS_IAM", RouteID: "keep"},
			}}}},
			check: func(t *testing.T, a API) {
				r := a.Routes
				if r[0].AuthorizationType != "NONE" || r[2].AuthorizationType != "AWS_IAM" {
					t.Errorf("authorizationType = %q, %q", r[0].AuthorizationType, r[2].AuthorizationType)
				}
				if r[0].RouteResponseSelectionExpression != "" {
					t.Errorf("one-way route got routeResponseSelectionExpression %q", r[0].RouteResponseSelectionExpression)
				}
				if r[1].RouteResponseSelectionExpression != "" {
					t.Errorf("routeResponseSelectionExpression = %q; AWS fills in none (the config file's convenience is configfile's)", r[1].RouteResponseSelectionExpression)
				}
				if r[2].RouteID != "keep" {
					t.Errorf("routeId overwritten: %q", r[2].RouteID)
				}
				id := regexp.MustCompile(`^[a-z0-9]{7}$`)
				if !id.MatchString(r[0].RouteID) || !id.MatchString(r[1].RouteID) || !id.MatchString(r[1].RouteResponses[0].RouteResponseID) {
					t.Errorf("ids = %q, %q, %q, want 7 of [a-z0-9]", r[0].RouteID, r[1].RouteID, r[1].RouteResponses[0].RouteResponseID)
				}
			},
		},
		{
			name: "integration types",
			in: Bundle{APIs: []API{{Name: "chat", Integrations: []Integration{
				{IntegrationID: "mock", IntegrationType: IntegrationMock, IntegrationResponses: []IntegrationResponse{{IntegrationResponseKey: "$default"}}},
				{IntegrationID: "http", IntegrationType: IntegrationHTTP},
				{IntegrationID: "proxy", IntegrationType: IntegrationHTTPProxy},
				{IntegrationID: "aws", IntegrationType: IntegrationAWS},
				{IntegrationID: "lambda", IntegrationType: IntegrationAWSProxy},
				{IntegrationID: "set", IntegrationType: IntegrationHTTP, IntegrationMethod: "GET", TimeoutInMillis: 100, PassthroughBehavior: "NEVER", ConnectionType: "VPC_LINK", IntegrationResponseSelectionExpression: "x"},
			}}}},
			check: func(t *testing.T, a API) {
				want := []struct{ method, irse string }{
					{"", DefaultStatusCodeSelectionExpression},
					{"POST", DefaultStatusCodeSelectionExpression},
					{"POST", ""},
					{"", "${integration.response.body.errorMessage}"},
					{"", ""},
					{"GET", "x"},
				}
				for i, in := range a.Integrations {
					if in.IntegrationMethod != want[i].method || in.IntegrationResponseSelectionExpression != want[i].irse {
						t.Errorf("%s: method %q irse %q, want %q %q", in.IntegrationID, in.IntegrationMethod, in.IntegrationResponseSelectionExpression, want[i].method, want[i].irse)
					}
					if i < 5 && (in.TimeoutInMillis != 29000 || in.PassthroughBehavior != "WHEN_NO_MATCH" || in.ConnectionType != "INTERNET") {
						t.Errorf("%s: defaults not filled: %+v", in.IntegrationID, in)
					}
					if in.PayloadFormatVersion != "1.0" {
						t.Errorf("%s: payloadFormatVersion %q", in.IntegrationID, in.PayloadFormatVersion)
					}
				}
				set := a.Integrations[5]
				if set.TimeoutInMillis != 100 || set.PassthroughBehavior != "NEVER" || set.ConnectionType != "VPC_LINK" {
					t.Errorf("set members overwritten: %+v", set)
				}
				if !regexp.MustCompile(`^[a-z0-9]{7}$`).MatchString(a.Integrations[0].IntegrationResponses[0].IntegrationResponseID) {
					t.Errorf("integrationResponseId = %q", a.Integrations[0].IntegrationResponses[0].IntegrationResponseID)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.in
			ApplyDefaults(&b)
			tt.check(t, b.APIs[0])
		})
	}
	ApplyDefaults(nil) // must not panic
}

func TestApplyDefaultsIDsAreStable(t *testing.T) {
	first, second := validBundle(), validBundle()
	first.APIs[0].APIID, second.APIs[0].APIID = "", ""
	ApplyDefaults(first)
	ApplyDefaults(second)
	a, b := first.APIs[0], second.APIs[0]
	if a.APIID != b.APIID {
		t.Errorf("apiId %q then %q", a.APIID, b.APIID)
	}
	for i := range a.Routes {
		if a.Routes[i].RouteID != b.Routes[i].RouteID {
			t.Errorf("routes[%d].routeId %q then %q", i, a.Routes[i].RouteID, b.Routes[i].RouteID)
		}
	}

	// The id depends on the key, not on the position.
	reordered := validBundle()
	reordered.APIs[0].APIID = ""
	rs := reordered.APIs[0].Routes
	rs[0], rs[4] = rs[4], rs[0]
	ApplyDefaults(reordered)
	if got, want := reordered.APIs[0].Routes[4].RouteID, a.Routes[0].RouteID; got != want {
		t.Errorf("moved route id = %q, want %q", got, want)
	}

	// Ids differ between APIs with the same route keys.
	other := validBundle()
	other.APIs[0].APIID = ""
	other.APIs[0].Name = "other"
	ApplyDefaults(other)
	if other.APIs[0].APIID == a.APIID || other.APIs[0].Routes[0].RouteID == a.Routes[0].RouteID {
		t.Errorf("ids repeat across APIs: %q %q", other.APIs[0].APIID, other.APIs[0].Routes[0].RouteID)
	}
}

func TestApplyDefaultsIDsAreUnique(t *testing.T) {
	// Find the id the first route would get, then make another route claim it explicitly.
	probe := &Bundle{APIs: []API{{Name: "chat", APIID: "chat", Routes: []Route{{RouteKey: "a"}}}}}
	ApplyDefaults(probe)
	taken := probe.APIs[0].Routes[0].RouteID

	b := &Bundle{APIs: []API{{Name: "chat", APIID: "chat", Routes: []Route{
		{RouteKey: "a"},
		{RouteKey: "b", RouteID: taken},
		{RouteKey: "a"}, // duplicate key (a Validate error) must still get its own id
	}}}}
	ApplyDefaults(b)
	seen := map[string]bool{}
	for _, r := range b.APIs[0].Routes {
		if seen[r.RouteID] {
			t.Errorf("routeId %q repeated: %+v", r.RouteID, b.APIs[0].Routes)
		}
		seen[r.RouteID] = true
	}
	if b.APIs[0].Routes[1].RouteID != taken {
		t.Errorf("explicit routeId overwritten")
	}

	// Many routes with one key (as an alias-heavy config can produce) get distinct ids in linear time.
	many := &Bundle{APIs: []API{{Name: "chat", APIID: "chat", Routes: make([]Route, 20000)}}}
	for i := range many.APIs[0].Routes {
		many.APIs[0].Routes[i].RouteKey = "a"
	}
	ApplyDefaults(many)
	clear(seen)
	for _, r := range many.APIs[0].Routes {
		if seen[r.RouteID] {
			t.Fatalf("routeId %q repeated among duplicate keys", r.RouteID)
		}
		seen[r.RouteID] = true
	}
}

func TestDerivedID(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		kind  string
		parts []string
	}{
		{name: "api", n: 10, kind: "api", parts: []string{"chat"}},
		{name: "empty name", n: 10, kind: "api", parts: []string{""}},
		{name: "child", n: 7, kind: "route", parts: []string{"chat", "$connect"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := derivedID(tt.n, tt.kind, tt.parts...)
			if !regexp.MustCompile(`^[a-z0-9]+$`).MatchString(got) || len(got) != tt.n {
				t.Errorf("derivedID = %q, want %d of [a-z0-9]", got, tt.n)
			}
		})
	}
	if derivedID(7, "k", "ab", "c") == derivedID(7, "k", "a", "bc") {
		t.Error("part boundaries do not change the id")
	}
}
