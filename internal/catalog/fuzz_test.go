package catalog_test

import (
	"context"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// FuzzOpen feeds arbitrary catalog files to Open: it must fail with an error or load a catalog that
// compiles and saves again, never panic.
func FuzzOpen(f *testing.F) {
	f.Add([]byte(`{"version":1,"state":{"apis":[]}}`))
	f.Add([]byte(`{"version":1,"state":{"apis":[{"apiId":"a1","name":"a","protocolType":"WEBSOCKET","routeSelectionExpression":"$request.body.action","source":"api","createdDate":"2024-01-01T00:00:00Z","routes":[{"routeKey":"$default"}],"stages":[{"stageName":"dev","autoDeploy":true}]}]}}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":1,"state":{"apis":[{"apiId":"a1","stages":[{"stageName":"dev","deploymentId":"nope"}]}]}}`))
	f.Add([]byte(`{"version":1,"state":{"apiKeys":[{"id":"k","value":"v","source":"api"}],"usagePlans":[{"id":"p","keyIds":["k","x"],"source":"api"}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		store := &memStore{data: data}
		apply := func(_ context.Context, b *resource.Bundle) error { _, err := snapshot.Compile(b); return err }
		c, err := catalog.Open(context.Background(), catalog.Options{Store: store, Apply: apply}, nil)
		if err != nil {
			return
		}
		// What loaded must take another change and load again from what was saved.
		if err := c.Write(context.Background(), func(*catalog.State) error { return nil }); err != nil {
			t.Fatalf("a loaded catalog refuses an empty change: %v", err)
		}
		if _, err := catalog.Open(context.Background(), catalog.Options{Store: store, Apply: apply}, nil); err != nil {
			t.Fatalf("a saved catalog does not load again: %v", err)
		}
	})
}
