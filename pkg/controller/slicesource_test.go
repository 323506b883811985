package controller

import (
	"context"
	"k8s.io/client-go/tools/cache"
	"strconv"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

// newSliceHarness is newHarness with --source=endpointslices: slices are
// cached by hand, as trimSlice keeps them.
func newSliceHarness(t *testing.T, objs ...runtime.Object) *harness {
	client := fake.NewClientset(objs...)
	rv := 100 // as newHarnessWith: number writes as etcd would
	client.PrependReactor("*", "endpoints", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if o, ok := a.(interface{ GetObject() runtime.Object }); ok {
			rv++
			o.GetObject().(*v1.Endpoints).ResourceVersion = strconv.Itoa(rv)
		}
		return false, nil, nil
	})
	c, err := New(client, NewInformers(client, "", "").WithEndpointSlices(client), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.queue.ShutDown)
	h := &harness{t: t, client: client, c: c}
	for _, o := range objs {
		switch o := o.(type) {
		case *discovery.EndpointSlice:
			trimmed, _ := trimSlice(o.DeepCopy())
			if err := c.slices.one.Add(trimmed); err != nil {
				t.Fatal(err)
			}
		default:
			h.cache(o)
		}
	}
	return h
}

func testSlice(name, svc string, trigger string, eps ...discovery.Endpoint) *discovery.EndpointSlice {
	s := &discovery.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, ResourceVersion: "1", Labels: map[string]string{
			discovery.LabelServiceName: svc, discovery.LabelManagedBy: "endpointslice-controller.k8s.io", "other": "dropped",
		}},
		AddressType: discovery.AddressTypeIPv4,
		Ports:       []discovery.EndpointPort{{Name: ptr.To(""), Port: ptr.To[int32](8080), Protocol: ptr.To(v1.ProtocolTCP)}},
		Endpoints:   eps,
	}
	if trigger != "" {
		s.Annotations = map[string]string{v1.EndpointsLastChangeTriggerTime: trigger}
	}
	return s
}

func testEndpoint(name, ip string, ready bool) discovery.Endpoint {
	return discovery.Endpoint{
		Addresses:  []string{ip},
		Conditions: discovery.EndpointConditions{Ready: ptr.To(ready), Serving: ptr.To(ready), Terminating: ptr.To(false)},
		NodeName:   ptr.To("n1"),
		Zone:       ptr.To("zone-a"),
		TargetRef:  &v1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: name, UID: types.UID("uid-" + name)},
	}
}

