package controller

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
)

// A trimmed pod must give exactly the Endpoints the full pod gives.
func TestTrimKeepsWhatEndpointsAreMadeOf(t *testing.T) {
	always := v1.ContainerRestartPolicyAlways
	full := testPod("a", "10.0.0.1", true)
	full.Annotations = map[string]string{"big": "x"}
	full.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}
	full.Spec.Hostname, full.Spec.Subdomain = "h", "web"
	full.Spec.Containers = []v1.Container{
		{Name: "app", Image: "img", Env: []v1.EnvVar{{Name: "A", Value: "b"}}, Ports: []v1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: v1.ProtocolTCP}}},
		{Name: "noports", Image: "img"},
	}
	full.Spec.InitContainers = []v1.Container{
		{Name: "sidecar", RestartPolicy: &always, Ports: []v1.ContainerPort{{Name: "metrics", ContainerPort: 9090, Protocol: v1.ProtocolTCP}}},
		{Name: "init", Ports: []v1.ContainerPort{{Name: "metrics", ContainerPort: 1, Protocol: v1.ProtocolTCP}}},
	}
	full.Status.Conditions = append([]v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionTrue}}, full.Status.Conditions...)
	full.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "app", Ready: true}}

	svc := testService()
	svc.Spec.Ports = []v1.ServicePort{
		{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: v1.ProtocolTCP},
		{Name: "metrics", Port: 9090, TargetPort: intstr.FromString("metrics"), Protocol: v1.ProtocolTCP},
	}
	trimmed, _ := trim(full.DeepCopy())
	p := trimmed.(*endpoints.Pod)
	got := endpoints.Compute(svc, []*endpoints.Pod{p})
	if len(got.Subsets) != 1 || len(got.Subsets[0].Ports) != 2 || len(got.Subsets[0].Addresses) != 1 {
		t.Fatalf("trimmed pod gives %+v", got.Subsets)
	}
	if a := got.Subsets[0].Addresses[0]; a.Hostname != "h" || *a.NodeName != full.Spec.NodeName || a.TargetRef.UID != full.UID {
		t.Errorf("address %+v", a)
	}
	if !p.Ready || len(p.Ports) != 2 {
		t.Fatalf("not trimmed: %+v", p)
	}
}
