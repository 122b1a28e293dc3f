package membus

import (
	"context"
	"errors"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/cluster"
	"github.com/switchboard-gw/switchboard/internal/cluster/clustertest"
)

func TestRequestReachesAttachedNode(t *testing.T) {
	hub := NewHub()
	echo := func(_ context.Context, req []byte) ([]byte, error) { return append([]byte("node2:"), req...), nil }
	if _, _, err := hub.Attach(2, echo); err != nil {
		t.Fatal(err)
	}
	bus, detach, err := hub.Attach(1, echo)
	if err != nil {
		t.Fatal(err)
	}
	got, err := bus.Request(context.Background(), 2, []byte("hi"))
	if err != nil || string(got) != "node2:hi" {
		t.Fatalf("Request = %q, %v", got, err)
	}
	if _, err := bus.Request(context.Background(), 9, nil); !errors.Is(err, cluster.ErrNoNode) {
		t.Fatalf("unknown node: err = %v, want ErrNoNode", err)
	}
	if _, _, err := hub.Attach(2, echo); err == nil {
		t.Fatal("attaching node 2 twice succeeded")
	}
	detach()
	if _, _, err := hub.Attach(1, echo); err != nil {
		t.Fatalf("re-attach after detach: %v", err)
	}
}

type memCluster struct{ hub *Hub }

func (c memCluster) Attach(t *testing.T, node cluster.NodeID, h cluster.Handler) (cluster.Bus, func()) {
	t.Helper()
	bus, detach, err := c.hub.Attach(node, h)
	if err != nil {
		t.Fatal(err)
	}
	return bus, detach
}

func TestConformance(t *testing.T) {
	clustertest.Run(t, func(*testing.T) clustertest.Cluster { return memCluster{NewHub()} })
}
