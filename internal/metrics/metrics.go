// Package metrics holds Switchboard's Prometheus metrics: API Gateway's CloudWatch metrics for WebSocket
// APIs (namespace AWS/ApiGateway, dimensions ApiId, Stage and Route) under the names the CloudWatch
// exporters give them, plus what a self-hoster needs (open connections, messages and bytes, @connections
// calls, authorizer outcomes, refusals by reason, Lambda invocations, reloads) and the Go runtime.
//
// Labels only ever carry values from the configuration (API IDs, stage names, route keys, function
// names) or fixed words chosen here, never connection IDs, source addresses or message contents, so the
// number of series is bounded by the configuration.
// https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-logging.html
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one gateway's collectors, registered in a registry of their own.
type Metrics struct {
	reg *prometheus.Registry

	// API Gateway's metrics, labelled api_id, stage, route (the CloudWatch dimensions ApiId, Stage, Route,
	// snake-cased as the CloudWatch exporters write them).
	connectCount       *prometheus.CounterVec
	messageCount       *prometheus.CounterVec
	integrationError   *prometheus.CounterVec
	clientError        *prometheus.CounterVec
	executionError     *prometheus.CounterVec
	integrationLatency *prometheus.HistogramVec

	connections   *prometheus.GaugeVec
	wsMessages    *prometheus.CounterVec
	wsBytes       *prometheus.CounterVec
	management    *prometheus.CounterVec
	authorizers   *prometheus.CounterVec
	refusals      *prometheus.CounterVec
	invocations   *prometheus.CounterVec
	invokeSeconds *prometheus.HistogramVec
	coldStarts    *prometheus.CounterVec
	snapshot      prometheus.Gauge
	reloads       *prometheus.CounterVec
	logsDropped   *prometheus.CounterVec
	http          httpMetrics
}

// Label values used by more than one caller.
const (
	In  = "in"  // a message from a client
	Out = "out" // a message to a client (a route response, an error frame or an @connections post)
)

var apiLabels = []string{"api_id", "stage", "route"}

// New makes the collectors, with the Go runtime's and the process's.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		m.reg.MustRegister(v)
		return v
	}
	m.connectCount = counter("apigateway_connect_count_total", "ConnectCount: messages sent to the $connect route.", apiLabels...)
	m.messageCount = counter("apigateway_message_count_total", "MessageCount: messages sent to the WebSocket API, from or to clients.", apiLabels...)
	m.integrationError = counter("apigateway_integration_error_total", "IntegrationError: requests whose integration answered with a 4XX/5XX status.", apiLabels...)
	m.clientError = counter("apigateway_client_error_total", "ClientError: requests answered with a 4XX status before the integration was invoked.", apiLabels...)
	m.executionError = counter("apigateway_execution_error_total", "ExecutionError: errors that occurred when calling the integration (unreachable, timed out).", apiLabels...)
	m.integrationLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "apigateway_integration_latency_seconds",
		Help:    "IntegrationLatency: time between sending the request to the integration and receiving its response.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 29}}, apiLabels)
	m.reg.MustRegister(m.integrationLatency)

	m.connections = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "switchboard_connections_open",
		Help: "WebSocket connections open on this node."}, []string{"api_id", "stage"})
	m.reg.MustRegister(m.connections)
	m.wsMessages = counter("switchboard_websocket_messages_total", "WebSocket data messages by direction (in: from clients, out: to clients).", "direction")
	m.wsBytes = counter("switchboard_websocket_bytes_total", "Payload bytes of WebSocket data messages by direction.", "direction")
	m.management = counter("switchboard_management_requests_total", "@connections and management-extension calls by operation and HTTP status.", "operation", "status")
	m.authorizers = counter("switchboard_authorizer_outcomes_total", "$connect authorization outcomes by authorization type (AWS_IAM, CUSTOM, API_KEY) and outcome.", "api_id", "stage", "type", "outcome")
	m.refusals = counter("switchboard_refusals_total", "Requests and messages refused, by where (handshake, message, management, endpoint) and reason.", "where", "reason")
	m.invocations = counter("switchboard_lambda_invocations_total", "Lambda invocations by function and outcome (ok, function_error, too_large, error).", "function", "outcome")
	m.invokeSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "switchboard_lambda_duration_seconds",
		Help: "Lambda invocation durations as the gateway saw them.", Buckets: prometheus.DefBuckets}, []string{"function"})
	m.reg.MustRegister(m.invokeSeconds)
	m.coldStarts = counter("switchboard_lambda_cold_starts_total", "Local function processes started (cold starts).", "function")
	m.snapshot = prometheus.NewGauge(prometheus.GaugeOpts{Name: "switchboard_snapshot_version", Help: "Version of the configuration snapshot being served."})
	m.reg.MustRegister(m.snapshot)
	m.reloads = counter("switchboard_reloads_total", "Configuration reloads by outcome (ok, error).", "outcome")
	m.logsDropped = counter("switchboard_log_lines_dropped_total", "Log lines not written because their kind exceeded its rate limit.", "kind")

	m.registerHTTP()
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format (or OpenMetrics when asked).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Connect counts a $connect request (ConnectCount).
func (m *Metrics) Connect(apiID, stage string) {
	m.connectCount.WithLabelValues(apiID, stage, "$connect").Inc()
}

