package edge

import (
	"errors"
	"sync"
	"time"

	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/registry"
	"github.com/switchboard-gw/switchboard/internal/wsconn"
)

// session is one accepted connection: the registry reaches it as a registry.Session and the socket
// reports to it as a wsconn.Handler.
//
// It is registered before the 101 response is written, so a backend that posts the moment the client
// is connected never gets 410; what arrives before the socket exists waits in early (bounded like the
// socket's own queue) and is sent first.
type session struct {
	edge *Edge
	info *dispatch.Connection

	mu         sync.Mutex // guards the fields below
	conn       *wsconn.Conn
	early      [][]byte
	earlyBytes int
	deleted    bool // DeleteConnection arrived before the socket existed
	going      bool // shutdown arrived before the socket existed
	failed     bool // the upgrade failed: the connection never existed
}

var (
	_ registry.Session = (*session)(nil)
	_ wsconn.Handler   = (*session)(nil)
	_ dispatch.Caller  = (*session)(nil)
)

// attach hands the session its socket and delivers what arrived before it.
func (s *session) attach(c *wsconn.Conn) {
	s.mu.Lock()
	s.conn = c
	early, deleted, going := s.early, s.deleted, s.going
	s.early, s.earlyBytes = nil, 0
	s.mu.Unlock()
	for _, m := range early {
		if c.Send(m) == nil {
			s.edge.obs.Message(s.info, true, m)
		}
	}
	switch {
	case deleted:
		c.Close(wsconn.CloseNormal, wsconn.ReasonDeleted)
	case going:
		c.CloseAfterQueued(wsconn.CloseGoingAway, wsconn.ReasonGoingAway)
	}
}

// fail marks a session whose upgrade did not complete.
func (s *session) fail() {
	s.mu.Lock()
	s.failed, s.early = true, nil
	s.mu.Unlock()
}

// socket returns the connection, or nil while the handshake is still being answered. gone is set when
// the connection no longer exists for @connections.
func (s *session) socket() (c *wsconn.Conn, gone bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed || s.deleted {
		return nil, true
	}
	if s.conn != nil && s.conn.Closing() {
		return nil, true
	}
	return s.conn, false
}

// Send queues a message for the client.
func (s *session) Send(data []byte) error {
	c, gone := s.socket()
	if gone {
		return registry.ErrGone
	}
	if c == nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.conn == nil {
			if s.earlyBytes > 0 && s.earlyBytes+len(data) > s.edge.limits.SendQueueBytes {
				return registry.ErrQueueFull
			}
			s.early = append(s.early, data)
			s.earlyBytes += len(data)
			return nil
		}
		c = s.conn
	}
	err := c.Send(data)
	if err == nil {
		s.edge.obs.Message(s.info, true, data)
	}
	switch {
	case errors.Is(err, wsconn.ErrQueueFull):
		return registry.ErrQueueFull
	case errors.Is(err, wsconn.ErrClosed):
		return registry.ErrGone
	}
	return err
}

// Reply answers the connection from one of its own goroutines (dispatch's replies and error frames).
func (s *session) Reply(data []byte) error {
	if err := s.conn.Reply(data); err != nil {
		return registry.ErrGone
	}
	s.edge.obs.Message(s.info, true, data)
	return nil
}

// Info describes the connection for GetConnection.
func (s *session) Info() (registry.Info, error) {
	c, gone := s.socket()
	if gone {
		return registry.Info{}, registry.ErrGone
	}
	// connectedAt is the one taken at allocation, which the events carry too.
	info := registry.Info{SourceIP: s.info.Identity.SourceIP, UserAgent: s.info.Identity.UserAgent,
		ConnectedAt: time.UnixMilli(s.info.ConnectedAt)}
	info.LastActiveAt = info.ConnectedAt
	if c != nil {
		info.LastActiveAt = c.LastActive()
	}
	return info, nil
}

// Disconnect closes the connection as DeleteConnection does.
func (s *session) Disconnect() error {
	c, gone := s.socket()
	if gone {
		return registry.ErrGone
	}
	if c == nil {
		s.mu.Lock()
		if s.conn == nil {
			s.deleted = true
			s.mu.Unlock()
			return nil
		}
		c = s.conn
		s.mu.Unlock()
	}
	c.Close(wsconn.CloseNormal, wsconn.ReasonDeleted)
	return nil
}

// goAway closes the connection with 1001 "Going away" (shutdown), now or as soon as it exists, after the
// messages already accepted for it: an @connections POST that was answered 200 is delivered.
func (s *session) goAway() {
	s.mu.Lock()
	c := s.conn
	if c == nil {
		s.going = true
	}
	s.mu.Unlock()
	if c != nil {
		c.CloseAfterQueued(wsconn.CloseGoingAway, wsconn.ReasonGoingAway)
	}
}

// Scope is the connection's API and stage, and whether the API's default endpoint is disabled in the
// current snapshot (it can change while the connection is open).
func (s *session) Scope() registry.Scope {
	sc := registry.Scope{APIID: s.info.APIID, Stage: s.info.Stage}
	if api := s.edge.snapshots.Load().API(s.info.APIID); api != nil {
		sc.DefaultEndpointDisabled = api.DisableExecuteAPIEndpoint
	}
	return sc
}

// OnMessage routes a message.
func (s *session) OnMessage(_ *wsconn.Conn, data []byte) {
	s.edge.obs.Message(s.info, false, data)
	s.edge.dispatch.Message(s.edge.ctx, s.info, s, data)
}

// OnClose unregisters the connection, so @connections answers 410 from now on, then runs $disconnect.
func (s *session) OnClose(_ *wsconn.Conn, code int, reason string) {
	s.edge.registry.Unregister(s.info.ID)
	s.edge.log.Debug("disconnected", "conn_id", s.info.ID, "connected_at", s.info.ConnectedAt, "code", code, "reason", reason)
	if s.edge.records != nil {
		s.edge.records.Forget(s.edge.ctx, s.info, func() { s.edge.dispatch.Disconnect(s.edge.ctx, s.info, code, reason) })
		return
	}
	s.edge.dispatch.Disconnect(s.edge.ctx, s.info, code, reason)
}
