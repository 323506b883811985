package endpoints

import (
	"fmt"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// The known differences from the built-in (README, "Deliberate differences
// from the built-in"). Each test asserts what this package does and, through
// the model of model_test.go or a rule of the built-in's written out here,
// what the built-in does, so that it fails if either side changes. Most are
// reached only by invalid, undefaulted or foreign-written objects.

// A subset cut to nothing by truncation is dropped: the API server rejects
// a subset without addresses, which leaves the built-in failing forever on
// such a Service. Found by the parity test: 1005 ready pods on one port, 5
// not-ready on another.
func TestDivergence_TruncationDropsEmptySubset(t *testing.T) {
	mk := func(n, port int, ready bool) v1.EndpointSubset {
		s := v1.EndpointSubset{Ports: eports{{Name: "http", Port: int32(port), Protocol: TCP}}}
		for i := range n {
			a := v1.EndpointAddress{IP: fmt.Sprintf("10.%d.%d.%d", port%256, i/250, i%250)}
			if ready {
				s.Addresses = append(s.Addresses, a)
			} else {
				s.NotReadyAddresses = append(s.NotReadyAddresses, a)
			}
		}
		return s
	}
	in := subsets{mk(1005, 8080, true), mk(5, 8081, false)}
	out, cut := Truncate(in)
	if !cut || len(out) != 1 || len(out[0].Addresses) != MaxCapacity || out[0].Ports[0].Port != 8080 {
		t.Errorf("ours: cut %v, %d subsets, want one with %d ready on 8080", cut, len(out), MaxCapacity)
	}
	b := modelTruncate(in) // the built-in keeps the emptied subset
	if len(b) != 2 || len(b[0].Addresses) != MaxCapacity || len(b[1].Addresses)+len(b[1].NotReadyAddresses) != 0 {
		t.Errorf("built-in: want 1000 ready and an empty subset, got %d subsets", len(b))
	}
}

// A pod with spec.nodeName "" gets no nodeName; the built-in sets a pointer
// to "", which the API server rejects, blocking the whole Service.
func TestDivergence_EmptyNodeNameLeftOut(t *testing.T) {
	svc, pod := mkSvc(), mkPod("a", "10.0.0.1", onNode(""))
	got := Compute(svc, Pods([]*v1.Pod{pod})).Subsets
	if len(got) != 1 || len(got[0].Addresses) != 1 || got[0].Addresses[0].NodeName != nil {
		t.Errorf("ours: want one address without nodeName, got\n%s", dump(got))
	}
	b := builtinModel(svc, []*v1.Pod{pod})
	if len(b) != 1 || len(b[0].Addresses) != 1 || b[0].Addresses[0].NodeName == nil || *b[0].Addresses[0].NodeName != "" {
		t.Errorf("built-in: want one address with nodeName \"\", got\n%s", dump(b))
	}
}

// A stored Endpoints (written by someone else) that lists one port with an
// appProtocol in two subsets is up to date here, as it says the same as one
// subset; the built-in compares the stored subsets as they are with its
// repacked ones, so it rewrites the object.
func TestDivergence_SplitSubsetsUpToDate(t *testing.T) {
	svc := mkSvc(ports(sp("http", 80, intstr.FromInt32(8080), TCP)))
	svc.Spec.Ports[0].AppProtocol = ptr.To("http")
	a, b := mkPod("a", "10.0.0.1"), mkPod("b", "10.0.0.2")
	d := Desire(svc, Compute(svc, Pods([]*v1.Pod{a, b})).Subsets, DefaultManagedBy)
	cur := Apply(nil, svc, d, time.Time{})
	p1, p2 := d.Subsets[0].Ports[0], d.Subsets[0].Ports[0]
	p1.AppProtocol, p2.AppProtocol = ptr.To("http"), ptr.To("http") // as decoded from JSON
	cur.Subsets = subsets{{Addresses: as(a), Ports: eports{p1}}, {Addresses: as(b), Ports: eports{p2}}}
	if !UpToDate(cur, d) {
		t.Error("ours: UpToDate = false for the same addresses and ports split over two subsets")
	}
	if apiequality.Semantic.DeepEqual(cur.Subsets, builtinModel(svc, []*v1.Pod{a, b})) {
		t.Error("built-in: the split subsets equal its own; it would not rewrite them")
	}
}

// For one IP and UID listed with different content in two subsets (never
// written by a controller), Repack keeps the first occurrence per port; the
// built-in's RepackSubsets the first occurrence for every port.
func TestDivergence_AddressContentPerPort(t *testing.T) {
	A, B := podAddr("a", "10.0.0.1"), podAddr("b", "10.0.0.2")
	A2 := A
	A2.NodeName = ptr.To("other-node")
	in := subsets{{Addresses: addrs{A}, Ports: eports{ep("p2", 82, TCP)}}, {Addresses: addrs{A2, B}, Ports: eports{ep("p1", 81, TCP)}}}
	if g, w := norm(Repack(in)), norm(subsets{{Addresses: addrs{A}, Ports: eports{ep("p2", 82, TCP)}}, {Addresses: addrs{A2, B}, Ports: eports{ep("p1", 81, TCP)}}}); g != w {
		t.Errorf("ours:\n%s\nwant:\n%s", g, w)
	}
	if g, w := norm(modelRepack(in)), norm(subsets{{Addresses: addrs{A}, Ports: eports{ep("p2", 82, TCP)}}, {Addresses: addrs{A, B}, Ports: eports{ep("p1", 81, TCP)}}}); g != w {
		t.Errorf("built-in:\n%s\nwant:\n%s", g, w)
	}
}

// A pod whose IP does not parse (the API server refuses one) is left out;
// the built-in takes it for IPv4 and publishes address "<nil>".
func TestDivergence_UnparsablePodIPLeftOut(t *testing.T) {
	svc, pod := mkSvc(), mkPod("a", "not-an-ip")
	if got := Compute(svc, Pods([]*v1.Pod{pod})).Subsets; len(got) != 0 {
		t.Errorf("ours: want no subsets, got\n%s", dump(got))
	}
	if b := builtinModel(svc, []*v1.Pod{pod}); len(b) != 1 || len(b[0].Addresses) != 1 || b[0].Addresses[0].IP != "<nil>" {
		t.Errorf("built-in: want address \"<nil>\", got\n%s", dump(b))
	}
}

// A Service port with targetPort 0 (undefaulted; the API server defaults it
// to the port) is published as port 0; the built-in lists only ports above
// 0 and publishes a port-less subset.
func TestDivergence_TargetPortZeroPublished(t *testing.T) {
	svc, pod := mkSvc(ports(sp("http", 80, intstr.IntOrString{}, TCP))), mkPod("a", "10.0.0.1")
	assertSubsets(t, Compute(svc, Pods([]*v1.Pod{pod})).Subsets, subsets{{Addresses: as(pod), Ports: eports{ep("http", 0, TCP)}}})
	if g, w := norm(builtinModel(svc, []*v1.Pod{pod})), norm(subsets{{Addresses: as(pod)}}); g != w {
		t.Errorf("built-in:\n%s\nwant:\n%s", g, w)
	}
}

// Two pods without a UID (never so from the API server) sharing an IP are
// both listed; the built-in merges addresses by IP and UID, so lists one.
func TestDivergence_UIDlessPodsSharingIPBothListed(t *testing.T) {
	svc := mkSvc()
	a, b := mkPod("a", "10.0.0.1"), mkPod("b", "10.0.0.1")
	a.UID, b.UID = "", ""
	if r, _ := CountAddresses(Compute(svc, Pods([]*v1.Pod{a, b})).Subsets); r != 2 {
		t.Errorf("ours: %d ready addresses, want 2", r)
	}
	if r, _ := CountAddresses(builtinModel(svc, []*v1.Pod{a, b})); r != 1 {
		t.Errorf("built-in: %d ready addresses, want 1", r)
	}
}

// Former bugs of UpToDate, found by comparing with the built-in; both
// sides now agree, and these keep it so.
func TestUpToDateFormerBugs(t *testing.T) {
	t.Run("over-capacity annotation value", func(t *testing.T) {
		s := truncState(t)
		s.cur.Annotations[v1.EndpointsOverCapacity] = "warning"
		if UpToDate(s.cur, s.d) {
			t.Error("UpToDate = true; the annotation is left \"warning\"")
		}
	})

	t.Run("truncated with a duplicated address", func(t *testing.T) {
		s := truncState(t)
		ready := s.cur.Subsets[0].Addresses
		ready[1] = ready[0] // the pod at ready[1] is missing now
		if UpToDate(s.cur, s.d) {
			t.Errorf("UpToDate = true, ready pod %s missing", s.d.Subsets[0].Addresses[1].TargetRef.Name)
		}
	})
}
