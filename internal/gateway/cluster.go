package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/switchboard-gw/switchboard/internal/awsid"
	"github.com/switchboard-gw/switchboard/internal/cluster"
	"github.com/switchboard-gw/switchboard/internal/cluster/membership"
	"github.com/switchboard-gw/switchboard/internal/cluster/natsbus"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/edge"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
	"github.com/switchboard-gw/switchboard/internal/wsconn"
)

// EmbeddedNATS is the ClusterOptions.NATS value that runs the NATS server inside the process.
const EmbeddedNATS = "embedded"

// ClusterOptions make the node one of a cluster over NATS: @connections calls reach connections on any
// node, and every node learns within seconds that another one is gone. nil Options.Cluster keeps the
// node alone, with no NATS at all.
type ClusterOptions struct {
	// NATS is EmbeddedNATS or the comma-separated nats:// (tls://) URLs of an existing NATS cluster.
	NATS string
	// Listen is the embedded server's cluster address, which the other nodes' --cluster-routes name;
	// Routes are theirs. Both only with EmbeddedNATS; without Listen the embedded server is on its own.
	Listen string
	Routes []string
	// StoreDir is the embedded server's JetStream directory (default: under the temporary directory).
	StoreDir string
	// CredsFile, NKeySeedFile, CAFile, CertFile, KeyFile authenticate to an external NATS and trust it.
	CredsFile, NKeySeedFile, CAFile, CertFile, KeyFile string
	// Replicas is the copies of the cluster's JetStream buckets; 0: one per NATS server known, up to 3.
	Replicas int
	// Heartbeat is how often the node says it is alive (default 1s); after three missed ones the others
	// declare it gone, answer 410 for its connections and run their $disconnect.
	Heartbeat time.Duration
	// ClaimWorkers is how many $disconnects of a dead node's connections this node runs at once when it
	// claims them (0: membership.DefaultClaimWorkers).
	ClaimWorkers int
}

// clusterNode is the gateway's part of the cluster: the NATS connection (and embedded server), the
// bus once joined, and what readiness reports.
type clusterNode struct {
	opts   ClusterOptions
	node   cluster.NodeID
	log    *slog.Logger
	server *server.Server // the embedded server; nil with an external NATS
	nc     *nats.Conn
	name   string
	bus    atomic.Pointer[natsbus.Bus]
	// members is the node's membership, set by start; stop ends its Run, done is closed when it has.
	members *membership.Members
	stop    context.CancelFunc
	done    chan struct{}

	mu     sync.Mutex
	status string // set when the node cannot be a member at all, "" otherwise
	// conflict is set when the embedded server's routes are refused because another NATS server has
	// its name (another node started with this node ID); said by readiness while not a member.
	conflict string
}

// openCluster starts the embedded NATS server when asked and opens the node's connection. A NATS that
// is down is not an error here: the node starts, logs, and is not ready until NATS answers.
func (g *Gateway) openCluster() error {
	o := g.opts.Cluster
	if o.Heartbeat <= 0 {
		o.Heartbeat = time.Second
	}
	name := "switchboard-node-" + strconv.Itoa(int(g.opts.Node))
	c := &clusterNode{opts: *o, node: g.opts.Node, name: name, log: g.log.With("component", "cluster")}
	cfg := natsbus.ClientConfig{Name: name, CredsFile: o.CredsFile, NKeySeedFile: o.NKeySeedFile,
		CAFile: o.CAFile, CertFile: o.CertFile, KeyFile: o.KeyFile, Logger: c.log}
	switch {
	case o.NATS == EmbeddedNATS:
		s, err := natsbus.StartEmbedded(natsbus.EmbeddedConfig{Name: name, ClusterListen: o.Listen, Routes: o.Routes,
			StoreDir: o.StoreDir, Logger: c.log, NameConflict: c.nameConflict})
		if err != nil {
			return err
		}
		c.server, cfg.Embedded = s, s
	case o.Listen != "" || len(o.Routes) > 0:
		return errors.New("cluster: --cluster-listen and --cluster-routes are for --cluster embedded; an external NATS has its own routes")
	default:
		cfg.URLs = o.NATS
	}
	nc, err := natsbus.Connect(cfg)
	if err != nil {
		c.close()
		return err
	}
	c.nc = nc
	g.cluster = c
	return nil
}

// NATS is the node's NATS connection, nil when the node is alone. Parts of the gateway that keep
// cluster state (JetStream) use it; they must not close it.
func (g *Gateway) NATS() *nats.Conn {
	if g.cluster == nil {
		return nil
	}
	return g.cluster.nc
}

// ClusterAddr is the embedded NATS server's bound cluster (routes) address, "" without one.
func (g *Gateway) ClusterAddr() string {
	if g.cluster == nil || g.cluster.server == nil {
		return ""
	}
	return natsbus.ClusterAddr(g.cluster.server)
}

