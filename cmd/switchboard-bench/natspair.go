package main

// The raw NATS pair: the least a gateway clustered over NATS can do, measured in the cluster scenario
// next to the Switchboard cluster. Two processes, each with a NATS server embedded and routed to the
// other's (as Switchboard's embedded nodes are) and an in-process client connection to it, each serving:
//
//   - POST /b/@connections/N: answered 200 at once when N is this node ("local"), or after one NATS
//     request/reply to node N's process, which answers at once ("remote"). The difference between the
//     two paths' latencies is the least that a connection owned by another node adds to an
//     @connections call on this machine: one NATS round trip between two processes, with no envelope,
//     no registry and no socket write.
//   - GET /ws: a WebSocket handshake (the same gws server as the raw echo). With -backend it first POSTs
//     to the backend's /connect (as a $connect HTTP_PROXY integration does); with ?record=1 it also
//     sends a connection record to the other process in the same moment and upgrades only once both
//     are answered, and on close publishes the record's removal. The record leaves the process before
//     the upgrade, which is what point 6 of the cluster's design requires (a node killed a moment after
//     the 101 still has its connection's record elsewhere); a core NATS request to one other process is
//     the cheapest such write there is over NATS (no JetStream, no replication to a third process, no
//     batching to wait for), so the pair's handshake rate with records ÷ without is the ceiling of what
//     any clustered gateway can reach on this machine.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// natsPairRecordSize is the size of the raw pair's connection record: about what Switchboard stores for
// a connection with its identity and no authorizer context.
const natsPairRecordSize = 300

// natsPairSubject is the subject prefix of node n's requests: .post, .record, .remove and .ping follow.
func natsPairSubject(n int) string { return "bench.pair." + strconv.Itoa(n) }

// natsPairNode is one process of the raw NATS pair.
type natsPairNode struct {
	self, peer int
	ns         *server.Server
	nc         *nats.Conn
	connectURL string // the backend's /connect; empty: no $connect call
	client     *http.Client
	up         *gws.Upgrader
	record     []byte
	nextID     atomic.Int64

	posts atomic.Int64 // POSTs the other node forwarded here

	mu      sync.Mutex
	records map[string]struct{} // the other node's connections' records, held for it
}

// natsPairOptions configures one node of the raw NATS pair.
type natsPairOptions struct {
	node          int      // 1 or 2
	clusterListen string   // this node's NATS route address
	routes        []string // the other node's
	backend       string   // base URL of the bench backend; empty: no $connect call
}

// newNATSPairNode starts the node's NATS server, connects to it in process, answers the other node's
// requests and waits until the other node answers its own (both servers routed, both subscribed).
func newNATSPairNode(ctx context.Context, opts natsPairOptions) (*natsPairNode, error) {
	if opts.node != 1 && opts.node != 2 {
		return nil, fmt.Errorf("natspair: -node must be 1 or 2, not %d", opts.node)
	}
	host, port, err := splitLoopbackHostPort(opts.clusterListen)
	if err != nil {
		return nil, fmt.Errorf("natspair: -cluster-listen: %w", err)
	}
	so := &server.Options{ServerName: "pair-" + strconv.Itoa(opts.node), Host: "127.0.0.1", Port: server.RANDOM_PORT,
		NoSigs: true, NoLog: true, Cluster: server.ClusterOpts{Name: "bench-pair", Host: host, Port: port}}
	for _, r := range opts.routes {
		u, err := url.Parse("nats://" + r)
		if err != nil {
			return nil, fmt.Errorf("natspair: route %q: %w", r, err)
		}
		so.Routes = append(so.Routes, u)
	}
	ns, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("natspair: NATS server: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("natspair: the NATS server did not start")
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns), nats.Name("natspair-"+strconv.Itoa(opts.node)))
	if err != nil {
		ns.Shutdown()
		return nil, fmt.Errorf("natspair: connect: %w", err)
	}
	n := &natsPairNode{self: opts.node, peer: 3 - opts.node, ns: ns, nc: nc, record: []byte(strings.Repeat("r", natsPairRecordSize)),
		records: map[string]struct{}{}}
	if opts.backend != "" {
		n.connectURL = strings.TrimSuffix(opts.backend, "/") + "/connect"
		n.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4096, DisableCompression: true}, Timeout: 10 * time.Second}
	}
	n.up = gws.NewUpgrader(natsPairEvents{n: n}, &gws.ServerOption{ReadBufferSize: 4096, ReadMaxPayloadSize: 128 * 1024,
		CheckUtf8Enabled: true, Recovery: gws.Recovery})
	if _, err := nc.Subscribe(natsPairSubject(n.self)+".>", n.answer); err != nil {
		n.close()
		return nil, fmt.Errorf("natspair: subscribe: %w", err)
	}
	if err := n.waitForPeer(ctx); err != nil {
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

// waitForPeer pings the other node until it answers: its server is routed to ours and it subscribed.
func (n *natsPairNode) waitForPeer(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := n.nc.Request(natsPairSubject(n.peer)+".ping", nil, time.Second)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("natspair: node %d never answered: %w", n.peer, err)
		}
		time.Sleep(20 * time.Millisecond) // the route or the other process is still starting
	}
}

