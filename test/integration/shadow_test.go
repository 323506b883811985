package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/endpoints-controller/endpoints-controller/pkg/controller"
	"github.com/endpoints-controller/endpoints-controller/pkg/metrics"
	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// Shadow mode beside a writing controller: it writes nothing, agrees once
// the writer has converged, and reports a hand edit within seconds.
func TestShadowMode(t *testing.T) {
	e := newEnv(t)
	m := metrics.New()
	e.startController(controller.Options{Shadow: true, Metrics: m})
	gauge := func() int {
		n, err := testutil.GatherAndCount(m.Registry, "endpoints_controller_shadow_mismatches")
		if err != nil || n != 1 {
			t.Fatalf("gathering: %v (%d series)", err, n)
		}
		mfs, _ := m.Registry.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "endpoints_controller_shadow_mismatches" {
				return int(mf.GetMetric()[0].GetGauge().GetValue())
			}
		}
		return -1
	}

	e.createService(service("web", port("", 80, intstr.FromInt32(80), v1.ProtocolTCP)))
	p := e.createPod("a", app("web"), []string{"10.0.0.1"}, true)
	framework.Eventually(t, 10*time.Second, func() error {
		if g := gauge(); g != 1 {
			return fmt.Errorf("mismatches = %d, want 1 (no writer yet)", g)
		}
		return nil
	})
	if _, err := e.getEndpoints("web"); err == nil {
		t.Fatal("shadow mode wrote Endpoints")
	}

	e.startController(controller.Options{}) // the writer
	for i := range 10 {
		p = e.setStatus(p, []string{"10.0.0.1"}, i%2 == 1, v1.PodRunning)
	}
	e.waitIPs("web", []string{"10.0.0.1"}, nil)
	framework.Eventually(t, 10*time.Second, func() error {
		if g := gauge(); g != 0 {
			return fmt.Errorf("mismatches = %d after the writer converged", g)
		}
		return nil
	})

	// A hand edit with the label changed: the writer reverts it, but the
	// shadow must have counted it, by field.
	ep, _ := e.getEndpoints("web")
	ep.Labels["edited"] = "by-hand"
	if _, err := e.cs.CoreV1().Endpoints(e.ns).Update(e.ctx(), ep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, 10*time.Second, func() error {
		mfs, _ := m.Registry.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "endpoints_controller_shadow_diffs_total" {
				for _, s := range mf.GetMetric() {
					if s.GetLabel()[0].GetValue() == "labels" && s.GetCounter().GetValue() >= 1 {
						return nil
					}
				}
			}
		}
		return fmt.Errorf("no labels diff counted")
	})
}
