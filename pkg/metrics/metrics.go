// Package metrics defines the controller's own Prometheus metrics, all under
// the endpoints_controller_ prefix, in a registry of its own, and serves them
// with the library metrics kube-controller-manager has.
package metrics

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "endpoints_controller"

// Sync results of sync_duration_seconds.
const (
	ResultSuccess = "success"
	ResultError   = "error"
)

// Sync results of syncs_total: what one sync did. ResultError (above) is
// any failure but a conflict.
const (
	ResultCreated  = "created"
	ResultUpdated  = "updated"
	ResultDeleted  = "deleted"
	ResultNoop     = "noop"     // nothing to write
	ResultConflict = "conflict" // the API server answered 409
)

// SyncResults are the values of syncs_total's result label.
var SyncResults = []string{ResultCreated, ResultUpdated, ResultDeleted, ResultNoop, ResultConflict, ResultError}

// Kinds of observed change, the trigger label of
// event_to_write_latency_seconds.
const (
	TriggerPod       = "pod"
	TriggerService   = "service"
	TriggerEndpoints = "endpoints"
)

// Triggers are the values of event_to_write_latency_seconds' trigger label.
var Triggers = []string{TriggerPod, TriggerService, TriggerEndpoints}

// LatencyBuckets (seconds) serve event_to_write_latency_seconds and
// queue_wait_seconds: from 0.5 ms to 5 minutes, at most 1 ms wide below
// 10 ms, at most 5 ms wide below 50 ms and at most 25 % wider than their
// lower bound above, so that a quantile interpolated within a bucket, as
// histogram_quantile does, is off by no more than the bucket's width.
var LatencyBuckets = []float64{
	0.0005, 0.001, 0.0015, 0.002, 0.0025, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008, 0.009,
	0.01, 0.0125, 0.015, 0.0175, 0.02, 0.025, 0.03, 0.035, 0.04, 0.045, 0.05, 0.06, 0.07, 0.08,
	0.1, 0.125, 0.15, 0.175, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8,
	1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 5, 6, 7, 8,
	10, 12.5, 15, 17.5, 20, 25, 30, 35, 40, 50, 60, 70, 80,
	100, 125, 150, 175, 200, 250, 300,
}

// NativeBucketFactor is the growth of the native-histogram buckets the two
// latency histograms carry as well (scraped in the protobuf format, with
// native histograms enabled in Prometheus): buckets about 4% wide from a
// microsecond to minutes, for quantiles to within a few percent where the
// classic buckets above are up to 25% wide (e.g. a batch period's 500 ms
// falls in 500-600 ms). Only buckets with observations cost memory.
const NativeBucketFactor = 1.05

// nativeMaxBuckets bounds a native histogram's buckets: more, and
// client_golang halves the resolution.
const nativeMaxBuckets = 400

// ServiceStates reports, at scrape time, how far behind the controller is.
type ServiceStates interface {
	// OutOfSync is the number of Services with a change observed, or a
	// failed sync, more than OutOfSyncAfter ago and no successful sync
	// since.
	OutOfSync() int
	// OldestSuccessfulSyncAge is the longest time since a known Service
	// was last synced successfully (0 when none is known).
	OldestSuccessfulSyncAge() time.Duration
}

// OutOfSyncAfter is how long a Service may wait for a successful sync after
// a change before it counts in services_out_of_sync.
const OutOfSyncAfter = 10 * time.Second

// Metrics are the controller's own metrics. A nil *Metrics records nothing.
type Metrics struct {
	Registry *prometheus.Registry

	syncDuration *prometheus.HistogramVec
	syncs        *prometheus.CounterVec
	eventToWrite *prometheus.HistogramVec
	queueWait    prometheus.Histogram
	states       atomic.Pointer[ServiceStates]
	leader       prometheus.Gauge
	shadowGauge  prometheus.Gauge
	shadowDiffs  *prometheus.CounterVec
	scope        scopeMetrics
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
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "syncs_total",
			Help:      "Syncs of one Service, by result: created, updated or deleted its Endpoints, noop (nothing to write), conflict (409 from the API server) or error.",
		}, []string{"result"}),
		eventToWrite: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace:                      namespace,
			Name:                           "event_to_write_latency_seconds",
			Help:                           "Time from a change observed by this process (an informer event) to the API server's answer to the Endpoints write reflecting it, by the kind of the earliest change the write reflects (pod, service, endpoints).",
			Buckets:                        LatencyBuckets,
			NativeHistogramBucketFactor:    NativeBucketFactor,
			NativeHistogramMaxBucketNumber: nativeMaxBuckets,
		}, []string{"trigger"}),
		queueWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace:                      namespace,
			Name:                           "queue_wait_seconds",
			Help:                           "Time from a Service's first queueing (change, resync or retry, batch period and backoff included) since its last sync started to the start of its next sync.",
			Buckets:                        LatencyBuckets,
			NativeHistogramBucketFactor:    NativeBucketFactor,
			NativeHistogramMaxBucketNumber: nativeMaxBuckets,
		}),
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
	// Every label value exists from the start, at 0, so that rates and
	// ratios over them are defined before the first such sync.
	for _, r := range SyncResults {
		m.syncs.WithLabelValues(r)
	}
	for _, tr := range Triggers {
		m.eventToWrite.WithLabelValues(tr)
	}
	outOfSync := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "services_out_of_sync",
		Help:      "Services with a change observed, or a failed sync, more than 10s ago and no successful sync since.",
	}, func() float64 {
		if s := m.states.Load(); s != nil {
			return float64((*s).OutOfSync())
		}
		return 0
	})
	oldest := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "oldest_successful_sync_age_seconds",
		Help:      "Longest time since a known Service was last synced successfully (0 when none); every Service is synced at least once per resync period.",
	}, func() float64 {
		if s := m.states.Load(); s != nil {
			return (*s).OldestSuccessfulSyncAge().Seconds()
		}
		return 0
	})
	m.Registry.MustRegister(m.syncDuration, m.syncs, m.eventToWrite, m.queueWait, outOfSync, oldest,
		m.leader, m.shadowGauge, m.shadowDiffs, newBuildInfo())
	m.scope = newScopeMetrics()
	m.Registry.MustRegister(m.scope.collectors()...)
	return m
}

// ObserveSync records one sync's duration.
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

// CountSync counts one sync with its result, one of SyncResults.
func (m *Metrics) CountSync(result string) {
	if m == nil {
		return
	}
	m.syncs.WithLabelValues(result).Inc()
}

// ObserveEventToWrite records one acknowledged Endpoints write, d after the
// earliest change it reflects, of kind trigger (one of Triggers).
func (m *Metrics) ObserveEventToWrite(trigger string, d time.Duration) {
	if m == nil {
		return
	}
	m.eventToWrite.WithLabelValues(trigger).Observe(d.Seconds())
}

// ObserveQueueWait records how long a Service waited for its sync.
func (m *Metrics) ObserveQueueWait(d time.Duration) {
	if m == nil {
		return
	}
	m.queueWait.Observe(d.Seconds())
}

// SetServiceStates makes s the source of services_out_of_sync and
// oldest_successful_sync_age_seconds, read at every scrape.
func (m *Metrics) SetServiceStates(s ServiceStates) {
	if m == nil {
		return
	}
	m.states.Store(&s)
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
