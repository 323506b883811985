package controller

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/util/flowcontrol"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
)

// harness is a controller over a fake clientset whose informer caches are
// filled by hand, so each test decides exactly what the cache says.
type harness struct {
	t      *testing.T
	client *fake.Clientset
	c      *Controller
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	return newHarnessWith(t, Options{}, objs...)
}

// newHarnessWith is newHarness with opts, e.g. a fake Clock.
func newHarnessWith(t *testing.T, opts Options, objs ...runtime.Object) *harness {
	client := fake.NewClientset(objs...)
	// The fake stores no resource versions; number writes as etcd would.
	rv := 100
	client.PrependReactor("*", "endpoints", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if o, ok := a.(interface{ GetObject() runtime.Object }); ok {
			rv++
			o.GetObject().(*v1.Endpoints).ResourceVersion = strconv.Itoa(rv)
		}
		return false, nil, nil
	})
	c, err := New(client, NewInformers(client, "", ""), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.queue.ShutDown)
	h := &harness{t: t, client: client, c: c}
	for _, o := range objs {
		h.cache(o)
	}
	return h
}

// cache puts obj in the informer cache (not in the fake API).
func (h *harness) cache(obj runtime.Object) {
	var err error
	switch o := obj.(type) {
	case *v1.Service:
		err = h.c.svcs.one.Add(o)
		h.c.selectors.set(o.Namespace+"/"+o.Name, o.Namespace, o.Spec.Selector) // as the handler does
	case *v1.Pod:
		err = h.c.pods.one.Add(cachePod(endpoints.NewPod(o))) // as trim does
	case *v1.Endpoints:
		var held any
		if held, err = h.c.trimEndpointsEvent(o.DeepCopy()); err == nil { // as the informer does
			err = h.c.eps.one.Add(held)
		}
	}
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) sync(key string) error {
	_, err := h.c.syncService(context.Background(), key)
	return err
}

func (h *harness) actions(verb string) int {
	n := 0
	for _, a := range h.client.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == "endpoints" {
			n++
		}
	}
	return n
}

func testService() *v1.Service {
	return &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"},
		Spec: v1.ServiceSpec{
			ClusterIP: "10.96.0.10", Selector: map[string]string{"app": "web"},
			Ports: []v1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: v1.ProtocolTCP}},
		},
	}
}

func testPod(name, ip string, ready bool) *v1.Pod {
	status := v1.ConditionFalse
	if ready {
		status = v1.ConditionTrue
	}
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID("uid-" + name), Labels: map[string]string{"app": "web"}, ResourceVersion: "1"},
		Spec:       v1.PodSpec{NodeName: "n1"},
		Status: v1.PodStatus{
			Phase: v1.PodRunning, PodIP: ip, PodIPs: []v1.PodIP{{IP: ip}},
			Conditions: []v1.PodCondition{{Type: v1.PodReady, Status: status}},
		},
	}
}

func TestSyncCreatesThenIsNoOp(t *testing.T) {
	h := newHarness(t, testService(), testPod("a", "10.0.0.1", true))
	if err := h.sync("ns/web"); err != nil {
		t.Fatal(err)
	}
	if h.actions("create") != 1 {
		t.Fatalf("want one create, got actions %v", h.client.Actions())
	}
	// The cache has not seen the create yet: the written copy stands in, and
	// nothing more is written.
	if err := h.sync("ns/web"); err != nil {
		t.Fatal(err)
	}
	if h.actions("create")+h.actions("update") != 1 {
		t.Fatalf("second sync wrote: %v", h.client.Actions())
	}
}

// Divergence: after a write, what was written is trusted over an older
// cached copy. The bug class of kubernetes issues 125638/127429: after an
// update the cache still holds the older object; a pod flip back must be
// written even though the stale cached copy happens to equal the new
// desired state, which is why the built-in, comparing with the cache,
// writes nothing. Against a real API server: TestDivergence_TrustsWrittenOverStaleCache
// in test/integration.
func TestDivergence_TrustsWrittenOverStaleCache(t *testing.T) {
	pod := testPod("a", "10.0.0.1", true)
	h := newHarness(t, testService(), pod)
	if err := h.sync("ns/web"); err != nil {
		t.Fatal(err)
	}
	created, _ := h.client.CoreV1().Endpoints("ns").Get(context.Background(), "web", metav1.GetOptions{})
	h.cache(created) // the cache catches up with the create (ready)

	// Flip to not ready: written as an update the cache has not seen.
	h.cache(testPod("a", "10.0.0.1", false))
	if err := h.sync("ns/web"); err != nil {
		t.Fatal(err)
	}
	// Flip back to ready while the cache still says rv 100 (ready): the
	// written rv 101 (not ready) is current, so an update must follow.
	h.cache(pod)
	svc := testService()
	desired := endpoints.Desire(svc, endpoints.Compute(svc, endpoints.Pods([]*v1.Pod{pod})).Subsets, endpoints.DefaultManagedBy)
	if !endpoints.UpToDate(created, desired) {
		t.Fatal("the stale cached copy should look up to date, as the built-in takes it")
	}
	if err := h.sync("ns/web"); err != nil {
		t.Fatal(err)
	}
	if n := h.actions("update"); n != 2 {
		t.Fatalf("want 2 updates, got %d: %v", n, h.client.Actions())
	}
}

