package main

// The http scenario: an HTTP API's HTTP_PROXY route against Go's httputil.ReverseProxy doing the same
// proxying to the same backend, driven by the same client in the same run.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// httpRounds is how many times each server is measured, alternating, so that drift on a shared machine
// falls on both.
const httpRounds = 2

// targetHTTPProxyRatio is the HTTP API's HTTP_PROXY route ÷ httputil.ReverseProxy.
const targetHTTPProxyRatio = 0.8

// httpResult is one server's figures in the http scenario, over its rounds.
type httpResult struct {
	Requests  int64         // 200s in the measured windows
	Rate      float64       // 200s per second, mean of the rounds
	P50, P99  time.Duration // latency of the 200s, all rounds
	Errors    int64         // non-200 answers and failed requests
	ServerCPU float64       // CPU cores the server used, mean of the rounds
	HelperCPU float64       // CPU cores the server's helper processes (local functions) used, mean of the rounds
}

// httpServer is one server the http scenarios measure: its process, the URL the clients POST to, and the
// stand-in for its helper processes (a gateway's local functions), if any.
type httpServer struct {
	name    string
	c       *child
	url     string
	helpers *child
}

// reverseProxyHandler is the baseline: httputil.ReverseProxy to backendURL with a transport tuned as the
// gateway's is (keep-alive connections for every client).
func reverseProxyHandler(backendURL string) (http.Handler, error) {
	u, err := url.Parse(backendURL)
	if err != nil {
		return nil, err
	}
	p := httputil.NewSingleHostReverseProxy(u)
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost, t.MaxIdleConns = 256, 1024
	p.Transport = t
	return p, nil
}

// httpAPIConfig is an HTTP API whose $default route proxies to the backend: the request path is sent on.
func httpAPIConfig(backendAddr string) string {
	return fmt.Sprintf(`apis:
  - name: http
    apiId: %s
    protocolType: HTTP
    integrations:
      - {integrationId: be, integrationType: HTTP_PROXY, integrationMethod: ANY, integrationUri: "http://%s"}
    routes:
      - {routeKey: $default, target: integrations/be}
    stages: [{stageName: $default}]
`, benchAPIID, backendAddr)
}

func (b *bench) httpProxy(ctx context.Context) error {
	if b.backend == nil {
		return fmt.Errorf("no backend")
	}
	rp, err := b.start(ctx, "revproxy", "-backend", "http://"+b.backend.addr)
	if err != nil {
		return err
	}
	defer rp.stop()
	b.configs++
	path := filepath.Join(b.dir, fmt.Sprintf("gateway-%d.yaml", b.configs))
	if err := os.WriteFile(path, []byte(httpAPIConfig(b.backend.addr)), 0o600); err != nil {
		return err
	}
	gw, err := b.startGatewayFile(ctx, path)
	if err != nil {
		return err
	}
	defer gw.stop()
	servers := []httpServer{
		{name: "reverseproxy", c: rp, url: "http://" + rp.addr + "/echo"},
		{name: "switchboard", c: gw, url: "http://" + gw.addr + "/" + benchAPIID + "/echo"},
	}
	return b.alternate(ctx, "http", servers)
}

// alternate measures each server in turn, httpRounds times, and records their figures in res.HTTP.
func (b *bench) alternate(ctx context.Context, scenario string, servers []httpServer) error {
	lat := map[string][]time.Duration{}
	for round := 0; round < httpRounds && ctx.Err() == nil; round++ {
		for _, s := range servers {
			r := b.res.HTTP[s.name]
			if r == nil {
				r = &httpResult{}
				b.res.HTTP[s.name] = r
			}
			logf(b.stderr, "%s: %s, round %d", scenario, s.name, round+1)
			n, errs, samples, cpu, helperCPU, err := b.loadHTTP(ctx, s.url, s.c, s.helpers)
			if err != nil {
				return err
			}
			r.HelperCPU += helperCPU / httpRounds
			r.Requests += n
			r.Errors += errs
			r.Rate += float64(n) / b.s.Duration.Seconds() / httpRounds
			r.ServerCPU += cpu / httpRounds
			lat[s.name] = append(lat[s.name], samples...)
		}
	}
	for name, l := range lat {
		slices.Sort(l)
		b.res.HTTP[name].P50, b.res.HTTP[name].P99 = percentile(l, 0.5), percentile(l, 0.99)
	}
	return nil
}

