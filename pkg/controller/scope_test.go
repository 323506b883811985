package controller

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
	"github.com/endpoints-controller/endpoints-controller/pkg/metrics"
)

func mustScope(t *testing.T, include, exclude []string, selector string) Scope {
	t.Helper()
	s, err := NewScope(include, exclude, selector)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newScopedHarness is a controller serving scope over a fake clientset
// holding inAPI; the caches hold only inCache (what the informers would
// have listed).
func newScopedHarness(t *testing.T, scope Scope, inAPI []runtime.Object, inCache ...runtime.Object) *harness {
	t.Helper()
	client := fake.NewClientset(inAPI...)
	c, err := New(client, NewScopedInformers(client, scope, ""), Options{Metrics: metrics.New()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.queue.ShutDown)
	h := &harness{t: t, client: client, c: c}
	for _, o := range inCache {
		h.cacheScoped(o)
	}
	return h
}

// cacheScoped puts obj in the cache of its namespace's informer.
func (h *harness) cacheScoped(obj runtime.Object) {
	h.t.Helper()
	m, _ := obj.(metav1.Object)
	var s *caches
	switch o := obj.(type) {
	case *v1.Service:
		s = &h.c.svcs
		h.c.selectors.set(o.Namespace+"/"+o.Name, o.Namespace, o.Spec.Selector)
	case *v1.Pod:
		if err := h.c.pods.of(o.Namespace).Add(cachePod(endpoints.NewPod(o))); err != nil {
			h.t.Fatal(err)
		}
		return
	case *v1.Endpoints:
		s = &h.c.eps
	}
	idx := s.of(m.GetNamespace())
	if idx == nil {
		h.t.Fatalf("no cache holds namespace %s", m.GetNamespace())
	}
	var held any = obj
	if ep, ok := obj.(*v1.Endpoints); ok {
		var err error
		if held, err = h.c.trimEndpointsEvent(ep.DeepCopy()); err != nil { // as the informer does
			h.t.Fatal(err)
		}
	}
	if err := idx.Add(held); err != nil {
		h.t.Fatal(err)
	}
}

func svcIn(ns, name string, svcLabels map[string]string) *v1.Service {
	s := testService()
	s.Namespace, s.Name, s.Labels = ns, name, svcLabels
	return s
}

func epsIn(ns, name string, epLabels map[string]string) *v1.Endpoints {
	return &v1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: epLabels, ResourceVersion: "7"}}
}

func podIn(ns, name, ip string) *v1.Pod {
	p := testPod(name, ip, true)
	p.Namespace = ns
	return p
}

func (h *harness) endpointsExist(ns, name string) bool {
	_, err := h.client.CoreV1().Endpoints(ns).Get(context.Background(), name, metav1.GetOptions{})
	return err == nil
}

func (h *harness) writes() []string {
	var out []string
	for _, a := range h.client.Actions() {
		switch a.GetVerb() {
		case "create", "update", "delete", "patch":
			if a.GetResource().Resource == "endpoints" {
				out = append(out, a.GetVerb()+" "+a.GetNamespace())
			}
		}
	}
	return out
}

// Several included namespaces: one cache each, looked up by namespace; a
// key of another namespace is left alone, even with an orphan Endpoints
// there (a guard: the informers never list one).
func TestScopeNamespacesRouteAndGuard(t *testing.T) {
	scope := mustScope(t, []string{"b", "a"}, nil, "")
	orphan := epsIn("c", "old", nil)
	h := newScopedHarness(t, scope, []runtime.Object{svcIn("a", "web", nil), svcIn("b", "web", nil), orphan},
		svcIn("a", "web", nil), svcIn("b", "web", nil),
		podIn("a", "p1", "10.0.0.1"), podIn("b", "p2", "10.0.0.2"))
	if h.c.svcs.one != nil || len(h.c.svcs.byNS) != 2 || len(h.c.synced) != 6 {
		t.Fatalf("caches: one %v, per namespace %d, synced %d", h.c.svcs.one, len(h.c.svcs.byNS), len(h.c.synced))
	}
	for ns, ip := range map[string]string{"a": "10.0.0.1", "b": "10.0.0.2"} {
		if err := h.sync(ns + "/web"); err != nil {
			t.Fatal(err)
		}
		ep, err := h.client.CoreV1().Endpoints(ns).Get(context.Background(), "web", metav1.GetOptions{})
		if err != nil || len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 1 || ep.Subsets[0].Addresses[0].IP != ip {
			t.Fatalf("%s/web: %v %v, want only %s", ns, ep, err, ip)
		}
	}
	if err := h.sync("c/old"); err != nil {
		t.Fatal(err)
	}
	if !h.endpointsExist("c", "old") {
		t.Fatal("an Endpoints outside the scope was deleted")
	}
	if got := h.writes(); !slices.Equal(got, []string{"create a", "create b"}) {
		t.Fatalf("writes %v", got)
	}
	if n := counter(t, h.c.opts.Metrics, "endpoints_controller_out_of_scope_skips_total", metrics.OutOfScopeNamespace); n != 1 {
		t.Fatalf("out-of-scope skips %v, want 1", n)
	}
}

