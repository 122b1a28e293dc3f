package gateway

import (
	"context"
	"errors"
	"net/http"

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

// Connections lists the live connections.
func (c consoleGateway) Connections() []console.Connection {
	e := c.edge()
	if e == nil {
		return nil
	}
	var out []console.Connection
	for _, dc := range e.Connections() {
		out = append(out, consoleConnection(dc))
	}
	return out
}

// SendAsClient routes data as a message from connection id.
func (c consoleGateway) SendAsClient(_ context.Context, id string, data []byte) error {
	e := c.edge()
	if e == nil {
		return console.ErrGone
	}
	return goneAs(e.Inject(id, data))
}

// Post queues data for connection id, as PostToConnection does.
func (c consoleGateway) Post(_ context.Context, id string, data []byte) error {
	s := c.session(id)
	if s == nil {
		return console.ErrGone
	}
	return goneAs(s.Send(data))
}

// Disconnect closes connection id, as DeleteConnection does.
func (c consoleGateway) Disconnect(_ context.Context, id string) error {
	s := c.session(id)
	if s == nil {
		return console.ErrGone
	}
	return goneAs(s.Disconnect())
}

func (c consoleGateway) session(id string) registry.Session {
	e := c.edge()
	if e == nil {
		return nil
	}
	return e.Session(id)
}

func goneAs(err error) error {
	if errors.Is(err, registry.ErrGone) {
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
