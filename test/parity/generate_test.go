package parity

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// holdFinalizer keeps deleted pods Terminating; cleanup removes it.
const holdFinalizer = "parity.example.com/hold"

const managedByLabel = "endpoints.kubernetes.io/managed-by"

// genPod is a pod plus the status a kubelet would have written.
type genPod struct {
	pod         *v1.Pod
	ips         []string
	phase       v1.PodPhase
	ready       *bool // nil: no Ready condition at all
	terminating bool  // deleted after its status is written
}

// world is one seed's cluster state, in one namespace.
type world struct {
	seed     uint64
	ns       string
	services []*v1.Service
	pods     []*genPod
	manual   []*v1.Endpoints // no controller may touch these (incl. the leader record)
	orphans  []*v1.Endpoints // no Service: both controllers delete them
	existing []*v1.Endpoints // pre-existing Endpoints of selector Services: stale or already right
}

var (
	labelVocab = []struct {
		key    string
		values []string
	}{
		{"app", []string{"web", "db", "cache"}},
		{"tier", []string{"front", "back"}},
		{"track", []string{"stable", "canary"}},
	}
	// Named container ports; a name has few numbers, so that pods differ.
	portVocab = map[string][]int32{
		"http": {8080, 8081}, "https": {8443}, "dns": {53, 5353}, "metrics": {9090, 9091}, "grpc": {50051},
	}
	portNames    = []string{"http", "https", "dns", "metrics", "grpc"}
	protocols    = []v1.Protocol{v1.ProtocolTCP, v1.ProtocolTCP, v1.ProtocolTCP, v1.ProtocolUDP, v1.ProtocolSCTP}
	appProtocols = []string{"http", "https", "kubernetes.io/h2c", "example.com/custom"}
	nodes        = []string{"node-a", "node-b", "node-c"}
)

type gen struct {
	r     *rand.Rand
	w     *world
	index int // seed index: keeps IPs unique across namespaces
	nIP   int
}

// generate builds seed's world; big adds Services over 1400 pods.
func generate(seed uint64, index int, ns string, big bool) *world {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed*0x9e3779b97f4a7c15)), w: &world{seed: seed, ns: ns}, index: index}
	nSvc := 12 + g.r.IntN(6)
	for i := range nSvc {
		g.service(i)
	}
	nPods := 30 + g.r.IntN(30)
	for i := range nPods {
		g.pod(i)
	}
	g.extraEndpoints()
	if big {
		g.big(1400)
	}
	return g.w
}

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

func pick[T any](g *gen, s []T) T { return s[g.r.IntN(len(s))] }

func (g *gen) ipv4() string {
	g.nIP++
	return fmt.Sprintf("10.%d.%d.%d", 100+g.index, g.nIP/250, g.nIP%250+1)
}

func (g *gen) ipv6() string {
	g.nIP++
	return fmt.Sprintf("fd00:10:%x::%x", 0x100+g.index, g.nIP)
}

// Service kinds; the first services of a seed take each kind once.
const (
	kindClusterIP = iota
	kindHeadlessPorts
	kindHeadlessNoPorts
	kindExternalName
	kindSelectorless
	kindNodePort
	numKinds
)

