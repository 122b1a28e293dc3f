package controlapi

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
)

func TestDomainNamesGolden(t *testing.T) {
	f := newCatalogFixture(t, nil)
	f.seedAPI(fixtureAPI)
	api := "/v2/apis/" + fixtureAPI
	f.runGolden("b_domainnames.golden", []goldenStep{
		{"POST", "/v2/domainnames", `{"domainName":"exanub.es"}`},
		{"POST", "/v2/domainnames", `{"domainName":"Exanub.ES"}`},
		{"POST", "/v2/domainnames", `{"domainName":"*.example.com","domainNameConfigurations":[{"certificateArn":"arn:aws:acm:us-east-1:123456789012:certificate/abc","certificateName":"wild","endpointType":"REGIONAL","securityPolicy":"TLS_1_2","ipAddressType":"dualstack"}],"tags":{"team":"realtime"}}`},
		{"POST", "/v2/domainnames", `{}`},
		{"POST", "/v2/domainnames", `{"domainName":"not a host"}`},
		{"POST", "/v2/domainnames", `{"domainName":"edge.example.com","domainNameConfigurations":[{"endpointType":"EDGE"}]}`},
		{"POST", "/v2/domainnames", `{"domainName":"old.example.com","domainNameConfigurations":[{"securityPolicy":"TLS_1_0"}]}`},
		{"POST", "/v2/domainnames", `{"domainName":"two.example.com","domainNameConfigurations":[{},{}]}`},
		{"POST", "/v2/domainnames", `{"domainName":"mtls.example.com","mutualTlsAuthentication":{"truststoreUri":"s3://bucket/key"}}`},
		{"POST", "/v2/domainnames", `{"domainName":"rules.example.com","routingMode":"ROUTING_RULE_ONLY"}`},
		{"GET", "/v2/domainnames/exanub.es", ""},
		{"GET", "/v2/domainnames/EXANUB.ES", ""},
		{"GET", "/v2/domainnames/nosuch.example.com", ""},
		{"GET", "/v2/domainnames", ""},
		{"GET", "/v2/domainnames?maxResults=1", ""},
		{"GET", "/v2/domainnames/", ""},
		{"PATCH", "/v2/domainnames/exanub.es", `{"domainNameConfigurations":[{"certificateArn":"arn:aws:acm:us-east-1:123456789012:certificate/new","domainNameStatus":"AVAILABLE","apiGatewayDomainName":"ignored"}]}`},
		{"PATCH", "/v2/domainnames/exanub.es", `{"domainNameConfigurations":[{"endpointType":"EDGE"}]}`},

		// API mappings: the seeds' command, then AWS's rules.
		{"POST", api + "/stages", `{"stageName":"dev"}`},
		{"POST", "/v2/domainnames/exanub.es/apimappings", `{"apiId":"` + fixtureAPI + `","apiMappingKey":"chat","stage":"dev"}`},
		{"POST", "/v2/domainnames/exanub.es/apimappings", `{"apiId":"` + fixtureAPI + `","apiMappingKey":"chat","stage":"dev"}`},
		{"POST", "/v2/domainnames/exanub.es/apimappings", `{"apiId":"` + fixtureAPI + `","stage":"dev"}`},
		{"POST", "/v2/domainnames/exanub.es/apimappings", `{"apiId":"` + fixtureAPI + `","stage":"dev"}`},
		{"POST", "/v2/domainnames/exanub.es/apimappings", `{"apiId":"` + fixtureAPI + `","apiMappingKey":"v1/chat","stage":"dev"}`},
		{"POST", "/v2/domainnames/exanub.es/apimappings", `{"apiId":"` + fixtureAPI + `","apiMappingKey":"` + strings.Repeat("k", 301) + `","stage":"dev"}`},
		{"POST", "/v2/domainnames/exanub.es/apimappings", `{"apiId":"` + fixtureAPI + `","apiMappingKey":"$-_.+!*'()","stage":"dev"}`},
		{"POST", "/v2/domainnames/exanub.es/apimappings", `{"apiId":"nosuchapi","apiMappingKey":"x","stage":"dev"}`},
		{"POST", "/v2/domainnames/exanub.es/apimappings", `{"apiId":"` + fixtureAPI + `","apiMappingKey":"x","stage":"nosuch"}`},
		// The key is checked before the stage.
		{"POST", "/v2/domainnames/exanub.es/apimappings", `{"apiId":"` + fixtureAPI + `","apiMappingKey":"v1/chat","stage":"nosuch"}`},
		{"POST", "/v2/domainnames/exanub.es/apimappings", `{"apiMappingKey":"x","stage":"dev"}`},
		{"POST", "/v2/domainnames/nosuch.example.com/apimappings", `{"apiId":"` + fixtureAPI + `","stage":"dev"}`},
		{"GET", "/v2/domainnames/exanub.es/apimappings", ""},
		{"GET", "/v2/domainnames/exanub.es/apimappings?maxResults=2", ""},
		{"GET", "/v2/domainnames/exanub.es/apimappings/<mapping-1>", ""},
		{"GET", "/v2/domainnames/exanub.es/apimappings/nosuch", ""},
		{"PATCH", "/v2/domainnames/exanub.es/apimappings/<mapping-1>", `{"apiMappingKey":""}`},
		{"PATCH", "/v2/domainnames/exanub.es/apimappings/<mapping-1>", `{"apiMappingKey":"talk"}`},
		{"PATCH", "/v2/domainnames/exanub.es/apimappings/<mapping-1>", `{"stage":"nosuch"}`},
		{"DELETE", api + "/stages/dev", ""},
		{"DELETE", "/v2/domainnames/exanub.es/apimappings/<mapping-2>", ""},
		{"DELETE", "/v2/domainnames/exanub.es/apimappings/<mapping-2>", ""},
		{"DELETE", "/v2/domainnames/exanub.es", ""},
		{"GET", "/v2/domainnames/exanub.es/apimappings", ""},
		{"GET", "/v2/domainnames", ""},
	})
}

