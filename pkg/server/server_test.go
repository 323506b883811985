package server

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/endpoints-controller/endpoints-controller/pkg/metrics"
)

func TestProbes(t *testing.T) {
	ready := false
	h := HealthHandler(
		[]Check{{Name: "ping", Fn: func(*http.Request) error { return nil }}},
		[]Check{{Name: "informer-sync", Fn: func(*http.Request) error {
			if !ready {
				return errors.New("not synced")
			}
			return nil
		}}},
	)
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, string(b)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "[-]informer-sync failed: not synced") {
		t.Errorf("/readyz before sync = %d %q", code, body)
	}
	ready = true
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz after sync = %d", code)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	m := metrics.New()
	m.SetLeader(true)
	m.ObserveSync(0, nil)
	rec := httptest.NewRecorder()
	MetricsHandler(m.Registry, false).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, want := range []string{"endpoints_controller_leader 1", "endpoints_controller_sync_duration_seconds_count{result=\"success\"} 1", "go_goroutines", "process_"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	var nilMetrics *metrics.Metrics // records nothing, never panics
	nilMetrics.ObserveSync(0, errors.New("x"))
	nilMetrics.SetLeader(true)
}

func TestProfilingOnlyWhenAsked(t *testing.T) {
	reg := metrics.New().Registry
	for _, on := range []bool{false, true} {
		rec := httptest.NewRecorder()
		MetricsHandler(reg, on).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil))
		if got, want := rec.Code == http.StatusOK, on; got != want {
			t.Errorf("profiling %v: /debug/pprof/ answered %d", on, rec.Code)
		}
	}
}
