package controller

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
	"github.com/endpoints-controller/endpoints-controller/pkg/metrics"
)

// latencyHarness is a harness that measures, on a fake clock, as a
// replica that has started syncing does.
type latencyHarness struct {
	*harness
	clk *clocktesting.FakeClock
	m   *metrics.Metrics
}

func newLatencyHarness(t *testing.T, objs ...runtime.Object) *latencyHarness {
	clk := clocktesting.NewFakeClock(time.Now())
	m := metrics.New()
	h := newHarnessWith(t, Options{Clock: clk, Metrics: m}, objs...)
	h.c.live.Store(true)
	return &latencyHarness{harness: h, clk: clk, m: m}
}

// process syncs the next queued key as a worker does.
func (h *latencyHarness) process() {
	h.t.Helper()
	h.c.process(context.Background(), h.next())
}

// drain processes every queued key (none waits for a timer).
func (h *latencyHarness) drain() {
	h.t.Helper()
	for h.c.queue.Len() > 0 {
		h.process()
	}
}

// family returns the gathered metric family name, nil if absent.
func (h *latencyHarness) family(name string) *dto.MetricFamily {
	h.t.Helper()
	mfs, err := h.m.Registry.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	return nil
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue() == value
		}
	}
	return value == ""
}

// latency returns the observations of event_to_write_latency_seconds for
// trigger: how many, and their sum.
func (h *latencyHarness) latency(trigger string) (uint64, time.Duration) {
	h.t.Helper()
	return h.histogram("endpoints_controller_event_to_write_latency_seconds", "trigger", trigger)
}

func (h *latencyHarness) histogram(name, label, value string) (uint64, time.Duration) {
	h.t.Helper()
	mf := h.family(name)
	if mf == nil {
		return 0, 0
	}
	for _, m := range mf.GetMetric() {
		if hasLabel(m, label, value) {
			hist := m.GetHistogram()
			return hist.GetSampleCount(), time.Duration(math.Round(hist.GetSampleSum() * 1e9))
		}
	}
	return 0, 0
}

// observed fails unless the latency histograms hold exactly want: count
// and sum per trigger.
func (h *latencyHarness) observed(want map[string]time.Duration, counts map[string]uint64) {
	h.t.Helper()
	for _, tr := range metrics.Triggers {
		n, sum := h.latency(tr)
		if n != counts[tr] || sum != want[tr] {
			h.t.Errorf("trigger %q: %d observations summing to %s, want %d summing to %s", tr, n, sum, counts[tr], want[tr])
		}
	}
}