func TestTerminatingNamespaceCreateIsDropped(t *testing.T) {
	h := newHarness(t, testService(), testPod("a", "10.0.0.1", true))
	h.client.PrependReactor("create", "endpoints", func(k8stesting.Action) (bool, runtime.Object, error) {
		err := apierrors.NewForbidden(schema.GroupResource{Resource: "endpoints"}, "web", errors.New("namespace is terminating"))
		err.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: v1.NamespaceTerminatingCause}}
		return true, nil, err
	})
	if err := h.sync("ns/web"); err != nil {
		t.Fatalf("want quiet drop, got %v", err)
	}
}

func TestWriteErrorsAreReturnedForRetry(t *testing.T) {
	h := newHarness(t, testService(), testPod("a", "10.0.0.1", true))
	h.client.PrependReactor("create", "endpoints", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewInternalError(errors.New("etcd down"))
	})
	if err := h.sync("ns/web"); err == nil {
		t.Fatal("want an error so the key is retried")
	}
}

func TestUpdateOfVanishedEndpointsCreates(t *testing.T) {
	svc := testService()
	stale := &v1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", ResourceVersion: "5"}}
	h := newHarness(t, svc, testPod("a", "10.0.0.1", true))
	h.cache(stale) // in the cache, not in the API
	if err := h.sync("ns/web"); err != nil {
		t.Fatal(err)
	}
	if h.actions("update") != 1 || h.actions("create") != 1 {
		t.Fatalf("want update then create, got %v", h.client.Actions())
	}
}

func TestDeletedServiceDeletesEndpoints(t *testing.T) {
	ep := &v1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "gone"}}
	h := newHarness(t, ep)
	if err := h.sync("ns/gone"); err != nil {
		t.Fatal(err)
	}
	if err := h.sync("ns/gone"); err != nil { // already gone: NotFound is fine
		t.Fatal(err)
	}
	if h.actions("delete") != 2 {
		t.Fatalf("actions %v", h.client.Actions())
	}
}

func TestSelectorlessAndExternalNameAreLeftAlone(t *testing.T) {
	manual := testService()
	manual.Name, manual.Spec.Selector = "manual", nil
	ext := testService()
	ext.Name, ext.Spec.Type = "ext", v1.ServiceTypeExternalName
	h := newHarness(t, manual, ext, testPod("a", "10.0.0.1", true))
	for _, key := range []string{"ns/manual", "ns/ext"} {
		if err := h.sync(key); err != nil {
			t.Fatal(err)
		}
	}
	if len(h.client.Actions()) != 0 {
		t.Fatalf("wrote: %v", h.client.Actions())
	}
}

func TestPodChangesThatMatter(t *testing.T) {
	base := testPod("a", "10.0.0.1", true)
	for name, tc := range map[string]struct {
		mut  func(*v1.Pod)
		want bool
	}{
		"annotation":  {func(p *v1.Pod) { p.Annotations = map[string]string{"x": "y"} }, false},
		"phase same":  {func(p *v1.Pod) { p.Status.Phase = v1.PodPending }, false},
		"terminal":    {func(p *v1.Pod) { p.Status.Phase = v1.PodSucceeded }, true},
		"readiness":   {func(p *v1.Pod) { p.Status.Conditions[0].Status = v1.ConditionFalse }, true},
		"ip":          {func(p *v1.Pod) { p.Status.PodIPs = []v1.PodIP{{IP: "10.0.0.2"}} }, true},
		"deleting":    {func(p *v1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: time.Now()} }, true},
		"node":        {func(p *v1.Pod) { p.Spec.NodeName = "n2" }, true},
		"hostname":    {func(p *v1.Pod) { p.Spec.Hostname = "h" }, true},
		"subdomain":   {func(p *v1.Pod) { p.Spec.Subdomain = "web" }, true},
		"labels only": {func(p *v1.Pod) { p.Labels = map[string]string{"app": "web", "v": "2"} }, false},
	} {
		cur := base.DeepCopy()
		tc.mut(cur)
		if got := podEndpointsChanged(endpoints.NewPod(base), endpoints.NewPod(cur)); got != tc.want {
			t.Errorf("%s: changed = %v, want %v", name, got, tc.want)
		}
	}
}

