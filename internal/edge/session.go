package edge

import (
	"errors"

	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/registry"
	"github.com/switchboard-gw/switchboard/internal/wsconn"
)

// session is one accepted connection: the registry reaches it as a registry.Session and the socket
// reports to it as a wsconn.Handler.
type session struct {
	edge *Edge
	info *dispatch.Connection
	conn *wsconn.Conn
}

var (
	_ registry.Session = (*session)(nil)
	_ wsconn.Handler   = (*session)(nil)
)

// Send queues a message for the client.
func (s *session) Send(data []byte) error {
	err := s.conn.Send(data)
	switch {
	case errors.Is(err, wsconn.ErrQueueFull):
		return registry.ErrQueueFull
	case errors.Is(err, wsconn.ErrClosed):
		return registry.ErrGone
	}
	return err
}

// Info describes the connection for GetConnection.
func (s *session) Info() registry.Info {
	return registry.Info{
		ConnectedAt:  s.conn.ConnectedAt(),
		LastActiveAt: s.conn.LastActive(),
		SourceIP:     s.info.Identity.SourceIP,
		UserAgent:    s.info.Identity.UserAgent,
	}
}

// Disconnect closes the connection as DeleteConnection does.
func (s *session) Disconnect() { s.conn.Close(wsconn.CloseNormal, wsconn.ReasonDeleted) }

// Scope is the connection's API and stage.
func (s *session) Scope() registry.Scope {
	return registry.Scope{APIID: s.info.APIID, Stage: s.info.Stage}
}

// OnMessage routes a message.
func (s *session) OnMessage(_ *wsconn.Conn, data []byte) {
	s.edge.dispatch.Message(s.edge.ctx, s.info, s, data)
}

// OnClose unregisters the connection, so @connections answers 410 from now on, then runs $disconnect.
func (s *session) OnClose(_ *wsconn.Conn, code int, reason string) {
	s.edge.registry.Unregister(s.info.ID)
	s.edge.log.Debug("disconnected", "conn_id", s.info.ID, "code", code, "reason", reason)
	s.edge.dispatch.Disconnect(s.edge.ctx, s.info, code, reason)
}
