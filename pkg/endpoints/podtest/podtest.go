// Package podtest builds the pods that the tests of pkg/endpoints and
// pkg/lean feed to the rules and to the decoders; both need the same
// shapes, so they are made in one place.
package podtest

import (
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// Namespace is the namespace of every pod Pod makes.
const Namespace = "ns"

// Opt changes a pod Pod makes.
type Opt func(*v1.Pod)

// Pod returns a ready, running pod with the given comma-separated IPs (""
// for none), UID "uid-<name>" and node "node-<name>".
func Pod(name, ips string, opts ...Opt) *v1.Pod {
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: Namespace, UID: types.UID("uid-" + name), ResourceVersion: "42"},
		Spec:       v1.PodSpec{NodeName: "node-" + name, Containers: []v1.Container{{Name: "app"}}},
		Status: v1.PodStatus{
			Phase:      v1.PodRunning,
			Conditions: []v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionTrue}},
		},
	}
	if ips != "" {
		for ip := range strings.SplitSeq(ips, ",") {
			p.Status.PodIPs = append(p.Status.PodIPs, v1.PodIP{IP: ip})
		}
		p.Status.PodIP = p.Status.PodIPs[0].IP
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// NotReady, NoCondition and Deleting are Opts.
func NotReady(p *v1.Pod)    { p.Status.Conditions[0].Status = v1.ConditionFalse }
func NoCondition(p *v1.Pod) { p.Status.Conditions = nil }
func Deleting(p *v1.Pod)    { p.DeletionTimestamp = &metav1.Time{Time: time.Unix(1e9, 0)} }

// Phase, OnNode and Host set those fields.
func Phase(ph v1.PodPhase) Opt { return func(p *v1.Pod) { p.Status.Phase = ph } }
func OnNode(n string) Opt      { return func(p *v1.Pod) { p.Spec.NodeName = n } }
func Host(hostname, subdomain string) Opt {
	return func(p *v1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = hostname, subdomain }
}

// ContainerPorts adds ports to the pod's first container.
func ContainerPorts(ps ...v1.ContainerPort) Opt {
	return func(p *v1.Pod) { p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, ps...) }
}

// InitPorts adds an init container (a sidecar when policy is Always).
func InitPorts(policy *v1.ContainerRestartPolicy, ps ...v1.ContainerPort) Opt {
	return func(p *v1.Pod) {
		p.Spec.InitContainers = append(p.Spec.InitContainers, v1.Container{Name: "init", RestartPolicy: policy, Ports: ps})
	}
}

// Always is the restart policy of a sidecar.
var Always = ptr.To(v1.ContainerRestartPolicyAlways)

// Port is a named container port.
func Port(name string, num int32, proto v1.Protocol) v1.ContainerPort {
	return v1.ContainerPort{Name: name, ContainerPort: num, Protocol: proto}
}
