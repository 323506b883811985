package endpoints

import (
	"strconv"

	v1 "k8s.io/api/core/v1"
)

// Result is what a Service's pods add up to.
type Result struct {
	// Subsets in canonical form (see Repack), not yet truncated.
	Subsets []v1.EndpointSubset
	// Ready and NotReady count address-port pairs, as the built-in logs them.
	Ready, NotReady int
}

// class is a set of pods that expose exactly the same endpoint ports.
type class struct {
	ports             []v1.EndpointPort
	ready, notReady   []v1.EndpointAddress
	nReady, nNotReady int
}

// Compute returns the canonical subsets of svc given the pods its selector
// matches (same namespace).
//
// The canonical form groups, for every endpoint port, the addresses that
// serve it, and merges ports served by the same addresses into one subset.
// Instead of expanding every pod and port and regrouping (the built-in's
// way), pods are first sorted into classes by the ports they expose — almost
// always a single class — and ports are then merged by the classes serving
// them: two ports have the same addresses exactly when the same classes
// serve them, because classes are disjoint and never empty.
func Compute(svc *v1.Service, pods []*Pod) Result {
	var res Result
	headlessNoPorts := len(svc.Spec.Ports) == 0 && svc.Spec.ClusterIP == v1.ClusterIPNone
	if len(svc.Spec.Ports) == 0 && !headlessNoPorts {
		return res // a Service with an IP but no ports has no endpoints
	}

	var classes []*class
	byKey := map[string]*class{}
	var key []byte
	var ports []v1.EndpointPort
	for _, pod := range pods {
		if !pod.inEndpoints(svc.Spec.PublishNotReadyAddresses) {
			continue
		}
		addr, ok := podAddress(svc, pod)
		if !ok {
			continue // no IP of the Service's family, e.g. mid dual-stack upgrade
		}
		key, ports = key[:0], ports[:0]
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			num, ok := pod.findPort(sp)
			if !ok {
				continue // this pod lacks the named port: left out of it only
			}
			key = strconv.AppendInt(key, int64(i), 10)
			key = append(key, ':')
			key = strconv.AppendInt(key, int64(num), 10)
			key = append(key, ',')
			ports = append(ports, v1.EndpointPort{
				Name:        sp.Name,
				Port:        int32(num),
				Protocol:    sp.Protocol,
				AppProtocol: sp.AppProtocol,
			})
		}
		if len(ports) == 0 && !headlessNoPorts {
			continue
		}
		c := byKey[string(key)]
		if c == nil {
			c = &class{ports: append([]v1.EndpointPort(nil), ports...)}
			byKey[string(key)] = c
			classes = append(classes, c)
		}
		if svc.Spec.PublishNotReadyAddresses || pod.Ready {
			c.ready = append(c.ready, addr)
			res.Ready += max(len(ports), 1)
		} else {
			c.notReady = append(c.notReady, addr)
			res.NotReady += max(len(ports), 1)
		}
	}
	res.Subsets = mergeClasses(classes)
	return res
}

// mergeClasses turns pod classes into canonical subsets.
func mergeClasses(classes []*class) []v1.EndpointSubset {
	switch len(classes) {
	case 0:
		return nil
	case 1:
		c := classes[0]
		s := []v1.EndpointSubset{{Addresses: c.ready, NotReadyAddresses: c.notReady, Ports: c.ports}}
		sortSubsets(s)
		return s
	}

	// Several classes means every class has ports (a headless Service
	// without ports puts all pods in one). For every distinct port, the list
	// of classes serving it.
	type portServers struct {
		port    v1.EndpointPort
		classes []byte // class indexes, as a map key
	}
	var servers []*portServers
	byPort := map[portKey]*portServers{}
	for ci, c := range classes {
		for _, p := range c.ports {
			k := keyOfPort(p)
			ps := byPort[k]
			if ps == nil {
				ps = &portServers{port: p}
				byPort[k] = ps
				servers = append(servers, ps)
			}
			ps.classes = strconv.AppendInt(ps.classes, int64(ci), 10)
			ps.classes = append(ps.classes, ',')
		}
	}

	// Ports served by the same classes share a subset.
	var subsets []v1.EndpointSubset
	bySig := map[string]int{}
	for _, ps := range servers {
		if i, ok := bySig[string(ps.classes)]; ok {
			subsets[i].Ports = append(subsets[i].Ports, ps.port)
			continue
		}
		bySig[string(ps.classes)] = len(subsets)
		var s v1.EndpointSubset
		s.Ports = []v1.EndpointPort{ps.port}
		for _, ci := range parseIndexes(ps.classes) {
			s.Addresses = append(s.Addresses, classes[ci].ready...)
			s.NotReadyAddresses = append(s.NotReadyAddresses, classes[ci].notReady...)
		}
		subsets = append(subsets, s)
	}
	sortSubsets(subsets)
	return subsets
}

func parseIndexes(b []byte) []int {
	var out []int
	n := 0
	for _, c := range b {
		if c == ',' {
			out = append(out, n)
			n = 0
			continue
		}
		n = n*10 + int(c-'0')
	}
	return out
}
