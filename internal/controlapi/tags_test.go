package controlapi

import (
	"context"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
)

func TestTagsGolden(t *testing.T) {
	f := newCatalogFixture(t, nil)
	f.seedAPI(fixtureAPI)
	apiARN := url.PathEscape("arn:aws:apigateway:us-east-1::/apis/" + fixtureAPI)
	stageARN := url.PathEscape("arn:aws:apigateway:us-east-1::/apis/" + fixtureAPI + "/stages/dev")
	domainARN := url.PathEscape("arn:aws:apigateway:us-east-1::/domainnames/exanub.es")
	f.runGolden("b_tags.golden", []goldenStep{
		{"POST", "/v2/apis/" + fixtureAPI + "/stages", `{"stageName":"dev","tags":{"env":"dev"}}`},
		{"POST", "/v2/domainnames", `{"domainName":"exanub.es"}`},
		{"GET", "/v2/tags/" + stageARN, ""},
		{"POST", "/v2/tags/" + stageARN, `{"tags":{"team":"realtime","env":"test"}}`},
		{"GET", "/v2/tags/" + stageARN, ""},
		{"GET", "/v2/apis/" + fixtureAPI + "/stages/dev", ""},
		{"DELETE", "/v2/tags/" + stageARN + "?tagKeys=env&tagKeys=nosuch", ""},
		{"GET", "/v2/tags/" + stageARN, ""},
		{"DELETE", "/v2/tags/" + stageARN, ""},
		{"GET", "/v2/tags/" + apiARN, ""},
		{"POST", "/v2/tags/" + apiARN, `{"tags":{"owner":"chat"}}`},
		{"GET", "/v2/tags/" + apiARN, ""},
		{"POST", "/v2/tags/" + domainARN, `{"tags":{"zone":"public"}}`},
		{"GET", "/v2/tags/" + domainARN, ""},
		{"GET", "/v2/domainnames/exanub.es", ""},
		{"POST", "/v2/tags/" + domainARN, `{"tags":{"aws:reserved":"x"}}`},
		{"POST", "/v2/tags/" + domainARN, `{"labels":{}}`},
		{"GET", "/v2/tags/" + url.PathEscape("arn:aws:apigateway:us-east-1::/apis/nosuchapi"), ""},
		{"GET", "/v2/tags/" + url.PathEscape("arn:aws:apigateway:us-east-1::/apis/"+fixtureAPI+"/stages/nosuch"), ""},
		{"GET", "/v2/tags/" + url.PathEscape("arn:aws:apigateway:us-east-1::/domainnames/nosuch.example.com"), ""},
		{"GET", "/v2/tags/" + url.PathEscape("arn:aws:apigateway:eu-west-1::/apis/"+fixtureAPI), ""},
		{"GET", "/v2/tags/" + url.PathEscape("arn:aws:apigateway:us-east-1::/apis/"+fixtureAPI+"/routes/route01"), ""},
		{"GET", "/v2/tags/not-an-arn", ""},
	})
}

// TestTagsSDK tags an API, a stage and a domain name through the SDK, which sends the ARN percent-encoded
// in one path segment.
func TestTagsSDK(t *testing.T) {
	ctx := context.Background()
	f := newCatalogFixture(t, nil)
	f.seedAPI(fixtureAPI)
	c := f.client
	if _, err := c.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: aws.String(fixtureAPI), StageName: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDomainName(ctx, &apigatewayv2.CreateDomainNameInput{DomainName: aws.String("exanub.es")}); err != nil {
		t.Fatal(err)
	}
	for _, arn := range []string{
		"arn:aws:apigateway:us-east-1::/apis/" + fixtureAPI,
		"arn:aws:apigateway:us-east-1::/apis/" + fixtureAPI + "/stages/dev",
		"arn:aws:apigateway:us-east-1::/domainnames/exanub.es",
	} {
		t.Run(arn, func(t *testing.T) {
			if _, err := c.TagResource(ctx, &apigatewayv2.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"a": "1", "b": "2"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.TagResource(ctx, &apigatewayv2.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"b": "3", "c": "4"}}); err != nil {
				t.Fatal(err)
			}
			got, err := c.GetTags(ctx, &apigatewayv2.GetTagsInput{ResourceArn: aws.String(arn)})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Tags) != 3 || got.Tags["a"] != "1" || got.Tags["b"] != "3" || got.Tags["c"] != "4" {
				t.Errorf("tags after two TagResource calls: %v", got.Tags)
			}
			if _, err := c.UntagResource(ctx, &apigatewayv2.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"a", "c"}}); err != nil {
				t.Fatal(err)
			}
			got, err = c.GetTags(ctx, &apigatewayv2.GetTagsInput{ResourceArn: aws.String(arn)})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Tags) != 1 || got.Tags["b"] != "3" {
				t.Errorf("tags after UntagResource: %v", got.Tags)
			}
		})
	}
	// The tags are the resource's own: GetStage and GetDomainName show them.
	st, err := c.GetStage(ctx, &apigatewayv2.GetStageInput{ApiId: aws.String(fixtureAPI), StageName: aws.String("dev")})
	if err != nil || st.Tags["b"] != "3" {
		t.Errorf("GetStage tags: %v, %v", st, err)
	}
	d, err := c.GetDomainName(ctx, &apigatewayv2.GetDomainNameInput{DomainName: aws.String("exanub.es")})
	if err != nil || d.Tags["b"] != "3" {
		t.Errorf("GetDomainName tags: %v, %v", d, err)
	}

	cases := []struct {
		name, arn string
		want      string
	}{
		{"unknown API", "arn:aws:apigateway:us-east-1::/apis/nosuchapi", "NotFoundException"},
		{"unknown stage", "arn:aws:apigateway:us-east-1::/apis/" + fixtureAPI + "/stages/nosuch", "NotFoundException"},
		{"unknown domain", "arn:aws:apigateway:us-east-1::/domainnames/nosuch.example.com", "NotFoundException"},
		{"other region", "arn:aws:apigateway:eu-west-1::/apis/" + fixtureAPI, "NotFoundException"},
		{"not taggable", "arn:aws:apigateway:us-east-1::/apis/" + fixtureAPI + "/routes/route01", "NotFoundException"},
		{"not an ARN", "chat", "NotFoundException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.GetTags(ctx, &apigatewayv2.GetTagsInput{ResourceArn: aws.String(tc.arn)})
			if got := errorCode(err); got != tc.want {
				t.Errorf("GetTags: got %q, want %q", got, tc.want)
			}
			_, err = c.TagResource(ctx, &apigatewayv2.TagResourceInput{ResourceArn: aws.String(tc.arn), Tags: map[string]string{"a": "b"}})
			if got := errorCode(err); got != tc.want {
				t.Errorf("TagResource: got %q, want %q", got, tc.want)
			}
		})
	}
	_, err = c.TagResource(ctx, &apigatewayv2.TagResourceInput{ResourceArn: aws.String("arn:aws:apigateway:us-east-1::/apis/" + fixtureAPI), Tags: map[string]string{"aws:x": "y"}})
	if errorCode(err) != "BadRequestException" {
		t.Errorf("a reserved tag key: %v", err)
	}
}
