package endpoints

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// fuzzBytes hands out small choices from the fuzzer's input (0 once
// exhausted, so that every input decodes to something).
type fuzzBytes []byte

func (b *fuzzBytes) pick(n int) int {
	if len(*b) == 0 {
		return 0
	}
	v := int((*b)[0]) % n
	*b = (*b)[1:]
	return v
}

func pickOf[T any](b *fuzzBytes, xs ...T) T { return xs[b.pick(len(xs))] }

var (
	fuzzProtocols = []v1.Protocol{TCP, UDP, SCTP}
	fuzzPortNames = []string{"web", "dns", "metrics"}
	fuzzIPv4      = []string{"10.0.0.1", "10.0.0.2", "010.000.000.003", "::ffff:10.0.0.4"}
	fuzzIPv6      = []string{"fd00::1", "fd00::2", "FD00:0::3"}
)

// fuzzService decodes a Service valid enough for the API server: unique
// port names and (port, protocol) pairs.
func fuzzService(b *fuzzBytes) *v1.Service {
	svc := mkSvc(ports(), svcLabels(nil))
	svc.Spec.IPFamilies = pickOf(b, []v1.IPFamily{v1.IPv4Protocol}, []v1.IPFamily{v1.IPv6Protocol},
		[]v1.IPFamily{v1.IPv6Protocol, v1.IPv4Protocol}, nil)
	svc.Spec.ClusterIP = pickOf(b, "10.96.0.10", "fd00::10", v1.ClusterIPNone, "")
	svc.Spec.PublishNotReadyAddresses = b.pick(2) == 1
	for i := range b.pick(4) {
		p := v1.ServicePort{Name: fmt.Sprintf("p%d", i), Port: int32(80 + i), Protocol: pickOf(b, fuzzProtocols...)}
		if i == 0 && b.pick(2) == 0 {
			p.Name = ""
		}
		switch b.pick(3) {
		case 0:
			p.TargetPort = intstr.FromInt32(p.Port) // defaulted
		case 1:
			p.TargetPort = intstr.FromInt32(int32(8080 + b.pick(3)))
		default:
			p.TargetPort = intstr.FromString(pickOf(b, fuzzPortNames...))
		}
		if b.pick(3) == 0 {
			p.AppProtocol = ptr.To("http")
		}
		svc.Spec.Ports = append(svc.Spec.Ports, p)
	}
	return svc
}

// fuzzPod decodes pod number i: IPs (none, single or dual stack, some
// irregular), phase, readiness, deletion, node, hostname and named ports in
// containers, sidecars or plain init containers.
func fuzzPod(b *fuzzBytes, i int) *v1.Pod {
	v4, v6 := pickOf(b, fuzzIPv4...), pickOf(b, fuzzIPv6...)
	ips := pickOf(b, "", v4, v6, v4+","+v6, v6+","+v4)
	// Never an empty node name: see TestDivergence_EmptyNodeNameLeftOut.
	p := mkPod(fmt.Sprintf("pod%d", i), ips, onNode(pickOf(b, "node-a", "node-b")))
	p.Status.Phase = pickOf(b, v1.PodRunning, v1.PodPending, v1.PodSucceeded, v1.PodFailed, "")
	switch b.pick(4) {
	case 0:
		notReady(p)
	case 1:
		noCondition(p)
	}
	if b.pick(4) == 0 {
		deleting(p)
	}
	switch b.pick(3) {
	case 1:
		host("h", "svc")(p)
	case 2:
		host("h", "other")(p)
	}
	for _, name := range fuzzPortNames {
		port := cp(name, int32(9000+b.pick(3)), pickOf(b, fuzzProtocols...))
		switch b.pick(4) {
		case 1:
			cports(port)(p)
		case 2:
			initPorts(always, port)(p)
		case 3:
			initPorts(nil, port)(p)
		}
	}
	return p
}

