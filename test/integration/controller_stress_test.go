package integration

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/endpoints-controller/endpoints-controller/pkg/controller"
	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// Rule 13, a divergence: a pod flipping ready/not-ready as fast as the API
// server takes it must leave the Endpoints matching its final state, never
// stuck on a stale cached copy as the built-in can be, which trusts its cache
// over what it wrote (kubernetes issues 125638, 127429, 124547, 117193).
func TestDivergence_TrustsWrittenOverStaleCache(t *testing.T) {
	e := newEnv(t)
	e.startController(controller.Options{})
	e.createService(service("web", port("", 80, intstr.FromInt32(80), v1.ProtocolTCP)))
	pod := e.createPod("p", app("web"), []string{"10.0.0.1"}, true)
	e.createPod("q", app("web"), []string{"10.0.0.2"}, true)
	e.waitIPs("web", []string{"10.0.0.1", "10.0.0.2"}, nil)

	for round := range 5 {
		var ready bool
		for i := range 40 + round {
			ready = i%2 == 1
			pod = e.setStatus(pod, []string{"10.0.0.1"}, ready, v1.PodRunning)
		}
		if ready {
			e.waitIPs("web", []string{"10.0.0.1", "10.0.0.2"}, nil)
		} else {
			e.waitIPs("web", []string{"10.0.0.2"}, []string{"10.0.0.1"})
		}
	}
}