// With a Service selector, an Endpoints whose Service is not cached is
// deleted only once the API server confirms the Service is gone: one that
// exists outside the selector (another instance's, or relabelled out of
// the scope, which the filtered informer reports as deleted) is left
// alone; one selected but not cached yet waits for its add.
func TestScopeSelectorConfirmsBeforeDeleting(t *testing.T) {
	scope := mustScope(t, nil, nil, "team=a")
	for _, tc := range []struct {
		name       string
		svc        *v1.Service // in the API, not in the cache
		wantDelete bool
		wantSkip   float64
	}{
		{"gone", nil, true, 0},
		{"another scope's", svcIn("ns", "web", map[string]string{"team": "b"}), false, 1},
		{"unlabelled", svcIn("ns", "web", nil), false, 1},
		{"selected, cache lagging", svcIn("ns", "web", map[string]string{"team": "a"}), false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep := epsIn("ns", "web", map[string]string{"team": "a"})
			inAPI := []runtime.Object{ep}
			if tc.svc != nil {
				inAPI = append(inAPI, tc.svc)
			}
			h := newScopedHarness(t, scope, inAPI, ep)
			if err := h.sync("ns/web"); err != nil {
				t.Fatal(err)
			}
			if deleted := !h.endpointsExist("ns", "web"); deleted != tc.wantDelete {
				t.Fatalf("deleted %v, want %v; actions %v", deleted, tc.wantDelete, h.client.Actions())
			}
			if n := counter(t, h.c.opts.Metrics, "endpoints_controller_out_of_scope_skips_total", metrics.OutOfScopeService); n != tc.wantSkip {
				t.Fatalf("out-of-scope skips %v, want %v", n, tc.wantSkip)
			}
			if !slices.ContainsFunc(h.client.Actions(), func(a k8stesting.Action) bool {
				return a.GetVerb() == "list" && a.GetResource().Resource == "services" && a.GetNamespace() == "ns"
			}) {
				t.Fatalf("no live read of the Service: %v", h.client.Actions())
			}
		})
	}
}

// Unscoped, a missing Service still means deletion without asking the API
// server: nothing changes for unscoped instances.
func TestUnscopedDeletesWithoutLiveRead(t *testing.T) {
	ep := epsIn("ns", "web", nil)
	h := newScopedHarness(t, Scope{}, []runtime.Object{ep, svcIn("ns", "web", nil)}, ep)
	if err := h.sync("ns/web"); err != nil {
		t.Fatal(err)
	}
	if h.endpointsExist("ns", "web") {
		t.Fatal("not deleted")
	}
	for _, a := range h.client.Actions() {
		if a.GetResource().Resource == "services" {
			t.Fatalf("unscoped sync read the API server: %v", a)
		}
	}
}

// The start-up sweep of a Service-selecting instance queues the Endpoints
// its selector matches (their Service's labels) and those of its cached
// Services, never another scope's, nor a leader-election record.
func TestScopeSelectorStartupSweep(t *testing.T) {
	scope := mustScope(t, nil, []string{"skip"}, "team=a")
	lock := epsIn("ns", "lock", nil)
	lock.Annotations = map[string]string{resourcelock.LeaderElectionRecordAnnotationKey: "{}"}
	objs := []runtime.Object{
		epsIn("ns", "ours-orphan", map[string]string{"team": "a"}),
		epsIn("ns", "theirs", map[string]string{"team": "b"}),
		epsIn("ns", "byhand", nil),
		epsIn("ns", "cached", nil), svcIn("ns", "cached", map[string]string{"team": "a"}),
		lock,
	}
	h := newScopedHarness(t, scope, nil, objs...)
	h.c.queueLeftoverEndpoints(klog.Background())
	var got []string
	for h.c.queue.Len() > 0 {
		key, _ := h.c.queue.Get()
		got = append(got, key)
		h.c.queue.Done(key)
	}
	slices.Sort(got)
	if want := []string{"ns/cached", "ns/ours-orphan"}; !slices.Equal(got, want) {
		t.Fatalf("queued %v, want %v", got, want)
	}
}

