package endpoints

import (
	"strconv"

	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	utilnet "k8s.io/utils/net"
)

// Labels and values that mark the EndpointSlices the built-in EndpointSlice
// controller maintains for a Service: the only ones ComputeFromSlices reads.
const (
	SliceManagedBy           = "endpointslice-controller.k8s.io"
	SliceSelectorManagedBy   = discovery.LabelManagedBy + "=" + SliceManagedBy
	SliceSelectorServiceName = discovery.LabelServiceName
)

// sliceAddressType is the address type of the slices the Service's
// Endpoints are made of: the Service's primary IP family, as the built-in
// Endpoints controller publishes the pod IP of that family. The API server
// always sets ipFamilies; without them, the cluster IP's family, else IPv4.
func sliceAddressType(svc *v1.Service) discovery.AddressType {
	switch {
	case len(svc.Spec.IPFamilies) > 0:
		if svc.Spec.IPFamilies[0] == v1.IPv6Protocol {
			return discovery.AddressTypeIPv6
		}
	case svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != v1.ClusterIPNone && utilnet.IsIPv6String(svc.Spec.ClusterIP):
		return discovery.AddressTypeIPv6
	}
	return discovery.AddressTypeIPv4
}

// ComputeFromSlices is Compute for a Service whose pods are known only
// through the EndpointSlices of the built-in EndpointSlice controller
// (those labelled with its name and the Service's): the same subsets, in
// the same canonical form, as Compute gives for the pods the slices were
// made from, with the exceptions listed in the README ("EndpointSlices as
// a source"). The slice controller applies the built-in Endpoints
// controller's rules to each pod (pkg/controller/endpointslice and
// k8s.io/endpointslice, v1.37):
//
//   - pods in a terminal phase or without an IP are in no slice; terminating
//     pods are, with terminating=true and, unless the Service publishes
//     not-ready addresses, ready=false: they are left out here as Compute
//     leaves them out;
//   - ready is the pod's Ready condition, or true for all with
//     publishNotReadyAddresses: addresses, the rest notReadyAddresses;
//   - addresses are the pod's IPs of the slice's address type, re-stringified;
//     the first is the pod IP Compute picks for that family;
//   - hostname is set by the same rule (hostname, subdomain = Service name),
//     nodeName when the pod has one, targetRef to the pod without
//     resourceVersion, as in Endpoints;
//   - a slice's ports are the Service ports resolved on each of its pods,
//     a named port missing on a pod left out for that pod only, in Service
//     port order: a slice is one of Compute's classes (or part of one).
func ComputeFromSlices(svc *v1.Service, slices []*discovery.EndpointSlice) Result {
	var res Result
	headlessNoPorts := len(svc.Spec.Ports) == 0 && svc.Spec.ClusterIP == v1.ClusterIPNone
	if len(svc.Spec.Ports) == 0 && !headlessNoPorts {
		return res
	}
	want := sliceAddressType(svc)
	publishNotReady := svc.Spec.PublishNotReadyAddresses

	var classes []*class
	byKey := map[string]*class{}
	seen := map[addrKey]struct{}{}
	duplicates := false
	var key []byte
	for _, s := range slices {
		if s.AddressType != want {
			continue
		}
		ports := slicePorts(s.Ports)
		if len(ports) == 0 && !headlessNoPorts {
			continue // pods lacking every named port: in no subset
		}
		key = key[:0]
		for _, p := range ports {
			key = appendPortKey(key, p)
		}
		var c *class
		for i := range s.Endpoints {
			e := &s.Endpoints[i]
			if len(e.Addresses) == 0 {
				continue
			}
			terminating := e.Conditions.Terminating != nil && *e.Conditions.Terminating
			if terminating && !publishNotReady {
				continue
			}
			addr := sliceAddress(e)
			if _, dup := seen[keyOfAddress(&addr)]; dup {
				duplicates = true // mid-update, a pod in two slices
			}
			seen[keyOfAddress(&addr)] = struct{}{}
			if c == nil {
				if c = byKey[string(key)]; c == nil {
					c = &class{ports: ports}
					byKey[string(key)] = c
					classes = append(classes, c)
				}
			}
			// A nil ready condition means ready (API documentation); the
			// slice controller always sets it.
			if publishNotReady || e.Conditions.Ready == nil || *e.Conditions.Ready {
				c.ready = append(c.ready, addr)
				res.Ready += max(len(ports), 1)
			} else {
				c.notReady = append(c.notReady, addr)
				res.NotReady += max(len(ports), 1)
			}
		}
	}
	if duplicates {
		// Classes are not disjoint: Repack merges an address listed twice
		// (not ready wins) at the cost of its maps.
		var in []v1.EndpointSubset
		for _, c := range classes {
			in = append(in, v1.EndpointSubset{Addresses: c.ready, NotReadyAddresses: c.notReady, Ports: c.ports})
		}
		res.Subsets = Repack(in)
		res.Ready, res.NotReady = countPairs(res.Subsets)
		return res
	}
	res.Subsets = mergeClasses(classes)
	return res
}

// countPairs counts address-port pairs, as Compute's Result does.
func countPairs(subsets []v1.EndpointSubset) (ready, notReady int) {
	for _, s := range subsets {
		n := max(len(s.Ports), 1)
		ready += n * len(s.Addresses)
		notReady += n * len(s.NotReadyAddresses)
	}
	return ready, notReady
}

// slicePorts converts a slice's ports to endpoint ports (nil fields are
// what the API server defaults them to: "" and TCP).
func slicePorts(ps []discovery.EndpointPort) []v1.EndpointPort {
	if len(ps) == 0 {
		return nil
	}
	out := make([]v1.EndpointPort, 0, len(ps))
	for _, p := range ps {
		ep := v1.EndpointPort{Protocol: v1.ProtocolTCP, AppProtocol: p.AppProtocol}
		if p.Name != nil {
			ep.Name = *p.Name
		}
		if p.Port != nil {
			ep.Port = *p.Port
		}
		if p.Protocol != nil {
			ep.Protocol = *p.Protocol
		}
		out = append(out, ep)
	}
	return out
}

func appendPortKey(key []byte, p v1.EndpointPort) []byte {
	key = append(key, p.Name...)
	key = append(key, 0)
	key = append(key, p.Protocol...)
	key = append(key, 0)
	key = strconv.AppendInt(key, int64(p.Port), 10)
	if p.AppProtocol != nil {
		key = append(key, 1)
		key = append(key, *p.AppProtocol...)
	}
	return append(key, ',')
}

// sliceAddress is the Endpoints address of a slice endpoint: its first
// address (a pod has one IP per family), node, hostname and pod reference.
func sliceAddress(e *discovery.Endpoint) v1.EndpointAddress {
	a := v1.EndpointAddress{IP: e.Addresses[0]}
	if e.NodeName != nil {
		n := *e.NodeName // not shared with the cached slice
		a.NodeName = &n
	}
	if e.Hostname != nil {
		a.Hostname = *e.Hostname
	}
	if r := e.TargetRef; r != nil {
		a.TargetRef = &v1.ObjectReference{Kind: r.Kind, Namespace: r.Namespace, Name: r.Name, UID: r.UID}
	}
	return a
}
