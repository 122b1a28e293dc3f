package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/cluster"
	"github.com/switchboard-gw/switchboard/internal/configfile"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/throttle"
)

// clusterArgs make a gateway child one node of a cluster over embedded NATS (listen set).
type clusterArgs struct {
	node                  int
	listen, routes, store string
	size                  int
}

// serveGateway runs Switchboard with the config file at configPath until ctx is done; in a cluster it
// reports that it listens once it is a member and sees cl.size nodes.
func serveGateway(ctx context.Context, listen, configPath string, cl clusterArgs, ready func(addr string)) error {
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
		Node:            cluster.NodeID(cl.node),
		Cluster:         cl.options(),
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
	for cl.listen != "" && (g.ClusterStatus() != "" || len(g.ClusterNodes()) < cl.size) {
		select {
		case <-ctx.Done():
			return <-done
		case err := <-done:
			return fmt.Errorf("gateway: %w", err)
		case <-time.After(20 * time.Millisecond): // polling the membership until it is complete
		}
	}
	ready(g.Addr())
	select {
	case <-ctx.Done():
	case err := <-done:
		return fmt.Errorf("gateway stopped by itself: %w", err)
	}
	return <-done
}

func (cl clusterArgs) options() *gateway.ClusterOptions {
	if cl.listen == "" {
		return nil
	}
	var routes []string
	for _, r := range strings.Split(cl.routes, ",") {
		if r = strings.TrimSpace(r); r != "" {
			routes = append(routes, r)
		}
	}
	return &gateway.ClusterOptions{NATS: gateway.EmbeddedNATS, Listen: cl.listen, Routes: routes, StoreDir: cl.store}
}
