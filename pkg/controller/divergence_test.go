package controller

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	endpointsliceutil "k8s.io/endpointslice/util"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
)

// The deliberate differences from the built-in's mechanics (README,
// "Deliberate differences from the built-in"), proven fast here with a fake
// clientset and a fake clock; test/integration proves each against a real
// API server under the same name.

// builtinMaxRetries is the built-in's maxRetries (kubernetes
// pkg/controller/endpoint): after that many failed syncs it forgets the
// Service until its next change.
const builtinMaxRetries = 15

// next returns the next queued key. The queue's goroutine may need a moment
// of real time after a clock step; no fake time passes meanwhile.
func (h *harness) next() string {
	h.t.Helper()
	got := make(chan string, 1)
	go func() { k, _ := h.c.queue.Get(); got <- k }() // ShutDown at cleanup ends it
	select {
	case k := <-got:
		return k
	case <-time.After(10 * time.Second):
		h.t.Fatal("nothing queued")
		return ""
	}
}

// waitUntil polls cond for a few real seconds, for goroutines to catch up.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// Failed syncs are retried with capped backoff past the built-in's retry
// limit, and the Service heals once the API accepts the write.
func TestDivergence_RetriesForever(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	const maxDelay = time.Minute
	h := newHarnessWith(t, Options{Clock: clk, MaxRetryDelay: maxDelay}, testService(), testPod("a", "10.0.0.1", true))
	var failing atomic.Bool
	failing.Store(true)
	h.client.PrependReactor("create", "endpoints", func(k8stesting.Action) (bool, runtime.Object, error) {
		if failing.Load() {
			return true, nil, apierrors.NewInternalError(errors.New("etcd down"))
		}
		return false, nil, nil
	})
	ctx := context.Background()
	base := clk.Waiters()
	h.c.queue.Add("ns/web")
	const failures = builtinMaxRetries + 5
	for i := range failures {
		key := h.next()
		err := h.sync(key)
		if err == nil {
			t.Fatalf("failure %d: sync succeeded against a failing API", i+1)
		}
		h.c.handleErr(ctx, key, err)
		h.c.queue.Done(key)
		if h.c.queue.Len() != 0 {
			t.Fatalf("failure %d: retried without waiting for the backoff", i+1)
		}
		// Step once the queue waits on its timer (see TestBatchPeriodCoalescesPodChanges).
		waitUntil(t, "the backoff timer", func() bool { return clk.Waiters() > base })
		clk.Step(maxDelay) // the longest backoff
	}
	if n := h.c.queue.NumRequeues("ns/web"); n != failures {
		t.Fatalf("requeues = %d after %d failures: the key was dropped", n, failures)
	}

	failing.Store(false)
	key := h.next()
	err := h.sync(key)
	h.c.handleErr(ctx, key, err)
	h.c.queue.Done(key)
	if err != nil || h.actions("create") != failures+1 || h.c.queue.NumRequeues(key) != 0 {
		t.Fatalf("after healing: err %v, %d creates, %d requeues", err, h.actions("create"), h.c.queue.NumRequeues(key))
	}
}

