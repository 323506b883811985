package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestMetrics: after a rollout and a scale-up, /metrics has the latency
// histograms with observations, the write counters and the workqueue's
// metrics.
func TestMetrics(t *testing.T) {
	c := startController(t, "--leader-elect=false")
	c.waitReady(t)
	// The controller measures trigger-to-write latency only for changes
	// made after it started, comparing API timestamps, which have whole
	// seconds, with its start time, which has not: changes within the
	// second it started in look older and are not measured. Wait that out.
	time.Sleep(time.Second)
	ns := newNamespace(t)
	createWeb(t, ns, "web", 2)
	waitEndpointsFollowPods(t, ns, "web", 2, 0)
	scale(t, ns, "web", 3)
	waitEndpointsFollowPods(t, ns, "web", 3, 0)

	scrape := c.metrics(t)
	for _, typ := range []string{
		"endpoints_controller_sync_duration_seconds histogram",
		"endpoints_controller_trigger_to_write_latency_seconds histogram",
		"endpoints_controller_endpoints_writes_total counter",
		"endpoints_controller_leader gauge",
		"endpoints_controller_workqueue_depth gauge",
		"endpoints_controller_workqueue_adds_total counter",
		"endpoints_controller_workqueue_queue_duration_seconds histogram",
		"endpoints_controller_workqueue_work_duration_seconds histogram",
	} {
		if !strings.Contains(scrape, "# TYPE "+typ+"\n") {
			t.Errorf("no %q in /metrics", "# TYPE "+typ)
		}
	}
	positive := []struct {
		name   string
		labels []string
	}{
		{"endpoints_controller_sync_duration_seconds_count", []string{`result="success"`}},
		{"endpoints_controller_sync_duration_seconds_bucket", []string{`result="success"`, `le="+Inf"`}},
		{"endpoints_controller_trigger_to_write_latency_seconds_count", nil},
		{"endpoints_controller_trigger_to_write_latency_seconds_sum", nil},
		// The Service's Endpoints were created, then updated by the rollout.
		{"endpoints_controller_endpoints_writes_total", []string{`operation="create"`, `result="success"`}},
		{"endpoints_controller_endpoints_writes_total", []string{`operation="update"`, `result="success"`}},
		{"endpoints_controller_leader", nil},
		{"endpoints_controller_workqueue_adds_total", []string{`name="endpoint"`}},
		{"endpoints_controller_workqueue_queue_duration_seconds_count", []string{`name="endpoint"`}},
		{"endpoints_controller_workqueue_work_duration_seconds_count", []string{`name="endpoint"`}},
		{"endpoints_controller_rest_client_requests_total", nil},
	}
	for _, m := range positive {
		if v := metric(scrape, m.name, m.labels...); v <= 0 {
			t.Errorf("%s%v = %v, want > 0", m.name, m.labels, v)
		}
	}
	if v := metric(scrape, "endpoints_controller_endpoints_writes_total", `result="error"`); v != 0 {
		t.Errorf("%v failed Endpoints writes", v)
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", scrape)
	}
}
