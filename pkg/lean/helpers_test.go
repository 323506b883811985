package lean

import (
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints/podtest"
)

const (
	TCP = v1.ProtocolTCP
	UDP = v1.ProtocolUDP
)

// Pods as podtest makes them, under the short names the tests use.
type podOpt = podtest.Opt

var (
	mkPod       = podtest.Pod
	notReady    = podtest.NotReady
	noCondition = podtest.NoCondition
	deleting    = podtest.Deleting
	phase       = podtest.Phase
	onNode      = podtest.OnNode
	host        = podtest.Host
	cports      = podtest.ContainerPorts
	initPorts   = podtest.InitPorts
	always      = podtest.Always
	cp          = podtest.Port
)

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
