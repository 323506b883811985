package endpoints

import (
	"cmp"
	"fmt"
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

var http8080 = eports{ep("http", 8080, TCP)}

func TestComputePodSelection(t *testing.T) {
	noPodIPs := func(p *v1.Pod) { p.Status.PodIPs = nil }
	onlyPodIPs := func(p *v1.Pod) { p.Status.PodIP = "" }
	cases := []struct {
		name    string
		ips     string
		opts    []podOpt
		publish bool
		want    string // "ready", "notReady", or "" for left out
	}{
		{"running ready", "10.0.0.1", nil, false, "ready"},
		{"running not ready", "10.0.0.1", []podOpt{notReady}, false, "notReady"},
		{"no ready condition", "10.0.0.1", []podOpt{noCondition}, false, "notReady"},
		{"pending ready", "10.0.0.1", []podOpt{phase(v1.PodPending)}, false, "ready"},
		{"pending not ready", "10.0.0.1", []podOpt{phase(v1.PodPending), notReady}, false, "notReady"},
		{"unknown phase", "10.0.0.1", []podOpt{phase(v1.PodUnknown)}, false, "ready"},
		{"empty phase", "10.0.0.1", []podOpt{phase("")}, false, "ready"},
		{"succeeded", "10.0.0.1", []podOpt{phase(v1.PodSucceeded)}, false, ""},
		{"failed", "10.0.0.1", []podOpt{phase(v1.PodFailed)}, false, ""},
		{"no IP", "", nil, false, ""},
		{"status.podIP only", "10.0.0.1", []podOpt{noPodIPs}, false, ""},
		{"status.podIPs only", "10.0.0.1", []podOpt{onlyPodIPs}, false, "ready"},
		{"deleting", "10.0.0.1", []podOpt{deleting}, false, ""},
		{"deleting not ready", "10.0.0.1", []podOpt{deleting, notReady}, false, ""},
		{"publishNotReady: ready", "10.0.0.1", nil, true, "ready"},
		{"publishNotReady: not ready", "10.0.0.1", []podOpt{notReady}, true, "ready"},
		{"publishNotReady: pending not ready", "10.0.0.1", []podOpt{phase(v1.PodPending), notReady}, true, "ready"},
		{"publishNotReady: deleting", "10.0.0.1", []podOpt{deleting}, true, "ready"},
		{"publishNotReady: deleting not ready", "10.0.0.1", []podOpt{deleting, notReady}, true, "ready"},
		{"publishNotReady: succeeded", "10.0.0.1", []podOpt{phase(v1.PodSucceeded)}, true, ""},
		{"publishNotReady: failed", "10.0.0.1", []podOpt{phase(v1.PodFailed), notReady}, true, ""},
		{"publishNotReady: no IP", "", nil, true, ""},
	}
	expect := func(want string, pods ...*v1.Pod) subsets {
		var s v1.EndpointSubset
		for _, p := range pods {
			switch want {
			case "ready":
				s.Addresses = append(s.Addresses, as(p)...)
			case "notReady":
				s.NotReadyAddresses = append(s.NotReadyAddresses, as(p)...)
			}
		}
		if len(s.Addresses)+len(s.NotReadyAddresses) == 0 {
			return nil
		}
		s.Ports = http8080
		return subsets{s}
	}
	// All the pods of one publishNotReadyAddresses value at once too, each
	// with its own IP: ready and not-ready ones share one subset.
	all := map[bool][]*v1.Pod{}
	want := map[bool]map[string][]*v1.Pod{false: {}, true: {}}
	for i, tc := range cases {
		svc := mkSvc()
		svc.Spec.PublishNotReadyAddresses = tc.publish
		p := mkPod(fmt.Sprintf("p%d", i), tc.ips, tc.opts...)
		t.Run(tc.name, func(t *testing.T) {
			assertSubsets(t, checkCompute(t, svc, p).Subsets, expect(tc.want, p))
		})
		ip := ""
		if tc.ips != "" {
			ip = fmt.Sprintf("10.1.0.%d", i+1)
		}
		q := mkPod(fmt.Sprintf("q%d", i), ip, tc.opts...)
		all[tc.publish] = append(all[tc.publish], q)
		want[tc.publish][tc.want] = append(want[tc.publish][tc.want], q)
	}
	byIP := func(a, b *v1.Pod) int { return cmp.Compare(a.Status.PodIPs[0].IP, b.Status.PodIPs[0].IP) }
	for _, publish := range []bool{false, true} {
		t.Run(fmt.Sprintf("all at once, publishNotReady=%v", publish), func(t *testing.T) {
			svc := mkSvc()
			svc.Spec.PublishNotReadyAddresses = publish
			ready, notReady := want[publish]["ready"], want[publish]["notReady"]
			slices.SortFunc(ready, byIP)
			slices.SortFunc(notReady, byIP)
			assertSubsets(t, checkCompute(t, svc, all[publish]...).Subsets,
				subsets{{Addresses: as(ready...), NotReadyAddresses: as(notReady...), Ports: http8080}})
		})
	}
}

func TestComputeAddress(t *testing.T) {
	v6 := []svcOpt{families(v1.IPv6Protocol), clusterIP("fd00::10")}
	podIPIs := func(ip string) podOpt { return func(p *v1.Pod) { p.Status.PodIP = ip } }
	cases := []struct {
		name string
		svc  *v1.Service
		pod  *v1.Pod
		ip   string // "" when the pod is left out
		host string
	}{
		{"IPv4 service, IPv4 pod", mkSvc(), mkPod("a", "10.0.0.1"), "10.0.0.1", ""},
		{"IPv4 service, dual-stack pod, IPv6 first", mkSvc(), mkPod("a", "fd00::1,10.0.0.1"), "10.0.0.1", ""},
		{"IPv4 service, IPv6-only pod", mkSvc(), mkPod("a", "fd00::1"), "", ""},
		{"IPv6 service, IPv6 pod", mkSvc(v6...), mkPod("a", "fd00::1"), "fd00::1", ""},
		{"IPv6 service, dual-stack pod, IPv4 first", mkSvc(v6...), mkPod("a", "10.0.0.1,fd00::1"), "fd00::1", ""},
		{"IPv6 service, IPv4-only pod", mkSvc(v6...), mkPod("a", "10.0.0.1"), "", ""},
		{"families [IPv6,IPv4]", mkSvc(families(v1.IPv6Protocol, v1.IPv4Protocol)), mkPod("a", "10.0.0.1,fd00::1"), "fd00::1", ""},
		{"families [IPv4,IPv6]", mkSvc(families(v1.IPv4Protocol, v1.IPv6Protocol)), mkPod("a", "fd00::1,10.0.0.1"), "10.0.0.1", ""},
		{"families win over the cluster IP", mkSvc(families(v1.IPv6Protocol)), mkPod("a", "10.0.0.1,fd00::1"), "fd00::1", ""},
		{"no families, IPv6 cluster IP", mkSvc(families(), clusterIP("fd00::10")), mkPod("a", "10.0.0.1,fd00::1"), "fd00::1", ""},
		{"no families, IPv4 cluster IP", mkSvc(families()), mkPod("a", "fd00::1,10.0.0.1"), "10.0.0.1", ""},
		{"no families, IPv4 cluster IP, IPv6-only pod", mkSvc(families()), mkPod("a", "fd00::1"), "", ""},
		{"no families, headless, IPv6 pod IP", mkSvc(families(), clusterIP(v1.ClusterIPNone)), mkPod("a", "fd00::1,10.0.0.1"), "fd00::1", ""},
		{"no families, headless, IPv4 pod IP", mkSvc(families(), clusterIP(v1.ClusterIPNone)), mkPod("a", "10.0.0.1,fd00::1"), "10.0.0.1", ""},
		{"no families, no cluster IP, IPv6 pod IP", mkSvc(families(), clusterIP("")), mkPod("a", "fd00::1"), "fd00::1", ""},
		{"no families, headless: status.podIP decides, not podIPs[0]",
			mkSvc(families(), clusterIP(v1.ClusterIPNone)), mkPod("a", "10.0.0.1,fd00::1", podIPIs("fd00::1")), "fd00::1", ""},
		{"leading zeros", mkSvc(), mkPod("a", "010.000.000.001"), "10.0.0.1", ""},
		{"IPv4-mapped IPv6 for an IPv4 service", mkSvc(), mkPod("a", "::ffff:1.2.3.4"), "1.2.3.4", ""},
		{"IPv4-mapped IPv6 for an IPv6 service", mkSvc(v6...), mkPod("a", "::ffff:1.2.3.4"), "", ""},
		{"IPv6 not in canonical form", mkSvc(v6...), mkPod("a", "FD00:0:0::0001"), "fd00::1", ""},
		{"first IP of the family wins", mkSvc(), mkPod("a", "10.0.0.2,10.0.0.1"), "10.0.0.2", ""},
		{"hostname, subdomain = service", mkSvc(), mkPod("a", "10.0.0.1", host("web-0", "svc")), "10.0.0.1", "web-0"},
		{"hostname, other subdomain", mkSvc(), mkPod("a", "10.0.0.1", host("web-0", "other")), "10.0.0.1", ""},
		{"hostname, no subdomain", mkSvc(), mkPod("a", "10.0.0.1", host("web-0", "")), "10.0.0.1", ""},
		{"subdomain = service, no hostname", mkSvc(), mkPod("a", "10.0.0.1", host("", "svc")), "10.0.0.1", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var want subsets
			if tc.ip != "" {
				a := addr(tc.pod, tc.ip)
				a.Hostname = tc.host
				want = subsets{{Addresses: addrs{a}, Ports: http8080}}
			}
			got := checkCompute(t, tc.svc, tc.pod).Subsets
			assertSubsets(t, got, want)
			// nodeName a pointer, targetRef without the pod's resourceVersion
			// (dump shows both, this makes it explicit). For an empty node
			// name see TestDivergence_EmptyNodeNameLeftOut.
			for _, s := range got {
				if a := s.Addresses[0]; a.NodeName == nil || a.TargetRef.ResourceVersion != "" {
					t.Errorf("nodeName %v, targetRef %+v", a.NodeName, *a.TargetRef)
				}
			}
		})
	}
}

