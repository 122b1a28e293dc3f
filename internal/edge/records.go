package edge

import (
	"context"

	"github.com/switchboard-gw/switchboard/internal/dispatch"
)

// Records keeps a record of every connection outside this node (a cluster's store), so that another
// node runs the connection's $disconnect if this one dies.
type Records interface {
	// Record starts storing c's record and returns a function that waits until it is stored; an error
	// from it refuses the handshake with 503. The edge starts it while the $connect integration runs
	// (its authorizer has allowed the connection) and waits for it before the upgrade, so that the
	// record's replicated write overlaps the integration; a connection $connect then refuses has its
	// record removed without a $disconnect.
	Record(ctx context.Context, c *dispatch.Connection) (wait func() error)
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
