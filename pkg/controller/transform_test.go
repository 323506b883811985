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
	want := endpoints.Compute(svc, []*v1.Pod{full})
	trimmed, _ := trim(full.DeepCopy())
	got := endpoints.Compute(svc, []*v1.Pod{trimmed.(*v1.Pod)})
	if !endpoints.SubsetsEqual(got.Subsets, want.Subsets) || len(got.Subsets) != 1 || len(got.Subsets[0].Ports) != 2 {
		t.Fatalf("trimmed pod gives %+v, full pod %+v", got.Subsets, want.Subsets)
	}
	p := trimmed.(*v1.Pod)
	if p.Annotations != nil || p.ManagedFields != nil || len(p.Spec.Containers) != 1 || len(p.Spec.InitContainers) != 1 || len(p.Status.Conditions) != 1 {
		t.Fatalf("not trimmed: %+v", p)
	}
}
