package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/switchboard-gw/switchboard/internal/configfile"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// metricsConfig has a MOCK route, a route whose backend answers 500, a route that allows one message,
// no $default route (unknown actions get Forbidden), a $connect route backed by backend (which learns
// the connection ID), and execution logs at ERROR level.
func metricsConfig(backend string) string {
	return fmt.Sprintf(`
apis:
  - name: metered
    apiId: m
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: pong
        integrationType: MOCK
        requestTemplates: {"$default": '{"statusCode": 200}'}
        integrationResponses: [{integrationResponseKey: $default, responseTemplates: {"$default": 'pong'}}]
      - integrationId: be
        integrationType: HTTP_PROXY
        integrationUri: %s/events
        requestParameters:
          integration.request.header.connectionId: context.connectionId
    routes:
      - {routeKey: $connect, target: integrations/be}
      - {routeKey: ping, target: integrations/pong, routeResponses: [{routeResponseKey: $default}]}
      - {routeKey: fail, target: integrations/be}
      - {routeKey: once, target: integrations/pong}
    stages:
      - stageName: dev
        defaultRouteSettings: {loggingLevel: ERROR, dataTraceEnabled: true}
        routeSettings:
          once: {throttlingBurstLimit: 1, throttlingRateLimit: 0.001}
`, backend)
}