func (g *gen) service(i int) {
	kind := i
	if kind >= numKinds {
		kind = g.r.IntN(numKinds)
	}
	svc := &v1.Service{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%d", i), Namespace: g.w.ns, Labels: g.serviceLabels()}}
	spec := &svc.Spec
	switch kind {
	case kindExternalName:
		spec.Type, spec.ExternalName = v1.ServiceTypeExternalName, "example.com"
		if g.chance(0.5) {
			spec.Selector = g.selector() // ignored for ExternalName
		}
		if g.chance(0.5) {
			spec.Ports = g.servicePorts(1)
		}
	case kindSelectorless:
		spec.Ports = g.servicePorts(1 + g.r.IntN(2))
	default:
		spec.Selector = g.selector()
		spec.PublishNotReadyAddresses = g.chance(0.25)
		g.ipFamilies(spec)
		switch kind {
		case kindHeadlessPorts:
			spec.ClusterIP = v1.ClusterIPNone
			spec.Ports = g.servicePorts(1 + g.r.IntN(3))
		case kindHeadlessNoPorts:
			spec.ClusterIP = v1.ClusterIPNone
		case kindNodePort:
			spec.Type = v1.ServiceTypeNodePort
			spec.Ports = g.servicePorts(1 + g.r.IntN(2))
		default:
			spec.Ports = g.servicePorts(1 + g.r.IntN(3))
		}
	}
	g.w.services = append(g.w.services, svc)
	g.serviceEndpoints(svc, kind)
}

// serviceLabels are copied to the Endpoints; the headless and managed-by
// labels on a Service must be overridden.
func (g *gen) serviceLabels() map[string]string {
	l := map[string]string{}
	if g.chance(0.5) {
		l["team"] = pick(g, []string{"a", "b"})
	}
	if g.chance(0.1) {
		l[v1.IsHeadlessService] = ""
	}
	if g.chance(0.1) {
		l[managedByLabel] = "someone-else"
	}
	return l
}

func (g *gen) selector() map[string]string {
	sel := map[string]string{}
	for _, i := range g.r.Perm(len(labelVocab))[:1+g.r.IntN(2)] {
		sel[labelVocab[i].key] = pick(g, labelVocab[i].values)
	}
	if g.chance(0.1) {
		sel["app"] = "nothing" // selects no pod
	}
	return sel
}

func (g *gen) ipFamilies(spec *v1.ServiceSpec) {
	single, prefer := v1.IPFamilyPolicySingleStack, v1.IPFamilyPolicyPreferDualStack
	switch n := g.r.IntN(20); {
	case n < 3:
		spec.IPFamilyPolicy, spec.IPFamilies = &single, []v1.IPFamily{v1.IPv6Protocol}
	case n < 6:
		spec.IPFamilyPolicy, spec.IPFamilies = &prefer, []v1.IPFamily{v1.IPv6Protocol, v1.IPv4Protocol}
	case n < 8:
		spec.IPFamilyPolicy, spec.IPFamilies = &prefer, []v1.IPFamily{v1.IPv4Protocol, v1.IPv6Protocol}
	} // else: the cluster default, single-stack IPv4
}

// servicePorts returns n ports with unique names and (port, protocol), and
// targetPorts by name (sometimes one no pod has), by number, or unset.
func (g *gen) servicePorts(n int) []v1.ServicePort {
	names := []string{"web", "dns", "metrics", "grpc", "alt"}
	var ports []v1.ServicePort
	for i := range n {
		p := v1.ServicePort{Port: int32(80 + 10*i + g.r.IntN(5)), Protocol: pick(g, protocols)}
		if n > 1 || g.chance(0.5) {
			p.Name = names[i]
		}
		switch t := g.r.IntN(20); {
		case t < 8:
			p.TargetPort = intstr.FromString(pick(g, append(slices.Clone(portNames), "missing")))
		case t < 15:
			p.TargetPort = intstr.FromInt32(pick(g, []int32{8080, 53, 9090, 7000}))
		} // else unset: defaults to port
		if g.chance(0.3) {
			ap := pick(g, appProtocols)
			p.AppProtocol = &ap
		}
		ports = append(ports, p)
	}
	return ports
}

// serviceEndpoints adds the Endpoints that exist before any controller
// runs: manual ones of selector-less and ExternalName Services, and for
// selector Services stale ones (to be rewritten, keeping foreign
// annotations) or, when no pod matches, ones already right (to be left).
func (g *gen) serviceEndpoints(svc *v1.Service, kind int) {
	switch kind {
	case kindSelectorless:
		g.w.manual = append(g.w.manual, g.manualEndpoints(svc.Name, svc.Spec.Ports))
	case kindExternalName:
		if g.chance(0.5) {
			g.w.manual = append(g.w.manual, g.manualEndpoints(svc.Name, svc.Spec.Ports))
		}
	default:
		if svc.Spec.Selector["app"] == "nothing" {
			ep := &v1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: g.w.ns, Labels: maps.Clone(svc.Labels)}}
			if ep.Labels == nil {
				ep.Labels = map[string]string{}
			}
			delete(ep.Labels, v1.IsHeadlessService)
			if svc.Spec.ClusterIP == v1.ClusterIPNone {
				ep.Labels[v1.IsHeadlessService] = ""
			}
			ep.Labels[managedByLabel] = "endpoint-controller"
			g.w.existing = append(g.w.existing, ep)
			return
		}
		if !g.chance(0.25) {
			return
		}
		ep := &v1.Endpoints{ObjectMeta: metav1.ObjectMeta{
			Name: svc.Name, Namespace: g.w.ns,
			Labels:      map[string]string{"stale": "yes"},
			Annotations: map[string]string{"example.com/note": "kept by both"},
		}}
		if g.chance(0.5) {
			ep.Annotations[v1.EndpointsOverCapacity] = "truncated"
		}
		if g.chance(0.3) {
			ep.Labels[managedByLabel] = "other-controller"
		}
		s := v1.EndpointSubset{Addresses: []v1.EndpointAddress{{IP: fmt.Sprintf("10.250.%d.%d", g.index, len(g.w.existing)+1)}}}
		if len(svc.Spec.Ports) > 0 {
			s.Ports = []v1.EndpointPort{{Name: svc.Spec.Ports[0].Name, Port: 1, Protocol: v1.ProtocolTCP}}
		}
		ep.Subsets = []v1.EndpointSubset{s}
		g.w.existing = append(g.w.existing, ep)
	}
}

func (g *gen) manualEndpoints(name string, svcPorts []v1.ServicePort) *v1.Endpoints {
	ep := &v1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: g.w.ns, Labels: map[string]string{"manual": "yes"}}}
	s := v1.EndpointSubset{}
	for range 1 + g.r.IntN(3) {
		s.Addresses = append(s.Addresses, v1.EndpointAddress{IP: fmt.Sprintf("10.251.%d.%d", g.index, len(g.w.manual)*4+len(s.Addresses)+1)})
	}
	for _, p := range svcPorts {
		s.Ports = append(s.Ports, v1.EndpointPort{Name: p.Name, Port: p.Port, Protocol: p.Protocol})
	}
	ep.Subsets = []v1.EndpointSubset{s}
	return ep
}