// answer answers the other node: a POST's request, a record to hold, a removal, a ping.
func (n *natsPairNode) answer(m *nats.Msg) {
	kind := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	switch kind {
	case "record":
		id := m.Header.Get("Id")
		n.mu.Lock()
		n.records[id] = struct{}{}
		n.mu.Unlock()
	case "remove":
		id := m.Header.Get("Id")
		n.mu.Lock()
		delete(n.records, id)
		n.mu.Unlock()
		return // published, nobody waits
	case "post":
		n.posts.Add(1)
	}
	_ = m.Respond(nil)
}

// close closes the connection and shuts the server down.
func (n *natsPairNode) close() {
	n.nc.Close()
	n.ns.Shutdown()
	n.ns.WaitForShutdown()
}

// ServeHTTP serves POST /b/@connections/N and GET /ws.
func (n *natsPairNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		n.post(w, r)
		return
	}
	n.handshake(w, r)
}

// post answers a POST to node N's connection: at once when N is this node, after one NATS round trip to
// node N's process otherwise.
func (n *natsPairNode) post(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	owner, err := strconv.Atoi(r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:])
	if err != nil || (owner != 1 && owner != 2) {
		http.Error(w, "want /b/@connections/1 or /2", http.StatusNotFound)
		return
	}
	if owner != n.self {
		if _, err := n.nc.RequestWithContext(r.Context(), natsPairSubject(owner)+".post", body); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// handshake runs the $connect call (with -backend) and, with ?record=1, sends the connection's record to
// the other process at the same time; it upgrades once both are answered.
func (n *natsPairNode) handshake(w http.ResponseWriter, r *http.Request) {
	record := r.URL.Query().Get("record") == "1"
	id := ""
	var stored chan error
	if record {
		id = strconv.FormatInt(n.nextID.Add(1), 10)
		stored = make(chan error, 1)
		go func() {
			m := &nats.Msg{Subject: natsPairSubject(n.peer) + ".record", Header: nats.Header{"Id": []string{id}}, Data: n.record}
			_, err := n.nc.RequestMsgWithContext(r.Context(), m)
			stored <- err
		}()
	}
	if n.connectURL != "" {
		if err := n.connect(r.Context()); err != nil {
			if record && <-stored == nil {
				n.remove(id)
			}
			http.Error(w, "$connect: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	if record {
		if err := <-stored; err != nil {
			http.Error(w, "record: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	socket, err := n.up.Upgrade(w, r)
	if err != nil {
		n.remove(id)
		return
	}
	if id != "" {
		socket.Session().Store("id", id)
	}
	go socket.ReadLoop()
}

// connect POSTs to the backend's /connect and wants 200.
func (n *natsPairNode) connect(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.connectURL, http.NoBody)
	if err != nil {
		return err
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// remove publishes the removal of connection id's record (no answer awaited: a removal is nobody's
// handshake); nothing for a connection without one.
func (n *natsPairNode) remove(id string) {
	if id == "" {
		return
	}
	_ = n.nc.PublishMsg(&nats.Msg{Subject: natsPairSubject(n.peer) + ".remove", Header: nats.Header{"Id": []string{id}}})
}

// held reports how many of the other node's records this node holds.
func (n *natsPairNode) held() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.records)
}

// natsPairEvents removes a closed connection's record and answers pings; messages are ignored.
type natsPairEvents struct {
	gws.BuiltinEventHandler
	n *natsPairNode
}

// OnPing answers pings.
func (natsPairEvents) OnPing(socket *gws.Conn, payload []byte) { _ = socket.WritePong(payload) }

// OnClose publishes the removal of the connection's record.
func (e natsPairEvents) OnClose(socket *gws.Conn, _ error) {
	if v, ok := socket.Session().Load("id"); ok {
		e.n.remove(v.(string))
	}
}
