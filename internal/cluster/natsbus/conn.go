package natsbus

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ClientConfig is how a node connects to NATS.
type ClientConfig struct {
	// URLs is the comma-separated server list of --cluster nats://host:4222,…; empty with Embedded.
	URLs string
	// Embedded is the in-process server to connect to without a socket (--cluster embedded).
	Embedded *server.Server
	// Name names the connection in the server's monitoring (the node).
	Name string
	// CredsFile is a NATS credentials file (JWT and nkey seed); NKeySeedFile an nkey seed file.
	CredsFile    string
	NKeySeedFile string
	// CAFile trusts the servers' TLS certificates; CertFile and KeyFile are this client's certificate for
	// servers that ask for one. Any of them turns TLS on.
	CAFile, CertFile, KeyFile string
	// Logger receives one line per connection event (lost, back, closed) and per asynchronous error.
	Logger *slog.Logger
	// OnChange is called after every connection event, for readiness.
	OnChange func()
}

// Connect opens the node's NATS connection. A server that is down at start is not an error: the
// connection keeps retrying (and logging) in the background, and IsConnected tells readiness; an
// invalid configuration (unreadable credentials, bad URL) is.
func Connect(cfg ClientConfig) (*nats.Conn, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	changed := func() {
		if cfg.OnChange != nil {
			cfg.OnChange()
		}
	}
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.PingInterval(2 * time.Second),
		nats.MaxPingsOutstanding(2),
		nats.Timeout(2 * time.Second),
		nats.ConnectHandler(func(nc *nats.Conn) {
			log.Info("cluster: connected to NATS", "server", nc.ConnectedUrlRedacted())
			changed()
		}),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if nc.IsClosed() {
				return // closed by the node itself
			}
			log.Error("cluster: NATS connection lost; @connections calls to other nodes answer 5xx and new connections are refused until it is back", "err", err)
			changed()
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("cluster: NATS connection back", "server", nc.ConnectedUrlRedacted())
			changed()
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("cluster: NATS still unreachable; retrying", "err", err)
		}),
		nats.ClosedHandler(func(*nats.Conn) { changed() }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Error("cluster: NATS error", "subject", subject, "err", err)
		}),
	}
	if cfg.Embedded != nil {
		// No write deadline on the in-process pipe: nats.go sets one before each flush and clears it
		// after, and a pipe makes a timer for each (two per flush, a third of a forwarded call's
		// allocations), where a socket's deadline costs nothing. A pipe's write waits only for the
		// server in the same process to read.
		opts = append(opts, nats.InProcessServer(cfg.Embedded), nats.FlusherTimeout(0))
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.NKeySeedFile != "" {
		o, err := nats.NkeyOptionFromSeed(cfg.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("cluster: nkey seed file %s: %w", cfg.NKeySeedFile, err)
		}
		opts = append(opts, o)
	}
	if cfg.CAFile != "" {
		opts = append(opts, nats.RootCAs(cfg.CAFile))
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, errors.New("cluster: a TLS client certificate needs both a certificate and a key file")
	}
	if cfg.CertFile != "" {
		opts = append(opts, nats.ClientCert(cfg.CertFile, cfg.KeyFile))
	}
	url := cfg.URLs
	if cfg.Embedded == nil {
		if err := checkURLs(url); err != nil {
			return nil, err
		}
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("cluster: connect to NATS %s: %w", url, err)
	}
	if !nc.IsConnected() {
		log.Error("cluster: NATS unreachable at start; retrying in the background, the node stays not ready", "servers", url)
	}
	return nc, nil
}

// checkURLs refuses a server list that names no NATS server.
func checkURLs(list string) error {
	if strings.TrimSpace(list) == "" {
		return errors.New("cluster: no NATS server given")
	}
	for _, u := range strings.Split(list, ",") {
		u = strings.TrimSpace(u)
		scheme, rest, ok := strings.Cut(u, "://")
		if !ok || rest == "" || (scheme != "nats" && scheme != "tls" && scheme != "ws" && scheme != "wss") {
			return fmt.Errorf("cluster: %q is not a NATS server URL (nats://host:port or tls://host:port)", u)
		}
	}
	return nil
}
