package endpoints

import (
	v1 "k8s.io/api/core/v1"
	utilnet "k8s.io/utils/net"
)

// primaryFamilyIPv6 tells which family of pod IP the Service publishes: its
// first IP family; when the API server left ipFamilies empty (seen on some
// watch events), the family of its cluster IP, else of the pod's IP.
func primaryFamilyIPv6(svc *v1.Service, pod *Pod) bool {
	if len(svc.Spec.IPFamilies) > 0 {
		return svc.Spec.IPFamilies[0] == v1.IPv6Protocol
	}
	if ip := svc.Spec.ClusterIP; ip != "" && ip != v1.ClusterIPNone {
		return utilnet.IsIPv6String(ip)
	}
	return utilnet.IsIPv6String(pod.PodIP)
}

// podIP returns the pod's IP of the Service's primary family, re-stringified
// so that irregular forms (leading zeros, IPv4-mapped IPv6) come out
// canonical. ok is false when the pod has no usable IP of that family.
func podIP(svc *v1.Service, pod *Pod) (ip string, ok bool) {
	wantIPv6 := primaryFamilyIPv6(svc, pod)
	for _, p := range pod.PodIPs {
		parsed := utilnet.ParseIPSloppy(p.IP)
		if parsed == nil {
			continue // never valid on a pod the API server accepted
		}
		if utilnet.IsIPv6(parsed) == wantIPv6 {
			return parsed.String(), true
		}
	}
	return "", false
}

// podAddress is the address a pod contributes to the Service's Endpoints.
func podAddress(svc *v1.Service, pod *Pod) (v1.EndpointAddress, bool) {
	ip, ok := podIP(svc, pod)
	if !ok {
		return v1.EndpointAddress{}, false
	}
	addr := v1.EndpointAddress{
		IP: ip,
		TargetRef: &v1.ObjectReference{
			Kind:      "Pod",
			Namespace: pod.Namespace,
			Name:      pod.Name,
			UID:       pod.UID,
		},
	}
	// The built-in always sets nodeName, even to "", which the API server
	// rejects: one pod with an IP but no node yet (possible when a status is
	// written before binding) would block the whole Service's Endpoints.
	if pod.NodeName != "" {
		addr.NodeName = &pod.NodeName
	}
	// A pod names itself in a Service's DNS zone with hostname+subdomain.
	if pod.Hostname != "" && pod.Subdomain == svc.Name && pod.Namespace == svc.Namespace {
		addr.Hostname = pod.Hostname
	}
	return addr, true
}
