package endpoints

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/endpointslice"
	endpointsliceutil "k8s.io/endpointslice/util"
	utildump "k8s.io/utils/dump"
	utilnet "k8s.io/utils/net"
)

// This file holds an independent, deliberately naive model of the built-in
// endpoints controller of Kubernetes v1.37.2 (syncService up to, and
// including, RepackSubsets), used as an oracle. It follows the built-in
// step by step: one single-address subset per pod and port, then repacked.
// modelRepack's output order is arbitrary; modelSort then orders it as the
// built-in's SortSubsets does.

// builtinModel returns the subsets the built-in computes before truncation.
func builtinModel(svc *v1.Service, pods []*v1.Pod) []v1.EndpointSubset {
	return modelSort(modelRepack(builtinExpand(svc, pods)))
}

// modelSort is SortSubsets, naively: addresses by LessEndpointAddress,
// then ports and subsets by comparing, in every Less, the FNV-128a sums of
// the two elements as dump.ForHash prints them.
func modelSort(ss []v1.EndpointSubset) []v1.EndpointSubset {
	sum := func(v any) []byte {
		h := fnv.New128a()
		fmt.Fprintf(h, "%v", utildump.ForHash(v))
		return h.Sum(nil)
	}
	lessAddr := func(a, b *v1.EndpointAddress) bool {
		if c := bytes.Compare([]byte(a.IP), []byte(b.IP)); c != 0 {
			return c < 0
		}
		if b.TargetRef == nil {
			return false
		}
		return a.TargetRef == nil || a.TargetRef.UID < b.TargetRef.UID
	}
	for i := range ss {
		s := &ss[i]
		sort.Slice(s.Addresses, func(i, j int) bool { return lessAddr(&s.Addresses[i], &s.Addresses[j]) })
		sort.Slice(s.NotReadyAddresses, func(i, j int) bool { return lessAddr(&s.NotReadyAddresses[i], &s.NotReadyAddresses[j]) })
		sort.Slice(s.Ports, func(i, j int) bool { return bytes.Compare(sum(s.Ports[i]), sum(s.Ports[j])) < 0 })
	}
	sort.Slice(ss, func(i, j int) bool { return bytes.Compare(sum(ss[i]), sum(ss[j])) < 0 })
	return ss
}

// builtinOrder returns a copy of ss in the built-in's order.
func builtinOrder(ss []v1.EndpointSubset) []v1.EndpointSubset { return modelSort(cloneSubsets(ss)) }

// builtinExpand returns what the built-in passes to RepackSubsets: one
// single-address subset per pod and port.
func builtinExpand(svc *v1.Service, pods []*v1.Pod) []v1.EndpointSubset {
	var expanded []v1.EndpointSubset
	for _, pod := range pods {
		if !endpointsliceutil.ShouldPodBeInEndpoints(pod, svc.Spec.PublishNotReadyAddresses) {
			continue
		}
		a, ok := modelAddress(svc, pod)
		if !ok {
			continue
		}
		add := func(ports []v1.EndpointPort) {
			s := v1.EndpointSubset{Ports: ports}
			if svc.Spec.PublishNotReadyAddresses || endpointsliceutil.IsPodReady(pod) {
				s.Addresses = addrs{a}
			} else {
				s.NotReadyAddresses = addrs{a}
			}
			expanded = append(expanded, s)
		}
		if len(svc.Spec.Ports) == 0 && svc.Spec.ClusterIP == v1.ClusterIPNone {
			add(nil)
		}
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			if n, err := endpointslice.FindPort(pod, sp); err == nil {
				add(eports{{Name: sp.Name, Port: int32(n), Protocol: sp.Protocol, AppProtocol: sp.AppProtocol}})
			}
		}
	}
	return expanded
}

// modelAddress is podToEndpointAddressForService plus the hostname rule.
// Like the built-in, an unparsable pod IP counts as IPv4 and yields "<nil>".
func modelAddress(svc *v1.Service, pod *v1.Pod) (v1.EndpointAddress, bool) {
	var want6 bool
	switch ip := svc.Spec.ClusterIP; {
	case len(svc.Spec.IPFamilies) > 0:
		want6 = svc.Spec.IPFamilies[0] == v1.IPv6Protocol
	case ip != "" && ip != v1.ClusterIPNone:
		want6 = utilnet.IsIPv6String(ip)
	default:
		want6 = utilnet.IsIPv6String(pod.Status.PodIP)
	}
	for _, pip := range pod.Status.PodIPs {
		if ip := utilnet.ParseIPSloppy(pip.IP); utilnet.IsIPv6(ip) == want6 {
			a := addr(pod, ip.String())
			if endpointsliceutil.ShouldSetHostname(pod, svc) {
				a.Hostname = pod.Spec.Hostname
			}
			return a, true
		}
	}
	return v1.EndpointAddress{}, false
}

