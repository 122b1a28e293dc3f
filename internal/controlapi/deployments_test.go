package controlapi

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
)

func TestDeploymentsGolden(t *testing.T) {
	f := newCatalogFixture(t, nil)
	f.seedAPI(fixtureAPI)
	f.seedEmptyAPI("emptyapi01")
	api := "/v2/apis/" + fixtureAPI
	f.runGolden("b_deployments.golden", []goldenStep{
		{"POST", "/v2/apis/emptyapi01/deployments", `{}`},
		{"POST", "/v2/apis/nosuchapi/deployments", `{}`},
		{"POST", api + "/deployments", `{"description":"first"}`},
		{"POST", api + "/deployments", `{"stageName":"dev"}`},
		{"POST", api + "/stages", `{"stageName":"dev"}`},
		{"POST", api + "/deployments", `{"stageName":"dev","description":"to dev"}`},
		{"GET", api + "/stages/dev", ""},
		{"POST", api + "/stages", `{"stageName":"live","autoDeploy":true}`},
		{"POST", api + "/deployments", `{"stageName":"live"}`},
		{"GET", api + "/deployments", ""},
		{"GET", api + "/deployments?maxResults=2", ""},
		{"GET", api + "/deployments?maxResults=2&nextToken=2", ""},
		{"GET", api + "/deployments?nextToken=x", ""},
		{"GET", api + "/deployments/<deployment-1>", ""},
		{"GET", api + "/deployments/nosuch", ""},
		{"PATCH", api + "/deployments/<deployment-1>", `{"description":"renamed"}`},
		{"PATCH", api + "/deployments/<deployment-1>", `{"stageName":"dev"}`},
		{"DELETE", api + "/deployments/<deployment-2>", ""},
		{"DELETE", api + "/deployments/<deployment-1>", ""},
		{"GET", api + "/deployments/<deployment-1>", ""},
		{"POST", api + "/deployments", `{"description":"` + strings.Repeat("d", 1025) + `"}`},
	})
}

