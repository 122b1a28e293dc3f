package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedConfig is the NATS server run inside the Switchboard process (--cluster embedded).
type EmbeddedConfig struct {
	// Name is the server's name in the NATS cluster; it must differ between nodes (JetStream needs it).
	Name string
	// ClusterName names the NATS cluster; all nodes use the same (default "switchboard").
	ClusterName string
	// ClusterListen is the host:port other nodes' servers connect to (--cluster-listen). Empty runs a
	// NATS server of its own, without routes.
	ClusterListen string
	// Routes are the other nodes' cluster addresses (--cluster-routes), host:port or nats://host:port.
	Routes []string
	// ClientListen is where external NATS clients (the nats CLI, monitoring) may connect; empty listens
	// on a free loopback port, which the node itself does not use (it connects in process).
	ClientListen string
	// StoreDir is JetStream's storage directory; empty uses a directory under the system's temporary one.
	StoreDir string
	// Logger receives the server's notices, warnings and errors.
	Logger *slog.Logger
	// NameConflict, when set, is called with the name each time the server refuses a route because the
	// server at its other end has the same name (two nodes started with one node ID).
	NameConflict func(name string)
}

// StartEmbedded starts a NATS server with JetStream in this process and waits until it accepts clients.
// Shut it down with Shutdown and WaitForShutdown after the node's connection is closed.
func StartEmbedded(cfg EmbeddedConfig) (*server.Server, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Name == "" {
		return nil, errors.New("cluster: the embedded NATS server needs a name")
	}
	if cfg.ClusterName == "" {
		cfg.ClusterName = "switchboard"
	}
	opts := &server.Options{
		ServerName: cfg.Name,
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		NoSigs:     true,
		NoLog:      false,
		// One message is at most a 128 KiB @connections body plus its envelope.
		MaxPayload: 1 << 20,
	}
	if cfg.ClientListen != "" {
		host, port, err := splitHostPort(cfg.ClientListen, "--cluster-client-listen")
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = host, port
	}
	if cfg.StoreDir == "" {
		cfg.StoreDir = filepath.Join(os.TempDir(), "switchboard-nats-"+sanitize(cfg.Name))
	}
	opts.StoreDir = cfg.StoreDir
	if cfg.ClusterListen != "" {
		host, port, err := splitHostPort(cfg.ClusterListen, "--cluster-listen")
		if err != nil {
			return nil, err
		}
		opts.Cluster = server.ClusterOpts{Name: cfg.ClusterName, Host: host, Port: port}
		for _, r := range cfg.Routes {
			r = strings.TrimSpace(r)
			if r == "" {
				continue
			}
			if !strings.Contains(r, "://") {
				r = "nats://" + r
			}
			u, err := url.Parse(r)
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("cluster: route %q is not host:port or nats://host:port", r)
			}
			opts.Routes = append(opts.Routes, u)
		}
	} else if len(cfg.Routes) > 0 {
		return nil, errors.New("cluster: --cluster-routes needs --cluster-listen (the address the other nodes' routes connect to)")
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("cluster: embedded NATS server: %w", err)
	}
	s.SetLoggerV2(serverLog{log: log, conflict: cfg.NameConflict}, false, false, false)
	s.Start()
	// JetStream's start (its store directory, its meta group) takes seconds on a loaded machine; give it
	// room before calling the start failed.
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("cluster: the embedded NATS server did not start (cluster listen %q)", cfg.ClusterListen)
	}
	log.Info("cluster: embedded NATS server started", "name", cfg.Name, "cluster_listen", clusterAddr(s),
		"routes", len(opts.Routes), "store", cfg.StoreDir, "client_url", s.ClientURL())
	return s, nil
}

func clusterAddr(s *server.Server) string {
	if a := s.ClusterAddr(); a != nil {
		return a.String()
	}
	return ""
}

// ClusterAddr is the bound --cluster-listen address of an embedded server (with port 0 resolved).
func ClusterAddr(s *server.Server) string { return clusterAddr(s) }

