package endpoints

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unique"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
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

	Phase  v1.PodPhase
	PodIP  string
	PodIPs []v1.PodIP

	// Ready is the pod's Ready condition; ReadySince its last transition
	// time (zero without the condition), the trigger time of a readiness
	// change.
	Ready      bool
	ReadySince metav1.Time

	// Ports are the ports a Service's targetPort may name: those of the
	// regular containers, then those of sidecars (init containers that keep
	// running), in order. Pods of one template share the slice.
	Ports []NamedPort

	// initialEventsEnd marks the bookmark that ends the initial events
	// of a watch list (decoded by Unmarshal).
	initialEventsEnd bool
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
		Phase:             p.Status.Phase,
		PodIP:             p.Status.PodIP,
		PodIPs:            p.Status.PodIPs,
		Ports:             namedPorts(p),
	}
	for i := range p.Status.Conditions {
		if c := &p.Status.Conditions[i]; c.Type == v1.PodReady {
			out.Ready = c.Status == v1.ConditionTrue
			out.ReadySince = c.LastTransitionTime
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

// Intern returns the canonical copy of a string repeated across objects
// (namespace, node name), so that the cache holds it once.
func Intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

// namedPorts lists the ports of p's serving containers, interned.
func namedPorts(p *v1.Pod) []NamedPort {
	var buf [8]NamedPort
	ports := buf[:0]
	eachPort(p, func(cp *v1.ContainerPort) {
		ports = append(ports, NamedPort{Name: cp.Name, Protocol: cp.Protocol, Port: cp.ContainerPort})
	})
	return internPorts(ports)
}

// internPorts returns a list equal to ports (which it does not keep),
// shared with the pods of the same template. It allocates only for a list
// not seen before.
func internPorts(ports []NamedPort) []NamedPort {
	if len(ports) == 0 {
		return nil
	}
	var buf [256]byte
	key := buf[:0]
	for _, p := range ports {
		key = append(key, p.Name...)
		key = append(key, 0)
		key = append(key, p.Protocol...)
		key = append(key, 0)
		key = strconv.AppendInt(key, int64(p.Port), 10)
		key = append(key, 0)
	}
	portsIntern.Lock()
	defer portsIntern.Unlock()
	if shared, ok := portsIntern.m[string(key)]; ok {
		return shared
	}
	shared := slices.Clone(ports)
	if len(portsIntern.m) >= maxInternedPorts {
		clear(portsIntern.m) // rare: that many templates; start over
	}
	portsIntern.m[string(key)] = shared
	return shared
}

// maxInternedPorts bounds the interned port lists; each is a few bytes.
const maxInternedPorts = 4096

var portsIntern = struct {
	sync.Mutex
	m map[string][]NamedPort
}{m: map[string][]NamedPort{}}

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
func (p *Pod) Terminal() bool {
	return p.Phase == v1.PodSucceeded || p.Phase == v1.PodFailed
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

// GetObjectMeta gives the informer cache holding pods their key and
// namespace; it is called a few times per pod event and allocates.
func (p *Pod) GetObjectMeta() metav1.Object {
	return withInitialEventsEnd(&metav1.ObjectMeta{
		Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion,
		Labels: p.Labels, DeletionTimestamp: p.DeletionTimestamp,
	}, p.initialEventsEnd)
}

// GetObjectKind and DeepCopyObject make a Pod a runtime.Object.
func (p *Pod) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

// DeepCopyObject returns a deep copy of p.
func (p *Pod) DeepCopyObject() runtime.Object {
	out := *p
	out.Labels = maps.Clone(p.Labels)
	out.DeletionTimestamp = p.DeletionTimestamp.DeepCopy()
	out.PodIPs = slices.Clone(p.PodIPs)
	out.Ports = slices.Clone(p.Ports)
	p.ReadySince.DeepCopyInto(&out.ReadySince)
	return &out
}

// InternLabels returns a map equal to labels, shared with every object
// interned with the same labels (the pods of one ReplicaSet, typically).
// Nobody may modify it.
func InternLabels(labels map[string]string) map[string]string {
	if len(labels) == 0 {
		return labels
	}
	var buf [16]labelPair
	pairs := buf[:0]
	for k, v := range labels {
		pairs = append(pairs, labelPair{k, v})
	}
	return internLabelPairs(pairs)
}

type labelPair struct{ key, value string }

// internLabelPairs returns the interned map holding pairs (distinct keys),
// creating it if needed; pairs may be views into a buffer (see view). The
// lookup key is built on the stack; label keys and values hold no NUL.
func internLabelPairs(pairs []labelPair) map[string]string {
	slices.SortFunc(pairs, func(a, b labelPair) int { return strings.Compare(a.key, b.key) })
	var buf [512]byte
	key := buf[:0]
	for _, p := range pairs {
		key = append(key, p.key...)
		key = append(key, 0)
		key = append(key, p.value...)
		key = append(key, 0)
	}
	labelsIntern.Lock()
	defer labelsIntern.Unlock()
	if m, ok := labelsIntern.m[string(key)]; ok {
		return m
	}
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		m[strings.Clone(p.key)] = strings.Clone(p.value)
	}
	if len(labelsIntern.m) >= maxInternedLabels {
		clear(labelsIntern.m) // many unique label sets (StatefulSet pods): start over
	}
	labelsIntern.m[string(key)] = m
	return m
}

// maxInternedLabels bounds the interned label maps; once full, the table
// starts over, so maps no pod uses any more are not kept for long.
const maxInternedLabels = 16384

var labelsIntern = struct {
	sync.Mutex
	m map[string]map[string]string
}{m: map[string]map[string]string{}}