func (h *latencyHarness) syncs(result string) float64 {
	h.t.Helper()
	mf := h.family("endpoints_controller_syncs_total")
	for _, m := range mf.GetMetric() {
		if hasLabel(m, "result", result) {
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func (h *latencyHarness) gauge(name string) float64 {
	h.t.Helper()
	return h.family(name).GetMetric()[0].GetGauge().GetValue()
}

// flip changes pod's readiness in the cache and tells the handler, as the
// pod informer does; it returns the new pod.
func (h *latencyHarness) flip(pod *v1.Pod) *v1.Pod {
	cur := pod.DeepCopy()
	rv := pod.ResourceVersion + "1"
	cur.ResourceVersion = rv
	if cur.Status.Conditions[0].Status == v1.ConditionTrue {
		cur.Status.Conditions[0].Status = v1.ConditionFalse
	} else {
		cur.Status.Conditions[0].Status = v1.ConditionTrue
	}
	h.cache(cur)
	h.c.onPod(endpoints.NewPod(pod), endpoints.NewPod(cur))
	return cur
}

// catchUp puts the API's Endpoints of ns/name in the cache, as the
// Endpoints informer would, without telling the handler (an echo).
func (h *latencyHarness) catchUp(name string) *v1.Endpoints {
	h.t.Helper()
	ep, err := h.client.CoreV1().Endpoints("ns").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	h.cache(ep)
	h.c.written.caughtUp("ns/"+name, ep.ResourceVersion)
	return ep
}

// Every kind of change is measured once per write, from the handler's
// call to the write's answer, under the kind of the change: a Service
// created, a pod flipped, added and deleted, an Endpoints edited by hand
// and deleted by hand, a Service deleted (its Endpoints deletion).
// Syncs caused by no observed change, and syncs that write nothing,
// observe nothing.
func TestEventToWriteLatencyByTrigger(t *testing.T) {
	h := newLatencyHarness(t, testPod("a", "10.0.0.1", true))
	svc := testService()
	want, counts := map[string]time.Duration{}, map[string]uint64{}
	expect := func(trigger string, d time.Duration) {
		want[trigger] += d
		counts[trigger]++
		h.observed(want, counts)
	}

	// Service created.
	h.cache(svc)
	h.c.serviceHandler().OnAdd(svc, false)
	h.clk.Step(3 * time.Millisecond)
	h.process()
	expect(metrics.TriggerService, 3*time.Millisecond)
	h.catchUp("web")

	// A resync writes nothing and measures nothing.
	h.c.enqueue("ns/web", noTrigger, 0)
	h.clk.Step(time.Millisecond)
	h.drain()
	h.observed(want, counts)

	// A pod turns unready, and ready again.
	pod := h.flip(testPod("a", "10.0.0.1", true))
	h.clk.Step(7 * time.Millisecond)
	h.process()
	expect(metrics.TriggerPod, 7*time.Millisecond)
	h.catchUp("web")
	h.flip(pod)
	h.clk.Step(2 * time.Millisecond)
	h.process()
	expect(metrics.TriggerPod, 2*time.Millisecond)
	h.catchUp("web")

	// A pod added (scale up), then deleted (scale down).
	b := testPod("b", "10.0.0.2", true)
	h.cache(b)
	h.c.onPod(nil, endpoints.NewPod(b))
	h.clk.Step(4 * time.Millisecond)
	h.process()
	expect(metrics.TriggerPod, 4*time.Millisecond)
	h.catchUp("web")
	if err := h.c.pods.one.Delete(cachePod(endpoints.NewPod(b))); err != nil {
		t.Fatal(err)
	}
	h.c.onPod(endpoints.NewPod(b), nil)
	h.clk.Step(5 * time.Millisecond)
	h.process()
	expect(metrics.TriggerPod, 5*time.Millisecond)
	live := h.catchUp("web")

	// A Service change that the Endpoints do not reflect writes nothing.
	changed := svc.DeepCopy()
	changed.Annotations = map[string]string{"note": "x"}
	h.cache(changed)
	h.c.serviceHandler().OnUpdate(svc, changed)
	h.clk.Step(time.Millisecond)
	h.process()
	h.observed(want, counts)

	// The Endpoints edited by hand: restored.
	edited := live.DeepCopy()
	edited.Subsets = nil
	edited, err := h.client.CoreV1().Endpoints("ns").Update(context.Background(), edited, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.cache(edited)
	h.c.endpointsHandler().OnUpdate(live, edited)
	h.clk.Step(6 * time.Millisecond)
	h.process()
	expect(metrics.TriggerEndpoints, 6*time.Millisecond)
	restored := h.catchUp("web")

	// The Endpoints deleted by hand: created again.
	if err := h.client.CoreV1().Endpoints("ns").Delete(context.Background(), "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := h.c.eps.one.Delete(restored); err != nil {
		t.Fatal(err)
	}
	h.c.endpointsHandler().OnDelete(restored)
	h.clk.Step(8 * time.Millisecond)
	h.process()
	expect(metrics.TriggerEndpoints, 8*time.Millisecond)
	recreated := h.catchUp("web")

	// The Service deleted: its Endpoints deletion is measured. The
	// deletion's own echo then finds nothing to delete.
	if err := h.c.svcs.one.Delete(changed); err != nil {
		t.Fatal(err)
	}
	h.c.serviceHandler().OnDelete(changed)
	h.clk.Step(9 * time.Millisecond)
	h.process()
	expect(metrics.TriggerService, 9*time.Millisecond)
	if err := h.c.eps.one.Delete(recreated); err != nil {
		t.Fatal(err)
	}
	h.c.endpointsHandler().OnDelete(recreated)
	h.clk.Step(time.Millisecond)
	h.drain()
	h.observed(want, counts)
	if n := h.c.states.len(); n != 0 {
		t.Errorf("%d Services still tracked after the only one was deleted", n)
	}

	// One sync counted per sync, by what it did.
	if err := testutil.GatherAndCompare(h.m.Registry, strings.NewReader(`
# HELP endpoints_controller_syncs_total Syncs of one Service, by result: created, updated or deleted its Endpoints, noop (nothing to write), conflict (409 from the API server) or error.
# TYPE endpoints_controller_syncs_total counter
endpoints_controller_syncs_total{result="conflict"} 0
endpoints_controller_syncs_total{result="created"} 2
endpoints_controller_syncs_total{result="deleted"} 1
endpoints_controller_syncs_total{result="error"} 0
endpoints_controller_syncs_total{result="noop"} 3
endpoints_controller_syncs_total{result="updated"} 5
`), "endpoints_controller_syncs_total"); err != nil {
		t.Error(err)
	}
}

// A failed write leaves the change pending: the write that finally
// succeeds is measured from the first observation, once, and under the
// first change's kind, whatever came after.
func TestEventToWriteLatencyAcrossFailures(t *testing.T) {
	svc := testService()
	h := newLatencyHarness(t, svc, testPod("a", "10.0.0.1", true))
	h.c.enqueue("ns/web", noTrigger, 0)
	h.process() // created; not measured
	h.catchUp("web")

	var failing atomic.Bool
	failing.Store(true)
	h.client.PrependReactor("update", "endpoints", func(k8stesting.Action) (bool, runtime.Object, error) {
		if failing.Load() {
			return true, nil, apierrors.NewInternalError(errors.New("etcd down"))
		}
		return false, nil, nil
	})
	h.flip(testPod("a", "10.0.0.1", true)) // observed at 0
	h.clk.Step(time.Second)
	h.process() // fails at 1s
	h.observed(nil, nil)
	if got := h.syncs(metrics.ResultError); got != 1 {
		t.Fatalf("%v syncs counted as errors, want 1", got)
	}
	// A later change of another kind, while the first is still unwritten.
	h.clk.Step(time.Second)
	h.c.serviceHandler().OnUpdate(svc, svc) // observed at 2s
	h.clk.Step(time.Second)
	failing.Store(false)
	h.process() // written at 3s
	h.observed(map[string]time.Duration{metrics.TriggerPod: 3 * time.Second}, map[string]uint64{metrics.TriggerPod: 1})
	h.catchUp("web")

	// Nothing is left pending.
	h.clk.Step(time.Minute)
	if got := h.gauge("endpoints_controller_services_out_of_sync"); got != 0 {
		t.Errorf("services_out_of_sync = %v after the write", got)
	}
}

// A 409 is counted as a conflict, not as an error.
func TestSyncsTotalCountsConflicts(t *testing.T) {
	h := newLatencyHarness(t, testService(), testPod("a", "10.0.0.1", true))
	h.c.enqueue("ns/web", noTrigger, 0)
	h.process()
	h.catchUp("web")
	h.client.PrependReactor("update", "endpoints", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "endpoints"}, "web", errors.New("changed"))
	})
	h.flip(testPod("a", "10.0.0.1", true))
	h.process()
	for result, want := range map[string]float64{
		metrics.ResultCreated: 1, metrics.ResultConflict: 1, metrics.ResultError: 0, metrics.ResultUpdated: 0,
	} {
		if got := h.syncs(result); got != want {
			t.Errorf("syncs_total{result=%q} = %v, want %v", result, got, want)
		}
	}
	if n, _ := h.latency(metrics.TriggerPod); n != 0 {
		t.Errorf("%d latencies observed for a write that conflicted", n)
	}
}

// Syncs with nothing to write (the Endpoints are right already, the
// Service has no selector, shadow mode) drop the pending change unmeasured:
// it neither shows later nor keeps the Service out of sync.
func TestNoopSyncsObserveNothing(t *testing.T) {
	manual := testService()
	manual.Name, manual.Spec.Selector = "manual", nil
	h := newLatencyHarness(t, testService(), manual, testPod("a", "10.0.0.1", true))
	h.c.enqueue("ns/web", noTrigger, 0)
	h.process()
	h.catchUp("web")

	h.c.serviceHandler().OnUpdate(manual, manual)
	h.c.serviceHandler().OnUpdate(testService(), testService())
	h.clk.Step(time.Millisecond)
	h.drain()
	h.clk.Step(time.Minute)
	h.observed(nil, nil)
	if got := h.syncs(metrics.ResultNoop); got != 2 {
		t.Errorf("%v no-op syncs, want 2", got)
	}
	if got := h.gauge("endpoints_controller_services_out_of_sync"); got != 0 {
		t.Errorf("services_out_of_sync = %v after no-op syncs", got)
	}

	h.c.opts.Shadow = true
	h.flip(testPod("a", "10.0.0.1", true))
	h.clk.Step(time.Millisecond)
	h.drain()
	h.observed(nil, nil)
	if got := h.syncs(metrics.ResultNoop); got != 3 {
		t.Errorf("%v no-op syncs, want 3 (shadow mode)", got)
	}
}

// A write held up by the rate limit is computed again after the wait; it
// reflects the changes observed meanwhile too and is measured once, from
// the first.
func TestEventToWriteLatencyOfARateLimitedWrite(t *testing.T) {
	h := newLatencyHarness(t, testService(), testPod("a", "10.0.0.1", true))
	h.c.enqueue("ns/web", noTrigger, 0)
	h.process()
	h.catchUp("web")

	var b *v1.Pod
	h.c.opts.WriteLimiter = &waitHook{hook: func() {
		h.clk.Step(50 * time.Millisecond) // the wait
		b = testPod("b", "10.0.0.2", true)
		h.cache(b)
		h.c.onPod(nil, endpoints.NewPod(b))
		h.clk.Step(50 * time.Millisecond)
	}}
	h.flip(testPod("a", "10.0.0.1", true))
	h.process()
	h.c.opts.WriteLimiter = nil
	h.observed(map[string]time.Duration{metrics.TriggerPod: 100 * time.Millisecond}, map[string]uint64{metrics.TriggerPod: 1})
	ep := h.catchUp("web")
	if s := ep.Subsets; len(s) != 1 || len(s[0].Addresses) != 1 || len(s[0].NotReadyAddresses) != 1 {
		t.Fatalf("subsets %+v; want b ready and a not", s)
	}
	// b's own queueing syncs again, to find nothing to write.
	h.drain()
	h.observed(map[string]time.Duration{metrics.TriggerPod: 100 * time.Millisecond}, map[string]uint64{metrics.TriggerPod: 1})

	// A sync that observed no change (a resync after a missed event) but
	// reflects one observed while it waited is measured from that one.
	h.cache(testPod("c", "10.0.0.3", true)) // missed
	h.c.opts.WriteLimiter = &waitHook{hook: func() {
		h.clk.Step(50 * time.Millisecond)
		h.flip(b)
		h.clk.Step(20 * time.Millisecond)
	}}
	h.c.enqueue("ns/web", noTrigger, 0)
	h.process()
	h.c.opts.WriteLimiter = nil
	h.observed(map[string]time.Duration{metrics.TriggerPod: 120 * time.Millisecond}, map[string]uint64{metrics.TriggerPod: 2})
	h.drain()
	h.observed(map[string]time.Duration{metrics.TriggerPod: 120 * time.Millisecond}, map[string]uint64{metrics.TriggerPod: 2})
}

// Before the cache has seen a write, a sync compares with what was written;
// finding nothing to write it drops the change unmeasured and looks again a
// second later, which is a wait in the queue but no change.
func TestLaggingCacheRecheckIsNoChange(t *testing.T) {
	h := newLatencyHarness(t, testService(), testPod("a", "10.0.0.1", true))
	h.c.enqueue("ns/web", noTrigger, 0)
	h.process() // created; the cache has not seen it
	h.c.serviceHandler().OnUpdate(testService(), testService())
	h.process() // nothing to write, lagging: recheck
	base := h.clk.Waiters()
	waitUntil(t, "the recheck timer", func() bool { return h.clk.Waiters() > base })
	h.clk.Step(recheckLagging)
	h.catchUp("web")
	h.process()
	h.observed(nil, nil)
	if n, sum := h.histogram("endpoints_controller_queue_wait_seconds", "", ""); n != 3 || sum != recheckLagging {
		t.Errorf("queue waits: %d summing to %s; want 3 summing to the recheck delay %s", n, sum, recheckLagging)
	}
}

// Queue wait runs from the first queueing since the last sync started, a
// resync's or a retry's too, to the sync's start.
func TestQueueWait(t *testing.T) {
	h := newLatencyHarness(t, testService(), testPod("a", "10.0.0.1", true))
	h.c.enqueue("ns/web", noTrigger, 0)
	h.clk.Step(4 * time.Millisecond)
	h.c.enqueue("ns/web", byService, 0) // the same wait
	h.clk.Step(time.Millisecond)
	h.process()
	if n, sum := h.histogram("endpoints_controller_queue_wait_seconds", "", ""); n != 1 || sum != 5*time.Millisecond {
		t.Errorf("queue waits: %d summing to %s; want one of 5ms", n, sum)
	}
	// Resync-triggered syncs time no change.
	if n, _ := h.latency(metrics.TriggerService); n != 1 {
		t.Errorf("%d latencies of the Service change, want 1", n)
	}
}

// A Service whose change is not written within 10s counts as out of sync
// until a sync succeeds; the oldest successful sync's age grows between
// syncs; a deleted Service is forgotten.
func TestOutOfSyncAndOldestSuccessfulSync(t *testing.T) {
	h := newLatencyHarness(t, testService(), testPod("a", "10.0.0.1", true))
	outOfSync := func() float64 { return h.gauge("endpoints_controller_services_out_of_sync") }
	oldest := func() float64 { return h.gauge("endpoints_controller_oldest_successful_sync_age_seconds") }
	if outOfSync() != 0 || oldest() != 0 {
		t.Fatalf("out of sync %v, oldest sync %vs before any Service is known", outOfSync(), oldest())
	}
	h.c.enqueue("ns/web", noTrigger, 0)
	h.process()
	h.catchUp("web")
	h.clk.Step(30 * time.Second)
	if got := oldest(); got != 30 {
		t.Errorf("oldest successful sync %vs ago, want 30", got)
	}

	var failing atomic.Bool
	failing.Store(true)
	h.client.PrependReactor("update", "endpoints", func(k8stesting.Action) (bool, runtime.Object, error) {
		if failing.Load() {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "endpoints"}, "web", errors.New("no"))
		}
		return false, nil, nil
	})
	h.flip(testPod("a", "10.0.0.1", true))
	h.clk.Step(5 * time.Second)
	if got := outOfSync(); got != 0 {
		t.Errorf("out of sync = %v 5s after the change", got)
	}
	h.process() // fails
	h.clk.Step(5*time.Second + time.Millisecond)
	if got := outOfSync(); got != 1 {
		t.Errorf("out of sync = %v 10s after the change, its sync failing", got)
	}
	failing.Store(false)
	waitUntil(t, "the retry", func() bool { return h.c.queue.Len() > 0 })
	h.process()
	if got := outOfSync(); got != 0 {
		t.Errorf("out of sync = %v after a successful sync", got)
	}
	if got := oldest(); got != 0 {
		t.Errorf("oldest successful sync %vs ago, right after one", got)
	}

	// A failed resync counts too, from the failure.
	failing.Store(true)
	h.catchUp("web")
	h.flip(testPod("a", "10.0.0.1", false))
	h.process()
	h.clk.Step(9 * time.Second)
	if got := outOfSync(); got != 0 {
		t.Errorf("out of sync = %v 9s after a change", got)
	}
	h.clk.Step(2 * time.Second)
	if got := outOfSync(); got != 1 {
		t.Errorf("out of sync = %v 11s after a change", got)
	}

	// Deleted: forgotten once its Endpoints are.
	failing.Store(false)
	if err := h.c.svcs.one.Delete(testService()); err != nil {
		t.Fatal(err)
	}
	h.c.serviceHandler().OnDelete(testService())
	waitUntil(t, "the queue", func() bool { return h.c.queue.Len() > 0 })
	h.drain()
	if n := h.c.states.len(); n != 0 || outOfSync() != 0 || oldest() != 0 {
		t.Errorf("after the Service's deletion: %d tracked, out of sync %v, oldest sync %vs", n, outOfSync(), oldest())
	}
}

