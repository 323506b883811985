package metrics

import "github.com/prometheus/client_golang/prometheus"

// Reasons of out_of_scope_skips_total.
const (
	OutOfScopeNamespace = "namespace"        // the namespace is not served
	OutOfScopeService   = "service_selector" // the Service exists; the selector leaves it out
)

// OutOfScopeReasons are the values of out_of_scope_skips_total's reason
// label.
var OutOfScopeReasons = []string{OutOfScopeNamespace, OutOfScopeService}

// scopeMetrics say which part of the cluster an instance serves, and how
// often it left something outside it alone.
type scopeMetrics struct {
	info  *prometheus.GaugeVec
	skips *prometheus.CounterVec
}

func newScopeMetrics() scopeMetrics {
	s := scopeMetrics{
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "scope_info",
			Help:      "Always 1; the labels say which scope this instance serves: namespaces and exclude_namespaces (comma lists, empty: not restricted), service_selector (empty: every Service).",
		}, []string{"namespaces", "exclude_namespaces", "service_selector"}),
		skips: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "out_of_scope_skips_total",
			Help:      "Syncs that left an Endpoints alone because it is outside this instance's scope, by reason: namespace (not served) or service_selector (its Service exists and is not selected).",
		}, []string{"reason"}),
	}
	for _, r := range OutOfScopeReasons {
		s.skips.WithLabelValues(r)
	}
	// Unscoped until SetScope says otherwise.
	s.info.WithLabelValues("", "", "").Set(1)
	return s
}

func (s scopeMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{s.info, s.skips}
}

// SetScope records the scope this instance serves (empty strings: not
// restricted).
func (m *Metrics) SetScope(namespaces, excludeNamespaces, serviceSelector string) {
	if m == nil {
		return
	}
	m.scope.info.Reset()
	m.scope.info.WithLabelValues(namespaces, excludeNamespaces, serviceSelector).Set(1)
}

// CountOutOfScope counts one sync that left an out-of-scope Endpoints
// alone, for reason (one of OutOfScopeReasons).
func (m *Metrics) CountOutOfScope(reason string) {
	if m == nil {
		return
	}
	m.scope.skips.WithLabelValues(reason).Inc()
}
