package main

// RSS per idle connection.

import (
	"context"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
)

// rssResult is one server's memory figures.
type rssResult struct {
	BaselineKiB int64      // VmRSS after the warm-up connections
	Points      []rssPoint // one per connection count reached
}

// rssPoint is the server's memory with Conns idle connections open.
type rssPoint struct {
	Conns      int
	RSSKiB     int64
	KiBPerConn float64 // (RSSKiB − BaselineKiB) / Conns
}

// at returns the point measured at conns connections, if any.
func (r *rssResult) at(conns int) (rssPoint, bool) {
	if r == nil {
		return rssPoint{}, false
	}
	for _, p := range r.Points {
		if p.Conns == conns {
			return p, true
		}
	}
	return rssPoint{}, false
}

// idleBufSize is the client's buffer size for idle connections; the client's memory is not measured.
const idleBufSize = 1024

func (b *bench) rssRaw(ctx context.Context) error {
	c, err := b.start(ctx, "echo")
	if err != nil {
		return err
	}
	msg := message("echo", b.s.MsgSize)
	r, err := b.measureRSS(ctx, c, "ws://"+c.addr+"/", msg, msg)
	if r != nil {
		b.res.RSS["raw"] = r
	}
	return joinErr(err, c.stop())
}

func (b *bench) rssGateway(ctx context.Context) error {
	c, err := b.startGateway(ctx, connectNone)
	if err != nil {
		return err
	}
	r, err := b.measureRSS(ctx, c, stageURL(c.addr), message("mock", b.s.MsgSize), []byte(mockReply))
	if r != nil {
		b.res.RSS["switchboard"] = r
	}
	return joinErr(err, c.stop())
}

// measureRSS opens warmConns connections with one round trip each, reads the server's baseline RSS, then
// opens idle connections up to each of the configured counts and reads the RSS again.
func (b *bench) measureRSS(ctx context.Context, srv *child, url string, msg, want []byte) (*rssResult, error) {
	warm := make([]*websocket.Conn, warmConns)
	defer closeAll(warm)
	if n, err := b.dialer.dialMany(ctx, url, idleBufSize, warm, 0, warmConns, 4); err != nil {
		return nil, fmt.Errorf("warm-up connections (%d open): %w", n, err)
	}
	for _, c := range warm {
		if err := roundTrip(c, msg, want, 10*time.Second); err != nil {
			return nil, fmt.Errorf("warm-up round trip: %w", err)
		}
	}
	base, err := b.stableRSS(ctx, srv)
	if err != nil {
		return nil, err
	}
	res := &rssResult{BaselineKiB: base}
	logf(b.stderr, "%s: baseline RSS %d KiB with %d warm connections", srv.name, base, warmConns)

	counts := []int{b.s.Conns}
	if b.s.MaxConns > b.s.Conns {
		counts = append(counts, b.s.MaxConns)
	}
	conns := make([]*websocket.Conn, counts[len(counts)-1])
	defer closeAll(conns)
	open := 0
	for _, n := range counts {
		began := time.Now()
		var dialErr error
		open, dialErr = b.dialer.dialMany(ctx, url, idleBufSize, conns, open, n, 32)
		if dialErr != nil {
			if ctx.Err() != nil || open <= b.s.Conns/2 {
				return res, fmt.Errorf("opening %d idle connections: %d open: %w", n, open, dialErr)
			}
			b.res.warnf(b.stderr, "%s: stopped at %d of %d idle connections: %v", srv.name, open, n, dialErr)
		}
		logf(b.stderr, "%s: %d idle connections open in %v", srv.name, open, time.Since(began).Round(time.Millisecond))
		rss, err := b.stableRSS(ctx, srv)
		if err != nil {
			return res, err
		}
		p := rssPoint{Conns: open, RSSKiB: rss, KiBPerConn: float64(rss-base) / float64(open)}
		res.Points = append(res.Points, p)
		logf(b.stderr, "%s: RSS %d KiB with %d idle connections: %.2f KiB per connection", srv.name, rss, open, p.KiBPerConn)
		if dialErr != nil {
			break
		}
	}
	// The idle connections must still be alive: ask a few of them for a round trip.
	for _, i := range []int{0, open / 2, open - 1} {
		if err := roundTrip(conns[i], msg, want, 10*time.Second); err != nil {
			b.res.warnf(b.stderr, "%s: idle connection %d failed its round trip after the measurement: %v", srv.name, i+1, err)
		}
	}
	return res, nil
}

// stableRSS waits until the server's RSS stops changing (less than max(256 KiB, 0.5%) over one second,
// for at most 30 seconds) and returns it.
func (b *bench) stableRSS(ctx context.Context, srv *child) (int64, error) {
	const (
		interval = 200 * time.Millisecond
		window   = 5 // samples: one second
		limit    = 30 * time.Second
	)
	var samples []int64
	deadline := time.Now().Add(limit)
	for {
		rss, err := rssKiB(srv.pid())
		if err != nil {
			return 0, fmt.Errorf("%s server: %w", srv.name, err)
		}
		samples = append(samples, rss)
		if n := len(samples); n > window {
			d := rss - samples[n-1-window]
			if d < 0 {
				d = -d
			}
			if d <= max(256, rss/200) {
				return rss, nil
			}
		}
		if time.Now().After(deadline) {
			b.res.warnf(b.stderr, "%s: RSS still changing after %v; using %d KiB", srv.name, limit, rss)
			return rss, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(interval):
		}
	}
}

func joinErr(a, b error) error {
	if a == nil {
		return b
	}
	if b != nil {
		return fmt.Errorf("%w; %v", a, b)
	}
	return a
}
