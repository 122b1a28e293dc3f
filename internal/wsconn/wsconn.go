// Package wsconn is one server-side WebSocket connection with API Gateway's limits: 32 KB frames and 128 KB
// messages (close 1009), text only (binary closes with 1003), an idle timeout and a maximum duration (close
// 1001 "Going away"), pings answered, and a single writer fed by a bounded queue so that one slow client
// never slows anybody else.
//
// The WebSocket protocol itself comes from github.com/lxzan/gws, kept behind this package so it can be
// swapped. No goroutine exists per idle connection besides the read loop: the writer starts when something
// is queued and ends when the queue is empty, and one timer covers both the idle and the duration limits.
package wsconn

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
)

// Close codes used by the gateway (RFC 6455 §7.4.1) and the reasons API Gateway reports in $disconnect.
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseUnsupportedData = 1003
	CloseNoStatus        = 1005
	CloseAbnormal        = 1006
	CloseMessageTooBig   = 1009

	// ReasonDeleted is the $disconnect reason after DeleteConnection.
	ReasonDeleted = "Connection Closed Normally"
	// ReasonNoStatus is the $disconnect reason when the client's close frame carried no status code.
	ReasonNoStatus = "Client-side close frame status not set"
	// ReasonGoingAway is the close reason for the idle and duration limits and for shutdown.
	ReasonGoingAway = "Going away"
)

// Errors returned by Send.
var (
	ErrQueueFull = errors.New("send queue full")
	ErrClosed    = errors.New("connection closed")
)

// Config holds the limits of every connection made by one Upgrader.
type Config struct {
	MaxFrameSize   int           // largest frame a client may send; larger closes with 1009
	MaxMessageSize int           // largest reassembled message; larger closes with 1009
	IdleTimeout    time.Duration // no data message either way for this long closes with 1001
	MaxDuration    time.Duration // connections older than this close with 1001
	SendQueueBytes int           // bytes that may wait for a slow client before Send says ErrQueueFull
	WriteTimeout   time.Duration // a write that cannot finish in this time closes the connection
	ReadBufferSize int           // bytes buffered per connection for reading
}

// DefaultConfig returns API Gateway's limits: 32 KB frames, 128 KB messages, 10 minutes idle, 2 hours.
func DefaultConfig() Config {
	return Config{
		MaxFrameSize:   32 * 1024,
		MaxMessageSize: 128 * 1024,
		IdleTimeout:    10 * time.Minute,
		MaxDuration:    2 * time.Hour,
		SendQueueBytes: 1 << 20,
		WriteTimeout:   10 * time.Second,
		// Frame payloads are read straight into the message once the header is parsed, so the buffer
		// mostly holds headers and small messages; 1 KiB instead of gws's 4 KiB saves 3 KiB per connection.
		ReadBufferSize: 1024,
	}
}

// Handler receives a connection's events. Calls for one connection never overlap: OnMessage runs on the
// connection's read loop (so a slow OnMessage holds back that client's next message, and only that), and
// OnClose runs once, last.
type Handler interface {
	// OnMessage receives one complete text message. data belongs to the handler.
	OnMessage(c *Conn, data []byte)
	// OnClose reports how the connection ended: the close code the client sent (1005 when its close frame
	// had none, 1006 when the socket dropped) or the code the gateway closed with, and the reason.
	OnClose(c *Conn, code int, reason string)
}

// Upgrader turns HTTP requests into Conns. It is safe for concurrent use.
type Upgrader struct {
	cfg Config
	mu  sync.Mutex
	// one gws upgrader per distinct accepted subprotocol: gws fixes the subprotocol per upgrader.
	byProtocol map[string]*gws.Upgrader
}

// NewUpgrader returns an Upgrader with cfg's limits.
func NewUpgrader(cfg Config) *Upgrader {
	return &Upgrader{cfg: cfg, byProtocol: make(map[string]*gws.Upgrader)}
}

