package main

// The raw NATS cluster: the least a gateway clustered over NATS can do, measured in the cluster scenario
// next to the Switchboard cluster. Three processes, each with a NATS server (JetStream on) embedded and
// routed to the others' (as Switchboard's embedded nodes are) and an in-process client connection to it
// opened as a Switchboard node opens its own (natsbus.Connect), each serving:
//
//   - POST /b/@connections/N: answered 200 at once when N is this node ("local"), or after one NATS
//     request/reply to node N's process, which answers at once ("remote"), sent through natsbus.Bus as
//     a Switchboard node sends its own. The difference between the two paths' latencies is the least
//     that a connection owned by another node adds to an @connections call on this machine: one NATS
//     round trip between two processes, with no envelope, no registry and no socket write.
//   - GET /ws: a WebSocket handshake (the same gws server as the raw echo). With -backend it first POSTs
//     to the backend's /connect (as a $connect HTTP_PROXY integration does). With ?record=peer it also
//     sends a connection record to the next node's process in the same moment, with one core NATS
//     request, and upgrades only once both are answered; with ?record=peerbatch it hands the record to
//     the node's batcher, which sends the next node every record and removal waiting while its previous
//     request is in flight as one core NATS request (group commit: the first goes out at once), and
//     upgrades once the request carrying its own record is answered; with ?record=stream it appends the
//     record to a JetStream stream of three replicas (the cluster store, as Switchboard's connection log
//     is) and waits for its acknowledgement instead. On close it sends the record's removal without
//     waiting (peerbatch: through the batcher, in the order it was handed the records).
//
// A record that leaves the process before the upgrade is what point 6 of the cluster's design requires
// (a node killed a moment after the 101 still has its connection's record elsewhere). One core NATS
// request to one other process is the cheapest such write there is over NATS, so the CPU it adds to a
// handshake (the node's and the holder's) is the least any clustered gateway pays, and with the single
// node's CPU per handshake it bounds what a clustered node can reach on this machine (connectCeiling).
// The time it adds is no such bound: sent alongside $connect, it hides behind a longer one. The batched
// peer record is the cheapest write with batching (Switchboard's connection log batches the same way,
// membership/writer.go), so where many handshakes wait at once it is the least a batching design pays.
// The stream variant is the same write into a replicated store, one append per handshake (Switchboard
// batches the appends that wait at once, so with many clients it can do better than it).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-gw/switchboard/internal/cluster"
	"github.com/switchboard-gw/switchboard/internal/cluster/natsbus"
)

// rawNATSRecordSize is the size of the raw cluster's connection record: about what Switchboard stores for
// a connection with its identity and no authorizer context.
const rawNATSRecordSize = 300

// rawNATSNodes is how many processes the raw NATS cluster has (a JetStream stream of three replicas
// needs three servers).
const rawNATSNodes = 3

// rawNATSStream is the raw cluster's stream of connection records; node N appends to rawNATSStreamSubject(N).
const rawNATSStream = "bench_records"

// Record kinds of a handshake (?record=).
const (
	recordPeer      = "peer"      // one core NATS request to the next node, which holds it
	recordPeerBatch = "peerbatch" // the same, the records waiting at once sharing one request (rawNATSBatcher)
	recordStream    = "stream"    // one acknowledged append to the replicated stream
)

// The kinds of message one raw node sends another, the first byte of each (rawNATSRequest).
const (
	rawNATSPost   = 'p' // a POST to one of its connections: answered at once
	rawNATSRecord = 'r' // a connection's record to hold: answered once held
	rawNATSRemove = 'x' // a record's removal: published, nobody waits
	rawNATSPing   = 'g' // are you there: answered at once
	rawNATSBatch  = 'b' // records and removals to apply in order (rawNATSBatchEntry): answered once applied
)

// rawNATSRequest is a message to another raw node: its kind, a connection's ID, a newline, data.
func rawNATSRequest(kind byte, id string, data []byte) []byte {
	m := make([]byte, 0, 2+len(id)+len(data))
	m = append(m, kind)
	m = append(m, id...)
	m = append(m, '\n')
	return append(m, data...)
}

// rawNATSRequesterID is the bus node ID under which raw node n sends its requests (natsbus.Attach needs
// one to subscribe; nothing is sent to it): raw node n itself answers on natsbus.Subject(n).
func rawNATSRequesterID(n int) cluster.NodeID { return cluster.NodeID(rawNATSNodes + n) }

// rawNATSStreamSubject is node n's subject in the stream of records.
func rawNATSStreamSubject(n int) string { return "bench.records." + strconv.Itoa(n) }