// An Endpoints deleted in selector mode queues its Service only if it is
// cached: another scope's would cost a live read for nothing.
func TestScopeSelectorEndpointsDeleteEvent(t *testing.T) {
	h := newScopedHarness(t, mustScope(t, nil, nil, "team=a"), nil, svcIn("ns", "ours", map[string]string{"team": "a"}))
	del := h.c.endpointsHandler().OnDelete
	del(epsIn("ns", "theirs", nil))
	del(epsIn("ns", "ours", nil))
	if n := h.c.queue.Len(); n != 1 {
		t.Fatalf("queued %d, want 1 (ns/ours)", n)
	}
}

// The informers narrow every list and watch on the server: included
// namespaces each get their own, excluded ones a metadata.namespace field
// selector on all three kinds, and the Service selector goes on Services
// only. Both decoders' paths (the lean one builds its own requests) are
// checked against what reaches an HTTP server.
func TestScopedInformersAskTheServer(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		q, _ := url.ParseQuery(r.URL.RawQuery)
		got = append(got, r.URL.Path+"?fieldSelector="+q.Get("fieldSelector")+"&labelSelector="+q.Get("labelSelector")+"&watch="+q.Get("watch"))
		mu.Unlock()
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	defer srv.Close()
	client, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	request := func(inf *Informers) []string {
		mu.Lock()
		got = nil
		mu.Unlock()
		for _, set := range inf.sets {
			for _, lw := range []cache.ListerWatcher{set.services, set.pods, set.endpoints} {
				lwc := cache.ToListerWatcherWithContext(lw)
				_, _ = lwc.ListWithContext(context.Background(), metav1.ListOptions{})
				_, _ = lwc.WatchWithContext(context.Background(), metav1.ListOptions{})
			}
		}
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
	notA := "metadata.namespace!=a,metadata.namespace!=b"
	for _, decoder := range []Decoder{Lean, Standard} {
		for _, tc := range []struct {
			scope Scope
			want  []string
		}{
			{Scope{}, []string{
				"/api/v1/services?fieldSelector=&labelSelector=&watch=",
				"/api/v1/services?fieldSelector=&labelSelector=&watch=true",
				"/api/v1/pods?fieldSelector=&labelSelector=&watch=",
				"/api/v1/pods?fieldSelector=&labelSelector=&watch=true",
				"/api/v1/endpoints?fieldSelector=&labelSelector=&watch=",
				"/api/v1/endpoints?fieldSelector=&labelSelector=&watch=true",
			}},
			{mustScope(t, []string{"x", "y"}, nil, "team=a"), []string{
				"/api/v1/namespaces/x/services?fieldSelector=&labelSelector=team=a&watch=",
				"/api/v1/namespaces/x/services?fieldSelector=&labelSelector=team=a&watch=true",
				"/api/v1/namespaces/x/pods?fieldSelector=&labelSelector=&watch=",
				"/api/v1/namespaces/x/pods?fieldSelector=&labelSelector=&watch=true",
				"/api/v1/namespaces/x/endpoints?fieldSelector=&labelSelector=&watch=",
				"/api/v1/namespaces/x/endpoints?fieldSelector=&labelSelector=&watch=true",
				"/api/v1/namespaces/y/services?fieldSelector=&labelSelector=team=a&watch=",
				"/api/v1/namespaces/y/services?fieldSelector=&labelSelector=team=a&watch=true",
				"/api/v1/namespaces/y/pods?fieldSelector=&labelSelector=&watch=",
				"/api/v1/namespaces/y/pods?fieldSelector=&labelSelector=&watch=true",
				"/api/v1/namespaces/y/endpoints?fieldSelector=&labelSelector=&watch=",
				"/api/v1/namespaces/y/endpoints?fieldSelector=&labelSelector=&watch=true",
			}},
			{mustScope(t, nil, []string{"b", "a"}, ""), []string{
				"/api/v1/services?fieldSelector=" + notA + "&labelSelector=&watch=",
				"/api/v1/services?fieldSelector=" + notA + "&labelSelector=&watch=true",
				"/api/v1/pods?fieldSelector=" + notA + "&labelSelector=&watch=",
				"/api/v1/pods?fieldSelector=" + notA + "&labelSelector=&watch=true",
				"/api/v1/endpoints?fieldSelector=" + notA + "&labelSelector=&watch=",
				"/api/v1/endpoints?fieldSelector=" + notA + "&labelSelector=&watch=true",
			}},
		} {
			if got := request(NewScopedInformers(client, tc.scope, decoder)); !slices.Equal(got, tc.want) {
				t.Errorf("%s, scope %s: requests\n%s\nwant\n%s", decoder, tc.scope, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		}
	}
}

// counter is the value of the counter name{reason=reason} in m.
func counter(t *testing.T, m *metrics.Metrics, name, reason string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, s := range mf.GetMetric() {
			if hasLabel(s, "reason", reason) {
				return s.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no %s{reason=%q}", name, reason)
	return 0
}
