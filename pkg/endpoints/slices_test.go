package endpoints

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/endpointslice"
	endpointsliceutil "k8s.io/endpointslice/util"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

// sliceController returns the EndpointSlices the built-in EndpointSlice
// controller's reconciler (k8s.io/endpointslice v0.37.2, the code
// kube-controller-manager runs) writes for svc and pods, with the default
// 100 endpoints per slice. Every node a pod names exists, but those in
// missingNodes.
func sliceController(t testing.TB, svc *v1.Service, pods []*v1.Pod, missingNodes ...string) []*discovery.EndpointSlice {
	t.Helper()
	client := fake.NewClientset()
	n := 0
	client.PrependReactor("create", "endpointslices", func(action k8stesting.Action) (bool, runtime.Object, error) {
		s := action.(k8stesting.CreateAction).GetObject().(*discovery.EndpointSlice)
		n++
		s.Name, s.GenerateName = fmt.Sprintf("%s%d", s.GenerateName, n), "" // the fake does not generate names
		return false, s, nil
	})
	nodes := informers.NewSharedInformerFactory(client, 0).Core().V1().Nodes().Informer().GetIndexer()
	missing := map[string]bool{}
	for _, m := range missingNodes {
		missing[m] = true
	}
	for _, p := range pods {
		if name := p.Spec.NodeName; name != "" && !missing[name] {
			_ = nodes.Add(&v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}})
		}
	}
	r := endpointslice.NewReconciler(client, corelisters.NewNodeLister(nodes), 100,
		endpointsliceutil.NewEndpointSliceTracker(), nil, record.NewFakeRecorder(1000), SliceManagedBy)
	svc = svc.DeepCopy()
	if svc.UID == "" {
		svc.UID = "svc-uid"
	}
	// A pod on a missing node is an error, after the slices are written.
	_ = r.Reconcile(klog.Background(), svc, pods, nil, time.Time{})
	list, err := client.DiscoveryV1().EndpointSlices(svc.Namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*discovery.EndpointSlice, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out
}

// checkFromSlices asserts that the slices the built-in makes of pods give
// the subsets and counts Compute gives for the pods themselves.
func checkFromSlices(t testing.TB, svc *v1.Service, pods ...*v1.Pod) Result {
	t.Helper()
	want := Compute(svc, Pods(pods))
	got := ComputeFromSlices(svc, sliceController(t, svc, pods))
	if dump(got.Subsets) != dump(want.Subsets) {
		t.Fatalf("from slices:\n%sfrom pods:\n%s", dump(got.Subsets), dump(want.Subsets))
	}
	if got.Ready != want.Ready || got.NotReady != want.NotReady {
		t.Fatalf("counts from slices %d/%d, from pods %d/%d", got.Ready, got.NotReady, want.Ready, want.NotReady)
	}
	return got
}