// Message counts a message to or from a client on route (MessageCount); route is empty when none applies.
func (m *Metrics) Message(apiID, stage, route string) {
	m.messageCount.WithLabelValues(apiID, stage, route).Inc()
}

// ClientError counts a 4XX answered before the integration ran (ClientError).
func (m *Metrics) ClientError(apiID, stage, route string) {
	m.clientError.WithLabelValues(apiID, stage, route).Inc()
}

// IntegrationError counts an integration that answered with a 4XX/5XX status (IntegrationError).
func (m *Metrics) IntegrationError(apiID, stage, route string) {
	m.integrationError.WithLabelValues(apiID, stage, route).Inc()
}

// ExecutionError counts an integration that could not be called or did not answer (ExecutionError).
func (m *Metrics) ExecutionError(apiID, stage, route string) {
	m.executionError.WithLabelValues(apiID, stage, route).Inc()
}

// IntegrationLatency observes one integration call's duration.
func (m *Metrics) IntegrationLatency(apiID, stage, route string, d time.Duration) {
	m.integrationLatency.WithLabelValues(apiID, stage, route).Observe(d.Seconds())
}

// ConnectionOpened and ConnectionClosed keep the open-connections gauge.
func (m *Metrics) ConnectionOpened(apiID, stage string) {
	m.connections.WithLabelValues(apiID, stage).Inc()
}

// ConnectionClosed is ConnectionOpened's counterpart.
func (m *Metrics) ConnectionClosed(apiID, stage string) {
	m.connections.WithLabelValues(apiID, stage).Dec()
}

// WebSocketMessage counts one data message of n payload bytes in direction (In or Out).
func (m *Metrics) WebSocketMessage(direction string, n int) {
	m.wsMessages.WithLabelValues(direction).Inc()
	m.wsBytes.WithLabelValues(direction).Add(float64(n))
}

// Management counts one management call: operation is PostToConnection, GetConnection,
// DeleteConnection or an extension's name; status the HTTP status answered.
func (m *Metrics) Management(operation string, status int) {
	m.management.WithLabelValues(operation, statusText(status)).Inc()
}

// Authorizer counts one authorization outcome ("allowed", "denied", "error") of type at $connect.
func (m *Metrics) Authorizer(apiID, stage, typ, outcome string) {
	m.authorizers.WithLabelValues(apiID, stage, typ, outcome).Inc()
}

// Refused counts one refusal a client saw, by where it happened and a fixed reason word.
func (m *Metrics) Refused(where, reason string) {
	m.refusals.WithLabelValues(where, reason).Inc()
}

// Invocation counts one Lambda invocation of function with its outcome and duration.
func (m *Metrics) Invocation(function, outcome string, d time.Duration) {
	m.invocations.WithLabelValues(function, outcome).Inc()
	m.invokeSeconds.WithLabelValues(function).Observe(d.Seconds())
}

// ColdStart counts a local function process started.
func (m *Metrics) ColdStart(function string) {
	m.coldStarts.WithLabelValues(function).Inc()
}

// Snapshot records the version of the snapshot being served.
func (m *Metrics) Snapshot(version uint64) {
	m.snapshot.Set(float64(version))
}

// Reload counts a configuration reload: outcome "ok" or "error".
func (m *Metrics) Reload(outcome string) {
	m.reloads.WithLabelValues(outcome).Inc()
}

// LogDropped counts a log line of kind not written because of a rate limit.
func (m *Metrics) LogDropped(kind string) {
	m.logsDropped.WithLabelValues(kind).Inc()
}

// statusText keeps status labels to three digits without allocating for the common ones.
func statusText(status int) string {
	switch status {
	case 200:
		return "200"
	case 204:
		return "204"
	case 400:
		return "400"
	case 403:
		return "403"
	case 404:
		return "404"
	case 410:
		return "410"
	case 413:
		return "413"
	case 429:
		return "429"
	case 500:
		return "500"
	}
	if status < 100 || status > 599 {
		return "other"
	}
	return string(rune('0'+status/100)) + string(rune('0'+status/10%10)) + string(rune('0'+status%10))
}
