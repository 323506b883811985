package endpoints

import (
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Pod is what the Endpoints of a Service read from one of its pods. The
// controller's cache keeps pods in this form: a sixth of a v1.Pod's size
// (the pod cache is most of the controller's memory).
type Pod struct {
	Name, Namespace   string
	UID               types.UID
	ResourceVersion   string
	Labels            map[string]string // shared by pods with equal labels: read-only
	DeletionTimestamp *metav1.Time

	NodeName, Hostname, Subdomain string

	PodIP  string
	PodIPs []v1.PodIP

	// Ready is the pod's Ready condition; ReadySince its last transition
	// time in Unix nanoseconds (0 without the condition), the trigger time
	// of a readiness change. Done tells the pod's phase is Succeeded or
	// Failed. The two flags share a word, and the time is 8 bytes instead
	// of a metav1.Time's 24: a pod takes one allocation size class less.
	Ready      bool
	Done       bool
	ReadySince int64

	// Ports are the ports a Service's targetPort may name: those of the
	// regular containers, then those of sidecars (init containers that keep
	// running), in order. Pods of one template share the slice.
	Ports []NamedPort
}

// NamedPort is a container port and its name.
type NamedPort struct {
	Name     string
	Protocol v1.Protocol
	Port     int32
}

// NewPod returns the part of p that Endpoints are made of. p is not
// modified; its pod IPs, labels and deletion timestamp are shared.
func NewPod(p *v1.Pod) *Pod {
	out := &Pod{
		Name:              p.Name,
		Namespace:         Intern(p.Namespace),
		UID:               p.UID,
		ResourceVersion:   p.ResourceVersion,
		Labels:            InternLabels(p.Labels),
		DeletionTimestamp: p.DeletionTimestamp,
		NodeName:          Intern(p.Spec.NodeName),
		Hostname:          p.Spec.Hostname,
		Subdomain:         p.Spec.Subdomain,
		Done:              TerminalPhase(p.Status.Phase),
		PodIP:             p.Status.PodIP,
		PodIPs:            p.Status.PodIPs,
		Ports:             namedPorts(p),
	}
	for i := range p.Status.Conditions {
		if c := &p.Status.Conditions[i]; c.Type == v1.PodReady {
			out.Ready = c.Status == v1.ConditionTrue
			out.ReadySince = UnixNanos(c.LastTransitionTime)
			break
		}
	}
	return out
}

// Pods converts a list of pods with NewPod.
func Pods(ps []*v1.Pod) []*Pod {
	out := make([]*Pod, len(ps))
	for i, p := range ps {
		out[i] = NewPod(p)
	}
	return out
}

// namedPorts lists the ports of p's serving containers, interned.
func namedPorts(p *v1.Pod) []NamedPort {
	var buf [8]NamedPort
	ports := buf[:0]
	eachPort(p, func(cp *v1.ContainerPort) {
		ports = append(ports, NamedPort{Name: cp.Name, Protocol: cp.Protocol, Port: cp.ContainerPort})
	})
	return InternPorts(ports)
}

// eachPort calls fn with every port of the containers that serve: regular containers, then sidecars (init containers with
// restartPolicy Always), in order, as a named targetPort is looked up.
func eachPort(p *v1.Pod, fn func(*v1.ContainerPort)) {
	each := func(cs []v1.Container, sidecarsOnly bool) {
		for i := range cs {
			c := &cs[i]
			if sidecarsOnly && (c.RestartPolicy == nil || *c.RestartPolicy != v1.ContainerRestartPolicyAlways) {
				continue
			}
			for j := range c.Ports {
				fn(&c.Ports[j])
			}
		}
	}
	each(p.Spec.Containers, false)
	each(p.Spec.InitContainers, true)
}

// Terminal tells the pod has succeeded or failed: it serves no more.
func (p *Pod) Terminal() bool { return p.Done }

// TerminalPhase tells whether phase is Succeeded or Failed (Pod.Done).
func TerminalPhase(phase v1.PodPhase) bool {
	return phase == v1.PodSucceeded || phase == v1.PodFailed
}

// UnixNanos is t as Pod.ReadySince holds it: 0 for the zero time.
func UnixNanos(t metav1.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// inEndpoints tells whether the pod is listed at all: not terminal, with an
// IP, and not terminating unless the Service publishes not-ready
// addresses.
func (p *Pod) inEndpoints(publishNotReady bool) bool {
	return !p.Terminal() && (p.PodIP != "" || len(p.PodIPs) > 0) &&
		(publishNotReady || p.DeletionTimestamp == nil)
}

// findPort returns the container port sp targets on the pod: its number,
// or the first serving container port with its name and protocol.
func (p *Pod) findPort(sp *v1.ServicePort) (int, bool) {
	switch sp.TargetPort.Type {
	case intstr.Int:
		return sp.TargetPort.IntValue(), true
	case intstr.String:
		for _, np := range p.Ports {
			if np.Name == sp.TargetPort.StrVal && np.Protocol == sp.Protocol {
				return int(np.Port), true
			}
		}
	}
	return 0, false
}