// --endpoint-updates-batch-period: changes to one Service's pods within the
// period make one write, and it does not land before the period is over.
// The controller runs on a fake clock, so however long the flips take on a
// slow host, they all fall within one period.
func TestBatchPeriodCoalesces(t *testing.T) {
	e := newEnv(t)
	const period = 2 * time.Second
	clk := clocktesting.NewFakeClock(time.Now())
	e.startController(controller.Options{BatchPeriod: period, Clock: clk})
	e.createService(service("web", port("", 80, intstr.FromInt32(80), v1.ProtocolTCP)))
	ips := []string{"10.0.2.1", "10.0.2.2", "10.0.2.3"}
	pods := make([]*v1.Pod, len(ips))
	for i, ip := range ips {
		pods[i] = e.createPod(fmt.Sprintf("p%d", i), app("web"), []string{ip}, true)
	}
	framework.Eventually(t, 30*time.Second, func() error {
		clk.Step(period) // the creations' batches
		ep, err := e.getEndpoints("web")
		if err != nil {
			return err
		}
		if ready, _ := endpoints.CountAddresses(ep.Subsets); ready != len(ips) {
			return fmt.Errorf("%d ready addresses", ready)
		}
		return nil
	})
	e.expectNoWrite("web", time.Second) // no batch left waiting
	before, err := e.getEndpoints("web")
	if err != nil {
		t.Fatal(err)
	}
	w, err := e.cs.CoreV1().Endpoints(e.ns).Watch(e.ctx(), metav1.ListOptions{
		FieldSelector: "metadata.name=web", ResourceVersion: before.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	for i := range pods {
		pods[i] = e.setStatus(pods[i], []string{ips[i]}, false, v1.PodRunning)
	}
	// No fake time has passed: nothing may be written, however long we wait
	// (which also lets the controller receive every flip).
	e.expectNoWrite("web", 2*time.Second)
	clk.Step(period)
	e.waitIPs("web", nil, ips)
	e.expectNoWrite("web", time.Second)
	writes := 0
	for {
		select {
		case ev := <-w.ResultChan():
			if ev.Type != "MODIFIED" {
				t.Fatalf("unexpected %s event: %v", ev.Type, ev.Object)
			}
			writes++
			continue
		case <-time.After(time.Second):
		}
		break
	}
	if writes != 1 {
		t.Errorf("%d writes for three flips within one batch period, want 1", writes)
	}
}

// Many pods flipping at once, from several writers.
func TestConcurrentFlipsConverge(t *testing.T) {
	e := newEnv(t)
	e.startController(controller.Options{Workers: 5})
	e.createService(service("web", port("", 80, intstr.FromInt32(80), v1.ProtocolTCP)))
	const n = 20
	pods := make([]*v1.Pod, n)
	for i := range pods {
		pods[i] = e.createPod(fmt.Sprintf("p%d", i), app("web"), []string{fmt.Sprintf("10.0.1.%d", i)}, true)
	}
	var wg sync.WaitGroup
	final := make([]bool, n)
	for i := range pods {
		wg.Go(func() {
			for j := range 10 + i%3 {
				ready := j%2 == 0
				pods[i] = e.setStatus(pods[i], []string{fmt.Sprintf("10.0.1.%d", i)}, ready, v1.PodRunning)
				final[i] = ready
			}
		})
	}
	wg.Wait()
	var ready, notReady []string
	for i, r := range final {
		if r {
			ready = append(ready, fmt.Sprintf("10.0.1.%d", i))
		} else {
			notReady = append(notReady, fmt.Sprintf("10.0.1.%d", i))
		}
	}
	e.waitIPs("web", ready, notReady)
}

// Rule 8: over 1000 addresses → truncated and annotated; the annotation
// goes when the count drops back.
func TestTruncation(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 1001 pods")
	}
	e := newEnv(t)
	e.startController(controller.Options{})
	e.createService(service("big", port("", 80, intstr.FromInt32(80), v1.ProtocolTCP)))
	e.createManyPods(endpoints.MaxCapacity+1, app("big"), 1, func(i int) bool { return i%10 != 0 })
	e.waitEndpoints("big", func(ep *v1.Endpoints) error {
		ready, notReady := endpoints.CountAddresses(ep.Subsets)
		if ep.Annotations[v1.EndpointsOverCapacity] != "truncated" || ready != 900 || notReady != 100 {
			return fmt.Errorf("ready %d notReady %d annotation %q; want 900/100 truncated", ready, notReady, ep.Annotations[v1.EndpointsOverCapacity])
		}
		return nil
	})
	e.expectNoWrite("big", 2*time.Second)

	if err := e.cs.CoreV1().Pods(e.ns).Delete(e.ctx(), "p0000", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	e.waitEndpoints("big", func(ep *v1.Endpoints) error {
		ready, notReady := endpoints.CountAddresses(ep.Subsets)
		if _, ok := ep.Annotations[v1.EndpointsOverCapacity]; ok || ready+notReady != 1000 {
			return fmt.Errorf("ready %d notReady %d annotations %v", ready, notReady, ep.Annotations)
		}
		return nil
	})
}

// Rule 12: creates in a terminating namespace are forbidden; the controller
// drops them quietly and keeps working elsewhere.
func TestTerminatingNamespace(t *testing.T) {
	e := newEnv(t)
	e.startController(controller.Options{})
	e.createService(service("web", port("", 80, intstr.FromInt32(80), v1.ProtocolTCP)))
	e.createPod("p", app("web"), []string{"10.0.0.1"}, true)
	e.waitIPs("web", []string{"10.0.0.1"}, nil)
	// No namespace controller runs here, so the namespace stays Terminating
	// with everything in it.
	if err := e.cs.CoreV1().Namespaces().Delete(e.ctx(), e.ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.cs.CoreV1().Endpoints(e.ns).Delete(e.ctx(), "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	<-ctx.Done()
	if _, err := e.getEndpoints("web"); !apierrors.IsNotFound(err) {
		t.Fatalf("endpoints re-created in a terminating namespace: %v", err)
	}
}

// 5000 pods behind one Service: truncated to 1000 ready addresses, the
// not-ready ones dropped first, with the controller's memory bounded.
func TestFiveThousandPods(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 5000 pods")
	}
	e := newEnv(t)
	e.startController(controller.Options{})
	e.createService(service("big", port("", 80, intstr.FromInt32(80), v1.ProtocolTCP)))
	e.createManyPods(5000, app("big"), 2, func(i int) bool { return i%5 != 0 })
	e.waitEndpoints("big", func(ep *v1.Endpoints) error {
		ready, notReady := endpoints.CountAddresses(ep.Subsets)
		if ep.Annotations[v1.EndpointsOverCapacity] != "truncated" || ready != endpoints.MaxCapacity || notReady != 0 {
			return fmt.Errorf("ready %d notReady %d annotation %q; want %d/0 truncated", ready, notReady, ep.Annotations[v1.EndpointsOverCapacity], endpoints.MaxCapacity)
		}
		return nil
	})
	e.expectNoWrite("big", 2*time.Second)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	// The whole test process: the controller's trimmed caches plus the
	// test's own clients. The built-in needs ~100 MB for 2000 pods.
	if ms.HeapAlloc > 256<<20 {
		t.Errorf("heap %d MB after 5000 pods", ms.HeapAlloc>>20)
	}
	t.Logf("heap after 5000 pods: %d MB", ms.HeapAlloc>>20)
}
