package controller

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

// With Writes, a worker hands a sync over when it starts writing and takes
// the next key: one worker has two creates in flight, a third waits for a
// write slot, and a Service whose write is in flight is not synced again
// until that write ends.
func TestWorkerHandsWritesOver(t *testing.T) {
	h := newHarnessWith(t, Options{Workers: 1, Writes: 2})
	unblock := make(chan struct{})
	// The fake clientset runs one action at a time, so the second create
	// waits for the first; both hold their write slot.
	h.client.PrependReactor("create", "endpoints", func(k8stesting.Action) (bool, runtime.Object, error) {
		<-unblock
		return false, nil, nil
	})
	for _, name := range []string{"a", "b", "c"} {
		svc := testService()
		svc.Name = name
		h.cache(svc)
		h.c.queue.Add("ns/" + name)
	}
	ctx := context.Background()
	for range 2 { // each returns once its create is in flight
		if !h.c.processNext(ctx) {
			t.Fatal("queue shut down")
		}
	}
	waitFor(t, func() bool { return len(h.c.writeSlots) == 2 })

	// The third sync waits for a slot, holding the worker.
	third := make(chan struct{})
	go func() { h.c.processNext(ctx); close(third) }()
	select {
	case <-third:
		t.Fatal("a third write started with two slots")
	case <-time.After(50 * time.Millisecond):
	}

	// A Service being written is not handed out again meanwhile.
	h.c.queue.Add("ns/a")
	if n := h.c.queue.Len(); n != 0 {
		t.Fatalf("queue length %d while ns/a is being written, want 0", n)
	}

	close(unblock)
	<-third
	h.c.handoffs.Wait()
	if n := h.actions("create"); n != 3 {
		t.Errorf("%d creates, want 3", n)
	}
	if n := h.c.queue.Len(); n != 1 {
		t.Errorf("queue length %d once ns/a's write ended, want 1 (it was re-added)", n)
	}
	for _, name := range []string{"a", "b", "c"} {
		if _, err := h.client.CoreV1().Endpoints("ns").Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("ns/%s: %v", name, err)
		}
	}
}

// A sync that writes nothing is not handed over: the worker waits for it,
// and it takes no write slot.
func TestNoopSyncTakesNoWriteSlot(t *testing.T) {
	h := newHarnessWith(t, Options{Workers: 1, Writes: 1})
	h.c.writeSlots <- struct{}{} // the only slot taken
	svc := testService()
	svc.Spec.Selector = nil // selector-less: nothing to write
	h.cache(svc)
	h.c.queue.Add("ns/web")
	done := make(chan struct{})
	go func() { h.c.processNext(context.Background()); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a no-op sync waited for a write slot")
	}
	h.c.handoffs.Wait()
	if n := h.actions("create") + h.actions("update") + h.actions("delete"); n != 0 {
		t.Errorf("%d writes, want none", n)
	}
}

// waitFor polls cond for up to 10s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
	}
}
