package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"

	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// controlClient is the real aws-sdk-go-v2 apigatewayv2 client pointed at a control plane.
func controlClient(url string) *apigatewayv2.Client {
	return apigatewayv2.New(apigatewayv2.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String(url),
	})
}

// buildEchoAPI creates, through the control plane, a WebSocket API whose "ping" route answers with reply
// from a MOCK integration, plus a stage "dev" without a deployment. It returns the API's id and endpoint
// and the integration response's id.
func buildEchoAPI(ctx context.Context, t *testing.T, cp *apigatewayv2.Client, reply string) (apiID, endpoint, integrationID, responseID string) {
	t.Helper()
	api, err := cp.CreateApi(ctx, &apigatewayv2.CreateApiInput{
		Name: aws.String("echo"), ProtocolType: types.ProtocolTypeWebsocket, RouteSelectionExpression: aws.String("$request.body.action"),
	})
	if err != nil {
		t.Fatalf("CreateApi: %v", err)
	}
	in, err := cp.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{
		ApiId: api.ApiId, IntegrationType: types.IntegrationTypeMock,
		RequestTemplates: map[string]string{"$default": `{"statusCode": 200}`},
	})
	if err != nil {
		t.Fatalf("CreateIntegration: %v", err)
	}
	ir, err := cp.CreateIntegrationResponse(ctx, &apigatewayv2.CreateIntegrationResponseInput{
		ApiId: api.ApiId, IntegrationId: in.IntegrationId, IntegrationResponseKey: aws.String("$default"),
		ResponseTemplates: map[string]string{"$default": reply},
	})
	if err != nil {
		t.Fatalf("CreateIntegrationResponse: %v", err)
	}
	route, err := cp.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{
		ApiId: api.ApiId, RouteKey: aws.String("ping"), Target: aws.String("integrations/" + *in.IntegrationId),
		RouteResponseSelectionExpression: aws.String("$default"),
	})
	if err != nil {
		t.Fatalf("CreateRoute: %v", err)
	}
	if _, err := cp.CreateRouteResponse(ctx, &apigatewayv2.CreateRouteResponseInput{
		ApiId: api.ApiId, RouteId: route.RouteId, RouteResponseKey: aws.String("$default"),
	}); err != nil {
		t.Fatalf("CreateRouteResponse: %v", err)
	}
	if _, err := cp.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: api.ApiId, StageName: aws.String("dev")}); err != nil {
		t.Fatalf("CreateStage: %v", err)
	}
	return *api.ApiId, *api.ApiEndpoint, *in.IntegrationId, *ir.IntegrationResponseId
}

// ping sends a ping message on a new connection to url and returns the answer.
func ping(t *testing.T, url string) string {
	t.Helper()
	return send(t, url, `{"action":"ping"}`)
}

// send sends msg on a new connection to url and returns the answer.
func send(t *testing.T, url, msg string) string {
	t.Helper()
	c := gatewaytest.Dial(t, url, nil)
	defer c.Conn.CloseNow()
	c.Send(msg)
	return c.Read()
}