// modelRepack is RepackSubsets: addresses deduplicated by IP and pod UID
// across all subsets (the first occurrence's content wins everywhere), for
// every port the addresses serving it (not ready wins over ready), ports
// with the same addresses and readiness grouped. Subsets without ports map
// to a sentinel port, and only ports numbered above 0 are listed. Unlike the
// built-in, ports are told apart by value (it keys them by struct, so by
// AppProtocol pointer): see TestDivergence_SplitSubsetsUpToDate.
func modelRepack(in []v1.EndpointSubset) []v1.EndpointSubset {
	type pkey struct {
		name  string
		port  int32
		proto v1.Protocol
		app   string
	}
	all := map[string]*v1.EndpointAddress{}
	perPort := map[pkey]map[*v1.EndpointAddress]bool{}
	portOf := map[pkey]*v1.EndpointPort{}
	note := func(p *v1.EndpointPort, a *v1.EndpointAddress, ready bool) {
		k := a.IP + "|" + uidOf(a)
		if all[k] == nil {
			c := *a
			all[k] = &c
		}
		pk := pkey{port: -1}
		if p != nil {
			pk = pkey{p.Name, p.Port, p.Protocol, "\x00nil"}
			if p.AppProtocol != nil {
				pk.app = *p.AppProtocol
			}
		}
		if perPort[pk] == nil {
			perPort[pk], portOf[pk] = map[*v1.EndpointAddress]bool{}, p
		}
		if was, ok := perPort[pk][all[k]]; !ok || was {
			perPort[pk][all[k]] = ready
		}
	}
	for i := range in {
		s := &in[i]
		ps := []*v1.EndpointPort{nil}
		if len(s.Ports) > 0 {
			ps = nil
			for j := range s.Ports {
				ps = append(ps, &s.Ports[j])
			}
		}
		for _, p := range ps {
			for j := range s.Addresses {
				note(p, &s.Addresses[j], true)
			}
			for j := range s.NotReadyAddresses {
				note(p, &s.NotReadyAddresses[j], false)
			}
		}
	}
	type group struct {
		set   map[*v1.EndpointAddress]bool
		ports []v1.EndpointPort
	}
	groups := map[string]*group{}
	for pk, set := range perPort {
		var keys []string
		for a, ready := range set {
			keys = append(keys, fmt.Sprintf("%s|%s|%v", a.IP, uidOf(a), ready))
		}
		slices.Sort(keys)
		sig := strings.Join(keys, ",")
		if groups[sig] == nil {
			groups[sig] = &group{set: set}
		}
		if p := portOf[pk]; p != nil && p.Port > 0 {
			groups[sig].ports = append(groups[sig].ports, *p)
		}
	}
	var out []v1.EndpointSubset
	for _, g := range groups {
		s := v1.EndpointSubset{Ports: g.ports}
		for a, ready := range g.set {
			if ready {
				s.Addresses = append(s.Addresses, *a)
			} else {
				s.NotReadyAddresses = append(s.NotReadyAddresses, *a)
			}
		}
		out = append(out, s)
	}
	return out
}

func uidOf(a *v1.EndpointAddress) string {
	if a.TargetRef == nil {
		return ""
	}
	return string(a.TargetRef.UID)
}

