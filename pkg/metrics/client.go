package metrics

import (
	"context"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientmetrics "k8s.io/client-go/tools/metrics"
)

// RegisterClientMetrics exports client-go's request latency, rate-limiter
// latency and request results as endpoints_controller_rest_client_*. client-go
// takes one registration per process; later calls change nothing.
func (m *Metrics) RegisterClientMetrics() {
	latency := func(name, help string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "rest_client", Name: name, Help: help,
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"verb", "host"})
	}
	req := latency("request_duration_seconds", "API request latency, by verb and host.")
	limiter := latency("rate_limiter_duration_seconds", "Time API requests waited for the client-side rate limiter, by verb and host.")
	results := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "rest_client", Name: "requests_total",
		Help: "API requests, by status code, method and host.",
	}, []string{"code", "method", "host"})
	m.Registry.MustRegister(req, limiter, results)
	clientmetrics.Register(clientmetrics.RegisterOpts{
		RequestLatency:     latencyAdapter{req},
		RateLimiterLatency: latencyAdapter{limiter},
		RequestResult:      resultAdapter{results},
	})
}

type latencyAdapter struct{ h *prometheus.HistogramVec }

func (a latencyAdapter) Observe(_ context.Context, verb string, u url.URL, d time.Duration) {
	a.h.WithLabelValues(verb, u.Host).Observe(d.Seconds())
}

type resultAdapter struct{ c *prometheus.CounterVec }

func (a resultAdapter) Increment(_ context.Context, code, method, host string) {
	a.c.WithLabelValues(code, method, host).Inc()
}
