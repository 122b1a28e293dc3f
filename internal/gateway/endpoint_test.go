package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/coder/websocket"

	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// TestDisabledDefaultEndpointEveryForm: with disableExecuteApiEndpoint, every default endpoint form
// refuses the API — the handshake with 403, @connections with ForbiddenException, including the form
// that names only the stage while another API shares the stage name — and the custom domain still works.
func TestDisabledDefaultEndpointEveryForm(t *testing.T) {
	g := gatewaytest.Start(t, "apis:"+whoAmIAPI(t, "closed", true, "dev", "solo")+whoAmIAPI(t, "open", false, "dev")+`
domainNames:
  - domainName: exanub.es
    apiMappings: [{apiId: closed, stage: dev, apiMappingKey: chat}]
`)
	const closedHost = "closed.execute-api.us-east-1.amazonaws.com"
	owner := gatewaytest.Dial(t, g.WSURL+"/chat", &websocket.DialOptions{Host: "exanub.es"})
	id := connectionID(owner)
	for _, tc := range []struct{ name, host, path string }{
		{"API ID in the path", "", "/closed/dev"},
		{"API ID in the path, trailing slash", "", "/closed/dev/"},
		{"execute-api host", closedHost, "/dev"},
		{"execute-api host with a port", closedHost + ":443", "/dev"},
		{"stage alone, no other API has it", "", "/solo"},
	} {
		t.Run("handshake: "+tc.name, func(t *testing.T) {
			c, err := gatewaytest.TryDial(t, g.WSURL+tc.path, &websocket.DialOptions{Host: tc.host})
			if err == nil || c.Response == nil || c.Response.StatusCode != http.StatusForbidden {
				t.Fatalf("response %v, err %v; want 403", c.Response, err)
			}
		})
	}
	t.Run("handshake: stage alone shared with an open API reaches the open API", func(t *testing.T) {
		c := gatewaytest.Dial(t, g.WSURL+"/dev", nil)
		other := connectionID(c)
		// Through the stage-alone form a connection of the open API is reachable, the closed one's is not.
		if _, err := mgmtClient(g.HTTPURL+"/dev", http.DefaultClient).PostToConnection(context.Background(),
			&apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(other), Data: []byte("open")}); err != nil {
			t.Fatal(err)
		}
		if got := c.Read(); got != "open" {
			t.Fatalf("got %q", got)
		}
	})
	for _, tc := range []struct{ name, host, prefix string }{
		{"API ID in the path", "", "/closed/dev"},
		{"execute-api host", closedHost, "/dev"},
		{"stage alone, shared with an open API", "", "/dev"},
		{"stage alone, no other API has it", "", "/solo"},
	} {
		t.Run("@connections: "+tc.name, func(t *testing.T) {
			endpoint := g.HTTPURL + tc.prefix
			if tc.host != "" {
				endpoint = "http://" + tc.host + tc.prefix
			}
			api := mgmtClient(endpoint, viaGateway(g.Addr(), nil))
			ctx := context.Background()
			var forbidden *types.ForbiddenException
			if _, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
				ConnectionId: aws.String(id), Data: []byte("via " + tc.name)}); !errors.As(err, &forbidden) {
				t.Errorf("PostToConnection = %v, want ForbiddenException", err)
			}
			if _, err := api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)}); !errors.As(err, &forbidden) {
				t.Errorf("GetConnection = %v, want ForbiddenException", err)
			}
			if _, err := api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)}); !errors.As(err, &forbidden) {
				t.Errorf("DeleteConnection = %v, want ForbiddenException", err)
			}
		})
	}
	t.Run("@connections: the custom domain delivers", func(t *testing.T) {
		_, err := mgmtClient("http://exanub.es/chat", viaGateway(g.Addr(), nil)).PostToConnection(context.Background(),
			&apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("via the domain")})
		if err != nil {
			t.Fatal(err)
		}
		// In order: anything a refused form had delivered would come first.
		if got := owner.Read(); got != "via the domain" {
			t.Fatalf("the connection got %q first", got)
		}
	})
}

// TestUpgradeRequiredUnderAStage: a plain HTTP request anywhere under a stage — the stage itself or any
// path below it, in every endpoint form and under a custom domain's mapping — gets 426 Upgrade Required;
// a handshake must name the stage exactly (403 below it), and paths under no stage stay 403.
func TestUpgradeRequiredUnderAStage(t *testing.T) {
	g := gatewaytest.Start(t, "apis:"+whoAmIAPI(t, "chat", false, "dev")+whoAmIAPI(t, "closed", true, "live")+`
domainNames:
  - domainName: exanub.es
    apiMappings: [{apiId: chat, stage: dev, apiMappingKey: chat}]
`)
	get := func(t *testing.T, host, path string) (*http.Response, string) {
		t.Helper()
		return rawRequest(t, g.Addr(), "GET "+path+" HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
	}
	const chatHost = "chat.execute-api.us-east-1.amazonaws.com"
	for _, tc := range []struct {
		name, host, path string
		status           int
	}{
		{"stage alone", "localhost", "/dev", http.StatusUpgradeRequired},
		{"stage alone, a path below it", "localhost", "/dev/some/path", http.StatusUpgradeRequired},
		{"stage alone, a path below it with a trailing slash", "localhost", "/dev/some/", http.StatusUpgradeRequired},
		{"API ID in the path, a path below it", "localhost", "/chat/dev/x", http.StatusUpgradeRequired},
		{"execute-api host, a path below the stage", chatHost, "/dev/x/y", http.StatusUpgradeRequired},
		{"custom domain, a path below the mapping", "exanub.es", "/chat/x", http.StatusUpgradeRequired},
		{"unknown stage, a path below it", "localhost", "/prod/x", http.StatusForbidden},
		{"root", "localhost", "/", http.StatusForbidden},
		{"disabled default endpoint, a path below the stage", "localhost", "/closed/live/x", http.StatusForbidden},
		{"custom domain, unknown mapping", "exanub.es", "/other/x", http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, tc.host, tc.path)
			if resp.StatusCode != tc.status {
				t.Fatalf("GET %s (Host %s) = %d %s, want %d", tc.path, tc.host, resp.StatusCode, body, tc.status)
			}
			if tc.status == http.StatusUpgradeRequired && (resp.Header.Get("Upgrade") != "websocket" || !strings.Contains(body, "Upgrade Required")) {
				t.Fatalf("426 without the Upgrade header or message: %v %s", resp.Header, body)
			}
			if tc.status == http.StatusForbidden && body != `{"message":"Forbidden"}` {
				t.Fatalf("403 body %s", body)
			}
		})
	}
	for _, tc := range []struct{ name, host, path string }{
		{"stage alone, a path below it", "", "/dev/some/path"},
		{"custom domain, a path below the mapping", "exanub.es", "/chat/x"},
	} {
		t.Run("handshake: "+tc.name, func(t *testing.T) {
			c, err := gatewaytest.TryDial(t, g.WSURL+tc.path, &websocket.DialOptions{Host: tc.host})
			if err == nil || c.Response == nil || c.Response.StatusCode != http.StatusForbidden {
				t.Fatalf("response %v, err %v; want 403", c.Response, err)
			}
		})
	}
}