// checkCompute runs Compute and checks every property that must hold
// whatever the input (pods must have distinct UIDs):
//   - the output is canonical: Repack leaves it unchanged;
//   - it equals the built-in model up to order, and exactly Repack of the
//     built-in's single-address subsets;
//   - every counted pod appears exactly once for every port it exposes, in
//     Addresses when ready (or publishNotReadyAddresses), else in
//     NotReadyAddresses, and nowhere else; no subset lists an address twice;
//   - Ready and NotReady count address-port pairs;
//   - the inputs are not modified.
func checkCompute(t testing.TB, svc *v1.Service, pods ...*v1.Pod) Result {
	t.Helper()
	svc0, pods0 := svc.DeepCopy(), make([]*v1.Pod, len(pods))
	for i, p := range pods {
		pods0[i] = p.DeepCopy()
	}
	res := Compute(svc, Pods(pods))
	out := res.Subsets

	if r := Repack(out); !SubsetsEqual(r, out) || dump(r) != dump(out) {
		t.Errorf("Compute's output is not canonical\ngot:\n%sRepack:\n%s", dump(out), dump(r))
	}
	expanded := builtinExpand(svc, pods)
	if g, w := dump(out), dump(modelSort(modelRepack(expanded))); g != w {
		t.Errorf("Compute differs from the built-in model\ngot:\n%s\nbuilt-in:\n%s", g, w)
	}
	if r := Repack(expanded); dump(r) != dump(out) {
		t.Errorf("Compute differs from Repack of the built-in's expansion\ngot:\n%sRepack:\n%s", dump(out), dump(r))
	}

	// seen[uid][port] = "ready" / "notReady", once per occurrence.
	seen := map[string]map[string][]string{}
	var ready, notReadyN int
	for i, s := range out {
		keys := []string{"-"}
		if len(s.Ports) > 0 {
			keys = mapStr(s.Ports, portStr)
		}
		inSubset := map[string]bool{}
		for kind, list := range map[string]addrs{"ready": s.Addresses, "notReady": s.NotReadyAddresses} {
			for _, a := range list {
				k := a.IP + "|" + uidOf(&a)
				if inSubset[k] {
					t.Errorf("subset %d lists %s twice", i, k)
				}
				inSubset[k] = true
				if seen[uidOf(&a)] == nil {
					seen[uidOf(&a)] = map[string][]string{}
				}
				for _, pk := range keys {
					seen[uidOf(&a)][pk] = append(seen[uidOf(&a)][pk], kind)
				}
			}
		}
		ready += len(s.Addresses) * len(keys)
		notReadyN += len(s.NotReadyAddresses) * len(keys)
	}
	for _, pod := range pods {
		want := map[string][]string{}
		_, hasIP := modelAddress(svc, pod)
		if endpointsliceutil.ShouldPodBeInEndpoints(pod, svc.Spec.PublishNotReadyAddresses) && hasIP {
			kind := "notReady"
			if svc.Spec.PublishNotReadyAddresses || endpointsliceutil.IsPodReady(pod) {
				kind = "ready"
			}
			if len(svc.Spec.Ports) == 0 && svc.Spec.ClusterIP == v1.ClusterIPNone {
				want["-"] = []string{kind}
			}
			for i := range svc.Spec.Ports {
				sp := &svc.Spec.Ports[i]
				if n, err := endpointslice.FindPort(pod, sp); err == nil {
					want[portStr(v1.EndpointPort{Name: sp.Name, Port: int32(n), Protocol: sp.Protocol, AppProtocol: sp.AppProtocol})] = []string{kind}
				}
			}
		}
		if got := seen[string(pod.UID)]; len(got)+len(want) > 0 && !apiequality.Semantic.DeepEqual(got, want) {
			t.Errorf("pod %s: appears as %v, want %v", pod.Name, got, want)
		}
	}
	if res.Ready != ready || res.NotReady != notReadyN {
		t.Errorf("Result counts ready=%d notReady=%d, want %d, %d", res.Ready, res.NotReady, ready, notReadyN)
	}

	if !apiequality.Semantic.DeepEqual(svc, svc0) || !apiequality.Semantic.DeepEqual(pods, pods0) {
		t.Errorf("Compute modified its input")
	}
	return res
}

// modelTruncate is truncateEndpoints: in subset order, each subset keeps
// its share, rounded up, of the capacity left for the list being cut
// (ready when over capacity by itself, then all not-ready dropped).
func modelTruncate(ss []v1.EndpointSubset) []v1.EndpointSubset {
	ready, notReady := 0, 0
	for _, s := range ss {
		ready += len(s.Addresses)
		notReady += len(s.NotReadyAddresses)
	}
	if ready+notReady <= MaxCapacity {
		return ss
	}
	cutReady := ready > MaxCapacity
	budget, total := MaxCapacity-ready, notReady
	if cutReady {
		budget, total = MaxCapacity, ready
	}
	left := budget
	out := cloneSubsets(ss)
	for i := range out {
		list := &out[i].NotReadyAddresses
		if cutReady {
			list = &out[i].Addresses
			out[i].NotReadyAddresses = nil
		}
		n := min(int(math.Ceil(float64(len(*list))/float64(total)*float64(budget))), left)
		if len(*list) > n {
			*list = (*list)[:n]
		}
		left -= len(*list)
	}
	return out
}
