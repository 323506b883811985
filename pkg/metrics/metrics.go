// Package metrics defines the controller's own Prometheus metrics, all under
// the endpoints_controller_ prefix, in a registry of its own, and serves them
// with the library metrics kube-controller-manager has.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "endpoints_controller"

// Sync results.
const (
	ResultSuccess = "success"
	ResultError   = "error"
)

// Metrics are the controller's own metrics. A nil *Metrics records nothing.
type Metrics struct {
	Registry *prometheus.Registry

	syncDuration   *prometheus.HistogramVec
	triggerToWrite prometheus.Histogram
	writes         *prometheus.CounterVec
	leader         prometheus.Gauge
	shadowGauge    prometheus.Gauge
	shadowDiffs    *prometheus.CounterVec
}

// New returns the controller's metrics registered in a fresh registry (the
// Go and process collectors are component-base's, see Gatherer).
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		syncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "sync_duration_seconds",
			Help:      "Time to sync one Service's Endpoints, by result (success or error).",
			Buckets:   prometheus.ExponentialBuckets(0.0001, 2, 18),
		}, []string{"result"}),
		triggerToWrite: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "trigger_to_write_latency_seconds",
			Help:      "Time from the pod or Service change that triggered an Endpoints write to the write's completion.",
			Buckets:   prometheus.ExponentialBuckets(0.001, 2, 18),
		}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "endpoints_writes_total",
			Help:      "Endpoints writes, by operation (create, update, delete) and result (success or error).",
		}, []string{"operation", "result"}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "leader",
			Help:      "1 while this replica holds the leader lease (or runs without leader election), else 0.",
		}),
		shadowGauge: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "shadow_mismatches",
			Help:      "Shadow mode: Services whose live Endpoints differ from what this controller would write.",
		}),
		shadowDiffs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "shadow_diffs_total",
			Help:      "Shadow mode: new mismatches, by what differed (addresses, notReadyAddresses, ports, labels, annotations).",
		}, []string{"field"}),
	}
	m.Registry.MustRegister(m.syncDuration, m.triggerToWrite, m.writes, m.leader, m.shadowGauge, m.shadowDiffs, newBuildInfo())
	return m
}

// ObserveSync records one sync.
func (m *Metrics) ObserveSync(d time.Duration, err error) {
	if m == nil {
		return
	}
	result := ResultSuccess
	if err != nil {
		result = ResultError
	}
	m.syncDuration.WithLabelValues(result).Observe(d.Seconds())
}

// ObserveWrite records one Endpoints write; for a successful create or
// update with a known trigger time, also the trigger-to-write latency.
func (m *Metrics) ObserveWrite(operation string, err error, trigger time.Time) {
	if m == nil {
		return
	}
	result := ResultSuccess
	if err != nil {
		result = ResultError
	}
	m.writes.WithLabelValues(operation, result).Inc()
	if err == nil && !trigger.IsZero() {
		m.triggerToWrite.Observe(time.Since(trigger).Seconds())
	}
}

// SetLeader records whether this replica leads.
func (m *Metrics) SetLeader(leading bool) {
	if m == nil {
		return
	}
	v := 0.0
	if leading {
		v = 1
	}
	m.leader.Set(v)
}

// SetShadowMismatches sets the shadow mismatch gauge.
func (m *Metrics) SetShadowMismatches(n int) {
	if m == nil {
		return
	}
	m.shadowGauge.Set(float64(n))
}

// ShadowDiffs counts one new mismatch in each of fields.
func (m *Metrics) ShadowDiffs(fields []string) {
	if m == nil {
		return
	}
	for _, f := range fields {
		m.shadowDiffs.WithLabelValues(f).Inc()
	}
}
