package natskv_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/catalog/catalogtest"
	"github.com/switchboard-gw/switchboard/internal/catalog/natskv"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// BenchmarkWrite measures one control-plane change (an integration's description) on a catalog of 20
// APIs saved to a JetStream bucket (file storage, one in-process server), against the same change saved
// to the data directory's file: what the shared catalog costs a change on top of the single node's.
//
//	go test -run '^$' -bench Write ./internal/catalog/natskv
func BenchmarkWrite(b *testing.B) {
	ctx := context.Background()
	apply := func(_ context.Context, served *resource.Bundle) error { _, err := snapshot.Compile(served); return err }
	apis := &resource.Bundle{}
	for i := range 20 {
		apis.APIs = append(apis.APIs, catalogtest.MockAPI(fmt.Sprintf("api%02d", i)))
	}
	run := func(b *testing.B, store catalog.Store) {
		c, err := catalog.Open(ctx, catalog.Options{Store: store, Apply: apply}, apis)
		if err != nil {
			b.Fatal(err)
		}
		i := 0
		for b.Loop() {
			i++
			if err := c.Write(ctx, func(st *catalog.State) error {
				st.APIs[i%20].Integrations[0].Description = fmt.Sprint(i)
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("file", func(b *testing.B) {
		run(b, &catalog.FileStore{Path: filepath.Join(b.TempDir(), "catalog.json")})
	})
	b.Run("jetstream", func(b *testing.B) {
		ns := startNATSB(b)
		_, js := connectB(b, ns)
		store, err := natskv.Open(ctx, js, natskv.Config{})
		if err != nil {
			b.Fatal(err)
		}
		run(b, store)
	})
}