// loadHTTP POSTs -msg-size bytes to url from -clients goroutines for a second of warm-up and -duration
// measured, and returns the 200s, the failures, the 200s' latencies and the CPU cores the server and its
// helpers (nil: none) used in the measured window.
func (b *bench) loadHTTP(ctx context.Context, url string, server, helpers *child) (ok, failed int64, lat []time.Duration, cores, helperCores float64, err error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: b.s.Clients, DisableCompression: true}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	body := bytes.Repeat([]byte("x"), b.s.MsgSize)
	warm := time.Now().Add(time.Second)
	end := warm.Add(b.s.Duration)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var cpu0, helpers0 time.Duration
	var cpuOnce sync.Once
	for i := 0; i < b.s.Clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var myOK, myFailed int64
			var mine []time.Duration
			for ctx.Err() == nil {
				t0 := time.Now()
				if t0.After(end) {
					break
				}
				measured := t0.After(warm)
				if measured {
					cpuOnce.Do(func() {
						cpu0 = server.cpu()
						if helpers != nil {
							helpers0 = helpers.cpu()
						}
					})
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
				resp, err := client.Do(req)
				good := err == nil && resp.StatusCode == http.StatusOK
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if !measured {
					continue
				}
				if good {
					myOK++
					mine = append(mine, time.Since(t0))
				} else {
					myFailed++
				}
			}
			mu.Lock()
			ok, failed, lat = ok+myOK, failed+myFailed, append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	cores = (server.cpu() - cpu0).Seconds() / b.s.Duration.Seconds()
	if helpers != nil {
		helperCores = (helpers.cpu() - helpers0).Seconds() / b.s.Duration.Seconds()
	}
	return ok, failed, lat, cores, helperCores, ctx.Err()
}

// httpRows are the http and httplambda scenarios' lines of the table and their targets.
func httpRows(res *results) ([]row, []target) {
	rows, targets := httpProxyRows(res)
	sls, fn := res.HTTP["sls-httpapi"], res.HTTP["switchboard-lambda"]
	if sls == nil || fn == nil {
		return rows, targets
	}
	r := row{what: fmt.Sprintf("HTTP API requests/s, Lambda route (local Go function) vs serverless-offline httpApi --useInProcess (%d clients)", res.Settings.Clients),
		raw: count(sls.Rate), gateway: count(fn.Rate), ratio: "—", target: fmt.Sprintf("≥ %.0f", targetHTTPLambdaRatio)}
	if sls.Rate > 0 {
		ratio := fn.Rate / sls.Rate
		r.ratio, r.met = fmt.Sprintf("%.2f", ratio), metText(ratio >= targetHTTPLambdaRatio)
		targets = append(targets, target{what: fmt.Sprintf("HTTP API Lambda route ≥ %.0f× serverless-offline httpApi", targetHTTPLambdaRatio),
			value: fmt.Sprintf("%.2f", ratio), met: ratio >= targetHTTPLambdaRatio})
	}
	return append(rows, r,
		row{what: "  p50 / p99 latency", raw: us(sls.P50) + " / " + us(sls.P99), gateway: us(fn.P50) + " / " + us(fn.P99)},
		row{what: "  failed requests", raw: fmt.Sprint(sls.Errors), gateway: fmt.Sprint(fn.Errors)},
		row{what: "  server CPU per request: node process / gateway + function processes (gateway, functions)",
			raw:     perRequest(sls.ServerCPU, sls.Rate),
			gateway: perRequest(fn.ServerCPU+fn.HelperCPU, fn.Rate) + " (" + perRequest(fn.ServerCPU, fn.Rate) + ", " + perRequest(fn.HelperCPU, fn.Rate) + ")"},
	), targets
}

func httpProxyRows(res *results) ([]row, []target) {
	rp, sb := res.HTTP["reverseproxy"], res.HTTP["switchboard"]
	if rp == nil || sb == nil {
		return nil, nil
	}
	r := row{what: fmt.Sprintf("HTTP API requests/s, HTTP_PROXY route (%d clients, %d-byte bodies) vs httputil.ReverseProxy", res.Settings.Clients, res.Settings.MsgSize),
		raw: count(rp.Rate), gateway: count(sb.Rate), ratio: "—", target: fmt.Sprintf("≥ %.1f", targetHTTPProxyRatio)}
	var targets []target
	if rp.Rate > 0 {
		ratio := sb.Rate / rp.Rate
		r.ratio, r.met = fmt.Sprintf("%.2f", ratio), metText(ratio >= targetHTTPProxyRatio)
		targets = append(targets, target{what: fmt.Sprintf("HTTP API HTTP_PROXY ≥ %.1f× httputil.ReverseProxy", targetHTTPProxyRatio),
			value: fmt.Sprintf("%.2f", ratio), met: ratio >= targetHTTPProxyRatio})
	}
	return []row{r,
		{what: "  p50 / p99 latency", raw: us(rp.P50) + " / " + us(rp.P99), gateway: us(sb.P50) + " / " + us(sb.P99)},
		{what: "  server CPU (cores)", raw: fmt.Sprintf("%.2f", rp.ServerCPU), gateway: fmt.Sprintf("%.2f", sb.ServerCPU)},
		{what: "  failed requests", raw: fmt.Sprint(rp.Errors), gateway: fmt.Sprint(sb.Errors)},
	}, targets
}

// perRequest is cores ÷ requests/s as CPU time per request.
func perRequest(cores, rate float64) string {
	if rate <= 0 {
		return "—"
	}
	return us(time.Duration(cores / rate * float64(time.Second)))
}