const maxCachedProtocols = 64

func (u *Upgrader) upgrader(subprotocol string) *gws.Upgrader {
	u.mu.Lock()
	defer u.mu.Unlock()
	if up, ok := u.byProtocol[subprotocol]; ok {
		return up
	}
	opt := &gws.ServerOption{
		ReadMaxPayloadSize: u.cfg.MaxMessageSize,
		ReadBufferSize:     u.cfg.ReadBufferSize,
		CheckUtf8Enabled:   true,
		NewSession:         func() gws.SessionStorage { return &slot{} },
		Recovery:           gws.Recovery,
	}
	if subprotocol != "" {
		opt.SubProtocols = []string{subprotocol}
	}
	up := gws.NewUpgrader(events{}, opt)
	if len(u.byProtocol) < maxCachedProtocols {
		u.byProtocol[subprotocol] = up
	}
	return up
}

// Upgrade completes the WebSocket handshake on w, answering with subprotocol when the client offered it,
// and returns the connection. The caller must call Serve. On error the handshake has been answered.
//
// connectedAt is the connection's one connectedAt, taken by the caller when it allocated the connection
// (before $connect ran), so that events, GetConnection and logs all report the same instant: the
// maximum duration counts from it and LastActive starts at it.
func (u *Upgrader) Upgrade(w http.ResponseWriter, r *http.Request, subprotocol string, connectedAt time.Time, h Handler) (*Conn, error) {
	up := u.upgrader(subprotocol)
	netConn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, fmt.Errorf("hijack: %w", err)
	}
	c := &Conn{cfg: &u.cfg, handler: h}
	guard := &frameGuard{Conn: netConn, max: u.cfg.MaxFrameSize, conn: c}
	if n := brw.Reader.Buffered(); n > 0 {
		// Bytes the client sent right behind its request belong to the WebSocket stream.
		b, _ := brw.Reader.Peek(n)
		guard.pending = append([]byte(nil), b...) // a copy: the hijacked reader's buffer must not be pinned
	}
	br := bufio.NewReaderSize(guard, u.cfg.ReadBufferSize)
	socket, err := up.UpgradeFromConn(guard, br, r)
	if err != nil {
		return nil, fmt.Errorf("upgrade: %w", err)
	}
	c.ws = socket
	socket.Session().Store("", c)
	c.connectedAt = connectedAt
	c.lastActive.Store(connectedAt.UnixNano())
	return c, nil
}

// Conn is one WebSocket connection.
type Conn struct {
	cfg         *Config
	ws          *gws.Conn
	handler     Handler
	connectedAt time.Time
	lastActive  atomic.Int64 // unix nanoseconds of the last data message either way
	timer       *time.Timer
	writers     sync.WaitGroup

	mu          sync.Mutex // guards the fields below
	queue       [][]byte
	queued      int
	writing     bool
	closed      bool
	flushing    bool // closed by CloseAfterQueued: the writer sends what is queued, then the close frame
	closeCode   int  // set when the gateway closes
	closeReason string
}

// Serve runs the connection until it closes, then calls the handler's OnClose and returns. It returns only
// after every goroutine the connection started has ended.
func (c *Conn) Serve() {
	c.timer = time.AfterFunc(c.nextCheck(time.Now()), c.checkTimers)
	c.ws.ReadLoop()
	c.timer.Stop()
	c.writers.Wait()
}

// Closing reports whether the connection is closing or closed.
func (c *Conn) Closing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// ConnectedAt is the connectedAt given to Upgrade.
func (c *Conn) ConnectedAt() time.Time { return c.connectedAt }

// LastActive is when the last data message went either way.
func (c *Conn) LastActive() time.Time { return time.Unix(0, c.lastActive.Load()) }