// TestControlPlaneWithSDK builds an API with the AWS SDK for Go v2, deploys it, and talks to it over a
// WebSocket dialled at apiEndpoint + "/" + stage, as a user following the AWS docs would.
func TestControlPlaneWithSDK(t *testing.T) {
	g := gatewaytest.Start(t, "apis: []\n", gatewaytest.WithControlPlane)
	cp := controlClient(g.ControlURL)
	ctx := context.Background()

	apiID, endpoint, integrationID, responseID := buildEchoAPI(ctx, t, cp, `{"v":1}`)
	if want := g.WSURL + "/" + apiID; endpoint != want {
		t.Fatalf("apiEndpoint = %q, want %q", endpoint, want)
	}

	// A stage without a deployment is not served.
	if _, err := gatewaytest.TryDial(t, endpoint+"/dev", nil); err == nil {
		t.Fatal("a stage without a deployment accepted a connection")
	}
	dep, err := cp.CreateDeployment(ctx, &apigatewayv2.CreateDeploymentInput{ApiId: &apiID, StageName: aws.String("dev")})
	if err != nil {
		t.Fatalf("CreateDeployment: %v", err)
	}
	if dep.DeploymentStatus != types.DeploymentStatusDeployed || dep.DeploymentId == nil {
		t.Fatalf("CreateDeployment = %+v", dep)
	}
	if got := ping(t, endpoint+"/dev"); got != `{"v":1}` {
		t.Fatalf("reply = %q, want {\"v\":1}", got)
	}

	// A change reaches traffic only through a new deployment.
	if _, err := cp.UpdateIntegrationResponse(ctx, &apigatewayv2.UpdateIntegrationResponseInput{
		ApiId: &apiID, IntegrationId: &integrationID, IntegrationResponseId: &responseID,
		ResponseTemplates: map[string]string{"$default": `{"v":2}`},
	}); err != nil {
		t.Fatalf("UpdateIntegrationResponse: %v", err)
	}
	if got := ping(t, endpoint+"/dev"); got != `{"v":1}` {
		t.Fatalf("before redeploying, reply = %q, want the deployed {\"v\":1}", got)
	}
	if _, err := cp.CreateDeployment(ctx, &apigatewayv2.CreateDeploymentInput{ApiId: &apiID, StageName: aws.String("dev")}); err != nil {
		t.Fatalf("CreateDeployment: %v", err)
	}
	if got := ping(t, endpoint+"/dev"); got != `{"v":2}` {
		t.Fatalf("after redeploying, reply = %q, want {\"v\":2}", got)
	}

	// An autoDeploy stage follows every change by itself.
	if _, err := cp.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: &apiID, StageName: aws.String("live"), AutoDeploy: aws.Bool(true)}); err != nil {
		t.Fatalf("CreateStage live: %v", err)
	}
	if got := ping(t, endpoint+"/live"); got != `{"v":2}` {
		t.Fatalf("live reply = %q, want {\"v\":2}", got)
	}
	if _, err := cp.UpdateIntegrationResponse(ctx, &apigatewayv2.UpdateIntegrationResponseInput{
		ApiId: &apiID, IntegrationId: &integrationID, IntegrationResponseId: &responseID,
		ResponseTemplates: map[string]string{"$default": `{"v":3}`},
	}); err != nil {
		t.Fatalf("UpdateIntegrationResponse: %v", err)
	}
	if got := ping(t, endpoint+"/live"); got != `{"v":3}` {
		t.Fatalf("live reply after a change = %q, want {\"v\":3}", got)
	}
	if got := ping(t, endpoint+"/dev"); got != `{"v":2}` {
		t.Fatalf("dev reply after a change = %q, want its deployment's {\"v\":2}", got)
	}

	// So does the route selection expression: the deployed stage keeps the one it was deployed with.
	if _, err := cp.UpdateApi(ctx, &apigatewayv2.UpdateApiInput{ApiId: &apiID, RouteSelectionExpression: aws.String("$request.body.kind")}); err != nil {
		t.Fatalf("UpdateApi: %v", err)
	}
	if got := ping(t, endpoint+"/dev"); got != `{"v":2}` {
		t.Fatalf("dev still selects by action: reply %q", got)
	}
	if got := send(t, endpoint+"/live", `{"kind":"ping"}`); got != `{"v":3}` {
		t.Fatalf("live selects by kind at once: reply %q", got)
	}
	if got := ping(t, endpoint+"/live"); !strings.Contains(got, `"message": "Forbidden"`) {
		t.Fatalf("live no longer selects by action: reply %q, want the Forbidden frame", got)
	}

	// Deleting the API stops serving it.
	if _, err := cp.DeleteApi(ctx, &apigatewayv2.DeleteApiInput{ApiId: &apiID}); err != nil {
		t.Fatalf("DeleteApi: %v", err)
	}
	if _, err := gatewaytest.TryDial(t, endpoint+"/dev", nil); err == nil {
		t.Fatal("a deleted API accepted a connection")
	}
}

// TestControlPlaneErrorsWithSDK checks that the SDK decodes the control plane's errors into its typed
// exceptions.
func TestControlPlaneErrorsWithSDK(t *testing.T) {
	g := gatewaytest.Start(t, "apis: []\n", gatewaytest.WithControlPlane)
	cp := controlClient(g.ControlURL)
	ctx := context.Background()
	apiID, _, integrationID, _ := buildEchoAPI(ctx, t, cp, `{}`)

	cases := []struct {
		name string
		call func() error
		want any
	}{
		{"unknown API is NotFoundException", func() error {
			_, err := cp.GetApi(ctx, &apigatewayv2.GetApiInput{ApiId: aws.String("nosuchapi0")})
			return err
		}, new(*types.NotFoundException)},
		{"unknown route is NotFoundException", func() error {
			_, err := cp.GetRoute(ctx, &apigatewayv2.GetRouteInput{ApiId: &apiID, RouteId: aws.String("nope123")})
			return err
		}, new(*types.NotFoundException)},
		{"duplicate route key is ConflictException", func() error {
			_, err := cp.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: &apiID, RouteKey: aws.String("ping"), Target: aws.String("integrations/" + integrationID)})
			return err
		}, new(*types.ConflictException)},
		{"duplicate stage is ConflictException", func() error {
			_, err := cp.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: &apiID, StageName: aws.String("dev")})
			return err
		}, new(*types.ConflictException)},
		{"missing routeSelectionExpression is BadRequestException", func() error {
			_, err := cp.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("x"), ProtocolType: types.ProtocolTypeWebsocket})
			return err
		}, new(*types.BadRequestException)},
		{"target naming no integration is BadRequestException", func() error {
			_, err := cp.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: &apiID, RouteKey: aws.String("other"), Target: aws.String("integrations/missing")})
			return err
		}, new(*types.BadRequestException)},
		{"timeout out of range is BadRequestException", func() error {
			_, err := cp.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{ApiId: &apiID, IntegrationType: types.IntegrationTypeMock, TimeoutInMillis: aws.Int32(30001)})
			return err
		}, new(*types.BadRequestException)},
		{"bad stage name is BadRequestException", func() error {
			_, err := cp.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: &apiID, StageName: aws.String("no spaces")})
			return err
		}, new(*types.BadRequestException)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.As(err, tc.want) {
				t.Fatalf("error %T %v is not %T", err, err, tc.want)
			}
		})
	}
}