func TestComputePorts(t *testing.T) {
	named := func(name, target string, port int32) v1.ServicePort {
		return sp(name, port, intstr.FromString(target), TCP)
	}
	web := func(n int32) podOpt { return cports(cp("web", n, TCP)) }
	one, two := cports(cp("one", 1001, TCP)), cports(cp("two", 1002, TCP))
	a, b, c := mkPod("a", "10.0.0.1"), mkPod("b", "10.0.0.2"), mkPod("c", "10.0.0.3")
	bNotReady := mkPod("b", "10.0.0.2", notReady)
	webSvc := mkSvc(ports(named("http", "web", 80)))
	oneTwo := mkSvc(ports(named("p1", "one", 81), named("p2", "two", 82)))
	p1, p2 := ep("p1", 1001, TCP), ep("p2", 1002, TCP)
	withApp := sp("http", 80, intstr.FromInt32(8080), TCP)
	withApp.AppProtocol = ptr.To("kubernetes.io/h2c")
	wantApp := ep("http", 8080, TCP)
	wantApp.AppProtocol = ptr.To("kubernetes.io/h2c")
	headless := []svcOpt{clusterIP(v1.ClusterIPNone), ports()}

	cases := []struct {
		name string
		svc  *v1.Service
		pods []*v1.Pod
		want subsets
	}{
		{"int targetPort", mkSvc(), []*v1.Pod{a}, subsets{{Addresses: as(a), Ports: http8080}}},
		{"targetPort defaulted to port", mkSvc(ports(sp("http", 80, intstr.FromInt32(80), TCP))), []*v1.Pod{a},
			subsets{{Addresses: as(a), Ports: eports{ep("http", 80, TCP)}}}},
		{"unnamed single port", mkSvc(ports(sp("", 80, intstr.FromInt32(8080), TCP))), []*v1.Pod{a},
			subsets{{Addresses: as(a), Ports: eports{ep("", 8080, TCP)}}}},
		{"named targetPort", webSvc, []*v1.Pod{mkPod("a", "10.0.0.1", web(8081))},
			subsets{{Addresses: as(a), Ports: eports{ep("http", 8081, TCP)}}}},
		{"named targetPort, protocol differs", webSvc, []*v1.Pod{mkPod("a", "10.0.0.1", cports(cp("web", 8081, UDP)))}, nil},
		{"named targetPort found by name and protocol", webSvc,
			[]*v1.Pod{mkPod("a", "10.0.0.1", cports(cp("web", 1, UDP), cp("x", 2, TCP), cp("web", 8082, TCP)))},
			subsets{{Addresses: as(a), Ports: eports{ep("http", 8082, TCP)}}}},
		{"named targetPort in a second container", webSvc,
			[]*v1.Pod{mkPod("a", "10.0.0.1", func(p *v1.Pod) {
				p.Spec.Containers = append(p.Spec.Containers, v1.Container{Name: "side", Ports: []v1.ContainerPort{cp("web", 8084, TCP)}})
			})},
			subsets{{Addresses: as(a), Ports: eports{ep("http", 8084, TCP)}}}},
		{"named targetPort in a sidecar init container", webSvc, []*v1.Pod{mkPod("a", "10.0.0.1", initPorts(always, cp("web", 8083, TCP)))},
			subsets{{Addresses: as(a), Ports: eports{ep("http", 8083, TCP)}}}},
		{"named targetPort in a plain init container", webSvc, []*v1.Pod{mkPod("a", "10.0.0.1", initPorts(nil, cp("web", 8083, TCP)))}, nil},
		{"containers win over sidecars", webSvc, []*v1.Pod{mkPod("a", "10.0.0.1", initPorts(always, cp("web", 8083, TCP)), web(8081))},
			subsets{{Addresses: as(a), Ports: eports{ep("http", 8081, TCP)}}}},
		{"pod without a named port is left out of that port only", oneTwo,
			[]*v1.Pod{mkPod("a", "10.0.0.1", one, two), mkPod("b", "10.0.0.2", one)},
			subsets{{Addresses: as(a, b), Ports: eports{p1}}, {Addresses: as(a), Ports: eports{p2}}}},
		{"same, the other pod not ready", oneTwo,
			[]*v1.Pod{mkPod("a", "10.0.0.1", one, two), mkPod("b", "10.0.0.2", one, notReady)},
			subsets{{Addresses: as(a), NotReadyAddresses: as(b), Ports: eports{p1}}, {Addresses: as(a), Ports: eports{p2}}}},
		{"pods with disjoint ports", oneTwo,
			[]*v1.Pod{mkPod("a", "10.0.0.1", one), mkPod("b", "10.0.0.2", two)},
			subsets{{Addresses: as(a), Ports: eports{p1}}, {Addresses: as(b), Ports: eports{p2}}}},
		{"pods with all ports share one subset", oneTwo,
			[]*v1.Pod{mkPod("b", "10.0.0.2", two, one), mkPod("a", "10.0.0.1", one, two)},
			subsets{{Addresses: as(a, b), Ports: eports{p1, p2}}}},
		{"three overlapping port sets", mkSvc(ports(named("p1", "one", 81), named("p2", "two", 82), sp("p3", 83, intstr.FromInt32(1003), TCP))),
			[]*v1.Pod{mkPod("a", "10.0.0.1", one, two), mkPod("b", "10.0.0.2", one), mkPod("c", "10.0.0.3", two)},
			subsets{{Addresses: as(a, b), Ports: eports{p1}}, {Addresses: as(a, c), Ports: eports{p2}},
				{Addresses: as(a, b, c), Ports: eports{ep("p3", 1003, TCP)}}}},
		{"named port resolving to different numbers", webSvc,
			[]*v1.Pod{mkPod("a", "10.0.0.1", web(8080)), mkPod("b", "10.0.0.2", web(9090)), mkPod("c", "10.0.0.3", web(8080))},
			subsets{{Addresses: as(a, c), Ports: http8080}, {Addresses: as(b), Ports: eports{ep("http", 9090, TCP)}}}},
		{"TCP, UDP and SCTP on one number",
			mkSvc(ports(sp("dns-tcp", 53, intstr.FromInt32(53), TCP), sp("dns-udp", 53, intstr.FromInt32(53), UDP), sp("dns-sctp", 53, intstr.FromInt32(53), SCTP))),
			[]*v1.Pod{a}, subsets{{Addresses: as(a), Ports: eports{ep("dns-sctp", 53, SCTP), ep("dns-tcp", 53, TCP), ep("dns-udp", 53, UDP)}}}},
		{"named port per protocol", mkSvc(ports(sp("dns-tcp", 53, intstr.FromString("dns"), TCP), sp("dns-udp", 53, intstr.FromString("dns"), UDP))),
			[]*v1.Pod{mkPod("a", "10.0.0.1", cports(cp("dns", 5353, UDP), cp("dns", 5354, TCP)))},
			subsets{{Addresses: as(a), Ports: eports{ep("dns-tcp", 5354, TCP), ep("dns-udp", 5353, UDP)}}}},
		{"appProtocol copied", mkSvc(ports(withApp)), []*v1.Pod{a}, subsets{{Addresses: as(a), Ports: eports{wantApp}}}},
		{"ready and not ready share a subset", mkSvc(), []*v1.Pod{bNotReady, a},
			subsets{{Addresses: as(a), NotReadyAddresses: as(bNotReady), Ports: http8080}}},
		{"host network: same IP, distinct pods", mkSvc(), []*v1.Pod{mkPod("b", "10.0.0.1"), mkPod("a", "10.0.0.1")},
			subsets{{Addresses: as(mkPod("a", "10.0.0.1"), mkPod("b", "10.0.0.1")), Ports: http8080}}},
		{"addresses sorted by IP string", mkSvc(), []*v1.Pod{mkPod("a", "10.0.0.9"), mkPod("b", "10.0.0.100"), mkPod("c", "10.0.0.10")},
			subsets{{Addresses: as(mkPod("c", "10.0.0.10"), mkPod("b", "10.0.0.100"), mkPod("a", "10.0.0.9")), Ports: http8080}}},
		{"headless without ports", mkSvc(headless...), []*v1.Pod{b, a, mkPod("c", "10.0.0.3", notReady)},
			subsets{{Addresses: as(a, b), NotReadyAddresses: as(c)}}},
		{"headless without ports, publishNotReady", mkSvc(append(headless, publishNotReady)...), []*v1.Pod{mkPod("c", "10.0.0.3", notReady), a},
			subsets{{Addresses: as(a, c)}}},
		{"headless with ports", mkSvc(clusterIP(v1.ClusterIPNone)), []*v1.Pod{a}, subsets{{Addresses: as(a), Ports: http8080}}},
		{"cluster IP without ports", mkSvc(ports()), []*v1.Pod{a, b}, nil},
		{"empty cluster IP without ports", mkSvc(clusterIP(""), ports()), []*v1.Pod{a, b}, nil},
		{"no pods", mkSvc(), nil, nil},
		{"headless without ports, no pods", mkSvc(headless...), nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assertSubsets(t, checkCompute(t, tc.svc, tc.pods...).Subsets, builtinOrder(tc.want))
		})
	}
}