// rawNATSNode is one process of the raw NATS cluster.
type rawNATSNode struct {
	self, peer int // peer: the node that holds this one's peer records
	ns         *server.Server
	nc         *nats.Conn
	sub        *nats.Subscription // the other nodes' requests
	bus        *natsbus.Bus       // this node's requests to the others
	js         jetstream.JetStream
	connectURL string // the backend's /connect; empty: no $connect call
	client     *http.Client
	up         *gws.Upgrader
	record     []byte
	nextID     atomic.Int64

	posts atomic.Int64 // POSTs another node forwarded here
	// batch sends this node's batched peer records (recordPeerBatch); batches counts the batches another
	// node sent here, batchEntries the records and removals they carried, batchFailures those refused
	// (logged).
	batch                                *rawNATSBatcher
	batches, batchEntries, batchFailures atomic.Int64
	log                                  *slog.Logger

	mu      sync.Mutex
	records map[string]struct{} // another node's connections' peer records, held for it
}

// rawNATSOptions configures one node of the raw NATS cluster.
type rawNATSOptions struct {
	node          int      // 1 to rawNATSNodes
	clusterListen string   // this node's NATS route address
	routes        []string // the other nodes'
	storeDir      string   // JetStream's directory
	backend       string   // base URL of the bench backend; empty: no $connect call
}

// newRawNATSNode starts the node's NATS server, connects to it in process, answers the other nodes'
// requests, and waits until every other node answers its own (all servers routed, all subscribed) and
// the stream of records is there.
func newRawNATSNode(ctx context.Context, opts rawNATSOptions) (*rawNATSNode, error) {
	if opts.node < 1 || opts.node > rawNATSNodes {
		return nil, fmt.Errorf("rawnats: -node must be 1 to %d, not %d", rawNATSNodes, opts.node)
	}
	host, port, err := splitLoopbackHostPort(opts.clusterListen)
	if err != nil {
		return nil, fmt.Errorf("rawnats: -cluster-listen: %w", err)
	}
	if opts.storeDir == "" {
		return nil, errors.New("rawnats: -cluster-store is required (JetStream's directory)")
	}
	so := &server.Options{ServerName: "raw-" + strconv.Itoa(opts.node), Host: "127.0.0.1", Port: server.RANDOM_PORT,
		NoSigs: true, NoLog: true, JetStream: true, StoreDir: opts.storeDir,
		Cluster: server.ClusterOpts{Name: "bench-raw", Host: host, Port: port}}
	for _, r := range opts.routes {
		u, err := url.Parse("nats://" + r)
		if err != nil {
			return nil, fmt.Errorf("rawnats: route %q: %w", r, err)
		}
		so.Routes = append(so.Routes, u)
	}
	ns, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("rawnats: NATS server: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("rawnats: the NATS server did not start")
	}
	// The connection a Switchboard node opens to its embedded server (natsbus.Connect): the same options,
	// among them no write deadline on the in-process pipe, so a flush costs the raw node what it costs
	// the gateway and no more.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	nc, err := natsbus.Connect(natsbus.ClientConfig{Name: "rawnats-" + strconv.Itoa(opts.node), Embedded: ns, Logger: log})
	if err != nil {
		ns.Shutdown()
		return nil, fmt.Errorf("rawnats: connect: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		ns.Shutdown()
		return nil, fmt.Errorf("rawnats: JetStream: %w", err)
	}
	n := &rawNATSNode{self: opts.node, peer: opts.node%rawNATSNodes + 1, ns: ns, nc: nc, js: js, log: log,
		record: []byte(strings.Repeat("r", rawNATSRecordSize)), records: map[string]struct{}{}}
	if opts.backend != "" {
		n.connectURL = strings.TrimSuffix(opts.backend, "/") + "/connect"
		n.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4096, DisableCompression: true}, Timeout: 10 * time.Second}
	}
	n.up = gws.NewUpgrader(rawNATSEvents{n: n}, &gws.ServerOption{ReadBufferSize: 4096, ReadMaxPayloadSize: 128 * 1024,
		CheckUtf8Enabled: true, Recovery: gws.Recovery})
	// Requests go out as a Switchboard node's do, through the bus (its own reply inbox: nats.go's request
	// mux, one callback taking the connection's lock for every reply, is slower on the remote path), and
	// are answered here in order, one callback, the least an answer can cost; a removal follows its
	// record on the same subject.
	if n.bus, err = natsbus.Attach(ctx, nc, rawNATSRequesterID(n.self), func(context.Context, []byte) ([]byte, error) { return nil, nil }, nil); err != nil {
		n.close()
		return nil, fmt.Errorf("rawnats: %w", err)
	}
	if n.sub, err = nc.Subscribe(natsbus.Subject(cluster.NodeID(n.self)), n.answer); err != nil {
		n.close()
		return nil, fmt.Errorf("rawnats: subscribe: %w", err)
	}
	n.batch = newRawNATSBatcher(func(ctx context.Context, batch []byte) error {
		reply, err := n.bus.Request(ctx, cluster.NodeID(n.peer), batch)
		if err == nil && len(reply) > 0 {
			err = fmt.Errorf("node %d refused the batch: %s", n.peer, reply)
		}
		return err
	})
	if err := n.waitForCluster(ctx); err != nil {
		n.close()
		return nil, err
	}
	return n, nil
}