// TestCatalogSurvivesRestart creates and deploys an API through the control plane, stops the gateway, and
// starts a new one on the same catalog file: the API is listed and served again.
func TestCatalogSurvivesRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "catalog.json")
	start := func() (*gateway.Gateway, func()) {
		g, err := gateway.New(gateway.Options{Listen: "127.0.0.1:0", ControlListen: "127.0.0.1:0", CatalogFile: file,
			ShutdownTimeout: 5 * time.Second, Logger: gatewaytest.Logger(t)})
		if err != nil {
			t.Fatalf("gateway.New: %v", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- g.Run(ctx) }()
		select {
		case <-g.Ready():
		case err := <-done:
			t.Fatalf("Run: %v", err)
		}
		return g, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	}
	ctx := context.Background()
	g1, stop1 := start()
	cp := controlClient("http://" + g1.ControlAddr())
	apiID, _, _, _ := buildEchoAPI(ctx, t, cp, `{"kept":true}`)
	if _, err := cp.CreateDeployment(ctx, &apigatewayv2.CreateDeploymentInput{ApiId: &apiID, StageName: aws.String("dev")}); err != nil {
		t.Fatalf("CreateDeployment: %v", err)
	}
	stop1()

	g2, stop2 := start()
	defer stop2()
	cp = controlClient("http://" + g2.ControlAddr())
	apis, err := cp.GetApis(ctx, &apigatewayv2.GetApisInput{})
	if err != nil {
		t.Fatalf("GetApis: %v", err)
	}
	if len(apis.Items) != 1 || *apis.Items[0].ApiId != apiID {
		t.Fatalf("after a restart GetApis = %+v, want the one API %s", apis.Items, apiID)
	}
	if want := "ws://" + g2.Addr() + "/" + apiID; *apis.Items[0].ApiEndpoint != want {
		t.Fatalf("apiEndpoint = %q, want %q (the new port)", *apis.Items[0].ApiEndpoint, want)
	}
	if got := ping(t, "ws://"+g2.Addr()+"/"+apiID+"/dev"); got != `{"kept":true}` {
		t.Fatalf("after a restart the reply is %q", got)
	}
}

// TestControlPlaneUnknownPath checks that a path the API does not have gets an AWS error, not a 404 page.
func TestControlPlaneUnknownPath(t *testing.T) {
	g := gatewaytest.Start(t, "apis: []\n", gatewaytest.WithControlPlane)
	resp, err := http.Get(g.ControlURL + "/v2/nothing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("X-Amzn-ErrorType") != "NotFoundException" {
		t.Fatalf("got %d %q", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
}

// TestControlPlaneChangesUnderTraffic changes an autoDeploy stage's API fifty times while a client keeps
// talking on one connection: every message is answered from one snapshot or the next, never with an
// error frame, and the connection stays open throughout.
func TestControlPlaneChangesUnderTraffic(t *testing.T) {
	g := gatewaytest.Start(t, "apis: []\n", gatewaytest.WithControlPlane)
	cp := controlClient(g.ControlURL)
	ctx := context.Background()
	apiID, endpoint, integrationID, responseID := buildEchoAPI(ctx, t, cp, `{"n":0}`)
	if _, err := cp.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: &apiID, StageName: aws.String("live"), AutoDeploy: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	c := gatewaytest.Dial(t, endpoint+"/live", nil)

	const changes = 50
	done := make(chan error, 1)
	go func() {
		for i := 1; i <= changes; i++ {
			_, err := cp.UpdateIntegrationResponse(ctx, &apigatewayv2.UpdateIntegrationResponseInput{
				ApiId: &apiID, IntegrationId: &integrationID, IntegrationResponseId: &responseID,
				ResponseTemplates: map[string]string{"$default": `{"n":` + strconv.Itoa(i) + `}`},
			})
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	last, answered := -1, 0
	var changeErr error
	for finished := false; !finished || last < changes; {
		select {
		case changeErr = <-done:
			finished = true
			if changeErr != nil {
				t.Fatalf("UpdateIntegrationResponse: %v", changeErr)
			}
		default:
		}
		c.Send(`{"action":"ping"}`)
		got := c.Read()
		var reply struct{ N *int }
		if err := json.Unmarshal([]byte(got), &reply); err != nil || reply.N == nil {
			t.Fatalf("message %d answered %q", answered, got)
		}
		if *reply.N < last {
			t.Fatalf("message %d answered from change %d after change %d", answered, *reply.N, last)
		}
		last = *reply.N
		answered++
	}
	t.Logf("%d messages over %d changes", answered, changes)
}