func TestOnPodQueuesAffectedServices(t *testing.T) {
	web := testService()
	other := testService()
	other.Name, other.Spec.Selector = "other", map[string]string{"app": "other"}
	all := testService()
	all.Name, all.Spec.Selector = "tier", map[string]string{"tier": "front"}
	h := newHarness(t, web, other, all)
	drain := func() map[string]bool {
		got := map[string]bool{}
		for h.c.queue.Len() > 0 {
			k, _ := h.c.queue.Get()
			got[k] = true
			h.c.queue.Done(k)
		}
		return got
	}

	old := testPod("a", "10.0.0.1", true)
	old.Labels = map[string]string{"app": "web", "tier": "front"}
	cur := old.DeepCopy()
	cur.ResourceVersion = "2"
	cur.Labels = map[string]string{"app": "other", "tier": "front"}
	h.c.onPod(endpoints.NewPod(old), endpoints.NewPod(cur))
	// Labels only: web (left) and other (joined); tier still selects it.
	if got := drain(); !got["ns/web"] || !got["ns/other"] || got["ns/tier"] || len(got) != 2 {
		t.Errorf("relabel queued %v", got)
	}

	cur2 := cur.DeepCopy()
	cur2.ResourceVersion = "3"
	cur2.Status.Conditions[0].Status = v1.ConditionFalse
	h.c.onPod(endpoints.NewPod(cur), endpoints.NewPod(cur2))
	if got := drain(); !got["ns/other"] || !got["ns/tier"] || len(got) != 2 {
		t.Errorf("readiness change queued %v", got)
	}

	h.c.onPod(endpoints.NewPod(cur2), endpoints.NewPod(cur2)) // resync: same resource version
	if got := drain(); len(got) != 0 {
		t.Errorf("resync queued %v", got)
	}
}

// waitHook is a rate limiter with no token at hand: Wait runs hook first,
// standing for whatever changes while a write waits for its turn.
type waitHook struct {
	flowcontrol.RateLimiter
	hook  func()
	waits int
}

func (w *waitHook) TryAccept() bool { return false }
func (w *waitHook) Wait(context.Context) error {
	w.waits++
	w.hook()
	return nil
}

// A write held up by the rate limit carries the changes made while it
// waited, instead of writing stale Endpoints and then again.
func TestRateLimitedWriteIsComputedAfterTheWait(t *testing.T) {
	h := newHarness(t, testService(), testPod("a", "10.0.0.1", true))
	limiter := &waitHook{hook: func() { h.cache(testPod("b", "10.0.0.2", false)) }}
	h.c.opts.WriteLimiter = limiter
	if err := h.sync("ns/web"); err != nil {
		t.Fatal(err)
	}
	if limiter.waits != 1 || h.actions("create") != 1 {
		t.Fatalf("waits = %d, actions %v; want one wait, one create", limiter.waits, h.client.Actions())
	}
	ep, err := h.client.CoreV1().Endpoints("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := ep.Subsets; len(s) != 1 || len(s[0].Addresses) != 1 || len(s[0].NotReadyAddresses) != 1 {
		t.Fatalf("subsets = %+v; want a ready and a not-ready address", s)
	}
	// Nothing is left over, so nothing waits for a token.
	if err := h.sync("ns/web"); err != nil {
		t.Fatal(err)
	}
	if limiter.waits != 1 || len(h.client.Actions()) != 2 {
		t.Fatalf("no-op sync waited or wrote: waits = %d, actions %v", limiter.waits, h.client.Actions())
	}
}

// The trigger time a rate-limited write carries is the earliest change it
// reflects, the first computation's included: recomputing after the wait
// must not lose the Service's creation (the trigger time of its first
// write), as the built-in, writing what it computed before the wait,
// would not.
func TestRateLimitedWriteKeepsTheFirstTriggerTime(t *testing.T) {
	svc := testService()
	created := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	svc.CreationTimestamp = metav1.NewTime(created)
	h := newHarness(t, svc, testPod("a", "10.0.0.1", true))
	h.c.opts.WriteLimiter = &waitHook{hook: func() {}}
	if err := h.sync("ns/web"); err != nil {
		t.Fatal(err)
	}
	ep, err := h.client.CoreV1().Endpoints("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ep.Annotations[v1.EndpointsLastChangeTriggerTime], created.Format(time.RFC3339Nano); got != want {
		t.Fatalf("trigger time %q, want the Service's creation %q", got, want)
	}
}