// Nothing is timed on a standby, where nothing would take the changes, and
// the initial lists are the state at start, not changes.
func TestNothingTimedBeforeStartOrInTheInitialList(t *testing.T) {
	h := newLatencyHarness(t, testService(), testPod("a", "10.0.0.1", true))
	h.c.live.Store(false)
	h.c.serviceHandler().OnAdd(testService(), false)
	h.clk.Step(time.Hour)
	if n := h.c.states.len(); n != 0 {
		t.Errorf("%d Services tracked on a standby", n)
	}
	if got := h.gauge("endpoints_controller_services_out_of_sync"); got != 0 {
		t.Errorf("services_out_of_sync = %v on a standby", got)
	}

	h.c.live.Store(true)
	h.c.serviceHandler().OnAdd(testService(), true)
	h.clk.Step(time.Millisecond)
	h.drain()
	h.observed(nil, nil)
	if got := h.syncs(metrics.ResultCreated); got != 1 {
		t.Errorf("%v creates, want 1", got)
	}
}

// The buckets keep an interpolated quantile within 10% or 5ms of the truth:
// below 50ms no bucket is wider than 5ms, above none is more than 25%
// wider than its lower bound; they run from under 1ms to 5 minutes.
func TestLatencyBuckets(t *testing.T) {
	b := metrics.LatencyBuckets
	if b[0] > 0.001 || b[len(b)-1] < 300 {
		t.Errorf("buckets from %v to %v, want from 1ms or less to 300s or more", b[0], b[len(b)-1])
	}
	for i := 1; i < len(b); i++ {
		lo, hi := b[i-1], b[i]
		switch {
		case hi <= lo:
			t.Errorf("bucket %v after %v", hi, lo)
		case hi <= 0.05 && hi-lo > 0.005+1e-12:
			t.Errorf("bucket (%v, %v] wider than 5ms", lo, hi)
		case hi > 0.05 && hi/lo > 1.25+1e-12:
			t.Errorf("bucket (%v, %v] more than 25%% wider than its lower bound", lo, hi)
		}
	}
}