// TestSliceSource_SyncWritesFromSlices: a sync writes the Endpoints its
// slices say, and nothing when they already hold it.
func TestSliceSource_SyncWritesFromSlices(t *testing.T) {
	h := newSliceHarness(t, testService(),
		testSlice("web-1", "web", "", testEndpoint("a", "10.0.0.1", true), testEndpoint("b", "10.0.0.2", false)),
		testSlice("other-1", "other", "", testEndpoint("c", "10.0.0.3", true)))
	if err := h.sync("ns/web"); err != nil {
		t.Fatal(err)
	}
	if h.actions("create") != 1 {
		t.Fatalf("want one create, got %v", h.client.Actions())
	}
	ep, err := h.client.CoreV1().Endpoints("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := ep.Subsets
	if len(s) != 1 || len(s[0].Addresses) != 1 || s[0].Addresses[0].IP != "10.0.0.1" || len(s[0].NotReadyAddresses) != 1 ||
		s[0].NotReadyAddresses[0].TargetRef.Name != "b" || *s[0].Addresses[0].NodeName != "n1" || s[0].Ports[0].Port != 8080 {
		t.Fatalf("unexpected subsets %+v", s)
	}
	if err := h.sync("ns/web"); err != nil {
		t.Fatal(err)
	}
	if h.actions("create")+h.actions("update") != 1 {
		t.Fatalf("second sync wrote: %v", h.client.Actions())
	}
}

// TestSliceSource_NoPodInformer: with the slice source nothing lists or
// watches pods, and slices are listed with the server-side selector.
func TestSliceSource_NoPodInformer(t *testing.T) {
	client := fake.NewClientset()
	inf := NewInformers(client, "", "").WithEndpointSlices(client)
	c, err := New(client, inf, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.pods.each(func(cache.Indexer) { t.Fatal("a pod cache was wired") })
	stop := make(chan struct{})
	inf.Start(stop)
	deadline := time.Now().Add(10 * time.Second)
	for !c.CachesSynced() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	inf.Shutdown()
	if !c.CachesSynced() {
		t.Fatal("caches did not sync")
	}
	sawSlices := false
	for _, a := range client.Actions() {
		if a.GetResource().Resource == "pods" {
			t.Errorf("pods were requested: %s", a.GetVerb())
		}
		if l, ok := a.(k8stesting.ListAction); ok && a.GetResource().Resource == "endpointslices" {
			sawSlices = true
			if got := l.GetListRestrictions().Labels.String(); got != sliceSelector {
				t.Errorf("slices listed with selector %q, want %q", got, sliceSelector)
			}
		}
	}
	if !sawSlices {
		t.Errorf("slices were not listed: %v", client.Actions())
	}
}

// TestSliceSource_TriggerTime: the trigger time is the Service's creation
// at its first sync, then the earliest annotation of the slices changed
// since (not a pod's Ready transition, which slices do not carry).
func TestSliceSource_TriggerTime(t *testing.T) {
	tt := newSliceTriggerTimes()
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	svc := testService()
	svc.CreationTimestamp = metav1.NewTime(created)
	t1, t2 := "2026-01-01T00:01:00.5Z", "2026-01-01T00:02:00Z"
	a, b := testSlice("web-1", "web", t1), testSlice("web-2", "web", t2)
	if got := tt.compute("ns/web", svc, []*discovery.EndpointSlice{a, b}); !got.Equal(created) {
		t.Fatalf("first sync: %v, want the creation time", got)
	}
	if got := tt.compute("ns/web", svc, []*discovery.EndpointSlice{a, b}); !got.IsZero() {
		t.Fatalf("unchanged slices: %v, want none", got)
	}
	a2, b2 := testSlice("web-1", "web", "2026-01-01T00:04:00Z"), testSlice("web-2", "web", "2026-01-01T00:03:00Z")
	want := time.Date(2026, 1, 1, 0, 3, 0, 0, time.UTC)
	if got := tt.compute("ns/web", svc, []*discovery.EndpointSlice{a2, b2}); !got.Equal(want) {
		t.Fatalf("two changed slices: %v, want the earliest %v", got, want)
	}
	c := testSlice("web-3", "web", "2026-01-01T00:05:00Z")
	if got := tt.compute("ns/web", svc, []*discovery.EndpointSlice{a2, b2, c}); !got.Equal(want.Add(2 * time.Minute)) {
		t.Fatalf("a new slice: %v", got)
	}
	tt.forget("ns/web")
	if got := tt.compute("ns/web", svc, nil); !got.Equal(created) {
		t.Fatalf("after forget: %v, want the creation time", got)
	}
}

// TestSliceSource_TrimSlice keeps what is read and drops the rest.
func TestSliceSource_TrimSlice(t *testing.T) {
	s := testSlice("web-1", "web", "2026-01-01T00:01:00Z", testEndpoint("a", "10.0.0.1", true))
	s.Annotations["other"] = "x"
	s.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "m"}}
	s.Endpoints[0].Addresses = append(s.Endpoints[0].Addresses, "10.0.0.9")
	obj, err := trimSlice(s)
	if err != nil {
		t.Fatal(err)
	}
	got := obj.(*discovery.EndpointSlice)
	if len(got.Labels) != 1 || got.Labels[discovery.LabelServiceName] != "web" || len(got.Annotations) != 1 || got.ManagedFields != nil {
		t.Fatalf("metadata not trimmed: %+v", got.ObjectMeta)
	}
	e := got.Endpoints[0]
	if e.Zone != nil || e.Conditions.Serving != nil || len(e.Addresses) != 1 || *e.Conditions.Ready != true || e.TargetRef.UID != "uid-a" || *e.NodeName != "n1" {
		t.Fatalf("endpoint not trimmed right: %+v", e)
	}
}
