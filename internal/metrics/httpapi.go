package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics are API Gateway's HTTP API metrics (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html):
// Count, 4xx, 5xx, Latency and DataProcessed, with the dimensions ApiId, Stage and Route. IntegrationLatency
// is the WebSocket side's collector: the same metric with the same dimensions.
type httpMetrics struct {
	count         *prometheus.CounterVec
	clientErrors  *prometheus.CounterVec
	serverErrors  *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	dataProcessed *prometheus.CounterVec
}

func (m *Metrics) registerHTTP() {
	counter := func(name, help string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, apiLabels)
		m.reg.MustRegister(v)
		return v
	}
	m.http.count = counter("apigateway_count_total", "Count: requests to HTTP APIs.")
	m.http.clientErrors = counter("apigateway_4xx_total", "4xx: HTTP API requests answered with a 4XX status.")
	m.http.serverErrors = counter("apigateway_5xx_total", "5xx: HTTP API requests answered with a 5XX status.")
	m.http.dataProcessed = counter("apigateway_data_processed_bytes_total", "DataProcessed: bytes of HTTP API responses.")
	m.http.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "apigateway_latency_seconds",
		Help:    "Latency: time between the gateway receiving an HTTP API request and answering it.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, apiLabels)
	m.reg.MustRegister(m.http.latency)
}

// HTTPRequest counts one HTTP API request answered with status after latency; integrated requests also
// feed IntegrationLatency. route is the matched route key ("" when none matched).
func (m *Metrics) HTTPRequest(apiID, stage, route string, status int, latency time.Duration, bytes int64, integrated bool, integrationLatency time.Duration) {
	m.http.count.WithLabelValues(apiID, stage, route).Inc()
	switch {
	case status >= 500:
		m.http.serverErrors.WithLabelValues(apiID, stage, route).Inc()
	case status >= 400:
		m.http.clientErrors.WithLabelValues(apiID, stage, route).Inc()
	}
	m.http.latency.WithLabelValues(apiID, stage, route).Observe(latency.Seconds())
	m.http.dataProcessed.WithLabelValues(apiID, stage, route).Add(float64(bytes))
	if integrated {
		m.integrationLatency.WithLabelValues(apiID, stage, route).Observe(integrationLatency.Seconds())
	}
}