// TestSliceSource_SameAsPods: every rule of Compute, derived from the
// slices instead of the pods, gives the same subsets in the same order.
func TestSliceSource_SameAsPods(t *testing.T) {
	named := func(name string, num int32) v1.ContainerPort { return cp(name, num, TCP) }
	tests := []struct {
		name string
		svc  *v1.Service
		pods []*v1.Pod
	}{
		{"ready and not ready", mkSvc(), []*v1.Pod{mkPod("a", "10.0.0.1"), mkPod("b", "10.0.0.2", notReady), mkPod("c", "10.0.0.3", noCondition)}},
		{"terminating left out", mkSvc(), []*v1.Pod{mkPod("a", "10.0.0.1", deleting), mkPod("b", "10.0.0.2", deleting, notReady), mkPod("c", "10.0.0.3")}},
		{"terminating kept with publishNotReadyAddresses", mkSvc(publishNotReady), []*v1.Pod{mkPod("a", "10.0.0.1", deleting), mkPod("b", "10.0.0.2", notReady)}},
		{"terminal and IP-less left out", mkSvc(), []*v1.Pod{mkPod("a", "10.0.0.1", phase(v1.PodSucceeded)), mkPod("b", "10.0.0.2", phase(v1.PodFailed)), mkPod("c", "")}},
		{"hostname", mkSvc(), []*v1.Pod{mkPod("a", "10.0.0.1", host("h", "svc")), mkPod("b", "10.0.0.2", host("h", "other"))}},
		{"named port missing on a pod", mkSvc(ports(sp("http", 80, intstr.FromString("http"), TCP), sp("raw", 81, intstr.FromInt32(9000), TCP))),
			[]*v1.Pod{mkPod("a", "10.0.0.1", cports(named("http", 8080))), mkPod("b", "10.0.0.2"), mkPod("c", "10.0.0.3", initPorts(always, named("http", 8081)))}},
		{"no named port at all", mkSvc(ports(sp("http", 80, intstr.FromString("http"), TCP))), []*v1.Pod{mkPod("a", "10.0.0.1"), mkPod("b", "10.0.0.2", cports(named("http", 8080)))}},
		{"IPv6 primary of dual stack", mkSvc(families(v1.IPv6Protocol, v1.IPv4Protocol), clusterIP("fd00::10")),
			[]*v1.Pod{mkPod("a", "10.0.0.1,fd00::1"), mkPod("b", "fd00::2,10.0.0.2"), mkPod("c", "10.0.0.3")}},
		{"headless without ports", mkSvc(clusterIP(v1.ClusterIPNone), ports()), []*v1.Pod{mkPod("a", "10.0.0.1"), mkPod("b", "10.0.0.2", notReady)}},
		{"appProtocol", mkSvc(ports(v1.ServicePort{Name: "h", Port: 80, TargetPort: intstr.FromInt32(80), Protocol: UDP, AppProtocol: ptr.To("http")})), []*v1.Pod{mkPod("a", "10.0.0.1")}},
		{"host network pods sharing an IP", mkSvc(), []*v1.Pod{mkPod("a", "10.0.0.1"), mkPod("b", "10.0.0.1", notReady)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkFromSlices(t, tc.svc, tc.pods...) })
	}
}

// TestSliceSource_ManySlicesAndTruncation: over 100 pods the slice
// controller writes several slices per port group; over 1000 addresses the
// Endpoints are truncated from the same canonical subsets.
func TestSliceSource_ManySlicesAndTruncation(t *testing.T) {
	svc := mkSvc(ports(sp("http", 80, intstr.FromString("http"), TCP), sp("raw", 81, intstr.FromInt32(9000), TCP)))
	var pods []*v1.Pod
	for i := range 1300 {
		var opts []podOpt
		if i%10 != 0 {
			opts = append(opts, cports(cp("http", 8080, TCP)))
		}
		if i%7 == 0 {
			opts = append(opts, notReady)
		}
		pods = append(pods, mkPod(fmt.Sprintf("p%d", i), fmt.Sprintf("10.1.%d.%d", i/250, i%250+1), opts...))
	}
	slices := sliceController(t, svc, pods)
	if len(slices) < 13 {
		t.Fatalf("want the pods over many slices, got %d", len(slices))
	}
	res := checkFromSlices(t, svc, pods...)
	want := Desire(svc, Compute(svc, Pods(pods)).Subsets, DefaultManagedBy)
	got := Desire(svc, res.Subsets, DefaultManagedBy)
	if !got.Truncated || dump(got.Subsets) != dump(want.Subsets) {
		t.Fatalf("truncated from slices:\n%sfrom pods:\n%s", dump(got.Subsets), dump(want.Subsets))
	}
}

// TestSliceSource_Random compares both sources over random Services and
// pods (FuzzCompute's decoder) with valid IP families, as the API server
// always sets them.
func TestSliceSource_Random(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 3))
	for i := range 400 {
		data := make([]byte, 200)
		for j := range data {
			data[j] = byte(r.IntN(256))
		}
		b := fuzzBytes(data)
		svc := fuzzService(&b)
		if len(svc.Spec.IPFamilies) == 0 {
			svc.Spec.IPFamilies = []v1.IPFamily{v1.IPv4Protocol}
		}
		var pods []*v1.Pod
		for k := range b.pick(12) {
			pods = append(pods, fuzzPod(&b, k))
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkFromSlices(t, svc, pods...) })
	}
}

