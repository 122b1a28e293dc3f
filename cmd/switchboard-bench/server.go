package main

// The server side: what runs in the child processes. Each child prints "listening ADDR" as its first line
// of standard output and serves until its standard input closes or it receives SIGTERM.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
)

// serverKinds are the kinds of server serverMain runs, as its refusals list them.
const serverKinds = "echo, bridge, lambdabridge, backend, revproxy, fanout, rawnats or gateway"

// serverMain runs "switchboard-bench server KIND [-listen ADDR] [-config FILE]".
func serverMain(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("server: want a kind: " + serverKinds)
	}
	kind := args[0]
	fs := flag.NewFlagSet("server "+kind, flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on (loopback only)")
	config := fs.String("config", "", "gateway config file (gateway only)")
	backendURL := fs.String("backend", "", "URL the bridge POSTs each message to (bridge), proxies to (revproxy), or whose /connect a handshake calls first (rawnats)")
	function := fs.String("function", "", "the Go function executable the Lambda bridge runs as \"EXE handler\" (lambdabridge; default: this binary)")
	procs := fs.Int("procs", functionConcurrency, "function processes of the Lambda bridge (lambdabridge)")
	functionProfile := fs.String("function-profile", "", "directory where the Lambda bridge's function processes write CPU profiles (lambdabridge)")
	connect := fs.Bool("connect", false, "invoke the function with a $connect event before each upgrade, and upgrade only on 200 (lambdabridge)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the server's whole life to this file")
	allocProfile := fs.String("allocprofile", "", "write the allocations of the server's whole life to this file when it stops")
	var cl clusterArgs
	fs.IntVar(&cl.node, "node", 0, "node ID (gateway in a cluster; rawnats: 1 to 3)")
	fs.StringVar(&cl.listen, "cluster-listen", "", "embedded NATS cluster address; set: the gateway joins a cluster (gateway, rawnats)")
	fs.StringVar(&cl.routes, "cluster-routes", "", "the other nodes' -cluster-listen, comma-separated (gateway, rawnats)")
	fs.StringVar(&cl.store, "cluster-store", "", "JetStream directory (gateway in a cluster, rawnats)")
	fs.IntVar(&cl.size, "cluster-size", 1, "nodes the gateway waits to see before it reports it listens (gateway in a cluster only)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if err := checkLoopback(*listen); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	if *allocProfile != "" {
		defer func() {
			if err := writeAllocProfile(*allocProfile); err != nil {
				fmt.Fprintf(os.Stderr, "server %s: allocation profile: %v\n", kind, err)
			}
		}()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The parent closes our standard input to stop us; if it dies, the pipe closes too.
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		cancel()
	}()
	ready := func(addr string) { fmt.Fprintf(stdout, "listening %s\n", addr) }
	switch kind {
	case "echo":
		return serveHTTP(ctx, *listen, echoHandler(), ready)
	case "bridge":
		if *backendURL == "" {
			return errors.New("server bridge: -backend is required")
		}
		return serveHTTP(ctx, *listen, bridgeHandler(*backendURL), ready)
	case "lambdabridge":
		exe := *function
		if exe == "" {
			var err error
			if exe, err = os.Executable(); err != nil {
				return fmt.Errorf("server lambdabridge: %w", err)
			}
		}
		opts := lambdaBridgeOptions{exe: exe, procs: *procs, connect: *connect, log: os.Stderr}
		if *functionProfile != "" {
			opts.env = map[string]string{functionProfileEnv: *functionProfile}
		}
		lb, err := newLambdaBridge(opts)
		if err != nil {
			return err
		}
		defer lb.close()
		return serveHTTP(ctx, *listen, lb, ready)
	case "backend":
		return serveHTTP(ctx, *listen, newBackend(), ready)
	case "revproxy":
		h, err := reverseProxyHandler(*backendURL)
		if err != nil || *backendURL == "" {
			return fmt.Errorf("server revproxy: -backend is required (%v)", err)
		}
		return serveHTTP(ctx, *listen, h, ready)
	case "fanout":
		return serveHTTP(ctx, *listen, fanoutHandler(), ready)
	case "rawnats":
		var routes []string
		if cl.routes != "" {
			routes = strings.Split(cl.routes, ",")
		}
		n, err := newRawNATSNode(ctx, rawNATSOptions{node: cl.node, clusterListen: cl.listen, routes: routes, storeDir: cl.store, backend: *backendURL})
		if err != nil {
			return err
		}
		defer n.close()
		return serveHTTP(ctx, *listen, n, ready)
	case "gateway":
		if *config == "" {
			return errors.New("server gateway: -config is required")
		}
		return serveGateway(ctx, *listen, *config, cl, ready)
	}
	return fmt.Errorf("server: unknown kind %q (want %s)", kind, serverKinds)
}

// checkLoopback refuses any address outside 127.0.0.0/8.
func checkLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("address %q: %w", hostport, err)
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.To4() == nil || !ip.IsLoopback() {
		return fmt.Errorf("address %q: only 127.0.0.0/8 is allowed", hostport)
	}
	return nil
}