// splitLoopbackHostPort splits a loopback host:port.
func splitLoopbackHostPort(hp string) (string, int, error) {
	if err := checkLoopback(hp); err != nil {
		return "", 0, err
	}
	host, p, _ := strings.Cut(hp, ":")
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("port of %q: %w", hp, err)
	}
	return host, port, nil
}

// waitForCluster pings every other node until it answers (its server is routed to ours and it
// subscribed), then creates the stream of records (or finds it: every node asks for the same one), for
// at most 60 seconds: JetStream needs a majority of the servers before it creates anything.
func (n *rawNATSNode) waitForCluster(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	retry := func(what string, try func() error) error {
		for {
			err := try()
			if err == nil {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("rawnats: node %d: %s: %w", n.self, what, err)
			case <-time.After(50 * time.Millisecond): // a route, a process or JetStream is still starting
			}
		}
	}
	for other := 1; other <= rawNATSNodes; other++ {
		if other == n.self {
			continue
		}
		err := retry(fmt.Sprintf("node %d never answered", other), func() error {
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			_, err := n.bus.Request(pctx, cluster.NodeID(other), []byte{rawNATSPing, '\n'})
			return err
		})
		if err != nil {
			return err
		}
	}
	return retry("the stream of records", func() error {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := n.js.CreateOrUpdateStream(cctx, jetstream.StreamConfig{Name: rawNATSStream, Subjects: []string{"bench.records.>"},
			Storage: jetstream.FileStorage, Replicas: rawNATSNodes})
		return err
	})
}

// answer answers another node: a POST's request, a peer record to hold, a removal, a ping.
func (n *rawNATSNode) answer(m *nats.Msg) {
	if len(m.Data) == 0 {
		return
	}
	id, _, _ := strings.Cut(string(m.Data[1:]), "\n")
	switch m.Data[0] {
	case rawNATSRecord:
		n.mu.Lock()
		n.records[id] = struct{}{}
		n.mu.Unlock()
	case rawNATSRemove:
		n.mu.Lock()
		delete(n.records, id)
		n.mu.Unlock()
		return // published, nobody waits
	case rawNATSPost:
		n.posts.Add(1)
	case rawNATSBatch:
		n.batches.Add(1)
		if err := n.applyBatch(m.Data[1:]); err != nil {
			// Never from the load tool's own nodes: said, and answered, so the sender's handshakes fail.
			n.batchFailures.Add(1)
			n.log.Warn("rawnats: a batch of records refused", "node", n.self, "bytes", len(m.Data), "err", err)
			_ = m.Respond([]byte(err.Error()))
			return
		}
	}
	_ = m.Respond(nil)
}

// applyBatch holds the batch's records and drops its removals, in order, under one lock; a batch that
// does not parse changes nothing.
func (n *rawNATSNode) applyBatch(data []byte) error {
	entries, err := parseRawNATSBatch(data)
	if err != nil {
		return err
	}
	n.batchEntries.Add(int64(len(entries)))
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, e := range entries {
		if e.remove {
			delete(n.records, e.id)
		} else {
			n.records[e.id] = struct{}{}
		}
	}
	return nil
}

// close stops the batcher, detaches the bus, closes the connection and shuts the server down.
func (n *rawNATSNode) close() {
	if n.batch != nil {
		n.batch.close()
	}
	if n.bus != nil {
		_ = n.bus.Detach()
	}
	n.nc.Close()
	n.ns.Shutdown()
	n.ns.WaitForShutdown()
}

// ServeHTTP serves POST /b/@connections/N and GET /ws.
func (n *rawNATSNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		n.post(w, r)
		return
	}
	n.handshake(w, r)
}

