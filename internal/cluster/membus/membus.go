// Package membus is the in-process cluster.Bus: every node attached to one Hub can reach every other. It is
// the single-node default (no sockets, no external server) and lets tests run several nodes in one process.
package membus

import (
	"context"
	"fmt"
	"sync"

	"github.com/switchboard-gw/switchboard/internal/cluster"
)

// Hub connects the nodes of one in-process cluster.
type Hub struct {
	mu    sync.RWMutex
	nodes map[cluster.NodeID]cluster.Handler
}

// NewHub returns an empty Hub.
func NewHub() *Hub {
	return &Hub{nodes: make(map[cluster.NodeID]cluster.Handler)}
}

// Attach registers node's handler and returns the node's view of the bus and a function that detaches it.
func (h *Hub) Attach(node cluster.NodeID, handler cluster.Handler) (cluster.Bus, func(), error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, dup := h.nodes[node]; dup {
		return nil, nil, fmt.Errorf("membus: node %d is already attached", node)
	}
	h.nodes[node] = handler
	detach := func() {
		h.mu.Lock()
		delete(h.nodes, node)
		h.mu.Unlock()
	}
	return &bus{hub: h}, detach, nil
}

type bus struct{ hub *Hub }

var _ cluster.Bus = (*bus)(nil)

// Request calls the handler of node directly, in the caller's goroutine.
func (b *bus) Request(ctx context.Context, node cluster.NodeID, req []byte) ([]byte, error) {
	b.hub.mu.RLock()
	handler, ok := b.hub.nodes[node]
	b.hub.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("request node %d: %w", node, cluster.ErrNoNode)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}
