package gateway

import (
	"context"
	"log/slog"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/configfile"
	"github.com/switchboard-gw/switchboard/internal/integration"
	"github.com/switchboard-gw/switchboard/internal/integration/mock"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
)

// BenchmarkTracedInvokerIdle measures what the trace wrapper adds to an integration call when no console
// page watches and the route does not trace data (the common case), against the bare invoker.
func BenchmarkTracedInvokerIdle(b *testing.B) {
	f, err := configfile.Parse("bench.yaml", []byte(`
apis:
  - name: b
    apiId: b
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - {integrationId: m, integrationType: MOCK, requestTemplates: {"$default": '{"statusCode": 200}'}}
    routes:
      - {routeKey: $default, target: integrations/m}
    stages: [{stageName: dev, defaultRouteSettings: {loggingLevel: ERROR}}]
`))
	if err != nil {
		b.Fatal(err)
	}
	g, err := New(Options{Bundle: f.Bundle, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	obs := &observer{m: g.metrics, snapshots: &g.snapshots, log: g.log, limit: newLogLimiter(100, 200),
		accessLogs: &g.stageLogs, console: g.console}
	route := g.snapshots.Load().API("b").Stages["dev"].Route("$default")
	req := &integration.Request{Context: &proxyevent.RequestContext{APIID: "b", Stage: "dev", RouteKey: "$default",
		ConnectionID: "AAAAAAAAAAAAAAA="}, Body: []byte(`{"statusCode": 200}`)}
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		inv  integration.Invoker
	}{{"bare", mock.Invoker{}}, {"traced", tracedInvoker{next: mock.Invoker{}, obs: obs}}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.inv.Invoke(ctx, route.Integration, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