// syncBuffer is a log destination the gateway's goroutines and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(s.b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// scrape fetches url and parses the Prometheus text format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// value is the sample of family whose labels include labels (counter, gauge, or a histogram's count);
// ok is false when there is none.
func value(fams map[string]*dto.MetricFamily, family string, labels map[string]string) (v float64, ok bool) {
	f := fams[family]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, want := range labels {
			if have[k] != want {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// Metrics are served on the control listener and on --metrics-listen with API Gateway's metric names and
// dimensions, every refusal counted by reason, and no connection IDs in labels; the execution log at
// ERROR level has one line per refused or failed message and none for successful ones.
func TestMetricsAndExecutionLogs(t *testing.T) {
	var connID sync.Map
	be := gatewaytest.NewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get("connectionId"); id != "" {
			connID.Store("id", id)
		}
		if r.ContentLength > 0 { // a message (the fail route); $connect has no body
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "boom")
			return
		}
	})
	logs := &syncBuffer{}
	g := gatewaytest.Start(t, metricsConfig(be.URL), gatewaytest.WithControlPlane, func(o *gateway.Options) {
		o.MetricsListen = "127.0.0.1:0"
		o.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	c := gatewaytest.Dial(t, g.WSURL+"/m/dev", nil)
	v, _ := connID.Load("id")
	id, _ := v.(string)
	if id == "" {
		t.Fatal("the $connect backend did not learn the connection ID")
	}
	c.Send(`{"action":"ping"}`)
	if got := c.Read(); got != "pong" {
		t.Fatalf("ping: %q", got)
	}
	c.Send(`{"action":"nope"}`)
	if got := c.Read(); !strings.Contains(got, `"message": "Forbidden"`) {
		t.Fatalf("unknown action: %q", got)
	}
	c.Send(`{"action":"fail"}`) // one-way: the backend's 500 is not sent back, but counted
	c.Send(`{"action":"once"}`)
	c.Send(`{"action":"once"}`)
	if got := c.Read(); !strings.Contains(got, `"message": "Too Many Requests"`) {
		t.Fatalf("second message to a route with burst 1: %q", got)
	}
	resp, err := http.Post(g.HTTPURL+"/dev/@connections/"+strings.ReplaceAll(id, "=", "%3D"), "text/plain", strings.NewReader("hi"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := c.Read(); got != "hi" {
		t.Fatalf("@connections post: %q", got)
	}
	resp, err = http.Post(g.HTTPURL+"/dev/@connections/not-an-id", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	api := map[string]string{"api_id": "m", "stage": "dev"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range api {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name   string
		family string
		labels map[string]string
		want   float64
	}{
		{"ConnectCount", "apigateway_connect_count_total", with("route", "$connect"), 1},
		{"MessageCount of a route", "apigateway_message_count_total", with("route", "ping"), 1},
		// The unknown action, and the four messages to the client (pong, two error frames, the post).
		{"MessageCount of messages without a route", "apigateway_message_count_total", with("route", ""), 5},
		{"ClientError for the throttled message", "apigateway_client_error_total", with("route", "once"), 1},
		{"ClientError for no route", "apigateway_client_error_total", with("route", ""), 1},
		{"IntegrationError", "apigateway_integration_error_total", with("route", "fail"), 1},
		{"IntegrationLatency observed", "apigateway_integration_latency_seconds", with("route", "fail"), 1},
		{"open connections", "switchboard_connections_open", api, 1},
		{"messages in", "switchboard_websocket_messages_total", map[string]string{"direction": "in"}, 5},
		{"bytes in", "switchboard_websocket_bytes_total", map[string]string{"direction": "in"}, float64(len(`{"action":"ping"}{"action":"nope"}{"action":"fail"}{"action":"once"}{"action":"once"}`))},
		{"PostToConnection 200", "switchboard_management_requests_total", map[string]string{"operation": "PostToConnection", "status": "200"}, 1},
		{"PostToConnection 400", "switchboard_management_requests_total", map[string]string{"operation": "PostToConnection", "status": "400"}, 1},
		{"refused: no route", "switchboard_refusals_total", map[string]string{"where": "message", "reason": "no_route"}, 1},
		{"refused: throttled", "switchboard_refusals_total", map[string]string{"where": "message", "reason": "throttled"}, 1},
		{"refused: bad @connections request", "switchboard_refusals_total", map[string]string{"where": "management", "reason": "BadRequestException"}, 1},
	}
	for _, url := range []string{g.ControlURL + "/metrics", "http://" + g.MetricsAddr() + "/metrics"} {
		t.Run(url, func(t *testing.T) {
			var fams map[string]*dto.MetricFamily
			// The one-way route's integration finishes in the background: poll until it is counted.
			gatewaytest.Eventually(t, 10*time.Second, func() bool {
				fams = scrape(t, url)
				n, _ := value(fams, "apigateway_integration_error_total", with("route", "fail"))
				return n == 1
			}, "the failed integration was never counted")
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					got, ok := value(fams, tc.family, tc.labels)
					if !ok || got != tc.want {
						t.Fatalf("%s%v = %v (present %v), want %v", tc.family, tc.labels, got, ok, tc.want)
					}
				})
			}
			if v, ok := value(fams, "switchboard_snapshot_version", nil); !ok || v < 1 {
				t.Errorf("switchboard_snapshot_version = %v, %v", v, ok)
			}
			if _, ok := fams["go_goroutines"]; !ok {
				t.Error("no Go runtime metrics")
			}
			for name, f := range fams {
				for _, m := range f.GetMetric() {
					for _, l := range m.GetLabel() {
						if l.GetValue() == id {
							t.Errorf("%s has the connection ID in label %s", name, l.GetName())
						}
					}
				}
			}
		})
	}

	// Execution logs: one line per refusal or failure, with the connection, route, status and reason.
	type line struct {
		route  string
		status float64
		reason string
		data   string // dataTraceEnabled: the message
	}
	var got []line
	for _, l := range logs.lines() {
		if l["msg"] != "execution" {
			continue
		}
		if l["conn_id"] != id {
			t.Errorf("execution line without the connection ID: %v", l)
		}
		r, _ := l["reason"].(string)
		rk, _ := l["route_key"].(string)
		st, _ := l["status"].(float64)
		data, _ := l["data"].(string)
		got = append(got, line{rk, st, r, data})
	}
	want := []line{{"", 403, "no_route", `{"action":"nope"}`}, {"once", 429, "throttled", `{"action":"once"}`}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("execution log lines %v, want %v", got, want)
	}
}

// /healthz answers while the process serves; /readyz answers 503 from the moment a shutdown begins,
// while connections are still being drained.
func TestHealthAndReadiness(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	be := gatewaytest.NewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Route") == "$disconnect" {
			<-release
		}
	})
	defer once.Do(func() { close(release) })
	cfg := fmt.Sprintf(`
apis:
  - name: h
    apiId: h
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: be
        integrationType: HTTP_PROXY
        integrationUri: %s/events
        requestParameters:
          integration.request.header.X-Route: context.routeKey
    routes:
      - {routeKey: $disconnect, target: integrations/be}
    stages: [{stageName: dev}]
`, be.URL)
	file, err := configfile.Parse("health.yaml", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	f := file.Bundle
	g, err := gateway.New(gateway.Options{Listen: "127.0.0.1:0", MetricsListen: "127.0.0.1:0", Bundle: f,
		ShutdownTimeout: 20 * time.Second, Logger: gatewaytest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() {
		cancel()
		once.Do(func() { close(release) })
		<-done
	}()
	<-g.Ready()
	base := "http://" + g.MetricsAddr()
	status := func(path string) int {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if s := status(p); s != http.StatusOK {
			t.Fatalf("%s before shutdown: %d", p, s)
		}
	}
	c := gatewaytest.Dial(t, "ws://"+g.Addr()+"/h/dev", nil)
	defer c.Conn.CloseNow()
	cancel()
	// The $disconnect backend holds the drain: the gateway is stopping but still serving probes.
	gatewaytest.Eventually(t, 10*time.Second, func() bool { return status("/readyz") == http.StatusServiceUnavailable },
		"/readyz never answered 503 during the shutdown")
	if s := status("/healthz"); s != http.StatusOK {
		t.Fatalf("/healthz during the drain: %d", s)
	}
	once.Do(func() { close(release) })
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	done <- nil // for the deferred stop
}

// Without execution logging, a Forbidden frame (no route) is still logged at info level with its reason,
// so the default log says what a client was refused.
func TestRefusalsLoggedWithoutExecutionLogging(t *testing.T) {
	logs := &syncBuffer{}
	g := gatewaytest.Start(t, reloadConfig("pong"), func(o *gateway.Options) {
		o.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	c := gatewaytest.Dial(t, g.WSURL+"/file/dev", nil)
	c.Send(`{"action":"nope"}`)
	if got := c.Read(); !strings.Contains(got, `"message": "Forbidden"`) {
		t.Fatalf("unknown action: %q", got)
	}
	var found map[string]any
	gatewaytest.Eventually(t, 10*time.Second, func() bool {
		for _, l := range logs.lines() {
			if l["msg"] == "message refused" {
				found = l
				return true
			}
		}
		return false
	}, "no refusal logged")
	if found["reason"] != "no_route" || found["status"] != float64(403) || found["error"] != "Forbidden" || len(found["conn_id"].(string)) != 16 {
		t.Fatalf("refusal line %v", found)
	}

	// A 410 from @connections is logged at info level too.
	resp, err := http.Post(g.HTTPURL+"/file/dev/@connections/AAAAAAAAAAAAAAA%3D", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone {
		t.Fatalf("post to an unknown connection: %d", resp.StatusCode)
	}
	gatewaytest.Eventually(t, 10*time.Second, func() bool {
		for _, l := range logs.lines() {
			if l["msg"] == "@connections refused: gone" && l["conn_id"] == "AAAAAAAAAAAAAAA=" && l["type"] == "GoneException" {
				return true
			}
		}
		return false
	}, "no 410 logged at info level")
}