// start joins the cluster in the background (NATS may be down, JetStream still forming): the node
// listens meanwhile, refusing handshakes and saying why on /readyz until it is a member. eventCtx is
// where reaped connections' $disconnect run; d runs them; e drops this node's connections if the cluster
// declares it dead.
func (c *clusterNode) start(eventCtx context.Context, handler cluster.Handler, d *dispatch.Dispatcher, e *edge.Edge) error {
	m, err := membership.New(c.nc, membership.Config{
		Node:         c.node,
		Name:         c.name,
		Heartbeat:    c.opts.Heartbeat,
		ClaimWorkers: c.opts.ClaimWorkers,
		Replicas:     natsbus.Replicas(c.nc, c.opts.Replicas),
		Logger:       c.log,
		Attach: func(ctx context.Context) error {
			bus, err := natsbus.Attach(ctx, c.nc, c.node, c.ownerOnly(handler), c.members)
			if err != nil {
				return err
			}
			c.bus.Store(bus)
			return nil
		},
		// Reap returns once the $disconnect's integration has answered or failed (Disconnect waits for
		// it), which is when membership records it as done; ctx ending (the node stops claiming) or
		// eventCtx ending (the node stops) cuts it short, and an error says it may not have run. Up to
		// membership.DefaultClaimWorkers of them run at once, each on its own goroutine.
		Reap: func(ctx context.Context, id string, record []byte) error {
			conn, err := decodeRecord(record)
			if err != nil {
				c.log.Error("cluster: corrupted connection record skipped (its $disconnect cannot run)", "stream", membership.LogStream, "conn_id", id, "err", err)
				return nil
			}
			c.log.Info("cluster: running the $disconnect of a dead node's connection", "conn_id", id, "api_id", conn.APIID, "stage", conn.Stage)
			runCtx, cancel := context.WithCancel(eventCtx)
			defer cancel()
			defer context.AfterFunc(ctx, cancel)()
			d.Disconnect(runCtx, conn, wsconn.CloseAbnormal, "")
			if err := runCtx.Err(); err != nil {
				return fmt.Errorf("the $disconnect of %s was cut short (this node stops claiming): %w", id, err)
			}
			return nil
		},
		Expelled: func() {
			n := e.DropAll()
			c.log.Error("cluster: dropped this node's connections", "connections", n)
		},
	})
	if err != nil {
		return err
	}
	c.members = m
	ctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		if err := m.Run(ctx); err != nil && ctx.Err() == nil {
			c.log.Error("cluster: membership stopped", "err", err)
		}
	}()
	return nil
}

// ownerOnly leaves requests unanswered until the node has joined: the bus is attached before the node
// takes its ID, and while another live node holds that ID (two nodes started with one --node), the
// waiting node's answers — 410, it has none of the holder's connections — raced the holder's, so calls
// reached the connection and answered 410 all the same.
func (c *clusterNode) ownerOnly(handler cluster.Handler) cluster.Handler {
	return func(ctx context.Context, req []byte) ([]byte, error) {
		select {
		case <-c.members.Joined():
			return handler(ctx, req)
		default:
			return nil, natsbus.ErrNoAnswer
		}
	}
}

// leave tells the cluster this node is gone, after its connections are closed (graceful shutdown).
func (c *clusterNode) leave(ctx context.Context) error {
	if c.members == nil {
		return nil
	}
	return c.members.Leave(ctx)
}

// Record starts storing conn's record in the cluster (edge.Records).
func (c *clusterNode) Record(ctx context.Context, conn *dispatch.Connection) func() error {
	rec, err := encodeRecord(conn)
	if err != nil {
		return func() error { return err }
	}
	return c.members.StartRecord(ctx, conn.ID, rec)
}

// Forget removes conn's record (edge.Records).
func (c *clusterNode) Forget(ctx context.Context, conn *dispatch.Connection, disconnect func()) {
	c.members.Forget(ctx, conn.ID, disconnect)
}

// connRecord is what a node stores about each of its connections: everything $disconnect's event needs.
type connRecord struct {
	ID          string              `json:"id"`
	APIID       string              `json:"apiId"`
	Stage       string              `json:"stage"`
	DomainName  string              `json:"domainName"`
	ConnectedAt int64               `json:"connectedAt"`
	Identity    proxyevent.Identity `json:"identity"`
	Port        string              `json:"port,omitempty"`
	Proto       string              `json:"proto,omitempty"`
	Authorizer  map[string]any      `json:"authorizer,omitempty"`
	APIKey      string              `json:"apiKey,omitempty"`
}

func encodeRecord(c *dispatch.Connection) ([]byte, error) {
	return json.Marshal(connRecord{ID: c.ID, APIID: c.APIID, Stage: c.Stage, DomainName: c.DomainName,
		ConnectedAt: c.ConnectedAt, Identity: c.Identity, Port: c.Port, Proto: c.Proto, Authorizer: c.Authorizer,
		APIKey: c.APIKey()})
}

