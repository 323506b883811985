package server

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/apiserver/pkg/server/healthz"

	"github.com/endpoints-controller/endpoints-controller/pkg/metrics"
)

func get(h http.Handler, path string) (int, string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

// The probes answer as the apiserver library's do (kube-controller-manager's):
// 200 "ok", or 500 naming the failed check (its reason goes to the log).
func TestProbes(t *testing.T) {
	ready := false
	h := Handler(Parts{Checks: &Checks{
		Healthz: []healthz.HealthChecker{healthz.PingHealthz},
		Readyz: []healthz.HealthChecker{healthz.PingHealthz, healthz.NamedCheck("informer-sync", func(*http.Request) error {
			if !ready {
				return errors.New("not synced")
			}
			return nil
		})},
	}})
	for _, path := range []string{"/healthz", "/livez", "/healthz/ping"} {
		if code, body := get(h, path); code != 200 || body != "ok" {
			t.Errorf("%s = %d %q", path, code, body)
		}
	}
	if code, body := get(h, "/readyz?verbose"); code != 500 || !strings.Contains(body, "[-]informer-sync failed") {
		t.Errorf("/readyz before sync = %d %q", code, body)
	}
	ready = true
	if code, _ := get(h, "/readyz"); code != 200 {
		t.Errorf("/readyz after sync = %d", code)
	}
	if code, _ := get(h, "/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics served by the probes' handler: %d", code)
	}
}

// /metrics has this controller's metrics, component-base's library metrics
// under kube-controller-manager's names, and the Go and process collectors.
func TestMetricsEndpoint(t *testing.T) {
	m := metrics.New()
	m.SetLeader(true)
	m.ObserveSync(0, nil)
	code, body := get(Handler(Parts{Metrics: m.Gatherer()}), "/metrics")
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{"endpoints_controller_leader 1", "endpoints_controller_sync_duration_seconds_count{result=\"success\"} 1",
		"endpoints_controller_build_info{", "go_goroutines", "process_start_time_seconds"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	var nilMetrics *metrics.Metrics // records nothing, never panics
	nilMetrics.ObserveSync(0, errors.New("x"))
	nilMetrics.SetLeader(true)
}

func TestProfilingOnlyWhenAsked(t *testing.T) {
	for _, on := range []bool{false, true} {
		h := Handler(Parts{Metrics: metrics.New().Registry, Profiling: on})
		if code, _ := get(h, "/debug/pprof/"); (code == http.StatusOK) != on {
			t.Errorf("profiling %v: /debug/pprof/ answered %d", on, code)
		}
	}
}