// TestDeploymentsSDK covers the deployment operations through the SDK: outputs, pagination, typed
// errors.
func TestDeploymentsSDK(t *testing.T) {
	ctx := context.Background()
	f := newCatalogFixture(t, nil)
	f.seedAPI(fixtureAPI)
	f.seedEmptyAPI("emptyapi01")
	c := f.client
	api := aws.String(fixtureAPI)

	if _, err := c.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: api, StageName: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 3 {
		in := &apigatewayv2.CreateDeploymentInput{ApiId: api, Description: aws.String("d" + string(rune('0'+i)))}
		if i == 2 {
			in.StageName = aws.String("dev")
		}
		out, err := c.CreateDeployment(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if len(aws.ToString(out.DeploymentId)) != 6 || out.DeploymentStatus != types.DeploymentStatusDeployed ||
			aws.ToBool(out.AutoDeployed) || !out.CreatedDate.Equal(fixtureNow) || aws.ToString(out.Description) != *in.Description {
			t.Errorf("CreateDeployment output: %+v", out)
		}
		ids = append(ids, aws.ToString(out.DeploymentId))
	}
	st, err := c.GetStage(ctx, &apigatewayv2.GetStageInput{ApiId: api, StageName: aws.String("dev")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(st.DeploymentId) != ids[2] {
		t.Errorf("stage dev points at %s, want %s", aws.ToString(st.DeploymentId), ids[2])
	}

	var listed []string
	var token *string
	pages := 0
	for {
		out, err := c.GetDeployments(ctx, &apigatewayv2.GetDeploymentsInput{ApiId: api, MaxResults: aws.String("2"), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, d := range out.Items {
			listed = append(listed, aws.ToString(d.DeploymentId))
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	if pages != 2 || strings.Join(listed, ",") != strings.Join(ids, ",") {
		t.Errorf("listed %v in %d pages, want %v in 2", listed, pages, ids)
	}

	upd, err := c.UpdateDeployment(ctx, &apigatewayv2.UpdateDeploymentInput{ApiId: api, DeploymentId: aws.String(ids[0]), Description: aws.String("new")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(upd.Description) != "new" || aws.ToString(upd.DeploymentId) != ids[0] {
		t.Errorf("UpdateDeployment output: %+v", upd)
	}

	cases := []struct {
		name string
		call func() error
		want string
	}{
		{"no routes", func() error {
			_, err := c.CreateDeployment(ctx, &apigatewayv2.CreateDeploymentInput{ApiId: aws.String("emptyapi01")})
			return err
		}, "BadRequestException"},
		{"unknown API", func() error {
			_, err := c.CreateDeployment(ctx, &apigatewayv2.CreateDeploymentInput{ApiId: aws.String("nosuchapi")})
			return err
		}, "NotFoundException"},
		{"unknown stage", func() error {
			_, err := c.CreateDeployment(ctx, &apigatewayv2.CreateDeploymentInput{ApiId: api, StageName: aws.String("nosuch")})
			return err
		}, "NotFoundException"},
		{"unknown deployment", func() error {
			_, err := c.GetDeployment(ctx, &apigatewayv2.GetDeploymentInput{ApiId: api, DeploymentId: aws.String("nosuch")})
			return err
		}, "NotFoundException"},
		{"delete a deployment in use", func() error {
			_, err := c.DeleteDeployment(ctx, &apigatewayv2.DeleteDeploymentInput{ApiId: api, DeploymentId: aws.String(ids[2])})
			return err
		}, "BadRequestException (untyped)"},
		{"delete an unused deployment", func() error {
			_, err := c.DeleteDeployment(ctx, &apigatewayv2.DeleteDeploymentInput{ApiId: api, DeploymentId: aws.String(ids[0])})
			return err
		}, ""},
		{"get the deleted deployment", func() error {
			_, err := c.GetDeployment(ctx, &apigatewayv2.GetDeploymentInput{ApiId: api, DeploymentId: aws.String(ids[0])})
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

// TestDeploymentsAreImmutable changes a route after deploying and checks what the data plane serves: the
// deployed stage keeps the old route until the next CreateDeployment.
func TestDeploymentsAreImmutable(t *testing.T) {
	ctx := context.Background()
	f := newCatalogFixture(t, nil)
	f.seedAPI(fixtureAPI)
	c := f.client
	api := aws.String(fixtureAPI)

	if _, err := c.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: api, StageName: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
	if got := f.servedRoutes(fixtureAPI, "dev"); got != nil {
		t.Fatalf("a stage without a deployment is served: %v", got)
	}
	first, err := c.CreateDeployment(ctx, &apigatewayv2.CreateDeploymentInput{ApiId: api, StageName: aws.String("dev")})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.servedRoutes(fixtureAPI, "dev"), ","); got != "$connect,sendmessage" {
		t.Fatalf("after the first deployment the stage serves %q", got)
	}

	f.renameRoute(fixtureAPI, "route02", "chat")
	if got := strings.Join(f.servedRoutes(fixtureAPI, "dev"), ","); got != "$connect,sendmessage" {
		t.Errorf("a change to the API reached the deployed stage: it serves %q", got)
	}
	if s := f.servedStage(fixtureAPI, "dev"); s == nil || s.DeploymentID != aws.ToString(first.DeploymentId) {
		t.Errorf("the served stage is %+v, want deployment %s", s, aws.ToString(first.DeploymentId))
	}

	// A deployment without a stage changes nothing that is served.
	if _, err := c.CreateDeployment(ctx, &apigatewayv2.CreateDeploymentInput{ApiId: api}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.servedRoutes(fixtureAPI, "dev"), ","); got != "$connect,sendmessage" {
		t.Errorf("an unassociated deployment changed the stage: it serves %q", got)
	}

	if _, err := c.CreateDeployment(ctx, &apigatewayv2.CreateDeploymentInput{ApiId: api, StageName: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.servedRoutes(fixtureAPI, "dev"), ","); got != "$connect,chat" {
		t.Errorf("after redeploying the stage serves %q", got)
	}

	// Pointing the stage back at the first deployment serves the old routes again.
	if _, err := c.UpdateStage(ctx, &apigatewayv2.UpdateStageInput{ApiId: api, StageName: aws.String("dev"), DeploymentId: first.DeploymentId}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.servedRoutes(fixtureAPI, "dev"), ","); got != "$connect,sendmessage" {
		t.Errorf("after rolling back the stage serves %q", got)
	}
}
