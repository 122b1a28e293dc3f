package main

// @connections POSTs per second.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// mgmtResult is the @connections scenario's figures.
type mgmtResult struct {
	OK        int64         // 200s in the measured window
	Rate      float64       // 200s per second
	P50, P99  time.Duration // latency of the 200s
	P999      time.Duration // latency of the 200s, 99.9th percentile
	Other     map[int]int64 // non-200 statuses over the whole run, by status
	Errors    int64         // requests that got no response
	Accepted  int64         // 200s over the whole run, warm-up included
	Delivered int64         // messages the WebSocket clients received
	Conns     int           // WebSocket clients addressed
	ServerCPU float64       // CPU cores the gateway used during the measured window
}

// connectionURL is the management API URL of one connection; the ID's "=" is percent-encoded as the AWS
// SDK does.
func connectionURL(addr, id string) string {
	return "http://" + addr + "/" + benchStage + "/@connections/" + strings.ReplaceAll(url.PathEscape(id), "=", "%3D")
}

func (b *bench) mgmt(ctx context.Context) error {
	if b.backend == nil {
		return fmt.Errorf("no backend")
	}
	_, before, err := b.connectionIDs(ctx, 0)
	if err != nil {
		return err
	}
	gw, err := b.startGateway(ctx, connectBackend)
	if err != nil {
		return err
	}
	r, err := b.measureMgmt(ctx, gw, before)
	if r != nil {
		b.res.Mgmt = r
	}
	return joinErr(err, gw.stop())
}

func (b *bench) measureMgmt(ctx context.Context, gw *child, skipIDs int) (*mgmtResult, error) {
	conns := make([]*websocket.Conn, b.s.Clients)
	var readers sync.WaitGroup
	defer readers.Wait()
	defer closeAll(conns)
	if n, err := b.dialer.dialMany(ctx, stageURL(gw.addr), 4096, conns, 0, len(conns), 16); err != nil {
		return nil, fmt.Errorf("connecting clients (%d open): %w", n, err)
	}
	var delivered atomic.Int64
	countDeliveries(&readers, conns, &delivered)
	// The $connect integration ran before each handshake completed, so the backend has every ID.
	ids, _, err := b.connectionIDs(ctx, skipIDs)
	if err != nil {
		return nil, err
	}
	if len(ids) != len(conns) {
		b.res.warnf(b.stderr, "@connections: the backend saw %d connection IDs for %d clients", len(ids), len(conns))
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("the backend saw no connection ID: is the $connect route calling it?")
	}

	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: b.s.Clients,
		DisableCompression:  true,
		IdleConnTimeout:     30 * time.Second,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	body := message("push", b.s.MsgSize)

	type posterResult struct {
		lat      []time.Duration
		accepted int64
		other    map[int]int64
		errs     int64
		firstErr error
	}
	out := make([]posterResult, b.s.Clients)
	start := time.Now()
	from := start.Add(b.s.warmup())
	end := from.Add(b.s.Duration)
	var wg sync.WaitGroup
	for w := range out {
		wg.Go(func() {
			r := &out[w]
			r.other = map[int]int64{}
			r.lat = make([]time.Duration, 0, 4096)
			for k := 0; ctx.Err() == nil; k++ {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				status, err := post(ctx, client, connectionURL(gw.addr, ids[(w+k)%len(ids)]), body)
				lat := time.Since(t0)
				switch {
				case err != nil:
					r.errs++
					if r.firstErr == nil {
						r.firstErr = err
					}
					time.Sleep(10 * time.Millisecond) // a dead gateway must not make this spin
				case status == http.StatusOK:
					r.accepted++
					if !t0.Before(from) && len(r.lat) < maxSamplesPerClient {
						r.lat = append(r.lat, lat)
					}
				default:
					r.other[status]++
				}
			}
		})
	}
	cpu0 := waitUntil(ctx, from, []*child{gw})
	cpu1 := waitUntil(ctx, end, []*child{gw})
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	// Let the last accepted messages reach the clients before counting them.
	var accepted int64
	for _, r := range out {
		accepted += r.accepted
	}
	for i := 0; i < 20 && delivered.Load() < accepted; i++ {
		time.Sleep(50 * time.Millisecond)
	}

	res := &mgmtResult{Other: map[int]int64{}, Conns: len(ids), ServerCPU: cores(cpu0[0], cpu1[0], b.s.Duration)}
	var lat []time.Duration
	for _, r := range out {
		lat = append(lat, r.lat...)
		res.Accepted += r.accepted
		res.Errors += r.errs
		for k, v := range r.other {
			res.Other[k] += v
		}
		if r.firstErr != nil && res.Errors == r.errs {
			b.res.warnf(b.stderr, "@connections: a POST failed: %v", r.firstErr)
		}
	}
	res.Delivered = delivered.Load()
	slices.Sort(lat)
	res.OK = int64(len(lat))
	res.Rate = float64(len(lat)) / b.s.Duration.Seconds()
	res.P50, res.P99, res.P999 = percentile(lat, 0.50), percentile(lat, 0.99), percentile(lat, 0.999)
	logf(b.stderr, "@connections: %.0f POSTs/s answered 200, p50 %v, p99 %v, gateway CPU %.2f cores, other statuses %v, %d errors, %d accepted, %d delivered",
		res.Rate, res.P50, res.P99, res.ServerCPU, res.Other, res.Errors, res.Accepted, res.Delivered)
	if len(res.Other) > 0 {
		b.res.warnf(b.stderr, "@connections: non-200 responses: %v", res.Other)
	}
	if res.OK == 0 {
		return res, fmt.Errorf("no POST answered 200")
	}
	return res, nil
}

// post sends one POST and returns the status, reading and discarding the response body.
func post(ctx context.Context, client *http.Client, u string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// connectionIDs asks the backend for the connection IDs its /connect endpoint has seen since mark (a
// count of IDs, from an earlier call), and returns them with the new mark.
func (b *bench) connectionIDs(ctx context.Context, mark int) ([]string, int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.backend.addr+"/ids?from="+strconv.Itoa(mark), nil)
	if err != nil {
		return nil, 0, err
	}
	tr := &http.Transport{Proxy: nil}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("backend /ids: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("backend /ids: HTTP %d", resp.StatusCode)
	}
	total, err := strconv.Atoi(resp.Header.Get("X-Total"))
	if err != nil {
		return nil, 0, fmt.Errorf("backend /ids: X-Total %q: %w", resp.Header.Get("X-Total"), err)
	}
	var ids []string
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&ids); err != nil {
		return nil, 0, fmt.Errorf("backend /ids: %w", err)
	}
	return ids, total, nil
}