// Every Service is queued again every ResyncPeriod, not only on changes.
// (The built-in re-checks Services only on its informers' resync, 12h or
// more apart by kube-controller-manager's default --min-resync-period.)
func TestDivergence_ResyncRechecksEveryService(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	const period = 5 * time.Minute
	other := testService()
	other.Name = "other"
	h := newHarnessWith(t, Options{Clock: clk, ResyncPeriod: period}, testService(), other)
	close(h.c.started) // as Run does once the caches have synced
	base := clk.Waiters()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.c.resyncLoop(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	for round := range 3 {
		got := map[string]bool{h.next(): true, h.next(): true}
		if !got["ns/web"] || !got["ns/other"] {
			t.Fatalf("round %d: queued %v, want both Services", round, got)
		}
		for k := range got {
			h.c.queue.Done(k)
		}
		waitUntil(t, "the resync timer", func() bool { return clk.Waiters() > base })
		clk.Step(period - time.Millisecond)
		if n := h.c.queue.Len(); n != 0 {
			t.Fatalf("round %d: %d Services queued before the resync period", round, n)
		}
		clk.Step(time.Millisecond)
	}
}

// A pod turning terminal (Failed, Succeeded) while its Ready condition still
// says True re-syncs its Services; the built-in's rule ignores the change.
func TestDivergence_TerminalPodWhileReady(t *testing.T) {
	old := testPod("a", "10.0.0.1", true)
	cur := old.DeepCopy()
	cur.ResourceVersion = "2"
	cur.Status.Phase = v1.PodFailed // Ready still True
	if key := endpointsliceutil.GetPodUpdateProjectionKey(old, cur); key != nil {
		t.Errorf("the built-in's rule reacts to the phase now: %+v", key)
	}

	h := newHarness(t, testService(), old)
	if err := h.sync("ns/web"); err != nil {
		t.Fatal(err)
	}
	h.cache(cur)
	h.c.onPod(endpoints.NewPod(old), endpoints.NewPod(cur))
	if h.c.queue.Len() != 1 {
		t.Fatalf("%d Services queued for a pod turning terminal, want 1", h.c.queue.Len())
	}
	if err := h.sync(h.next()); err != nil {
		t.Fatal(err)
	}
	ep, err := h.client.CoreV1().Endpoints("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ep.Subsets) != 0 {
		t.Fatalf("the terminal pod is still listed: %+v", ep.Subsets)
	}
}

// A write that fails keeps its trigger time: the retry's write carries the
// earliest change it reflects, the failed attempt's included. The built-in
// computes the trigger time before writing and its tracker then holds the
// new state, so its retry, seeing no change, writes none.
func TestDivergence_FailedWriteKeepsTriggerTime(t *testing.T) {
	created := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	svc := testService()
	svc.CreationTimestamp = metav1.NewTime(created)
	pod := testPod("a", "10.0.0.1", false)
	pod.Status.Conditions[0].LastTransitionTime = metav1.NewTime(created.Add(time.Second))

	// The built-in's tracker: the retry computes the same state again and
	// gets no trigger time, so the built-in's retry writes no annotation.
	builtin := endpointsliceutil.NewTriggerTimeTracker()
	if got := builtin.ComputeEndpointLastChangeTriggerTime("ns", svc, []*v1.Pod{pod}); !got.Equal(created) {
		t.Fatalf("built-in's first computation = %v, want the Service's creation %v", got, created)
	}
	if got := builtin.ComputeEndpointLastChangeTriggerTime("ns", svc, []*v1.Pod{pod}); !got.IsZero() {
		t.Fatalf("built-in's retry computes trigger time %v: it no longer loses it", got)
	}

	h := newHarness(t, svc, pod)
	failNext := map[string]error{ // verb → the error its next call fails with
		"create": apierrors.NewInternalError(errors.New("etcd down")),
	}
	h.client.PrependReactor("*", "endpoints", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if err := failNext[a.GetVerb()]; err != nil {
			delete(failNext, a.GetVerb())
			return true, nil, err
		}
		return false, nil, nil
	})
	annotation := func() string {
		t.Helper()
		ep, err := h.client.CoreV1().Endpoints("ns").Get(context.Background(), "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		h.cache(ep) // as the informer would
		return ep.Annotations[v1.EndpointsLastChangeTriggerTime]
	}
	syncFailsThenHeals := func(what string) {
		t.Helper()
		if err := h.sync("ns/web"); err == nil {
			t.Fatalf("%s: the failing write succeeded", what)
		}
		if err := h.sync("ns/web"); err != nil {
			t.Fatalf("%s: retry: %v", what, err)
		}
	}

	// The first write, a create, fails; its retry carries the Service's
	// creation.
	syncFailsThenHeals("create")
	if got, want := annotation(), created.Format(time.RFC3339Nano); got != want {
		t.Fatalf("retried create: trigger time %q, want the Service's creation %q", got, want)
	}

	// The pod turns ready; the update fails with a conflict, and its retry
	// carries the pod's Ready transition.
	ready := pod.DeepCopy()
	ready.ResourceVersion = "2"
	readyAt := created.Add(time.Minute)
	ready.Status.Conditions[0] = v1.PodCondition{Type: v1.PodReady, Status: v1.ConditionTrue, LastTransitionTime: metav1.NewTime(readyAt)}
	h.cache(ready)
	failNext["update"] = apierrors.NewConflict(v1.Resource("endpoints"), "web", errors.New("changed meanwhile"))
	syncFailsThenHeals("update")
	if got, want := annotation(), readyAt.Format(time.RFC3339Nano); got != want {
		t.Fatalf("retried update: trigger time %q, want the pod's Ready transition %q", got, want)
	}

	// Written: nothing is kept for the Service any more.
	if n := h.c.failedWrites.len(); n != 0 {
		t.Fatalf("%d trigger times kept after the writes succeeded", n)
	}

	// Nor once the Service is gone, its last write having failed.
	unready := ready.DeepCopy()
	unready.ResourceVersion = "3"
	unready.Status.Conditions[0] = v1.PodCondition{Type: v1.PodReady, Status: v1.ConditionFalse, LastTransitionTime: metav1.NewTime(readyAt.Add(time.Minute))}
	h.cache(unready)
	failNext["update"] = apierrors.NewInternalError(errors.New("etcd down"))
	if err := h.sync("ns/web"); err == nil || h.c.failedWrites.len() != 1 {
		t.Fatalf("failing update: err %v, %d trigger times kept", err, h.c.failedWrites.len())
	}
	if err := h.c.svcs.one.Delete(svc); err != nil {
		t.Fatal(err)
	}
	if err := h.sync("ns/web"); err != nil {
		t.Fatal(err)
	}
	if n := h.c.failedWrites.len(); n != 0 {
		t.Fatalf("%d trigger times kept for a deleted Service", n)
	}
}
