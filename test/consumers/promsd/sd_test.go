package promsd

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/discovery/kubernetes"
	"github.com/prometheus/prometheus/discovery/targetgroup"
)

// sdWatch is one Prometheus Kubernetes discoverer, role endpoints, limited
// to one namespace, and the latest target group it sent per Source: what
// Prometheus' discovery manager keeps too.
type sdWatch struct {
	mu     sync.Mutex
	groups map[string]*targetgroup.Group
}

// startSD starts discovery as a Prometheus server configured with
//
//	kubernetes_sd_configs: [{role: endpoints, kubeconfig_file: ..., namespaces: {names: [ns]}}]
//
// would, and stops it when t ends.
func startSD(t *testing.T, kubeconfig, ns string) *sdWatch {
	t.Helper()
	cfg := &kubernetes.SDConfig{
		Role:               kubernetes.RoleEndpoint,
		KubeConfig:         kubeconfig,
		NamespaceDiscovery: kubernetes.NamespaceDiscovery{Names: []string{ns}},
	}
	reg := prometheus.NewRegistry()
	metrics := cfg.NewDiscovererMetrics(reg, discovery.NewRefreshMetrics(reg))
	if err := metrics.Register(); err != nil {
		t.Fatal(err)
	}
	// Warnings and errors only: they say why discovery sees nothing.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := cfg.NewDiscoverer(discovery.DiscovererOptions{Logger: logger, Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}

	w := &sdWatch{groups: map[string]*targetgroup.Group{}}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan []*targetgroup.Group)
	var wg sync.WaitGroup
	wg.Go(func() { d.Run(ctx, ch) })
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case tgs := <-ch:
				w.mu.Lock()
				for _, tg := range tgs {
					if tg != nil {
						w.groups[tg.Source] = tg
					}
				}
				w.mu.Unlock()
			}
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		metrics.Unregister()
	})
	return w
}

// latest returns the latest group per Source; groups are never modified
// once sent, so sharing them is safe.
func (w *sdWatch) latest() []*targetgroup.Group {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*targetgroup.Group, 0, len(w.groups))
	for _, tg := range w.groups {
		out = append(out, tg)
	}
	return out
}
