package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/endpoints-controller/endpoints-controller/pkg/controller"
	"github.com/endpoints-controller/endpoints-controller/pkg/metrics"
	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// The deliberate differences from the built-in's mechanics against a real
// API server (README, "Deliberate differences from the built-in"); the same
// names in pkg/controller prove them with fakes. TestDivergence_RetriesForever
// is in badinput_test.go, TestDivergence_TrustsWrittenOverStaleCache in
// controller_stress_test.go.

// metricSum sums the samples of the metric family name whose labels include
// want: counter values, or observation counts for a histogram.
func metricSum(t *testing.T, m *metrics.Metrics, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, s := range mf.GetMetric() {
			for k, v := range want {
				found := false
				for _, l := range s.GetLabel() {
					found = found || l.GetName() == k && l.GetValue() == v
				}
				if !found {
					continue next
				}
			}
			sum += s.GetCounter().GetValue() + float64(s.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// With nothing changing, every Service is synced again each resync period:
// on the controller's fake clock, only when it is stepped.
func TestDivergence_ResyncRechecksEveryService(t *testing.T) {
	e := newEnv(t)
	clk := clocktesting.NewFakeClock(time.Now())
	m := metrics.New()
	const period = 5 * time.Minute
	e.startController(controller.Options{Clock: clk, ResyncPeriod: period, Metrics: m})
	e.createService(service("web", port("", 80, intstr.FromInt32(80), v1.ProtocolTCP)))
	e.createService(service("api", port("", 80, intstr.FromInt32(80), v1.ProtocolTCP)))
	e.createPod("p", app("web"), []string{"10.0.0.1"}, true)
	e.waitIPs("web", []string{"10.0.0.1"}, nil)
	e.waitIPs("api", nil, nil)
	e.expectNoWrite("web", time.Second) // settled

	const syncs = "endpoints_controller_sync_duration_seconds"
	before := metricSum(t, m, syncs, nil)
	e.expectNoWrite("web", time.Second)
	if n := metricSum(t, m, syncs, nil); n != before {
		t.Fatalf("%v syncs while nothing changed and no fake time passed", n-before)
	}
	// The resync timer is set right after the first resync at start; step
	// until it has fired (a step before it was set only moves it).
	framework.Eventually(t, 30*time.Second, func() error {
		if n := metricSum(t, m, syncs, nil); n < before+2 {
			clk.Step(period)
			return fmt.Errorf("%v syncs since the resync period passed, want both Services", n-before)
		}
		return nil
	})
	e.expectNoWrite("web", time.Second) // re-checked, nothing to write
}

// A pod turning terminal while its Ready condition still says True leaves
// the Endpoints; the built-in reacts only to readiness, IP, deletion and
// label changes, so it would keep the pod listed.
func TestDivergence_TerminalPodWhileReady(t *testing.T) {
	e := newEnv(t)
	e.startController(controller.Options{})
	e.createService(service("web", port("", 80, intstr.FromInt32(80), v1.ProtocolTCP)))
	p := e.createPod("p", app("web"), []string{"10.0.0.1"}, true, func(p *v1.Pod) { p.Spec.RestartPolicy = v1.RestartPolicyNever })
	e.createPod("q", app("web"), []string{"10.0.0.2"}, true)
	e.waitIPs("web", []string{"10.0.0.1", "10.0.0.2"}, nil)
	p = e.setStatus(p, []string{"10.0.0.1"}, true, v1.PodFailed)
	if c := p.Status.Conditions; len(c) == 0 || c[0].Type != v1.PodReady || c[0].Status != v1.ConditionTrue || p.Status.Phase != v1.PodFailed {
		t.Fatalf("the API server did not keep the pod ready and failed: %+v", p.Status)
	}
	e.waitIPs("web", []string{"10.0.0.2"}, nil)
}

// A create the API server refuses (a quota allowing no Endpoints) is
// retried, and the Endpoints it finally writes carry the trigger time of
// the change the failed write was for: the Service's creation, its first
// sync. The built-in's tracker has moved on by the retry, which writes no
// trigger time.
func TestDivergence_FailedWriteKeepsTriggerTime(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	quotas := e.cs.CoreV1().ResourceQuotas(e.ns)
	none := v1.ResourceList{"count/endpoints": resource.MustParse("0")}
	quota, err := quotas.Create(ctx, &v1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "no-endpoints"},
		Spec:       v1.ResourceQuotaSpec{Hard: none},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// No quota controller runs: write the status it would.
	quota.Status = v1.ResourceQuotaStatus{Hard: none, Used: v1.ResourceList{"count/endpoints": resource.MustParse("0")}}
	if _, err := quotas.UpdateStatus(ctx, quota, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Enforced once the API server's quota admission has seen it.
	framework.Eventually(t, 30*time.Second, func() error {
		probe := &v1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "probe"}}
		_, err := e.cs.CoreV1().Endpoints(e.ns).Create(ctx, probe, metav1.CreateOptions{})
		if apierrors.IsForbidden(err) {
			return nil
		}
		if err == nil {
			_ = e.cs.CoreV1().Endpoints(e.ns).Delete(ctx, probe.Name, metav1.DeleteOptions{})
		}
		return fmt.Errorf("creating Endpoints under the quota: %v", err)
	})

	e.startController(controller.Options{MaxRetryDelay: time.Second})
	e.createPod("a", app("web"), []string{"10.0.0.1"}, true)
	svc := e.createService(service("web", port("", 80, intstr.FromInt32(80), v1.ProtocolTCP)))
	framework.Eventually(t, 30*time.Second, func() error {
		evs, err := e.cs.CoreV1().Events(e.ns).List(ctx, metav1.ListOptions{FieldSelector: "reason=FailedToCreateEndpoint"})
		if err != nil || len(evs.Items) == 0 {
			return fmt.Errorf("no FailedToCreateEndpoint event yet (%v)", err)
		}
		return nil
	})
	if _, err := e.getEndpoints("web"); !apierrors.IsNotFound(err) {
		t.Fatalf("Endpoints written under the quota: %v", err)
	}
	if err := quotas.Delete(ctx, quota.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	ep := e.waitIPs("web", []string{"10.0.0.1"}, nil)
	want := svc.CreationTimestamp.UTC().Format(time.RFC3339Nano)
	if got := ep.Annotations[v1.EndpointsLastChangeTriggerTime]; got != want {
		t.Fatalf("retried create: trigger time %q, want the Service's creation %q", got, want)
	}
}
