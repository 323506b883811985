// Package server serves /metrics, the /healthz, /livez and /readyz probes
// and, when asked, /debug/pprof: over HTTPS with authentication and
// authorization delegated to the API server, as kube-controller-manager
// serves them, and over plain HTTP only when asked.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/apiserver/pkg/server/mux"
	"k8s.io/klog/v2"
)

// Checks are the probes: Healthz serves /healthz and /livez, Readyz
// /readyz; each also under /<probe>/<name>. A failing probe answers 500,
// with reasons only for ?verbose, as the apiserver library does.
type Checks struct {
	Healthz []healthz.HealthChecker
	Readyz  []healthz.HealthChecker
}

// Parts say what one handler serves.
type Parts struct {
	Checks    *Checks             // nil: no probes
	Metrics   prometheus.Gatherer // nil: no /metrics
	Profiling bool                // /debug/pprof/, as kube-controller-manager serves it
}

// Handler serves p.
func Handler(p Parts) http.Handler {
	m := mux.NewPathRecorderMux("endpoints-controller")
	if c := p.Checks; c != nil {
		healthz.InstallHandler(m, c.Healthz...)
		healthz.InstallLivezHandler(m, c.Healthz...)
		healthz.InstallReadyzHandler(m, c.Readyz...)
	}
	if p.Metrics != nil {
		m.Handle("/metrics", promhttp.HandlerFor(p.Metrics, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	}
	if p.Profiling {
		m.UnlistedHandleFunc("/debug/pprof", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/debug/pprof/", http.StatusFound)
		})
		m.UnlistedHandlePrefix("/debug/pprof/", http.HandlerFunc(pprof.Index))
		m.UnlistedHandleFunc("/debug/pprof/profile", pprof.Profile)
		m.UnlistedHandleFunc("/debug/pprof/symbol", pprof.Symbol)
		m.UnlistedHandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return m
}

// Serve listens on addr (already validated) and serves h over plain HTTP
// until ctx ends. A failure to listen is returned at once; later errors are
// logged.
func Serve(ctx context.Context, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	run(ctx, srv, func() error { return srv.Serve(ln) }, ln.Addr().String())
	klog.InfoS("Serving insecurely", "address", ln.Addr().String())
	return nil
}

// run serves srv with serve (its Serve or ServeTLS) in the background, and
// shuts it down, giving requests in flight 5s, when ctx ends.
func run(ctx context.Context, srv *http.Server, serve func() error, addr string) {
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	go func() {
		if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			klog.ErrorS(err, "HTTP server stopped", "address", addr)
		}
	}()
}
