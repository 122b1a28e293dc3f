package mgmtapi_test

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// connectedAtConfig sends $connect, $default and $disconnect to a recording backend with the event's
// requestContext.connectedAt ($context.connectedAt) and connection ID as headers.
const connectedAtConfig = `
apis:
  - name: at
    apiId: at
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: connect
        integrationType: HTTP_PROXY
        integrationUri: %[1]s/connect
        requestParameters: &headers
          integration.request.header.connectionId: context.connectionId
          integration.request.header.X-Connected-At: context.connectedAt
      - {integrationId: message, integrationType: HTTP_PROXY, integrationUri: "%[1]s/message", requestParameters: *headers}
      - {integrationId: disconnect, integrationType: HTTP_PROXY, integrationUri: "%[1]s/disconnect", requestParameters: *headers}
    routes:
      - {routeKey: $connect, target: integrations/connect}
      - {routeKey: $default, target: integrations/message}
      - {routeKey: $disconnect, target: integrations/disconnect}
    stages: [{stageName: dev}]
`

// TestConnectedAtIsOneInstant checks that GetConnection (through the SDK) reports, to the millisecond,
// the connectedAt the $connect event carried, and that the message and $disconnect events carry it too.
// The $connect backend answers only once the clock has left connectedAt's millisecond, as any backend
// doing real work would: a connectedAt taken again after $connect then always differs.
func TestConnectedAtIsOneInstant(t *testing.T) {
	b := gatewaytest.NewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if at, err := strconv.ParseInt(r.Header.Get("X-Connected-At"), 10, 64); err == nil && r.URL.Path == "/connect" {
			<-time.After(time.Until(time.UnixMilli(at + 1)))
		}
	})
	g := gatewaytest.Start(t, fmt.Sprintf(connectedAtConfig, b.URL))
	c := gatewaytest.Dial(t, g.WSURL+"/at/dev", nil)
	connect := b.WaitFor(t, wait, func(r gatewaytest.Request) bool { return r.Path == "/connect" })
	id := connect.Header.Get("connectionId")
	eventAt, err := strconv.ParseInt(connect.Header.Get("X-Connected-At"), 10, 64)
	if err != nil || id == "" {
		t.Fatalf("$connect request: connectionId %q, X-Connected-At %q (%v)", id, connect.Header.Get("X-Connected-At"), err)
	}

	api := sdkV2(t, g.HTTPURL+"/at/dev", httpClient(g, false))
	out, err := api.GetConnection(ctxT(t), &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
	if err != nil {
		t.Fatalf("GetConnection: %v", err)
	}
	if got := aws.ToTime(out.ConnectedAt).UnixMilli(); got != eventAt {
		t.Errorf("GetConnection connectedAt = %d (%v), the $connect event's = %d (%v)",
			got, aws.ToTime(out.ConnectedAt).UTC(), eventAt, time.UnixMilli(eventAt).UTC())
	}
	if last := aws.ToTime(out.LastActiveAt); last.UnixMilli() < eventAt {
		t.Errorf("lastActiveAt %v is before connectedAt %v", last, time.UnixMilli(eventAt))
	}

	c.Send(`{"action":"anything"}`)
	msg := b.WaitFor(t, wait, func(r gatewaytest.Request) bool { return r.Path == "/message" })
	if err := c.Conn.CloseNow(); err != nil {
		t.Fatal(err)
	}
	disc := b.WaitFor(t, wait, func(r gatewaytest.Request) bool { return r.Path == "/disconnect" })
	for name, r := range map[string]gatewaytest.Request{"message": msg, "$disconnect": disc} {
		if got := r.Header.Get("X-Connected-At"); got != strconv.FormatInt(eventAt, 10) || r.Header.Get("connectionId") != id {
			t.Errorf("%s event: connectedAt %s of %s, want %d of %s", name, got, r.Header.Get("connectionId"), eventAt, id)
		}
	}
}
