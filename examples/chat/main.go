// Command chat is Switchboard's tutorial app: the AWS "simple chat" sample as an HTTP backend behind a
// Switchboard WebSocket API. Clients send {"action":"sendmessage","data":"…"}; the backend posts the data
// to every connected client through the @connections management API with the AWS SDK for Go v2.
//
// By default it runs both the backend and a Switchboard gateway serving switchboard.yaml (embedded):
//
//	go run ./examples/chat                  # then connect to ws://127.0.0.1:8080/chat/dev
//
// With -gateway=false it runs only the backend, for a gateway you start yourself:
//
//	go run ./examples/chat -gateway=false
//	switchboard serve --config examples/chat/switchboard.yaml
//
// See README.md in this directory for the walkthrough.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/switchboard-gw/switchboard/internal/configfile"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// configYAML is switchboard.yaml, the chat API's configuration.
//
//go:embed switchboard.yaml
var configYAML []byte

const (
	// apiID and stageName locate the chat API: ws://HOST/chat/dev.
	apiID, stageName = "chat", "dev"
	// backendVariable is the stage variable that holds the backend's host:port.
	backendVariable = "backend"
	// shutdownTimeout bounds each half of a graceful stop.
	shutdownTimeout = 10 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "chat:", err)
		}
		os.Exit(1)
	}
}

// run parses args and serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	withGateway := fs.Bool("gateway", true, "also run a Switchboard gateway in this process, serving the embedded switchboard.yaml")
	listen := fs.String("listen", "127.0.0.1:8080", "the in-process gateway's WebSocket and @connections address")
	controlListen := fs.String("control-listen", "127.0.0.1:8081", "the in-process gateway's control-plane (apigatewayv2 API) address; empty: none")
	backendListen := fs.String("backend-listen", "127.0.0.1:9000", "the backend's address; with -gateway=false, keep switchboard.yaml's stage variable \"backend\" equal to it")
	endpoint := fs.String("endpoint", DefaultEndpoint, "the @connections endpoint (stage URL) the backend posts to; with the in-process gateway it follows -listen unless set")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	endpointSet := false
	fs.Visit(func(f *flag.Flag) { endpointSet = endpointSet || f.Name == "endpoint" })
	log := slog.New(slog.NewTextHandler(stderr, nil))

	// Bind the backend first: the gateway's $connect calls queue on this socket until the backend serves.
	ln, err := net.Listen("tcp", *backendListen)
	if err != nil {
		return fmt.Errorf("backend: %w", err)
	}
	defer ln.Close()

	if !*withGateway {
		fmt.Fprintf(stdout, "Chat backend listening on http://%s, posting to %s\n", ln.Addr(), *endpoint)
		fmt.Fprintf(stdout, "Run a gateway with: switchboard serve --config examples/chat/switchboard.yaml\n")
		backend, err := NewBackend(ctx, *endpoint, log)
		if err != nil {
			return err
		}
		return serveBackend(ctx, ln, backend, log)
	}

	g, err := newGateway(*listen, *controlListen, ln.Addr().String(), log.With("component", "gateway"))
	if err != nil {
		return err
	}
	gwCtx, stopGateway := context.WithCancel(context.Background())
	defer stopGateway()
	gwDone := make(chan error, 1)
	go func() { gwDone <- g.Run(gwCtx) }()
	select {
	case <-g.Ready():
	case err := <-gwDone:
		return gatewayError(err)
	}
	if !endpointSet {
		*endpoint = "http://" + g.Addr() + "/" + apiID + "/" + stageName
	}
	backend, err := NewBackend(ctx, *endpoint, log.With("component", "backend"))
	if err != nil {
		stopGateway()
		return errors.Join(err, gatewayError(<-gwDone))
	}
	backendCtx, stopBackend := context.WithCancel(context.Background())
	defer stopBackend()
	backendDone := make(chan error, 1)
	go func() { backendDone <- serveBackend(backendCtx, ln, backend, log) }()
	fmt.Fprintf(stdout, "Chat is running.\n  WebSocket:    ws://%s/%s/%s\n  @connections: %s/@connections/{connectionId}\n  Send:         {\"action\":\"sendmessage\",\"data\":\"hi\"}\n",
		g.Addr(), apiID, stageName, *endpoint)
	if addr := g.ControlAddr(); addr != "" {
		fmt.Fprintf(stdout, "  Control plane: aws apigatewayv2 get-apis --endpoint-url http://%s\n", addr)
	}

	// Stop the gateway first: it closes every connection and runs their $disconnect against the backend,
	// which therefore stops last.
	var errs []error
	select {
	case <-ctx.Done():
		log.Info("stopping")
		backend.CloseIdleConnections()
		stopGateway()
		errs = append(errs, gatewayError(<-gwDone))
	case err := <-gwDone:
		errs = append(errs, gatewayError(err))
	case err := <-backendDone:
		stopGateway()
		return errors.Join(err, gatewayError(<-gwDone))
	}
	stopBackend()
	errs = append(errs, <-backendDone)
	return errors.Join(errs...)
}

func gatewayError(err error) error {
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}

// newGateway prepares a gateway serving the embedded config with the stage variable pointing at backend.
func newGateway(listen, controlListen, backend string, log *slog.Logger) (*gateway.Gateway, error) {
	f, err := configfile.Parse("switchboard.yaml", configYAML)
	if err != nil {
		return nil, err
	}
	if err := setStageVariable(f.Bundle, backendVariable, backend); err != nil {
		return nil, err
	}
	log.Info("stage variable", "api", apiID, "stage", stageName, backendVariable, backend)
	g, err := gateway.New(gateway.Options{Listen: listen, ControlListen: controlListen, Bundle: f.Bundle, Logger: log})
	if err != nil {
		return nil, f.Locate(err)
	}
	return g, nil
}

// setStageVariable sets a variable of the chat API's dev stage.
func setStageVariable(b *resource.Bundle, name, value string) error {
	for i := range b.APIs {
		if b.APIs[i].APIID != apiID {
			continue
		}
		for j := range b.APIs[i].Stages {
			if st := &b.APIs[i].Stages[j]; st.StageName == stageName {
				if st.StageVariables == nil {
					st.StageVariables = make(map[string]string)
				}
				st.StageVariables[name] = value
				return nil
			}
		}
	}
	return fmt.Errorf("switchboard.yaml has no API %q with a stage %q", apiID, stageName)
}

// serveBackend serves b on ln until ctx ends, then shuts the server down gracefully.
func serveBackend(ctx context.Context, ln net.Listener, b *Backend, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           b,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("backend: %w", err)
	case <-ctx.Done():
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(stopCtx)
	if serveErr := <-done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	if err != nil {
		return fmt.Errorf("backend: %w", err)
	}
	log.Info("backend stopped")
	return nil
}