// RemoteAddr is the client's address.
func (c *Conn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

func (c *Conn) touch() { c.lastActive.Store(time.Now().UnixNano()) }

// Send queues data as one text message. It never blocks on the network: when more than the configured
// bytes are already waiting it returns ErrQueueFull, and ErrClosed once the connection is closing.
func (c *Conn) Send(data []byte) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if c.queued > 0 && c.queued+len(data) > c.cfg.SendQueueBytes {
		c.mu.Unlock()
		return ErrQueueFull
	}
	c.queue = append(c.queue, data)
	c.queued += len(data)
	start := !c.writing
	c.writing = true
	c.mu.Unlock()
	c.touch()
	if start {
		c.writers.Go(c.writeLoop)
	}
	return nil
}

// Reply sends data to the client from a goroutine that works for this connection (its read loop or one of
// its messages). When nothing is queued it writes at once, in the caller's goroutine, instead of starting
// the writer; otherwise it queues like Send. Use Send from anywhere else: Reply may wait on the network.
func (c *Conn) Reply(data []byte) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if c.writing {
		c.mu.Unlock()
		return c.Send(data)
	}
	c.writing = true // this goroutine is the single writer until the queue is empty
	c.mu.Unlock()
	c.touch()
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
	if err := c.ws.WriteMessage(gws.OpcodeText, data); err != nil {
		c.closeWith(CloseAbnormal, "write: "+err.Error(), false)
		c.mu.Lock()
		c.writing = false
		c.mu.Unlock()
		return ErrClosed
	}
	c.writeLoop() // hand back the writer role, after writing anything queued meanwhile
	return nil
}

// writeLoop is the connection's single writer; it exists only while the queue is not empty.
func (c *Conn) writeLoop() {
	for {
		c.mu.Lock()
		batch := c.queue
		c.queue = nil
		if len(batch) == 0 || c.closed && !c.flushing {
			c.writing = false
			c.queued = 0
			flushed := c.flushing
			c.mu.Unlock()
			if flushed {
				// This goroutine is the connection's writer: its close frame, behind the flushed queue,
				// gets the write timeout of any other write (a client reading a long backlog under load
				// may take more than a second to make room for it).
				c.writeClose(c.cfg.WriteTimeout)
			}
			return
		}
		c.mu.Unlock()
		_ = c.ws.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
		for _, msg := range batch {
			if err := c.ws.WriteMessage(gws.OpcodeText, msg); err != nil {
				c.closeWith(CloseAbnormal, "write: "+err.Error(), false)
				c.mu.Lock()
				c.writing, c.flushing = false, false
				c.mu.Unlock()
				_ = c.ws.NetConn().Close() // closeWith did nothing when the connection was already closing
				return
			}
			c.mu.Lock()
			c.queued -= len(msg)
			c.mu.Unlock()
		}
	}
}

// Close closes the connection from the gateway side with code and reason. The reason is what $disconnect
// reports; the close frame carries the same text.
func (c *Conn) Close(code int, reason string) { c.closeWith(code, reason, true) }

// CloseAfterQueued closes the connection like Close, but only after the messages already queued have been
// written (each batch within the write timeout), so that a shutdown loses nothing Send accepted; Send
// refuses new messages from now on.
func (c *Conn) CloseAfterQueued(code int, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.closeCode, c.closeReason = code, reason
	if c.writing {
		c.flushing = true // the writer finishes the queue and sends the close frame
		c.mu.Unlock()
		return
	}
	c.queue, c.queued = nil, 0
	c.mu.Unlock()
	c.writeClose(closeFrameTimeout)
}

// closeFrameTimeout bounds a close frame's write in a closer's goroutine: a client that does not read must
// not hold the closer.
const closeFrameTimeout = time.Second

// writeClose sends the close frame with the code and reason already set, within timeout, and closes the
// socket.
func (c *Conn) writeClose(timeout time.Duration) {
	c.mu.Lock()
	code, reason := c.closeCode, c.closeReason
	c.mu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(timeout))
	_ = c.ws.WriteClose(uint16(code), []byte(reason))
	_ = c.ws.NetConn().Close()
}

