package endpoints

import (
	"slices"

	v1 "k8s.io/api/core/v1"
)

// SubsetsEqual compares subsets in order, ignoring the resource version in
// target references (a pod update that changes nothing else must not cause a
// write). Nil and empty lists are equal.
func SubsetsEqual(a, b []v1.EndpointSubset) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !slices.EqualFunc(a[i].Addresses, b[i].Addresses, addressEqual) ||
			!slices.EqualFunc(a[i].NotReadyAddresses, b[i].NotReadyAddresses, addressEqual) ||
			!slices.EqualFunc(a[i].Ports, b[i].Ports, portEqual) {
			return false
		}
	}
	return true
}

func addressEqual(a, b v1.EndpointAddress) bool {
	return a.IP == b.IP && a.Hostname == b.Hostname &&
		strPtrEqual(a.NodeName, b.NodeName) && refEqual(a.TargetRef, b.TargetRef)
}

func refEqual(a, b *v1.ObjectReference) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, y := *a, *b
	x.ResourceVersion, y.ResourceVersion = "", ""
	return x == y
}

func portEqual(a, b v1.EndpointPort) bool {
	return keyOfPort(a) == keyOfPort(b)
}

func strPtrEqual(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// truncatedEquivalent reports whether cur is as good a truncation of full
// as want is: port groups of full (a group cut to nothing is absent), the
// same total of ready and of not-ready addresses, and every address taken
// from full's group of the same ports with the same readiness. How the cut
// is split between groups depends on subset order, which another writer's
// need not share, so it is not compared.
func truncatedEquivalent(cur, want, full []v1.EndpointSubset) bool {
	wantReady, wantNotReady := CountAddresses(want)
	curReady, curNotReady := CountAddresses(cur)
	if curReady != wantReady || curNotReady != wantNotReady {
		return false
	}
	groups := make(map[string]*v1.EndpointSubset, len(full))
	for i := range full {
		groups[portsSignature(full[i].Ports)] = &full[i]
	}
	for i := range cur {
		sig := portsSignature(cur[i].Ports)
		f, ok := groups[sig]
		if !ok || !containsAll(f.Addresses, cur[i].Addresses) ||
			!containsAll(f.NotReadyAddresses, cur[i].NotReadyAddresses) {
			return false
		}
		delete(groups, sig) // each group at most once
	}
	return true
}

// portsSignature is an order-independent key for a list of ports.
func portsSignature(ports []v1.EndpointPort) string {
	sorted := slices.Clone(ports)
	slices.SortFunc(sorted, comparePort)
	var b []byte
	for _, p := range sorted {
		k := keyOfPort(p)
		b = append(b, k.name...)
		b = append(b, 0)
		b = append(b, k.protocol...)
		b = append(b, 0, byte(k.port>>24), byte(k.port>>16), byte(k.port>>8), byte(k.port), byte(boolInt(k.hasAppProtocol)))
		b = append(b, k.appProtocol...)
		b = append(b, 0)
	}
	return string(b)
}

// containsAll reports whether every address of sub equals one in set, each
// one used at most once.
func containsAll(set, sub []v1.EndpointAddress) bool {
	idx := make(map[addrKey]*v1.EndpointAddress, len(set))
	for i := range set {
		idx[keyOfAddress(&set[i])] = &set[i]
	}
	for i := range sub {
		k := keyOfAddress(&sub[i])
		a, ok := idx[k]
		if !ok || !addressEqual(*a, sub[i]) {
			return false
		}
		delete(idx, k)
	}
	return true
}
