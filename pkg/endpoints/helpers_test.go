package endpoints

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints/podtest"
)

// Short names for literals of expected subsets.
type (
	addrs   = []v1.EndpointAddress
	eports  = []v1.EndpointPort
	subsets = []v1.EndpointSubset
)

const (
	testNS = "ns"
	TCP    = v1.ProtocolTCP
	UDP    = v1.ProtocolUDP
	SCTP   = v1.ProtocolSCTP
)

// --- Pods -------------------------------------------------------------------

// Pods as podtest makes them, under the short names the tests use.
type podOpt = podtest.Opt

var (
	mkPod       = podtest.Pod
	notReady    = podtest.NotReady
	noCondition = podtest.NoCondition
	deleting    = podtest.Deleting
	phase       = podtest.Phase
	onNode      = podtest.OnNode
	host        = podtest.Host
	cports      = podtest.ContainerPorts
	initPorts   = podtest.InitPorts
	always      = podtest.Always
	cp          = podtest.Port
)

// --- Services ---------------------------------------------------------------

type svcOpt func(*v1.Service)

// mkSvc returns an IPv4 ClusterIP Service "svc" with port http 80 -> 8080.
func mkSvc(opts ...svcOpt) *v1.Service {
	s := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "svc", Namespace: testNS, Labels: map[string]string{"app": "web"}},
		Spec: v1.ServiceSpec{
			ClusterIP:  "10.96.0.10",
			IPFamilies: []v1.IPFamily{v1.IPv4Protocol},
			Selector:   map[string]string{"app": "web"},
			Ports:      []v1.ServicePort{sp("http", 80, intstr.FromInt32(8080), TCP)},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func ports(ps ...v1.ServicePort) svcOpt    { return func(s *v1.Service) { s.Spec.Ports = ps } }
func families(f ...v1.IPFamily) svcOpt     { return func(s *v1.Service) { s.Spec.IPFamilies = f } }
func clusterIP(ip string) svcOpt           { return func(s *v1.Service) { s.Spec.ClusterIP = ip } }
func publishNotReady(s *v1.Service)        { s.Spec.PublishNotReadyAddresses = true }
func svcLabels(l map[string]string) svcOpt { return func(s *v1.Service) { s.Labels = l } }

func sp(name string, port int32, target intstr.IntOrString, proto v1.Protocol) v1.ServicePort {
	return v1.ServicePort{Name: name, Port: port, TargetPort: target, Protocol: proto}
}

// --- Expected values --------------------------------------------------------

// addr is the address the built-in makes for p with the given (canonical) IP.
func addr(p *v1.Pod, ip string) v1.EndpointAddress {
	node := p.Spec.NodeName
	return v1.EndpointAddress{IP: ip, NodeName: &node,
		TargetRef: &v1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID}}
}

// as returns the addresses of pods, each with its first IP.
func as(pods ...*v1.Pod) addrs {
	var out addrs
	for _, p := range pods {
		out = append(out, addr(p, p.Status.PodIPs[0].IP))
	}
	return out
}

// podAddr is the address of a fresh pod named name with IP ip.
func podAddr(name, ip string) v1.EndpointAddress { return addr(mkPod(name, ip), ip) }

func ep(name string, port int32, proto v1.Protocol) v1.EndpointPort {
	return v1.EndpointPort{Name: name, Port: port, Protocol: proto}
}

// --- Comparison -------------------------------------------------------------

func portStr(p v1.EndpointPort) string {
	app := "-"
	if p.AppProtocol != nil {
		app = "app=" + *p.AppProtocol
	}
	return fmt.Sprintf("%s/%d/%s/%s", p.Name, p.Port, p.Protocol, app)
}

func addrStr(a v1.EndpointAddress) string {
	node, ref := "<nil>", "<nil>"
	if a.NodeName != nil {
		node = strconv.Quote(*a.NodeName)
	}
	if a.TargetRef != nil {
		ref = fmt.Sprintf("%+v", *a.TargetRef)
	}
	return fmt.Sprintf("%s(host=%q node=%s ref=%s)", a.IP, a.Hostname, node, ref)
}

func mapStr[T any](xs []T, f func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// dump renders subsets exactly, in order, every field included.
func dump(ss []v1.EndpointSubset) string {
	var b strings.Builder
	for _, s := range ss {
		fmt.Fprintf(&b, "ports=%v\n  ready=%v\n  notReady=%v\n",
			mapStr(s.Ports, portStr), mapStr(s.Addresses, addrStr), mapStr(s.NotReadyAddresses, addrStr))
	}
	return b.String()
}

// norm renders subsets ignoring every order (subsets, ports, addresses), for
// comparing with the built-in, whose orders follow hashes.
func norm(ss []v1.EndpointSubset) string {
	sorted := func(xs []string) []string { slices.Sort(xs); return xs }
	var out []string
	for _, s := range ss {
		out = append(out, fmt.Sprintf("ports=%v ready=%v notReady=%v", sorted(mapStr(s.Ports, portStr)),
			sorted(mapStr(s.Addresses, addrStr)), sorted(mapStr(s.NotReadyAddresses, addrStr))))
	}
	return strings.Join(sorted(out), "\n")
}

func assertSubsets(t testing.TB, got, want []v1.EndpointSubset) {
	t.Helper()
	if g, w := dump(got), dump(want); g != w {
		t.Errorf("subsets differ\ngot:\n%swant:\n%s", g, w)
	}
}

// --- Shuffling --------------------------------------------------------------

func shuf[T any](r *rand.Rand, s []T) { r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] }) }

// shuffled returns a copy of ss with subsets, addresses and ports shuffled.
func shuffled(r *rand.Rand, ss []v1.EndpointSubset) []v1.EndpointSubset {
	out := cloneSubsets(ss)
	for i := range out {
		shuf(r, out[i].Addresses)
		shuf(r, out[i].NotReadyAddresses)
		shuf(r, out[i].Ports)
	}
	shuf(r, out)
	return out
}

// reversed returns a copy of ss with every list reversed.
func reversed(ss []v1.EndpointSubset) []v1.EndpointSubset {
	out := cloneSubsets(ss)
	for i := range out {
		slices.Reverse(out[i].Addresses)
		slices.Reverse(out[i].NotReadyAddresses)
		slices.Reverse(out[i].Ports)
	}
	slices.Reverse(out)
	return out
}

// cloneSubsets deep-copies subsets.
func cloneSubsets(ss []v1.EndpointSubset) []v1.EndpointSubset {
	if ss == nil {
		return nil
	}
	out := make([]v1.EndpointSubset, len(ss))
	for i := range ss {
		ss[i].DeepCopyInto(&out[i])
	}
	return out
}