func splitHostPort(hp, flag string) (string, int, error) {
	host, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, fmt.Errorf("cluster: %s %q: %w", flag, hp, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("cluster: %s %q: bad port", flag, hp)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// serverLog sends the embedded server's log to slog, tagged as NATS's, at levels that say what the
// operator must act on. Routes come and go in the normal course of a cluster's life (nodes start one
// after the other, restart, upgrade), so their connect retries and their ups and downs are information,
// each with a line of its own, not errors; membership decides, and logs, when a node is gone. Every other
// server error stays an error, its warnings warnings, and its notices (start-up banner, JetStream
// housekeeping) go to debug.
type serverLog struct {
	log      *slog.Logger
	conflict func(name string) // EmbeddedConfig.NameConflict; nil: none
}

// duplicateName is nats-server's error when a route's remote server has this server's name
// (server/route.go, processRouteInfo): the route is closed, and redialled a second later.
const duplicateName = "Remote server has a duplicate name: %q"

// routeConnectErr is nats-server's format for a failed route dial (server/route.go, connectToRoute).
const routeConnectErr = "Error trying to connect to route (attempt %v): %v"

// routeRetryEvery is how many failed dials of one route make one log line after the first: the server
// retries each second, and reports every retry of a route that was up before.
const routeRetryEvery = 60

func (l serverLog) Noticef(format string, v ...any) {
	switch {
	case strings.HasSuffix(format, "Route connection created"):
		// c.format prefixes the remote address and route ID.
		l.log.Info("cluster: NATS route up", "route", strings.TrimSuffix(strings.TrimSuffix(format, "Route connection created"), " - "))
	case strings.Contains(format, "%s connection closed: %s") && len(v) >= 2 && v[0] == "Route":
		l.log.Info("cluster: NATS route down; the server redials it", "route", strings.TrimSuffix(format[:strings.Index(format, "%s connection closed")], " - "),
			"reason", fmt.Sprint(v[1]))
	default:
		l.log.Debug("nats: " + fmt.Sprintf(format, v...))
	}
}

func (l serverLog) Errorf(format string, v ...any) {
	if format == routeConnectErr && len(v) == 2 {
		attempt, _ := v[0].(int)
		level := slog.LevelDebug
		if attempt <= 1 || attempt%routeRetryEvery == 0 {
			level = slog.LevelInfo
		}
		l.log.Log(context.Background(), level, "cluster: NATS route not reachable yet; the server retries every second until it answers",
			"attempt", attempt, "err", fmt.Sprint(v[1]))
		return
	}
	if strings.HasSuffix(format, duplicateName) && len(v) > 0 && l.conflict != nil {
		if name, ok := v[len(v)-1].(string); ok {
			l.conflict(name)
		}
	}
	l.log.Error("nats: " + fmt.Sprintf(format, v...))
}

// waitingForRoutes is the RAFT layer's rate-limited warning while a JetStream group has no route to
// its peers yet (server/raft.go): the normal state of a node whose peers have not started.
const waitingForRoutes = "Waiting for routing to be established..."

func (l serverLog) Warnf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...) // rate-limited warnings arrive as "%s" and the text
	if msg == waitingForRoutes {
		l.log.Info("cluster: NATS JetStream waiting for routes to its peers")
		return
	}
	l.log.Warn("nats: " + msg)
}

func (l serverLog) Fatalf(format string, v ...any) { l.log.Error("nats: " + fmt.Sprintf(format, v...)) }
func (l serverLog) Debugf(format string, v ...any) {}
func (l serverLog) Tracef(format string, v ...any) {}

// RoutedPeers is how many other servers s has a route to. Not s.NumRoutes, which counts route
// connections, several per peer (a pool, and one for the system account), and so reaches a cluster's
// size less one with a single peer routed.
func RoutedPeers(s *server.Server) int {
	rz, err := s.Routez(nil)
	if err != nil {
		return 0 // not answered: none counted
	}
	ids := map[string]bool{}
	for _, r := range rz.Routes {
		ids[r.RemoteID] = true
	}
	return len(ids)
}
