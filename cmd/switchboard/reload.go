package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard-gw/switchboard/internal/filewatch"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// reloadInterval is how often the configuration's files are looked at.
const reloadInterval = 500 * time.Millisecond

// loader reads the configuration again: the bundle, and a function that places an error about it in
// the files it came from.
type loader func() (*resource.Bundle, func(error) error, error)

// notifyHUP delivers SIGHUP to a channel from now on (instead of ending the process); stop undoes it.
func notifyHUP() (hup <-chan os.Signal, stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	return ch, func() { signal.Stop(ch) }
}

// watchAndReload serves the configuration anew whenever one of w's files changes, and when hup delivers,
// until ctx ends. A configuration that does not load or compile is logged with every error's place, and
// the one being served stays.
func watchAndReload(ctx context.Context, g *gateway.Gateway, w *filewatch.Watcher, load loader, hup <-chan os.Signal, log *slog.Logger) {
	tick := time.NewTicker(reloadInterval)
	defer tick.Stop()
	for {
		var why string
		select {
		case <-ctx.Done():
			return
		case <-hup:
			w.Changed() // what changed is reloaded now, not again at the next look
			why = "SIGHUP"
		case <-tick.C:
			changed := w.Changed()
			if len(changed) == 0 {
				continue
			}
			why = "changed: " + strings.Join(changed, ", ")
		}
		reload(ctx, g, load, why, log)
	}
}

// reload loads and serves the configuration once.
func reload(ctx context.Context, g *gateway.Gateway, load loader, why string, log *slog.Logger) {
	b, locate, err := load()
	if err == nil {
		err = g.Reload(ctx, b)
		if err != nil && locate != nil {
			err = locate(err)
		}
	}
	if err != nil {
		g.Metrics().Reload("error")
		log.Error("reload failed; the previous configuration stays in service", "reason", why,
			"errors", strings.Count(err.Error(), "\n")+1)
		for _, line := range strings.Split(err.Error(), "\n") {
			log.Error("reload: " + line)
		}
		return
	}
	g.Metrics().Reload("ok")
	log.Info("configuration reloaded", "reason", why, "apis", len(b.APIs), "snapshot_version", g.Snapshot().Version)
}