// post answers a POST to node N's connection: at once when N is this node, after one NATS round trip to
// node N's process otherwise.
func (n *rawNATSNode) post(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	owner, err := strconv.Atoi(r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:])
	if err != nil || owner < 1 || owner > rawNATSNodes {
		http.Error(w, fmt.Sprintf("want /b/@connections/N, N from 1 to %d", rawNATSNodes), http.StatusNotFound)
		return
	}
	if owner != n.self {
		if _, err := n.bus.Request(r.Context(), cluster.NodeID(owner), rawNATSRequest(rawNATSPost, "", body)); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// handshake runs the $connect call (with -backend) and, with ?record=, writes the connection's record at
// the same time; it upgrades once both are answered.
func (n *rawNATSNode) handshake(w http.ResponseWriter, r *http.Request) {
	kind := r.URL.Query().Get("record")
	id := ""
	var stored func() error // waits for the record's write
	switch kind {
	case "":
	case recordPeer, recordStream:
		id = strconv.FormatInt(n.nextID.Add(1), 10)
		done := make(chan error, 1)
		go func() { done <- n.store(r.Context(), kind, id) }()
		stored = func() error { return <-done }
	case recordPeerBatch:
		id = strconv.FormatInt(n.nextID.Add(1), 10)
		op := n.batch.hold(id, n.record)
		stored = func() error { return n.batch.wait(r.Context(), op) }
	default:
		http.Error(w, "record: want peer, peerbatch or stream", http.StatusBadRequest)
		return
	}
	// A handshake refused once its record was sent removes it even when the write failed: a failure can
	// be the handshake's end (its client left) with the record already at its holder, where it would stay
	// for a connection that never opened. The removal follows the record on the same connection and
	// subject, so it comes after it.
	if n.connectURL != "" {
		if err := n.connect(r.Context()); err != nil {
			if stored != nil {
				_ = stored()
				n.remove(kind, id)
			}
			http.Error(w, "$connect: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	if stored != nil {
		if err := stored(); err != nil {
			n.remove(kind, id)
			http.Error(w, "record: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	socket, err := n.up.Upgrade(w, r)
	if err != nil {
		n.remove(kind, id)
		return
	}
	if id != "" {
		socket.Session().Store("record", [2]string{kind, id})
	}
	go socket.ReadLoop()
}

// store writes connection id's record: to the peer node (recordPeer) or to the stream (recordStream).
func (n *rawNATSNode) store(ctx context.Context, kind, id string) error {
	if kind == recordPeer {
		_, err := n.bus.Request(ctx, cluster.NodeID(n.peer), rawNATSRequest(rawNATSRecord, id, n.record))
		return err
	}
	_, err := n.js.PublishMsg(ctx, &nats.Msg{Subject: rawNATSStreamSubject(n.self), Header: nats.Header{"Id": []string{id}}, Data: n.record})
	return err
}

// remove sends the removal of connection id's record without waiting for an answer (a removal is
// nobody's handshake); nothing for a connection without one.
func (n *rawNATSNode) remove(kind, id string) {
	switch kind {
	case recordPeer:
		_ = n.nc.Publish(natsbus.Subject(cluster.NodeID(n.peer)), rawNATSRequest(rawNATSRemove, id, nil))
	case recordPeerBatch:
		n.batch.drop(id)
	case recordStream:
		_ = n.nc.PublishMsg(&nats.Msg{Subject: rawNATSStreamSubject(n.self), Header: nats.Header{"Id": []string{id}, "Removed": []string{"1"}}})
	}
}

// connect POSTs to the backend's /connect and wants 200.
func (n *rawNATSNode) connect(ctx context.Context) error {
	status, err := post(ctx, n.client, n.connectURL, nil)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("status %d", status)
	}
	return err
}

// held reports how many of another node's peer records this node holds.
func (n *rawNATSNode) held() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.records)
}

// rawNATSEvents removes a closed connection's record and answers pings; messages are ignored.
type rawNATSEvents struct {
	gws.BuiltinEventHandler
	n *rawNATSNode
}

// OnPing answers pings.
func (rawNATSEvents) OnPing(socket *gws.Conn, payload []byte) { _ = socket.WritePong(payload) }

// OnClose sends the removal of the connection's record.
func (e rawNATSEvents) OnClose(socket *gws.Conn, _ error) {
	if v, ok := socket.Session().Load("record"); ok {
		r := v.([2]string)
		e.n.remove(r[0], r[1])
	}
}
