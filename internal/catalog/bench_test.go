package catalog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// benchAPIs is a catalog of n APIs with ten MOCK routes and a stage each.
func benchAPIs(n int) *resource.Bundle {
	b := &resource.Bundle{}
	for i := range n {
		a := resource.API{APIID: fmt.Sprintf("api%d", i), Name: fmt.Sprintf("api%d", i), ProtocolType: resource.ProtocolWebSocket,
			RouteSelectionExpression: "$request.body.action",
			Integrations:             []resource.Integration{{IntegrationID: "mock", IntegrationType: resource.IntegrationMock}},
			Stages:                   []resource.Stage{{StageName: "dev"}}}
		for r := range 10 {
			a.Routes = append(a.Routes, resource.Route{RouteKey: fmt.Sprintf("route%d", r), Target: "integrations/mock"})
		}
		b.APIs = append(b.APIs, a)
	}
	return b
}

// BenchmarkWrite measures one control-plane change (an integration's description) on a catalog of 20
// APIs, through compile and a durable save, against the raw baseline of saving the same catalog file
// alone: the ratio is what the transaction (copy, auto-deploy, compile) costs on top of the fsyncs.
//
//	go test -run '^$' -bench Write ./internal/catalog
func BenchmarkWrite(b *testing.B) {
	ctx := context.Background()
	apply := func(_ context.Context, served *resource.Bundle) error { _, err := snapshot.Compile(served); return err }

	b.Run("raw-save", func(b *testing.B) {
		store := &catalog.FileStore{Path: filepath.Join(b.TempDir(), "catalog.json")}
		c, err := catalog.Open(ctx, catalog.Options{Store: store, Apply: apply}, benchAPIs(20))
		if err != nil {
			b.Fatal(err)
		}
		var data []byte
		c.Read(func(st *catalog.State) { data, _ = json.Marshal(st) })
		b.SetBytes(int64(len(data)))
		rev, err := store.Load(ctx)
		if err != nil {
			b.Fatal(err)
		}
		next := rev.Revision
		for b.Loop() {
			if next, err = store.Save(ctx, data, next); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("write", func(b *testing.B) {
		store := &catalog.FileStore{Path: filepath.Join(b.TempDir(), "catalog.json")}
		c, err := catalog.Open(ctx, catalog.Options{Store: store, Apply: apply}, benchAPIs(20))
		if err != nil {
			b.Fatal(err)
		}
		i := 0
		for b.Loop() {
			i++
			err := c.Write(ctx, func(st *catalog.State) error {
				st.APIs[i%20].Integrations[0].Description = fmt.Sprint(i)
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