func FuzzCompute(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x00\x00\x00\x01\x00\x02\x00\x00\x05\x01\x01\x01"))
	f.Add([]byte{2, 2, 0, 0, 4, 1, 3, 1, 2, 1, 4, 0, 1, 0, 1, 1, 1, 2, 0, 1, 1, 3, 0, 0, 0, 0, 1, 0, 2, 2, 1, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		b := fuzzBytes(data)
		svc := fuzzService(&b)
		var pods []*v1.Pod
		for i := range b.pick(12) {
			pods = append(pods, fuzzPod(&b, i))
		}
		res := checkCompute(t, svc, pods...)

		// The object written is up to date, also when stored in another
		// order (as the built-in would store it).
		d := Desire(svc, res.Subsets, DefaultManagedBy)
		cur := Apply(nil, svc, d, time.Time{})
		if !UpToDate(cur, d) {
			t.Fatal("Apply's output is not up to date")
		}
		cur.Subsets = shuffled(rand.New(rand.NewPCG(uint64(len(data)), 1)), cur.Subsets)
		if !UpToDate(cur, d) {
			t.Fatalf("not up to date when stored in another order:\n%s", dump(cur.Subsets))
		}
	})
}

// fuzzSubsets decodes subsets over small pools of ports and addresses
// (the same IP and UID always with the same content, as any controller
// writes them).
func fuzzSubsets(b *fuzzBytes) []v1.EndpointSubset {
	poolPorts := eports{ep("a", 80, TCP), ep("a", 80, UDP), ep("b", 81, TCP), ep("", 80, TCP)}
	withApp := ep("a", 80, TCP)
	withApp.AppProtocol = ptr.To("http")
	poolPorts = append(poolPorts, withApp)
	var pool addrs
	for i, ip := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "fd00::1", "10.0.0.1"} { // the last: host network
		a := podAddr(fmt.Sprintf("p%d", i), ip)
		if i == 2 {
			a.Hostname = "h"
		}
		pool = append(pool, a)
	}
	var out []v1.EndpointSubset
	for range b.pick(7) {
		var s v1.EndpointSubset
		for range b.pick(4) {
			p := pickOf(b, poolPorts...)
			if p.AppProtocol != nil {
				p.AppProtocol = ptr.To(*p.AppProtocol) // a pointer per decoded port
			}
			s.Ports = append(s.Ports, p)
		}
		for range b.pick(5) {
			s.Addresses = append(s.Addresses, pickOf(b, pool...))
		}
		for range b.pick(4) {
			s.NotReadyAddresses = append(s.NotReadyAddresses, pickOf(b, pool...))
		}
		out = append(out, s)
	}
	return out
}

func FuzzRepack(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{3, 1, 0, 1, 1, 0, 1, 0, 1, 2, 1, 0, 0, 1, 1, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		b := fuzzBytes(data)
		subsets := fuzzSubsets(&b)
		checkRepack(t, subsets, 3)

		// Knowing cur canonical changes no answer of UpToDate.
		want := Repack(fuzzSubsets(&b))
		d := Desired{Subsets: want, Full: want, Labels: map[string]string{LabelManagedBy: DefaultManagedBy}}
		cur := &v1.Endpoints{Subsets: Repack(subsets)}
		cur.Labels = d.Labels
		if got, exp := UpToDateCanonical(cur, d), UpToDate(cur, d); got != exp {
			t.Fatalf("UpToDateCanonical = %v, UpToDate = %v\ncur:\n%s\nwant:\n%s", got, exp, dump(cur.Subsets), dump(want))
		}
		// Nor knowing only its digest.
		if !Canonical(cur.Subsets) {
			t.Fatalf("Repack's output is not Canonical:\n%s", dump(cur.Subsets))
		}
		meta := &v1.Endpoints{ObjectMeta: cur.ObjectMeta}
		if got, exp := UpToDateDigest(meta, DigestOf(cur.Subsets), d), UpToDate(cur, d); got != exp {
			t.Fatalf("UpToDateDigest = %v, UpToDate = %v\ncur:\n%s\nwant:\n%s", got, exp, dump(cur.Subsets), dump(want))
		}
	})
}
