package edge

import (
	"context"

	"github.com/switchboard-gw/switchboard/internal/dispatch"
)

// Records keeps a record of every connection outside this node (a cluster's store), so that another
// node runs the connection's $disconnect if this one dies.
type Records interface {
	// Record stores c's record once $connect has allowed it; an error refuses the handshake with 503.
	Record(ctx context.Context, c *dispatch.Connection) error
	// Forget removes c's record and calls disconnect (nil: nothing to run) when this node is the one to
	// run c's $disconnect: now, later (the store unreachable now), or never (another node claimed the
	// record when it declared this node dead).
	Forget(ctx context.Context, c *dispatch.Connection, disconnect func())
}

// DropAll closes every connection of this node with 1001 "Going away" and makes @connections answer 410
// for them at once, without refusing new connections: a cluster that declared this node dead has
// already given them up.
func (e *Edge) DropAll() int {
	e.mu.Lock()
	sessions := make([]*session, 0, len(e.live))
	for s := range e.live {
		sessions = append(sessions, s)
	}
	e.mu.Unlock()
	for _, s := range sessions {
		e.registry.Unregister(s.info.ID)
		s.goAway()
	}
	return len(sessions)
}