// decodeRecord rebuilds a connection from its record; a record that is not one is an error.
func decodeRecord(b []byte) (*dispatch.Connection, error) {
	var r connRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode connection record: %w", err)
	}
	if _, err := awsid.ConnectionNode(r.ID); err != nil || r.Stage == "" {
		return nil, fmt.Errorf("decode connection record: no valid connection id and stage (id %q, stage %q)", r.ID, r.Stage)
	}
	c := &dispatch.Connection{ID: r.ID, APIID: r.APIID, Stage: r.Stage, DomainName: r.DomainName,
		ConnectedAt: r.ConnectedAt, Identity: r.Identity, Port: r.Port, Proto: r.Proto, Authorizer: r.Authorizer}
	c.SetAPIKey(r.APIKey)
	return c, nil
}

func (c *clusterNode) setStatus(s string) {
	c.mu.Lock()
	c.status = s
	c.mu.Unlock()
}

// nameConflict records that a route was refused because another NATS server is named as this node's
// is: two nodes started with one node ID, each running its embedded server. NATS refuses the route on
// both sides, so the later node never reaches the cluster's JetStream and could not learn there that its
// ID is taken; this says it. The node already a member is unaffected (readiness ignores it there).
func (c *clusterNode) nameConflict(name string) {
	why := fmt.Sprintf("another NATS server in the cluster is named %q: two nodes run with node ID %d; their routes are refused", name, c.node)
	c.mu.Lock()
	first := c.conflict == ""
	c.conflict = why
	c.mu.Unlock()
	if first {
		c.log.Error("cluster: "+why+"; give every node its own --node", "node", int(c.node))
	}
}

// notReady says why the node cannot serve as a cluster member now, "" when it can.
func (c *clusterNode) notReady() string {
	c.mu.Lock()
	s, conflict := c.status, c.conflict
	c.mu.Unlock()
	if s != "" {
		return "cluster: " + s
	}
	if !c.nc.IsConnected() {
		return "cluster: NATS connection " + strings.ToLower(c.nc.Status().String())
	}
	if c.members == nil {
		return "cluster: not started"
	}
	if why := c.members.Status(); why != "" {
		if conflict != "" {
			return "cluster: " + conflict
		}
		return "cluster: " + why
	}
	if !c.members.Alive(c.node) {
		// A member whose heartbeats are not stored: the store has no quorum or lost its streams. Its
		// handshakes' records cannot be stored either, and the others may declare it dead.
		return fmt.Sprintf("cluster: this node's heartbeat has not been stored for over %s: the cluster's JetStream store does not answer", c.members.TTL())
	}
	return ""
}

// close ends the node's part in the cluster: it stops answering, closes the connection and stops the
// embedded server.
func (c *clusterNode) close() {
	if c.stop != nil {
		c.stop()
		<-c.done
	}
	if b := c.bus.Load(); b != nil {
		if err := b.Detach(); err != nil {
			c.log.Warn("cluster: leave the bus", "err", err)
		}
	}
	if c.nc != nil {
		c.nc.Close()
	}
	if c.server != nil {
		c.server.Shutdown()
		c.server.WaitForShutdown()
	}
}

// request is the registry's bus: the node's natsbus.Bus once joined, ErrUnavailable before.
func (c *clusterNode) Request(ctx context.Context, node cluster.NodeID, req []byte) ([]byte, error) {
	b := c.bus.Load()
	if b == nil {
		return nil, fmt.Errorf("request node %d: %w: this node has not joined the cluster yet", node, natsbus.ErrUnavailable)
	}
	return b.Request(ctx, node, req)
}

// admit refuses WebSocket handshakes with 503 while the node cannot serve as a cluster member (NATS
// unreachable, not joined): a connection accepted then could not be reached from the other nodes nor
// have its $disconnect run if the node died. Everything else (@connections to local connections,
// plain requests) goes on.
func (c *clusterNode) admit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if headerHasToken(r.Header, "Upgrade", "websocket") {
			if why := c.notReady(); why != "" {
				c.log.Info("handshake refused: the node is not serving as a cluster member", "reason", why,
					"source_ip", r.RemoteAddr, "path", r.URL.Path, "status", http.StatusServiceUnavailable)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"message":"Service Unavailable"}`))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// headerHasToken reports whether the comma-separated header name contains token (case-insensitive).
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// ClusterStatus says why the node is not serving as a cluster member, "" when it is or is alone.
func (g *Gateway) ClusterStatus() string {
	if g.cluster == nil {
		return ""
	}
	// The membership's reason first: NATS unreachable, or a node ID taken, is why the shared catalog is
	// not joined either, and is what the operator must act on.
	if why := g.cluster.notReady(); why != "" {
		return why
	}
	return g.sharedStatus()
}

// records is the edge's Records: the cluster's, nil when the node is alone.
func (g *Gateway) records() edge.Records {
	if g.cluster == nil {
		return nil
	}
	return g.cluster
}

// ClusterNodes lists the nodes this node believes alive (itself included once it is a member); nil when
// the node is alone.
func (g *Gateway) ClusterNodes() []cluster.NodeID {
	if g.cluster == nil || g.cluster.members == nil {
		return nil
	}
	return g.cluster.members.Nodes()
}
