package controller

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
)

// Pod changes within BatchPeriod make one sync, BatchPeriod after the first
// change and not before.
func TestBatchPeriodCoalescesPodChanges(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	const period = 2 * time.Second
	h := newHarnessWith(t, Options{Clock: clk, BatchPeriod: period}, testService())
	base := clk.Waiters()
	for _, name := range []string{"a", "b", "c"} {
		old := testPod(name, "10.0.0.1", true)
		cur := old.DeepCopy()
		cur.ResourceVersion = "2"
		cur.Status.Conditions[0].Status = v1.ConditionFalse
		h.c.onPod(endpoints.NewPod(old), endpoints.NewPod(cur))
	}
	// Step only once the queue waits on its timer: a step while it is
	// computing the timer would push the timer late.
	waitUntil(t, "the batch timer", func() bool { return clk.Waiters() > base })
	clk.Step(period - time.Millisecond)
	if n := h.c.queue.Len(); n != 0 {
		t.Fatalf("%d syncs queued within the batch period", n)
	}
	clk.Step(time.Millisecond)
	if key := h.next(); key != "ns/web" {
		t.Fatalf("queued %q", key)
	}
	if n := h.c.queue.Len(); n != 0 {
		t.Fatalf("%d more syncs queued, want the changes in one", n)
	}
}