// serveHTTP serves h on listen until ctx is done, then closes the server.
func serveHTTP(ctx context.Context, listen string, h http.Handler, ready func(addr string)) error {
	ln, err := net.Listen("tcp4", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	ready(ln.Addr().String())
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(shut)
	_ = srv.Close()
	<-errc
	return nil
}

// echoHandler is the raw WebSocket echo server: gws with the options Switchboard's connections use (4 KiB
// read buffer, 128 KiB messages, UTF-8 checked), upgraded from net/http as gws's examples do, answering
// every message with itself from the read loop.
func echoHandler() http.Handler {
	up := gws.NewUpgrader(echoEvents{}, &gws.ServerOption{
		ReadBufferSize:     4096,
		ReadMaxPayloadSize: 128 * 1024,
		CheckUtf8Enabled:   true,
		Recovery:           gws.Recovery,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		socket, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		go socket.ReadLoop()
	})
}

// echoEvents answers each message with itself.
type echoEvents struct{ gws.BuiltinEventHandler }

// OnPing answers pings.
func (echoEvents) OnPing(socket *gws.Conn, payload []byte) { _ = socket.WritePong(payload) }

// OnMessage echoes the message.
func (echoEvents) OnMessage(socket *gws.Conn, m *gws.Message) {
	defer m.Close()
	_ = socket.WriteMessage(m.Opcode, m.Bytes())
}

// bridgeHandler is the raw proxy bridge: the same gws server as echoHandler, answering every message with
// the body of a POST of it to backendURL, made with Go's HTTP client from the read loop. It is the least a
// WebSocket-to-HTTP proxy can do, so HTTP_PROXY ÷ bridge says how close the gateway is to the cost of the
// work itself.
func bridgeHandler(backendURL string) http.Handler {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4096, DisableCompression: true}, Timeout: 30 * time.Second}
	up := gws.NewUpgrader(&bridgeEvents{client: client, url: backendURL}, &gws.ServerOption{
		ReadBufferSize:     4096,
		ReadMaxPayloadSize: 128 * 1024,
		CheckUtf8Enabled:   true,
		Recovery:           gws.Recovery,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		socket, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		go socket.ReadLoop()
	})
}

// bridgeEvents forwards each message to the backend and sends back the response body.
type bridgeEvents struct {
	gws.BuiltinEventHandler
	client *http.Client
	url    string
}

// OnPing answers pings.
func (*bridgeEvents) OnPing(socket *gws.Conn, payload []byte) { _ = socket.WritePong(payload) }

// OnMessage POSTs the message and answers with the response body; a failure closes the connection.
func (b *bridgeEvents) OnMessage(socket *gws.Conn, m *gws.Message) {
	defer m.Close()
	resp, err := b.client.Post(b.url, "application/json", bytes.NewReader(m.Bytes()))
	if err != nil {
		socket.WriteClose(1011, []byte("backend failed"))
		return
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		socket.WriteClose(1011, []byte("backend failed"))
		return
	}
	_ = socket.WriteMessage(m.Opcode, body)
}

// backend is the trivial HTTP backend: /echo answers the request body back with 200, /connect records the
// X-Connection-Id header (the $connect route's integration) and answers 200 — with ?work=D (a Go
// duration) only after D, as a $connect that writes to a store (a DynamoDB PutItem) takes time before it
// answers —, /ids?from=N lists the IDs recorded since the N-th (counting every ID ever recorded) as a
// JSON array, with the count so far in X-Total.
type backend struct {
	mux *http.ServeMux
	// working is how many /connect requests are waiting out their work now: each waits on its own timer,
	// so any number of them wait at once.
	working atomic.Int64

	mu    sync.Mutex
	ids   []string // the most recent IDs, at most maxRecordedIDs
	first int      // how many IDs were recorded before ids[0]
}

// maxConnectWork bounds /connect's ?work=.
const maxConnectWork = time.Minute

// maxRecordedIDs bounds the IDs the backend remembers; when full it forgets the older half, so a long run
// of handshakes (the cluster scenario's turns) never stops it from recording the newest.
const maxRecordedIDs = 100000

func newBackend() *backend {
	b := &backend{mux: http.NewServeMux()}
	b.mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	b.mux.HandleFunc("/connect", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		if work := r.URL.Query().Get("work"); work != "" {
			d, err := time.ParseDuration(work)
			if err != nil || d < 0 || d > maxConnectWork {
				http.Error(w, fmt.Sprintf("/connect: work %q: want a duration from 0 to %v", work, maxConnectWork), http.StatusBadRequest)
				fmt.Fprintf(os.Stderr, "backend: /connect refused: work %q: want a duration from 0 to %v\n", work, maxConnectWork)
				return
			}
			if !b.work(r.Context(), d) {
				return // the caller left: nobody reads an answer
			}
		}
		if id := r.Header.Get("X-Connection-Id"); id != "" {
			b.mu.Lock()
			if len(b.ids) == maxRecordedIDs {
				half := maxRecordedIDs / 2
				b.ids = append(b.ids[:0], b.ids[half:]...)
				b.first += half
			}
			b.ids = append(b.ids, id)
			b.mu.Unlock()
		}
	})
	b.mux.HandleFunc("GET /ids", func(w http.ResponseWriter, r *http.Request) {
		from, _ := strconv.Atoi(r.URL.Query().Get("from"))
		b.mu.Lock()
		total := b.first + len(b.ids)
		from = min(max(from-b.first, 0), len(b.ids))
		ids := append([]string{}, b.ids[from:]...)
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Total", strconv.Itoa(total))
		_ = json.NewEncoder(w).Encode(ids)
	})
	return b
}

// work waits d, the time a $connect's own work takes (a store's round trip, not CPU), on a timer of its
// own; false if ctx ended first.
func (b *backend) work(ctx context.Context, d time.Duration) bool {
	b.working.Add(1)
	defer b.working.Add(-1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// ServeHTTP routes to the endpoints.
func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.mux.ServeHTTP(w, r) }

// writeAllocProfile writes the allocations sampled since the process started to path.
func writeAllocProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
