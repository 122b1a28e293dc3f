package gateway

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/switchboard-gw/switchboard/internal/awsid"
	"github.com/switchboard-gw/switchboard/internal/cluster"
	"github.com/switchboard-gw/switchboard/internal/console"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/edge"
	"github.com/switchboard-gw/switchboard/internal/registry"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// consolePrefix is where the development console is served on the control listener.
const consolePrefix = "/console/"

// consoleGateway gives the console its view of the gateway and its actions.
type consoleGateway struct{ g *Gateway }

var _ console.Gateway = consoleGateway{}

func (c consoleGateway) edge() *edge.Edge {
	c.g.mu.Lock()
	defer c.g.mu.Unlock()
	return c.g.edge
}

// Snapshot is the configuration being served.
func (c consoleGateway) Snapshot() *snapshot.Set { return c.g.snapshots.Load() }

// consoleListPage and consoleListTimeout bound how the console gathers the cluster's connections: pages
// of consoleListPage per node, all of them within consoleListTimeout.
const (
	consoleListPage    = 1000
	consoleListTimeout = 5 * time.Second
)

// Connections lists the live connections: this node's as the edge knows them (with their authorizer
// context), and in a cluster every other node's as their registries report them.
func (c consoleGateway) Connections() []console.Connection {
	e := c.edge()
	if e == nil {
		return nil
	}
	var out []console.Connection
	for _, dc := range e.Connections() {
		out = append(out, consoleConnection(dc))
	}
	if c.g.cluster == nil {
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), consoleListTimeout)
	defer cancel()
	node := c.g.registry.Node()
	for after := ""; ; {
		page, more, err := c.g.registry.List(ctx, registry.Scope{All: true}, after, consoleListPage)
		if err != nil {
			c.g.log.Warn("console: other nodes' connections left out of the list", "err", err)
			return out
		}
		for _, l := range page {
			if n, err := awsid.ConnectionNode(l.ID); err == nil && cluster.NodeID(n) == node {
				continue // listed above, from the edge
			}
			out = append(out, console.Connection{ID: l.ID, APIID: l.Scope.APIID, Stage: l.Scope.Stage,
				ConnectedAt: l.Info.ConnectedAt.UnixMilli(), SourceIP: l.Info.SourceIP, UserAgent: l.Info.UserAgent})
		}
		if !more || len(page) == 0 {
			return out
		}
		after = page[len(page)-1].ID
	}
}

// SendAsClient routes data as a message from connection id. Only this node's connections: the message
// is handled where the connection lives.
func (c consoleGateway) SendAsClient(_ context.Context, id string, data []byte) error {
	e := c.edge()
	if e == nil {
		return console.ErrGone
	}
	return goneAs(e.Inject(id, data))
}

// Post queues data for connection id, as PostToConnection does, on whichever node of the cluster owns it.
func (c consoleGateway) Post(ctx context.Context, id string, data []byte) error {
	return goneAs(c.g.registry.Send(ctx, registry.Scope{All: true}, id, data))
}

// Disconnect closes connection id, as DeleteConnection does, on whichever node of the cluster owns it.
func (c consoleGateway) Disconnect(ctx context.Context, id string) error {
	return goneAs(c.g.registry.Disconnect(ctx, registry.Scope{All: true}, id))
}

func goneAs(err error) error {
	if errors.Is(err, registry.ErrGone) || errors.Is(err, registry.ErrMalformedID) {
		return console.ErrGone
	}
	return err
}

func consoleConnection(dc *dispatch.Connection) console.Connection {
	return console.Connection{ID: dc.ID, APIID: dc.APIID, Stage: dc.Stage, ConnectedAt: dc.ConnectedAt,
		SourceIP: dc.Identity.SourceIP, UserAgent: dc.Identity.UserAgent, Authorizer: dc.Authorizer}
}

// consoleHandler serves the console to loopback clients, and beyond loopback only with a SigV4
// signature when IAM is enforced (refused otherwise: the console is loopback-only by default).
func (g *Gateway) consoleHandler() http.Handler {
	h := g.console.Handler(consolePrefix)
	if g.iam != nil {
		return g.loopbackOrSigned(h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !fromLoopback(r) {
			g.log.Info("console request refused: not from loopback", "source_ip", r.RemoteAddr, "path", r.URL.Path)
			g.metrics.Refused("observability", "console_not_loopback")
			http.Error(w, "Forbidden: the console answers loopback clients only (or SigV4-signed requests with iam.enforce)", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}
