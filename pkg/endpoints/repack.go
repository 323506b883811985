package endpoints

import (
	"cmp"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// portKey identifies an endpoint port by value (AppProtocol dereferenced).
type portKey struct {
	name, protocol, appProtocol string
	hasAppProtocol              bool
	port                        int32
}

func keyOfPort(p v1.EndpointPort) portKey {
	k := portKey{name: p.Name, protocol: string(p.Protocol), port: p.Port}
	if p.AppProtocol != nil {
		k.hasAppProtocol, k.appProtocol = true, *p.AppProtocol
	}
	return k
}

// addrKey identifies an address as the built-in does: IP plus pod UID, so
// two pods sharing an IP (host network) stay apart.
type addrKey struct {
	ip  string
	uid types.UID
}

func keyOfAddress(a *v1.EndpointAddress) addrKey {
	k := addrKey{ip: a.IP}
	if a.TargetRef != nil {
		k.uid = a.TargetRef.UID
	}
	return k
}

// Repack returns subsets in canonical form: for every port the addresses
// that serve it (an address not ready on a port in any input subset is not
// ready there), ports with the same addresses merged into one subset, and
// everything sorted. Subsets without ports are kept under a port-less
// subset. The input is not modified.
func Repack(subsets []v1.EndpointSubset) []v1.EndpointSubset {
	type entry struct {
		addr  *v1.EndpointAddress
		ready bool
	}
	type portAddrs struct {
		port    *v1.EndpointPort // nil: no ports
		entries map[addrKey]*entry
		order   []addrKey
	}
	var perPort []*portAddrs
	byPort := map[portKey]*portAddrs{}
	noPort := portKey{port: -1}
	add := func(k portKey, p *v1.EndpointPort, a *v1.EndpointAddress, ready bool) {
		pa := byPort[k]
		if pa == nil {
			pa = &portAddrs{port: p, entries: map[addrKey]*entry{}}
			byPort[k] = pa
			perPort = append(perPort, pa)
		}
		ak := keyOfAddress(a)
		if e := pa.entries[ak]; e != nil {
			e.ready = e.ready && ready // not ready wins
			return
		}
		pa.entries[ak] = &entry{addr: a, ready: ready}
		pa.order = append(pa.order, ak)
	}
	for i := range subsets {
		s := &subsets[i]
		each := func(k portKey, p *v1.EndpointPort) {
			for j := range s.Addresses {
				add(k, p, &s.Addresses[j], true)
			}
			for j := range s.NotReadyAddresses {
				add(k, p, &s.NotReadyAddresses[j], false)
			}
		}
		if len(s.Ports) == 0 {
			each(noPort, nil)
			continue
		}
		for j := range s.Ports {
			each(keyOfPort(s.Ports[j]), &s.Ports[j])
		}
	}

	// Group ports by their exact set of (address, readiness).
	var out []v1.EndpointSubset
	bySig := map[string]int{}
	var sig strings.Builder
	for _, pa := range perPort {
		keys := slices.Clone(pa.order)
		slices.SortFunc(keys, func(a, b addrKey) int {
			return cmp.Or(strings.Compare(a.ip, b.ip), strings.Compare(string(a.uid), string(b.uid)))
		})
		sig.Reset()
		for _, k := range keys {
			sig.WriteString(k.ip)
			sig.WriteByte(0)
			sig.WriteString(string(k.uid))
			if pa.entries[k].ready {
				sig.WriteByte(1)
			} else {
				sig.WriteByte(2)
			}
		}
		if i, ok := bySig[sig.String()]; ok {
			if pa.port != nil {
				out[i].Ports = append(out[i].Ports, *pa.port)
			}
			continue
		}
		bySig[sig.String()] = len(out)
		var s v1.EndpointSubset
		if pa.port != nil {
			s.Ports = []v1.EndpointPort{*pa.port}
		}
		for _, k := range keys {
			e := pa.entries[k]
			if e.ready {
				s.Addresses = append(s.Addresses, *e.addr)
			} else {
				s.NotReadyAddresses = append(s.NotReadyAddresses, *e.addr)
			}
		}
		out = append(out, s)
	}
	sortSubsets(out)
	return out
}

// sortSubsets puts subsets in canonical order, in place, which is the
// built-in's: addresses by IP then pod UID, ports and then subsets by hash
// (see sortByHash).
func sortSubsets(subsets []v1.EndpointSubset) {
	for i := range subsets {
		s := &subsets[i]
		slices.SortFunc(s.Addresses, compareAddress)
		slices.SortFunc(s.NotReadyAddresses, compareAddress)
		sortPortsByHash(s.Ports)
	}
	sortSubsetsByHash(subsets)
}

// compareAddress orders as the built-in's LessEndpointAddress: IP bytes,
// then an address without targetRef first (even before an empty UID), then
// UID.
func compareAddress(a, b v1.EndpointAddress) int {
	if c := strings.Compare(a.IP, b.IP); c != 0 {
		return c
	}
	switch {
	case a.TargetRef == nil || b.TargetRef == nil:
		return cmp.Compare(boolInt(a.TargetRef != nil), boolInt(b.TargetRef != nil))
	}
	return strings.Compare(string(a.TargetRef.UID), string(b.TargetRef.UID))
}

// comparePort is a total order on port values, for order-independent keys.
func comparePort(a, b v1.EndpointPort) int {
	ka, kb := keyOfPort(a), keyOfPort(b)
	return cmp.Or(
		strings.Compare(ka.name, kb.name),
		cmp.Compare(ka.port, kb.port),
		strings.Compare(ka.protocol, kb.protocol),
		cmp.Compare(boolInt(ka.hasAppProtocol), boolInt(kb.hasAppProtocol)),
		strings.Compare(ka.appProtocol, kb.appProtocol),
	)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
