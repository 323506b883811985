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
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	apiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/apiserver/pkg/server/mux"
	"k8s.io/apiserver/pkg/server/routes"
	"k8s.io/component-base/logs"
	cmapp "k8s.io/controller-manager/app"
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
	Profiling bool                // /debug/pprof/ and /debug/flags/v
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
		routes.Profiling{}.Install(m)
		routes.DebugFlags{}.Install(m, "v", routes.StringFlagPutHandler(logs.GlogSetter))
	}
	return m
}

// ServeSecure serves h over HTTPS on info's listener until ctx ends, behind
// kube-controller-manager's filter chain: authentication (TokenReview,
// client certificates, anonymous), then authorization (SubjectAccessReview,
// with the always-allowed paths and groups), request info, panic recovery.
func ServeSecure(ctx context.Context, info *apiserver.SecureServingInfo, authn *apiserver.AuthenticationInfo, authz *apiserver.AuthorizationInfo, h http.Handler) error {
	if _, _, err := info.Serve(cmapp.BuildHandlerChain(h, authz, authn), 5*time.Second, ctx.Done()); err != nil {
		return fmt.Errorf("serving on the secure port: %w", err)
	}
	return nil
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
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			klog.ErrorS(err, "HTTP server stopped", "address", addr)
		}
	}()
	klog.InfoS("Serving insecurely", "address", ln.Addr().String())
	return nil
}