func TestComputeCounts(t *testing.T) {
	oneTwo := mkSvc(ports(sp("p1", 81, intstr.FromString("one"), TCP), sp("p2", 82, intstr.FromInt32(2), TCP)))
	one := cports(cp("one", 1, TCP))
	for _, tc := range []struct {
		name            string
		svc             *v1.Service
		pods            []*v1.Pod
		ready, notReady int
	}{
		{"address-port pairs", oneTwo, []*v1.Pod{mkPod("a", "10.0.0.1", one), mkPod("b", "10.0.0.2", notReady), mkPod("c", "10.0.0.3", notReady, one)}, 2, 3},
		{"headless without ports", mkSvc(clusterIP(v1.ClusterIPNone), ports()), []*v1.Pod{mkPod("a", "10.0.0.1"), mkPod("b", "10.0.0.2"), mkPod("c", "10.0.0.3", notReady)}, 2, 1},
		{"left-out pods not counted", mkSvc(), []*v1.Pod{mkPod("a", ""), mkPod("b", "fd00::1"), mkPod("c", "10.0.0.3", phase(v1.PodFailed))}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if res := checkCompute(t, tc.svc, tc.pods...); res.Ready != tc.ready || res.NotReady != tc.notReady {
				t.Errorf("ready=%d notReady=%d, want %d, %d", res.Ready, res.NotReady, tc.ready, tc.notReady)
			}
		})
	}
}