func (c *Conn) closeWith(code int, reason string, sendFrame bool) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.closeCode, c.closeReason = code, reason
	c.queue, c.queued = nil, 0
	c.mu.Unlock()
	// A client that does not read must not hold the closer: bound the close frame's write.
	_ = c.ws.SetWriteDeadline(time.Now().Add(closeFrameTimeout))
	if sendFrame {
		_ = c.ws.WriteClose(uint16(code), []byte(reason))
	}
	_ = c.ws.NetConn().Close()
}

func (c *Conn) nextCheck(now time.Time) time.Duration {
	idleAt := time.Unix(0, c.lastActive.Load()).Add(c.cfg.IdleTimeout)
	deadline := c.connectedAt.Add(c.cfg.MaxDuration)
	if idleAt.Before(deadline) {
		deadline = idleAt
	}
	return deadline.Sub(now)
}

// checkTimers runs when the idle or duration limit may have passed; activity since it was set only moves
// the next check later, so the hot path never touches the timer.
func (c *Conn) checkTimers() {
	if d := c.nextCheck(time.Now()); d > 0 {
		c.timer.Reset(d)
		return
	}
	c.Close(CloseGoingAway, ReasonGoingAway)
}

// events adapts gws callbacks to Conn.
type events struct{ gws.BuiltinEventHandler }

func connOf(socket *gws.Conn) *Conn {
	v, _ := socket.Session().Load("")
	c, _ := v.(*Conn)
	return c
}

// OnPing answers with a pong that echoes the payload (RFC 6455 §5.5.3). Control frames are not activity.
func (events) OnPing(socket *gws.Conn, payload []byte) { _ = socket.WritePong(payload) }

// OnMessage hands text messages to the Handler and closes the connection on binary ones.
func (events) OnMessage(socket *gws.Conn, m *gws.Message) {
	defer m.Close()
	c := connOf(socket)
	if m.Opcode != gws.OpcodeText {
		c.Close(CloseUnsupportedData, "Binary frames are not supported")
		return
	}
	c.touch()
	data := append([]byte(nil), m.Bytes()...)
	c.handler.OnMessage(c, data)
}

// OnClose works out the close code and reason and reports them once.
func (events) OnClose(socket *gws.Conn, err error) {
	c := connOf(socket)
	if c == nil {
		return
	}
	code, reason := CloseAbnormal, ""
	var ce *gws.CloseError
	var sc interface{ Uint16() uint16 }
	c.mu.Lock()
	ours := c.closed
	c.closed = true
	if ours {
		code, reason = c.closeCode, c.closeReason
	}
	c.mu.Unlock()
	switch {
	case ours:
	case errors.As(err, &ce):
		code, reason = int(ce.Code), string(ce.Reason)
		if code == 0 {
			code, reason = CloseNoStatus, ReasonNoStatus
		}
	case errors.As(err, &sc):
		// gws closed the connection itself, e.g. 1009 for a message over the limit.
		code = int(sc.Uint16())
		reason = closeText(code)
	}
	c.handler.OnClose(c, code, reason)
}

func closeText(code int) string {
	switch code {
	case CloseMessageTooBig:
		return "Message too big"
	case CloseUnsupportedData:
		return "Unsupported data"
	case 1007:
		return "Invalid payload data"
	case 1002:
		return "Protocol error"
	}
	return ""
}

// slot is the smallest gws.SessionStorage: it holds the *Conn, so gws callbacks find it without a map.
type slot struct{ v any }

func (s *slot) Len() int                             { return 1 }
func (s *slot) Load(string) (any, bool)              { return s.v, s.v != nil }
func (s *slot) Delete(string)                        { s.v = nil }
func (s *slot) Store(_ string, v any)                { s.v = v }
func (s *slot) Range(f func(key string, v any) bool) { f("", s.v) }