// extraEndpoints adds Endpoints without a Service: orphans, one as if left
// by a controller, and a leader-election record, which must stay.
func (g *gen) extraEndpoints() {
	sub := []v1.EndpointSubset{{
		Addresses: []v1.EndpointAddress{{IP: fmt.Sprintf("10.252.%d.1", g.index)}},
		Ports:     []v1.EndpointPort{{Port: 80, Protocol: v1.ProtocolTCP}},
	}}
	g.w.orphans = append(g.w.orphans,
		&v1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "orphan-plain", Namespace: g.w.ns}, Subsets: sub},
		&v1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "orphan-managed", Namespace: g.w.ns,
			Labels: map[string]string{managedByLabel: "endpoint-controller"}}, Subsets: sub},
	)
	g.w.manual = append(g.w.manual, &v1.Endpoints{ObjectMeta: metav1.ObjectMeta{
		Name: "leader-record", Namespace: g.w.ns,
		Annotations: map[string]string{"control-plane.alpha.kubernetes.io/leader": `{"holderIdentity":"someone"}`},
	}})
}

func (g *gen) pod(i int) {
	labels := map[string]string{}
	for _, lv := range labelVocab {
		if g.chance(0.75) {
			labels[lv.key] = pick(g, lv.values)
		}
	}
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%d", i), Namespace: g.w.ns, Labels: labels},
		Spec: v1.PodSpec{
			RestartPolicy: pick(g, []v1.RestartPolicy{v1.RestartPolicyAlways, v1.RestartPolicyOnFailure, v1.RestartPolicyNever}),
			Containers:    []v1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}},
		},
	}
	g.containerPorts(pod)
	gp := &genPod{pod: pod, phase: pick(g, []v1.PodPhase{v1.PodPending, v1.PodRunning, v1.PodRunning, v1.PodRunning, v1.PodSucceeded, v1.PodFailed})}
	switch n := g.r.IntN(20); {
	case n < 2: // no IP yet
	case n < 12:
		gp.ips = []string{g.ipv4()}
	case n < 15:
		gp.ips = []string{g.ipv6()}
	case n < 18:
		gp.ips = []string{g.ipv4(), g.ipv6()}
	default:
		gp.ips = []string{g.ipv6(), g.ipv4()}
	}
	// The built-in writes nodeName "" for a pod with an IP and no node,
	// which the API server rejects; a kubelet never reports such a pod.
	if len(gp.ips) > 0 || g.chance(0.5) {
		pod.Spec.NodeName = pick(g, nodes)
	}
	if !g.chance(0.1) {
		ready := g.chance(0.65)
		gp.ready = &ready
	}
	if n := g.r.IntN(10); n < 4 {
		if n < 3 { // else a subdomain alone: no hostname to publish
			pod.Spec.Hostname = "h-" + strconv.Itoa(i)
		}
		if n == 3 || g.chance(0.8) {
			// Mostly a Service that may select the pod; any other one
			// must not set the hostname.
			pod.Spec.Subdomain = pick(g, g.w.services).Name
			if sel := g.w.services[g.r.IntN(len(g.w.services))]; g.chance(0.6) && len(sel.Spec.Selector) > 0 {
				pod.Spec.Subdomain, pod.Labels = sel.Name, maps.Clone(sel.Spec.Selector)
			}
		}
	}
	if g.chance(0.12) {
		gp.terminating = true
		pod.Finalizers = []string{holdFinalizer}
	}
	g.w.pods = append(g.w.pods, gp)
}

// containerPorts gives the pod 0-3 named ports, some on a sidecar (an init
// container with restartPolicy Always, which counts) and maybe one on a
// plain init container (which does not).
func (g *gen) containerPorts(pod *v1.Pod) {
	names := g.r.Perm(len(portNames))
	n := g.r.IntN(4)
	var ports []v1.ContainerPort
	for _, i := range names[:n] {
		name := portNames[i]
		ports = append(ports, v1.ContainerPort{Name: name, ContainerPort: pick(g, portVocab[name]), Protocol: pick(g, protocols)})
	}
	if len(ports) > 0 && g.chance(0.3) {
		always := v1.ContainerRestartPolicyAlways
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, v1.Container{
			Name: "sidecar", Image: "registry.k8s.io/pause:3.10", RestartPolicy: &always, Ports: ports[:1],
		})
		ports = ports[1:]
	}
	if n < len(portNames) && g.chance(0.15) {
		name := portNames[names[n]]
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, v1.Container{
			Name: "init", Image: "registry.k8s.io/pause:3.10",
			Ports: []v1.ContainerPort{{Name: name, ContainerPort: portVocab[name][0], Protocol: pick(g, protocols)}},
		})
	}
	pod.Spec.Containers[0].Ports = ports
}
