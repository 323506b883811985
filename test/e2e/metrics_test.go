package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// TestMetrics: after a rollout and a scale-up, /metrics has the latency
// histograms with observations, the sync counters, the out-of-sync gauges
// and the workqueue's metrics.
func TestMetrics(t *testing.T) {
	c := startController(t, "--leader-elect=false")
	c.waitReady(t)
	ns := newNamespace(t)
	createWeb(t, ns, "web", 2)
	waitEndpointsFollowPods(t, ns, "web", 2, 0)
	scale(t, ns, "web", 3)
	waitEndpointsFollowPods(t, ns, "web", 3, 0)

	scrape := c.metrics(t)
	for _, typ := range []string{
		"endpoints_controller_sync_duration_seconds histogram",
		"endpoints_controller_event_to_write_latency_seconds histogram",
		"endpoints_controller_queue_wait_seconds histogram",
		"endpoints_controller_syncs_total counter",
		"endpoints_controller_services_out_of_sync gauge",
		"endpoints_controller_oldest_successful_sync_age_seconds gauge",
		"endpoints_controller_leader gauge",
		"workqueue_depth gauge",
		"workqueue_adds_total counter",
		"workqueue_queue_duration_seconds histogram",
		"workqueue_work_duration_seconds histogram",
	} {
		if !strings.Contains(scrape, "# TYPE "+typ+"\n") {
			t.Errorf("no %q in /metrics", "# TYPE "+typ)
		}
	}
	for _, gone := range []string{"endpoints_controller_trigger_to_write_latency_seconds", "endpoints_controller_endpoints_writes_total", "endpoints_controller_workqueue_depth", "endpoints_controller_rest_client_requests_total"} {
		if strings.Contains(scrape, gone) {
			t.Errorf("/metrics still has %s", gone)
		}
	}
	positive := []struct {
		name   string
		labels []string
	}{
		{"endpoints_controller_sync_duration_seconds_count", []string{`result="success"`}},
		{"endpoints_controller_sync_duration_seconds_bucket", []string{`result="success"`, `le="+Inf"`}},
		// The Service's creation and the scale-up's pods.
		{"endpoints_controller_event_to_write_latency_seconds_count", []string{`trigger="service"`}},
		{"endpoints_controller_event_to_write_latency_seconds_count", []string{`trigger="pod"`}},
		{"endpoints_controller_event_to_write_latency_seconds_sum", []string{`trigger="pod"`}},
		{"endpoints_controller_event_to_write_latency_seconds_bucket", []string{`trigger="pod"`, `le="+Inf"`}},
		{"endpoints_controller_queue_wait_seconds_count", nil},
		// The Service's Endpoints were created, then updated by the rollout.
		{"endpoints_controller_syncs_total", []string{`result="created"`}},
		{"endpoints_controller_syncs_total", []string{`result="updated"`}},
		{"endpoints_controller_syncs_total", []string{`result="noop"`}},
		{"endpoints_controller_leader", nil},
		{"workqueue_adds_total", []string{`name="endpoint"`}},
		{"workqueue_queue_duration_seconds_count", []string{`name="endpoint"`}},
		{"workqueue_work_duration_seconds_count", []string{`name="endpoint"`}},
		{"rest_client_requests_total", nil},
	}
	for _, m := range positive {
		if v := metric(scrape, m.name, m.labels...); v <= 0 {
			t.Errorf("%s%v = %v, want > 0", m.name, m.labels, v)
		}
	}
	for _, m := range []struct {
		name   string
		labels []string
	}{
		{"endpoints_controller_syncs_total", []string{`result="error"`}},
		{"endpoints_controller_syncs_total", []string{`result="conflict"`}},
		{"endpoints_controller_services_out_of_sync", nil},
	} {
		if v := metric(scrape, m.name, m.labels...); v != 0 {
			t.Errorf("%s%v = %v, want 0", m.name, m.labels, v)
		}
	}
	// Every Service was synced at the start (the first resync) or since.
	if v := metric(scrape, "endpoints_controller_oldest_successful_sync_age_seconds"); v <= 0 || v > 300 {
		t.Errorf("oldest_successful_sync_age_seconds = %v, want within (0, 300]", v)
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", scrape)
	}
}

