package parity

import (
	"net/netip"
	"slices"
	"sort"

	v1 "k8s.io/api/core/v1"
)

// coverage lists which cases the built-in's Endpoints actually exercised,
// so that a generator change cannot quietly stop testing one of them.
func coverage(worlds []*world, snap map[string]*v1.Endpoints) (seen map[string]int, missing []string) {
	seen = map[string]int{}
	pods := map[string]*genPod{}
	for _, w := range worlds {
		for _, gp := range w.pods {
			pods[w.ns+"/"+gp.pod.Name] = gp
		}
		for _, svc := range w.services {
			ep := snap[w.ns+"/"+svc.Name]
			if !served(svc) || ep == nil {
				continue
			}
			if v, ok := ep.Annotations[v1.EndpointsOverCapacity]; ok && v != "" {
				seen["truncated"]++
			}
			if len(ep.Subsets) > 1 {
				seen["several subsets"]++
			}
			for _, s := range ep.Subsets {
				if len(s.Ports) == 0 {
					seen["port-less subset"]++
				}
				for _, p := range s.Ports {
					seen["protocol "+string(p.Protocol)]++
					if p.AppProtocol != nil {
						seen["appProtocol"]++
					}
				}
				for ready, list := range map[bool][]v1.EndpointAddress{true: s.Addresses, false: s.NotReadyAddresses} {
					for _, a := range list {
						if !ready {
							seen["not-ready address"]++
						}
						if ip, err := netip.ParseAddr(a.IP); err == nil && ip.Is6() {
							seen["IPv6 address"]++
						}
						if a.Hostname != "" {
							seen["hostname"]++
						}
						gp := pods[w.ns+"/"+a.TargetRef.Name]
						if gp == nil {
							continue
						}
						if gp.terminating {
							seen["terminating pod"]++
						}
						if len(gp.ips) == 2 {
							seen["dual-stack pod"]++
						}
						if viaSidecar(svc, s.Ports, gp.pod) {
							seen["port on a sidecar"]++
						}
					}
				}
			}
		}
	}
	for _, want := range []string{"truncated", "several subsets", "port-less subset", "protocol TCP", "protocol UDP",
		"protocol SCTP", "appProtocol", "not-ready address", "IPv6 address", "hostname", "terminating pod",
		"dual-stack pod", "port on a sidecar"} {
		if seen[want] == 0 {
			missing = append(missing, want)
		}
	}
	sort.Strings(missing)
	return seen, missing
}

// viaSidecar tells whether one of ports was resolved from a named port that
// only the pod's sidecar (restartable init container) has.
func viaSidecar(svc *v1.Service, ports []v1.EndpointPort, pod *v1.Pod) bool {
	for _, sp := range svc.Spec.Ports {
		if sp.TargetPort.StrVal == "" || !slices.ContainsFunc(ports, func(p v1.EndpointPort) bool { return p.Name == sp.Name }) {
			continue
		}
		for _, c := range pod.Spec.InitContainers {
			if c.RestartPolicy == nil || *c.RestartPolicy != v1.ContainerRestartPolicyAlways {
				continue
			}
			for _, cp := range c.Ports {
				if cp.Name == sp.TargetPort.StrVal && cp.Protocol == sp.Protocol {
					return true
				}
			}
		}
	}
	return false
}