// TestDomainNamesSDK covers domain names through the SDK, with typed errors and pagination.
func TestDomainNamesSDK(t *testing.T) {
	ctx := context.Background()
	f := newCatalogFixture(t, nil)
	c := f.client

	out, err := c.CreateDomainName(ctx, &apigatewayv2.CreateDomainNameInput{
		DomainName: aws.String("chat.example.com"),
		DomainNameConfigurations: []types.DomainNameConfiguration{{
			CertificateArn: aws.String("arn:aws:acm:us-east-1:123456789012:certificate/abc"),
			EndpointType:   types.EndpointTypeRegional, SecurityPolicy: types.SecurityPolicyTls12,
		}},
		Tags: map[string]string{"env": "test"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := out.DomainNameConfigurations
	if aws.ToString(out.DomainName) != "chat.example.com" || aws.ToString(out.ApiMappingSelectionExpression) != "$request.basepath" ||
		aws.ToString(out.DomainNameArn) != "arn:aws:apigateway:us-east-1::/domainnames/chat.example.com" ||
		out.RoutingMode != types.RoutingModeApiMappingOnly || out.Tags["env"] != "test" || len(cfg) != 1 ||
		aws.ToString(cfg[0].CertificateArn) != "arn:aws:acm:us-east-1:123456789012:certificate/abc" ||
		cfg[0].DomainNameStatus != types.DomainNameStatusAvailable || aws.ToString(cfg[0].ApiGatewayDomainName) != "chat.example.com" ||
		cfg[0].IpAddressType != types.IpAddressTypeIpv4 {
		t.Errorf("CreateDomainName output: %+v", out)
	}
	if d := f.servedSet().Domain("chat.example.com"); d == nil {
		t.Error("the new domain is not in the served domain index")
	}

	for _, name := range []string{"b.example.com", "c.example.com"} {
		if _, err := c.CreateDomainName(ctx, &apigatewayv2.CreateDomainNameInput{DomainName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	var token *string
	for {
		page, err := c.GetDomainNames(ctx, &apigatewayv2.GetDomainNamesInput{MaxResults: aws.String("2"), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Items {
			names = append(names, aws.ToString(d.DomainName))
		}
		if token = page.NextToken; token == nil {
			break
		}
	}
	if strings.Join(names, ",") != "chat.example.com,b.example.com,c.example.com" {
		t.Errorf("listed %v", names)
	}

	upd, err := c.UpdateDomainName(ctx, &apigatewayv2.UpdateDomainNameInput{DomainName: aws.String("chat.example.com"),
		DomainNameConfigurations: []types.DomainNameConfiguration{{CertificateArn: aws.String("arn:aws:acm:us-east-1:123456789012:certificate/new")}}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(upd.DomainNameConfigurations[0].CertificateArn) != "arn:aws:acm:us-east-1:123456789012:certificate/new" ||
		upd.DomainNameConfigurations[0].EndpointType != types.EndpointTypeRegional || upd.Tags["env"] != "test" {
		t.Errorf("UpdateDomainName output: %+v", upd)
	}

	cases := []struct {
		name string
		call func() error
		want string
	}{
		{"duplicate", func() error {
			_, err := c.CreateDomainName(ctx, &apigatewayv2.CreateDomainNameInput{DomainName: aws.String("chat.example.com")})
			return err
		}, "ConflictException"},
		{"invalid name", func() error {
			_, err := c.CreateDomainName(ctx, &apigatewayv2.CreateDomainNameInput{DomainName: aws.String("under_score.example.com")})
			return err
		}, "BadRequestException"},
		{"EDGE", func() error {
			_, err := c.CreateDomainName(ctx, &apigatewayv2.CreateDomainNameInput{DomainName: aws.String("edge.example.com"),
				DomainNameConfigurations: []types.DomainNameConfiguration{{EndpointType: types.EndpointTypeEdge}}})
			return err
		}, "BadRequestException"},
		{"TLS_1_0", func() error {
			_, err := c.CreateDomainName(ctx, &apigatewayv2.CreateDomainNameInput{DomainName: aws.String("tls.example.com"),
				DomainNameConfigurations: []types.DomainNameConfiguration{{SecurityPolicy: types.SecurityPolicyTls10}}})
			return err
		}, "BadRequestException"},
		{"mutual TLS", func() error {
			_, err := c.CreateDomainName(ctx, &apigatewayv2.CreateDomainNameInput{DomainName: aws.String("mtls.example.com"),
				MutualTlsAuthentication: &types.MutualTlsAuthenticationInput{TruststoreUri: aws.String("s3://b/k")}})
			return err
		}, "BadRequestException"},
		{"unknown", func() error {
			_, err := c.GetDomainName(ctx, &apigatewayv2.GetDomainNameInput{DomainName: aws.String("nosuch.example.com")})
			return err
		}, "NotFoundException"},
		{"delete", func() error {
			_, err := c.DeleteDomainName(ctx, &apigatewayv2.DeleteDomainNameInput{DomainName: aws.String("b.example.com")})
			return err
		}, ""},
		{"deleted", func() error {
			_, err := c.GetDomainName(ctx, &apigatewayv2.GetDomainNameInput{DomainName: aws.String("b.example.com")})
			return err
		}, "NotFoundException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := errorCode(tc.call()); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestAPIMappingsSDK is the seeds' setup made through the SDK — exanub.es/chat serving the API's dev
// stage — and AWS's mapping rules, checked against what the data plane serves.
func TestAPIMappingsSDK(t *testing.T) {
	ctx := context.Background()
	f := newCatalogFixture(t, nil)
	f.seedAPI(fixtureAPI)
	c := f.client
	api := aws.String(fixtureAPI)
	domain := aws.String("exanub.es")

	if _, err := c.CreateDomainName(ctx, &apigatewayv2.CreateDomainNameInput{DomainName: domain}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: api, StageName: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
	// aws apigatewayv2 create-api-mapping --domain-name exanub.es --api-mapping-key chat --api-id X --stage dev
	m, err := c.CreateApiMapping(ctx, &apigatewayv2.CreateApiMappingInput{DomainName: domain, ApiMappingKey: aws.String("chat"), ApiId: api, Stage: aws.String("dev")})
	if err != nil {
		t.Fatal(err)
	}
	if len(aws.ToString(m.ApiMappingId)) != 6 || aws.ToString(m.ApiMappingKey) != "chat" || aws.ToString(m.ApiId) != fixtureAPI || aws.ToString(m.Stage) != "dev" {
		t.Errorf("CreateApiMapping output: %+v", m)
	}
	// The stage has no deployment yet: the mapping exists but serves nothing.
	if d := f.servedSet().Domain("exanub.es"); d == nil || d.Mappings["chat"] != nil {
		t.Errorf("served domain before the stage is deployed: %+v", d)
	}
	if _, err := c.CreateDeployment(ctx, &apigatewayv2.CreateDeploymentInput{ApiId: api, StageName: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
	if d := f.servedSet().Domain("exanub.es"); d == nil || d.Mappings["chat"] == nil || d.Mappings["chat"].Name != "dev" {
		t.Errorf("served domain after the deployment: %+v", d)
	}

	root, err := c.CreateApiMapping(ctx, &apigatewayv2.CreateApiMappingInput{DomainName: domain, ApiId: api, Stage: aws.String("dev")})
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		call func() error
		want string
	}{
		{"duplicate key", func() error {
			_, err := c.CreateApiMapping(ctx, &apigatewayv2.CreateApiMappingInput{DomainName: domain, ApiMappingKey: aws.String("chat"), ApiId: api, Stage: aws.String("dev")})
			return err
		}, "ConflictException"},
		{"second empty key", func() error {
			_, err := c.CreateApiMapping(ctx, &apigatewayv2.CreateApiMappingInput{DomainName: domain, ApiId: api, Stage: aws.String("dev")})
			return err
		}, "ConflictException"},
		{"key with a slash", func() error {
			_, err := c.CreateApiMapping(ctx, &apigatewayv2.CreateApiMappingInput{DomainName: domain, ApiMappingKey: aws.String("v1/chat"), ApiId: api, Stage: aws.String("dev")})
			return err
		}, "BadRequestException"},
		{"unknown API", func() error {
			_, err := c.CreateApiMapping(ctx, &apigatewayv2.CreateApiMappingInput{DomainName: domain, ApiMappingKey: aws.String("x"), ApiId: aws.String("nosuchapi"), Stage: aws.String("dev")})
			return err
		}, "NotFoundException"},
		{"unknown stage", func() error {
			_, err := c.CreateApiMapping(ctx, &apigatewayv2.CreateApiMappingInput{DomainName: domain, ApiMappingKey: aws.String("x"), ApiId: api, Stage: aws.String("nosuch")})
			return err
		}, "BadRequestException"},
		{"unknown domain", func() error {
			_, err := c.GetApiMappings(ctx, &apigatewayv2.GetApiMappingsInput{DomainName: aws.String("nosuch.example.com")})
			return err
		}, "NotFoundException"},
		{"unknown mapping", func() error {
			_, err := c.GetApiMapping(ctx, &apigatewayv2.GetApiMappingInput{DomainName: domain, ApiMappingId: aws.String("nosuch")})
			return err
		}, "NotFoundException"},
		{"update onto a used key", func() error {
			_, err := c.UpdateApiMapping(ctx, &apigatewayv2.UpdateApiMappingInput{DomainName: domain, ApiMappingId: root.ApiMappingId, ApiId: api, ApiMappingKey: aws.String("chat")})
			return err
		}, "ConflictException"},
		{"delete a mapped stage", func() error {
			_, err := c.DeleteStage(ctx, &apigatewayv2.DeleteStageInput{ApiId: api, StageName: aws.String("dev")})
			return err
		}, "BadRequestException (untyped)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := errorCode(tc.call()); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}

	// Update: the key moves, and the data plane follows.
	upd, err := c.UpdateApiMapping(ctx, &apigatewayv2.UpdateApiMappingInput{DomainName: domain, ApiMappingId: m.ApiMappingId, ApiId: api, ApiMappingKey: aws.String("talk")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(upd.ApiMappingKey) != "talk" || aws.ToString(upd.Stage) != "dev" || aws.ToString(upd.ApiMappingId) != aws.ToString(m.ApiMappingId) {
		t.Errorf("UpdateApiMapping output: %+v", upd)
	}
	if d := f.servedSet().Domain("exanub.es"); d.Mappings["talk"] == nil || d.Mappings["chat"] != nil {
		t.Errorf("served mappings after the update: %v", d.Mappings)
	}
	got, err := c.GetApiMapping(ctx, &apigatewayv2.GetApiMappingInput{DomainName: domain, ApiMappingId: m.ApiMappingId})
	if err != nil || aws.ToString(got.ApiMappingKey) != "talk" {
		t.Errorf("GetApiMapping: %+v, %v", got, err)
	}

	// List with pagination, then delete.
	var keys []string
	var token *string
	for {
		page, err := c.GetApiMappings(ctx, &apigatewayv2.GetApiMappingsInput{DomainName: domain, MaxResults: aws.String("1"), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			keys = append(keys, aws.ToString(it.ApiMappingKey))
		}
		if token = page.NextToken; token == nil {
			break
		}
	}
	if strings.Join(keys, ",") != "talk," {
		t.Errorf("listed keys %q", keys)
	}
	for _, id := range []*string{m.ApiMappingId, root.ApiMappingId} {
		if _, err := c.DeleteApiMapping(ctx, &apigatewayv2.DeleteApiMappingInput{DomainName: domain, ApiMappingId: id}); err != nil {
			t.Fatal(err)
		}
	}
	if d := f.servedSet().Domain("exanub.es"); d == nil || len(d.Mappings) != 0 {
		t.Errorf("served domain after deleting its mappings: %+v", d)
	}
	if _, err := c.DeleteStage(ctx, &apigatewayv2.DeleteStageInput{ApiId: api, StageName: aws.String("dev")}); err != nil {
		t.Errorf("deleting the stage once unmapped: %v", err)
	}
}

// TestAPIMappingsProtocolRules checks CreateApiMapping and UpdateApiMapping against AWS's rules for a
// domain shared by API kinds: a domain maps WebSocket APIs or HTTP APIs, never both (the
// BadRequestException text is AWS's), and only HTTP APIs take multi-level mapping keys.
func TestAPIMappingsProtocolRules(t *testing.T) {
	ctx := context.Background()
	f := newCatalogFixture(t, nil)
	f.seedAPI(fixtureAPI)
	c := f.client
	ws := aws.String(fixtureAPI)
	if _, err := c.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: ws, StageName: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
	created, err := c.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("pets"), ProtocolType: types.ProtocolTypeHttp})
	if err != nil {
		t.Fatal(err)
	}
	httpAPI := created.ApiId
	if _, err := c.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: httpAPI, StageName: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"chat.example.com", "pets.example.com"} {
		if _, err := c.CreateDomainName(ctx, &apigatewayv2.CreateDomainNameInput{DomainName: aws.String(d)}); err != nil {
			t.Fatal(err)
		}
	}
	mapping := func(domain, key string, api *string) (*apigatewayv2.CreateApiMappingOutput, error) {
		return c.CreateApiMapping(ctx, &apigatewayv2.CreateApiMappingInput{DomainName: aws.String(domain), ApiMappingKey: aws.String(key), ApiId: api, Stage: aws.String("dev")})
	}
	if _, err := mapping("chat.example.com", "chat", ws); err != nil {
		t.Fatal(err)
	}
	second, err := mapping("chat.example.com", "talk", ws)
	if err != nil {
		t.Fatal(err)
	}
	multi, err := mapping("pets.example.com", "v1/pets", httpAPI)
	if err != nil {
		t.Fatalf("multi-level key for an HTTP API: %v", err)
	}
	if aws.ToString(multi.ApiMappingKey) != "v1/pets" {
		t.Errorf("CreateApiMapping output: %+v", multi)
	}

	const mixed = "Currently, WebSocket APIs can only be attached to a domain name with other WebSocket APIs."
	cases := []struct {
		name      string
		call      func() error
		want, msg string
	}{
		{"HTTP API on a WebSocket domain", func() error { _, err := mapping("chat.example.com", "pets", httpAPI); return err }, "BadRequestException", mixed},
		{"WebSocket API on an HTTP domain", func() error { _, err := mapping("pets.example.com", "chat", ws); return err }, "BadRequestException", mixed},
		{"update onto the other kind", func() error {
			_, err := c.UpdateApiMapping(ctx, &apigatewayv2.UpdateApiMappingInput{DomainName: aws.String("chat.example.com"), ApiMappingId: second.ApiMappingId, ApiId: httpAPI, Stage: aws.String("dev")})
			return err
		}, "BadRequestException", mixed},
		{"multi-level key for a WebSocket API", func() error { _, err := mapping("chat.example.com", "v1/chat", ws); return err }, "BadRequestException", "no /"},
		{"HTTP key with an empty level", func() error { _, err := mapping("pets.example.com", "v1//pets", httpAPI); return err }, "BadRequestException", "separated by single /"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if got := errorCode(err); got != tc.want || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("got %q (%v), want %s with %q", got, err, tc.want, tc.msg)
			}
		})
	}
	// The only mapping of a domain may be replaced by one of the other kind.
	if _, err := c.UpdateApiMapping(ctx, &apigatewayv2.UpdateApiMappingInput{DomainName: aws.String("pets.example.com"), ApiMappingId: multi.ApiMappingId, ApiId: ws, ApiMappingKey: aws.String("chat"), Stage: aws.String("dev")}); err != nil {
		t.Errorf("moving a domain's only mapping to a WebSocket API: %v", err)
	}
}