// TestEventToWriteLatencyTriggers: the write that follows a pod deletion is
// timed as trigger="pod", the deletion of a deleted Service's Endpoints as
// trigger="service", and restoring Endpoints edited by hand as
// trigger="endpoints".
func TestEventToWriteLatencyTriggers(t *testing.T) {
	c := startController(t, "--leader-elect=false")
	c.waitReady(t)
	ns := newNamespace(t)
	createWeb(t, ns, "web", 2)
	waitEndpointsFollowPods(t, ns, "web", 2, 0)
	cs := clientset()
	ctx := t.Context()

	counts := func() map[string]float64 {
		scrape := c.metrics(t)
		out := map[string]float64{}
		for _, tr := range []string{"pod", "service", "endpoints"} {
			out[tr] = metric(scrape, "endpoints_controller_event_to_write_latency_seconds_count", `trigger="`+tr+`"`)
		}
		return out
	}
	// expect waits until the counts moved from before by at least (or,
	// exact, exactly) the deltas, and the others not at all.
	expect := func(what string, before map[string]float64, delta map[string]float64, exact bool) map[string]float64 {
		t.Helper()
		var now map[string]float64
		framework.Eventually(t, 30*time.Second, func() error {
			now = counts()
			for tr, b := range before {
				got, want := now[tr]-b, delta[tr]
				if got < want || (got > want && (exact || want == 0)) {
					return fmt.Errorf("%s: trigger %q counted %v more, want %v", what, tr, got, want)
				}
			}
			return nil
		})
		return now
	}
	before := counts()

	// A pod deleted: its removal from the Endpoints, and its
	// replacement's arrival, are pod changes.
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(pods.Items) != 2 {
		t.Fatalf("listing pods: %v (%d)", err, len(pods.Items))
	}
	if err := cs.CoreV1().Pods(ns).Delete(ctx, pods.Items[0].Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, convergeTimeout, func() error {
		if _, err := cs.CoreV1().Pods(ns).Get(ctx, pods.Items[0].Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("pod %s not deleted yet (%v)", pods.Items[0].Name, err)
		}
		return endpointsFollowPods(ctx, ns, "web", 2, 0)
	})
	before = expect("pod deletion", before, map[string]float64{"pod": 1}, false)

	// The Endpoints edited by hand: restored, once.
	ep, err := cs.CoreV1().Endpoints(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ep.Subsets = nil
	if _, err := cs.CoreV1().Endpoints(ns).Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitEndpointsFollowPods(t, ns, "web", 2, 0)
	before = expect("hand edit", before, map[string]float64{"endpoints": 1}, true)

	// The Service deleted: its Endpoints deleted, once.
	if err := cs.CoreV1().Services(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, convergeTimeout, func() error {
		_, err := cs.CoreV1().Endpoints(ns).Get(ctx, "web", metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("Endpoints not deleted yet (%v)", err)
		}
		return nil
	})
	expect("Service deletion", before, map[string]float64{"service": 1}, true)

	scrape := c.metrics(t)
	for _, tr := range []string{"pod", "service", "endpoints"} {
		n := metric(scrape, "endpoints_controller_event_to_write_latency_seconds_count", `trigger="`+tr+`"`)
		sum := metric(scrape, "endpoints_controller_event_to_write_latency_seconds_sum", `trigger="`+tr+`"`)
		t.Logf("trigger %s: %v writes, mean %.1fms", tr, n, sum/max(n, 1)*1000)
	}
	if v := metric(scrape, "endpoints_controller_syncs_total", `result="deleted"`); v != 1 {
		t.Errorf(`syncs_total{result="deleted"} = %v, want 1`, v)
	}
	// The Service, gone, no longer counts; nothing is out of sync.
	if v := metric(scrape, "endpoints_controller_services_out_of_sync"); v != 0 {
		t.Errorf("services_out_of_sync = %v", v)
	}
}
