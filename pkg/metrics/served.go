package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/component-base/metrics/legacyregistry"
	// client-go's workqueue, REST client and leader election metrics under
	// kube-controller-manager's names (workqueue_*, rest_client_*,
	// leader_election_master_status), registered in component-base's
	// registry as kube-controller-manager does; the workqueue's metrics
	// provider is set process-wide.
	_ "k8s.io/component-base/metrics/prometheus/clientgo"

	"github.com/endpoints-controller/endpoints-controller/pkg/version"
)

// Gatherer is everything /metrics serves: component-base's registry (the
// library metrics above, Go runtime and process collectors) and this
// controller's own.
func (m *Metrics) Gatherer() prometheus.Gatherer {
	return prometheus.Gatherers{legacyregistry.DefaultGatherer, m.Registry}
}

// newBuildInfo is endpoints_controller_build_info, always 1, labelled with
// the build's provenance.
func newBuildInfo() prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "build_info",
		Help:      "Always 1; the labels say which build runs: version, source revision and Go version.",
	}, []string{"version", "revision", "goversion"})
	g.WithLabelValues(version.Version, version.Revision, version.GoVersion).Set(1)
	return g
}
