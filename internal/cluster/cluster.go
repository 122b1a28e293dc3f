// Package cluster defines how Switchboard nodes talk to each other. A connection lives on exactly one node
// (the one whose ID is encoded in the connection ID); a node that receives an @connections call for another
// node's connection forwards it over a Bus to the owner and relays the answer.
//
// Implementations are named after their technology: membus (in-process, the single-node default and the
// multi-node test harness) and, later, natsbus.
package cluster

import (
	"context"
	"errors"
)

// NodeID identifies one gateway process within a cluster.
type NodeID uint16

// Handler answers one request addressed to this node.
type Handler func(ctx context.Context, req []byte) ([]byte, error)

// Bus delivers requests to other nodes and returns their replies.
type Bus interface {
	// Request sends req to node and waits for its reply or ctx's end.
	Request(ctx context.Context, node NodeID, req []byte) ([]byte, error)
}

// ErrNoNode is returned by Request when no node with that ID is reachable. For an @connections call this
// means the connection is gone: its owner no longer exists.
var ErrNoNode = errors.New("cluster: no such node")
