package resource

import (
	"strings"
	"testing"
)

func TestMutualTLSWarnings(t *testing.T) {
	mtls := &MutualTLSAuthentication{TruststoreURI: "clients.pem"}
	apis := func(disabled ...bool) []API {
		var out []API
		for i, d := range disabled {
			out = append(out, API{APIID: string(rune('a' + i)), DisableExecuteAPIEndpoint: d})
		}
		return out
	}
	tests := []struct {
		name string
		b    Bundle
		want []string // paths
	}{
		{"no domains", Bundle{APIs: apis(false)}, nil},
		{"domain without mutual TLS", Bundle{APIs: apis(false), DomainNames: []DomainName{
			{DomainName: "x.test", APIMappings: []APIMapping{{APIID: "a", Stage: "dev"}}}}}, nil},
		{"mutual TLS, default endpoint disabled", Bundle{APIs: apis(true), DomainNames: []DomainName{
			{DomainName: "x.test", MutualTLSAuthentication: mtls, APIMappings: []APIMapping{{APIID: "a", Stage: "dev"}}}}}, nil},
		{"mutual TLS, default endpoint enabled", Bundle{APIs: apis(true, false), DomainNames: []DomainName{
			{DomainName: "x.test", MutualTLSAuthentication: mtls, APIMappings: []APIMapping{
				{APIID: "a", Stage: "dev"}, {APIID: "b", Stage: "dev", APIMappingKey: "v1"}, {APIID: "b", Stage: "prod", APIMappingKey: "v2"}}}}},
			[]string{"apis[1].disableExecuteApiEndpoint"}},
		{"two mutual-TLS domains map the same API", Bundle{APIs: apis(false), DomainNames: []DomainName{
			{DomainName: "x.test", MutualTLSAuthentication: mtls, APIMappings: []APIMapping{{APIID: "a", Stage: "dev"}}},
			{DomainName: "y.test", MutualTLSAuthentication: mtls, APIMappings: []APIMapping{{APIID: "a", Stage: "dev"}}}}},
			[]string{"apis[0].disableExecuteApiEndpoint", "apis[0].disableExecuteApiEndpoint"}},
		{"mapping to an unknown API", Bundle{DomainNames: []DomainName{
			{DomainName: "x.test", MutualTLSAuthentication: mtls, APIMappings: []APIMapping{{APIID: "zz", Stage: "dev"}}}}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := MutualTLSWarnings(&tc.b)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want paths %v", got, tc.want)
			}
			for i, w := range got {
				if w.Path != tc.want[i] || !strings.Contains(w.Message, "disableExecuteApiEndpoint: true") ||
					!strings.Contains(w.Message, "rest-api-mutual-tls.html") {
					t.Errorf("warning %d = %v, want path %s and the advice", i, w, tc.want[i])
				}
			}
		})
	}
}