// TestSliceSource_PodOnMissingNode: the slice controller leaves out a pod
// whose Node object does not exist (or that names no node), unless the
// Service publishes not-ready addresses; the Endpoints controller does
// not look at nodes. From slices such a pod is missing.
func TestSliceSource_PodOnMissingNode(t *testing.T) {
	pods := []*v1.Pod{mkPod("a", "10.0.0.1", onNode("gone")), mkPod("b", "10.0.0.2"), mkPod("c", "10.0.0.3", onNode(""))}
	svc := mkSvc()
	got := ComputeFromSlices(svc, sliceController(t, svc, pods, "gone"))
	if want := (subsets{{Addresses: as(pods[1]), Ports: eports{ep("http", 8080, TCP)}}}); dump(got.Subsets) != dump(want) {
		t.Fatalf("got\n%swant only pod b:\n%s", dump(got.Subsets), dump(want))
	}
	if dump(Compute(svc, Pods(pods)).Subsets) == dump(got.Subsets) {
		t.Fatal("from pods, the pods on missing nodes should be listed")
	}
	// Published anyway with publishNotReadyAddresses.
	pub := mkSvc(publishNotReady)
	if got, want := ComputeFromSlices(pub, sliceController(t, pub, pods, "gone")), Compute(pub, Pods(pods)); dump(got.Subsets) != dump(want.Subsets) {
		t.Fatalf("publishNotReadyAddresses: from slices\n%sfrom pods\n%s", dump(got.Subsets), dump(want.Subsets))
	}
}

// TestSliceSource_PodInTwoSlices: mid-update a pod can be listed in two
// slices; it is listed once, not ready if either says so, and the subsets
// stay canonical.
func TestSliceSource_PodInTwoSlices(t *testing.T) {
	svc := mkSvc()
	pods := []*v1.Pod{mkPod("a", "10.0.0.1"), mkPod("b", "10.0.0.2")}
	slices := sliceController(t, svc, pods)
	stale := slices[0].DeepCopy()
	stale.Name += "-stale"
	for i := range stale.Endpoints {
		stale.Endpoints[i].Conditions.Ready = ptr.To(false)
	}
	got := ComputeFromSlices(svc, append(slices, stale))
	want := subsets{{NotReadyAddresses: as(pods...), Ports: eports{ep("http", 8080, TCP)}}}
	if dump(got.Subsets) != dump(want) || dump(Repack(got.Subsets)) != dump(got.Subsets) {
		t.Fatalf("got\n%swant\n%s", dump(got.Subsets), dump(want))
	}
	if got.Ready != 0 || got.NotReady != 2 {
		t.Fatalf("counts %d/%d, want 0/2", got.Ready, got.NotReady)
	}
}

// TestSliceSource_OtherFamilyIgnored: only slices of the Service's primary
// family count, whatever their order.
func TestSliceSource_OtherFamilyIgnored(t *testing.T) {
	svc := mkSvc(families(v1.IPv4Protocol, v1.IPv6Protocol))
	pods := []*v1.Pod{mkPod("a", "10.0.0.1,fd00::1"), mkPod("b", "fd00::2")}
	slices := sliceController(t, svc, pods)
	if len(slices) != 2 {
		t.Fatalf("want an IPv4 and an IPv6 slice, got %d", len(slices))
	}
	got := ComputeFromSlices(svc, []*discovery.EndpointSlice{slices[1], slices[0]})
	if want := (subsets{{Addresses: as(pods[0]), Ports: eports{ep("http", 8080, TCP)}}}); dump(got.Subsets) != dump(want) {
		t.Fatalf("got\n%swant\n%s", dump(got.Subsets), dump(want))
	}
}
