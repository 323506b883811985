package lean

import (
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

const (
	TCP = v1.ProtocolTCP
	UDP = v1.ProtocolUDP
)

type podOpt func(*v1.Pod)

// mkPod returns a ready, running pod with the given comma-separated IPs (""
// for none).
func mkPod(name, ips string, opts ...podOpt) *v1.Pod {
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name), ResourceVersion: "42"},
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

func notReady(p *v1.Pod)    { p.Status.Conditions[0].Status = v1.ConditionFalse }
func noCondition(p *v1.Pod) { p.Status.Conditions = nil }
func deleting(p *v1.Pod)    { p.DeletionTimestamp = &metav1.Time{Time: time.Unix(1e9, 0)} }

func phase(ph v1.PodPhase) podOpt { return func(p *v1.Pod) { p.Status.Phase = ph } }
func host(hostname, subdomain string) podOpt {
	return func(p *v1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = hostname, subdomain }
}

// cports adds ports to the pod's first container.
func cports(ps ...v1.ContainerPort) podOpt {
	return func(p *v1.Pod) { p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, ps...) }
}

// initPorts adds an init container (a sidecar when policy is Always).
func initPorts(policy *v1.ContainerRestartPolicy, ps ...v1.ContainerPort) podOpt {
	return func(p *v1.Pod) {
		p.Spec.InitContainers = append(p.Spec.InitContainers, v1.Container{Name: "init", RestartPolicy: policy, Ports: ps})
	}
}

var always = ptr.To(v1.ContainerRestartPolicyAlways)

func cp(name string, num int32, proto v1.Protocol) v1.ContainerPort {
	return v1.ContainerPort{Name: name, ContainerPort: num, Protocol: proto}
}

// A pod as the API server sends it: every field Unmarshal reads, among
// many it skips.
func busyPod() *v1.Pod {
	p := mkPod("busy", "10.0.0.1,fd00::1", cports(cp("http", 8080, TCP), cp("", 9, UDP)),
		initPorts(always, cp("metrics", 9090, TCP)), initPorts(nil, cp("init", 1, TCP)), host("h", "svc"), deleting)
	p.Labels = map[string]string{"app": "web", "pod-template-hash": "abc"}
	p.Annotations = map[string]string{"a": "b"}
	p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubelet", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{}}`)}}}
	p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web-abc"}}
	p.Finalizers = []string{"x"}
	p.CreationTimestamp = metav1.NewTime(time.Unix(1.7e9, 0))
	p.Spec.Containers[0].Image, p.Spec.Containers[0].Env = "img", []v1.EnvVar{{Name: "A", Value: "b"}}
	p.Spec.Volumes = []v1.Volume{{Name: "v"}}
	p.Spec.Tolerations = []v1.Toleration{{Key: "k"}}
	p.Status.Conditions = []v1.PodCondition{
		{Type: v1.PodScheduled, Status: v1.ConditionTrue, LastTransitionTime: metav1.NewTime(time.Unix(1.7e9+1, 0))},
		{Type: v1.PodReady, Status: v1.ConditionTrue, LastTransitionTime: metav1.NewTime(time.Unix(1.7e9+2, 500))},
		{Type: v1.PodReady, Status: v1.ConditionFalse}, // only the first counts
	}
	p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "app", Ready: true}}
	return p
}
