package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/switchboard-gw/switchboard/internal/configfile"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/throttle"
)

// serveGateway runs Switchboard with the config file at configPath until ctx is done.
func serveGateway(ctx context.Context, listen, configPath string, ready func(addr string)) error {
	f, err := configfile.Load(configPath)
	if err != nil {
		return err
	}
	g, err := gateway.New(gateway.Options{
		Listen: listen,
		Bundle: f.Bundle,
		Logger: slog.New(slog.DiscardHandler),
		// The load tool opens thousands of connections a second from a few loopback addresses.
		Guard:           throttle.GuardConfig{MaxConnections: -1, PerIP: throttle.Unlimited()},
		ShutdownTimeout: 5 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	select {
	case <-g.Ready():
	case err := <-done:
		return fmt.Errorf("gateway: %w", err)
	}
	ready(g.Addr())
	select {
	case <-ctx.Done():
	case err := <-done:
		return fmt.Errorf("gateway stopped by itself: %w", err)
	}
	return <-done
}
