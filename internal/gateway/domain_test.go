package gateway_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/coder/websocket"

	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// TestCustomDomainExanubesFlow is the seeds' custom-domain setup: exanub.es/chat → the API's dev stage,
// disableExecuteApiEndpoint on, and a handler that builds its callback URL from requestContext.domainName
// and the API_KEY_MAPPING stage variable.
func TestCustomDomainExanubesFlow(t *testing.T) {
	var g *gatewaytest.Gateway
	// The handler resolves every host to the gateway, as DNS would for exanub.es.
	viaGateway := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, g.Addr())
	}}}
	be := gatewaytest.NewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/sendmessage" {
			return
		}
		endpoint := "http://" + r.Header.Get("X-Domain") + "/" + r.Header.Get("X-Mapping")
		api := apigatewaymanagementapi.New(apigatewaymanagementapi.Options{BaseEndpoint: aws.String(endpoint), Region: "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""), HTTPClient: viaGateway})
		_, err := api.PostToConnection(r.Context(), &apigatewaymanagementapi.PostToConnectionInput{
			ConnectionId: aws.String(r.Header.Get("connectionId")), Data: []byte("stage=" + r.Header.Get("X-Stage") + " via " + endpoint)})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
		}
	})
	g = gatewaytest.Start(t, fmt.Sprintf(`
apis:
  - name: chat
    apiId: chatapi
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    disableExecuteApiEndpoint: true
    integrations:
      - integrationId: be
        integrationType: HTTP_PROXY
        integrationUri: "%s/sendmessage"
        requestParameters:
          integration.request.header.connectionId: context.connectionId
          integration.request.header.X-Domain: context.domainName
          integration.request.header.X-Stage: context.stage
          integration.request.header.X-Mapping: stageVariables.API_KEY_MAPPING
    routes: [{routeKey: sendmessage, target: integrations/be}]
    stages: [{stageName: dev, stageVariables: {API_KEY_MAPPING: chat}}]
domainNames:
  - domainName: exanub.es
    apiMappings: [{apiId: chatapi, stage: dev, apiMappingKey: chat}]
  - domainName: "*.rooms.test"
    apiMappings: [{apiId: chatapi, stage: dev}]
`, be.URL))

	dial := func(host, path string) (*gatewaytest.Client, error) {
		return gatewaytest.TryDial(t, g.WSURL+path, &websocket.DialOptions{Host: host})
	}
	t.Run("the mapping key reaches the real stage, and the handler posts back through the domain", func(t *testing.T) {
		c, err := dial("exanub.es", "/chat")
		if err != nil {
			t.Fatal(err)
		}
		c.Send(`{"action":"sendmessage"}`)
		if got, want := c.Read(), "stage=dev via http://exanub.es/chat"; got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
	for _, tc := range []struct {
		name, host, path string
		status           int
	}{
		{"trailing slash", "exanub.es", "/chat/", 101},
		{"host is case-insensitive, with a port", "EXANUB.ES:443", "/chat", 101},
		{"wildcard domain with a root mapping", "eu.rooms.test", "/", 101},
		{"unknown mapping key", "exanub.es", "/other", 403},
		{"no root mapping", "exanub.es", "/", 403},
		{"extra segments after the key", "exanub.es", "/chat/x", 403},
		{"default endpoint disabled: path form", "", "/chatapi/dev", 403},
		{"default endpoint disabled: execute-api host", "chatapi.execute-api.us-east-1.amazonaws.com", "/dev", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := dial(tc.host, tc.path)
			if c.Response == nil || c.Response.StatusCode != tc.status {
				t.Fatalf("response %v (%v), want %d", c.Response, err, tc.status)
			}
		})
	}
	t.Run("@connections on the disabled default endpoint is 403 ForbiddenException", func(t *testing.T) {
		resp, err := http.Post(g.HTTPURL+"/chatapi/dev/@connections/AAAAAAAAAAAAAAA=", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "ForbiddenException" {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
		}
	})
}
