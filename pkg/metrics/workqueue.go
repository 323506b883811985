package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/util/workqueue"
)

// queueProvider exports client-go workqueue metrics as
// endpoints_controller_workqueue_*{name}.
type queueProvider struct {
	depth, unfinished, longest *prometheus.GaugeVec
	adds, retries              *prometheus.CounterVec
	latency, duration          *prometheus.HistogramVec
}

// WorkqueueProvider returns the provider for client-go workqueues, or nil
// (the queue's default, no metrics) for a nil m.
func (m *Metrics) WorkqueueProvider() workqueue.MetricsProvider {
	if m == nil {
		return nil
	}
	return m.queues
}

func newQueueProvider(reg *prometheus.Registry) *queueProvider {
	sub := "workqueue"
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: sub, Name: name, Help: help}, []string{"name"})
	}
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: sub, Name: name, Help: help}, []string{"name"})
	}
	histogram := func(name, help string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: sub, Name: name, Help: help,
			Buckets: prometheus.ExponentialBuckets(10e-9, 10, 12),
		}, []string{"name"})
	}
	p := &queueProvider{
		depth:      gauge("depth", "Current depth of the workqueue."),
		unfinished: gauge("unfinished_work_seconds", "Seconds of work in progress not yet observed by work_duration; large values mean stuck workers."),
		longest:    gauge("longest_running_processor_seconds", "Seconds the longest running worker has been working on one item."),
		adds:       counter("adds_total", "Items added to the workqueue."),
		retries:    counter("retries_total", "Rate-limited re-adds (retries after failed syncs)."),
		latency:    histogram("queue_duration_seconds", "Time an item waits in the workqueue before being processed."),
		duration:   histogram("work_duration_seconds", "Time processing one item takes."),
	}
	reg.MustRegister(p.depth, p.unfinished, p.longest, p.adds, p.retries, p.latency, p.duration)
	return p
}

func (p *queueProvider) NewDepthMetric(name string) workqueue.GaugeMetric {
	return p.depth.WithLabelValues(name)
}
func (p *queueProvider) NewAddsMetric(name string) workqueue.CounterMetric {
	return p.adds.WithLabelValues(name)
}
func (p *queueProvider) NewLatencyMetric(name string) workqueue.HistogramMetric {
	return p.latency.WithLabelValues(name)
}
func (p *queueProvider) NewWorkDurationMetric(name string) workqueue.HistogramMetric {
	return p.duration.WithLabelValues(name)
}
func (p *queueProvider) NewUnfinishedWorkSecondsMetric(name string) workqueue.SettableGaugeMetric {
	return p.unfinished.WithLabelValues(name)
}
func (p *queueProvider) NewLongestRunningProcessorSecondsMetric(name string) workqueue.SettableGaugeMetric {
	return p.longest.WithLabelValues(name)
}
func (p *queueProvider) NewRetriesMetric(name string) workqueue.CounterMetric {
	return p.retries.WithLabelValues(name)
}
