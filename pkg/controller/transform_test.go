package controller

import (
	"reflect"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
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
	p := trimmed.(*cachedPod).pod()
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

// A trimmed Service must give exactly the Endpoints the full one gives.
func TestTrimServiceKeepsWhatEndpointsAreMadeOf(t *testing.T) {
	pods := []*endpoints.Pod{
		endpoints.NewPod(testPod("a", "10.0.0.1", true)),
		endpoints.NewPod(testPod("b", "10.0.0.2", false)),
	}
	for name, mutate := range map[string]func(*v1.Service){
		"plain":            func(*v1.Service) {},
		"headless":         func(s *v1.Service) { s.Spec.ClusterIP = v1.ClusterIPNone },
		"publishNotReady":  func(s *v1.Service) { s.Spec.PublishNotReadyAddresses = true },
		"IPv6 first":       func(s *v1.Service) { s.Spec.IPFamilies = []v1.IPFamily{v1.IPv6Protocol, v1.IPv4Protocol} },
		"external name":    func(s *v1.Service) { s.Spec.Type = v1.ServiceTypeExternalName },
		"labels copied":    func(s *v1.Service) { s.Labels = map[string]string{"team": "a"} },
		"no ports":         func(s *v1.Service) { s.Spec.Ports = nil },
		"named targetPort": func(s *v1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("http") },
	} {
		full := testService()
		full.Annotations = map[string]string{"big": "x"}
		full.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
		full.Spec.ClusterIPs = []string{full.Spec.ClusterIP}
		full.Spec.IPFamilies = []v1.IPFamily{v1.IPv4Protocol}
		full.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: "1.2.3.4"}}
		mutate(full)
		trimmed, _ := trim(full.DeepCopy())
		s := trimmed.(*v1.Service)
		if s.Annotations != nil || s.ManagedFields != nil || s.Spec.ClusterIPs != nil || s.Status.LoadBalancer.Ingress != nil {
			t.Errorf("%s: not trimmed: %+v", name, s)
		}
		want := endpoints.Desire(full, endpoints.Compute(full, pods).Subsets, endpoints.DefaultManagedBy)
		got := endpoints.Desire(s, endpoints.Compute(s, pods).Subsets, endpoints.DefaultManagedBy)
		if !equality.Semantic.DeepEqual(got, want) {
			t.Errorf("%s: trimmed Service gives\n%+v\nwant\n%+v", name, got, want)
		}
	}
}

// A trimmed Endpoints must give the same write as the full one: only the
// trigger time, which every write sets afresh, is dropped.
func TestTrimEndpointsKeepsWhatUpdatesWriteBack(t *testing.T) {
	svc, node := testService(), "node-1"
	full := &v1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: svc.Namespace, Name: svc.Name, ResourceVersion: "7", UID: "u",
			Labels: map[string]string{"team": "a"},
			Annotations: map[string]string{
				"foreign": "kept", v1.EndpointsOverCapacity: "truncated",
				v1.EndpointsLastChangeTriggerTime: "2026-01-01T00:00:00Z",
			},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager"}},
		},
		Subsets: []v1.EndpointSubset{{
			Addresses: []v1.EndpointAddress{{IP: "10.0.0.1", NodeName: &node, TargetRef: &v1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: "a"}}},
			Ports:     []v1.EndpointPort{{Port: 80, Protocol: v1.ProtocolTCP}},
		}},
	}
	d := endpoints.Desire(svc, nil, endpoints.DefaultManagedBy)
	for _, trigger := range []time.Time{{}, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)} {
		want := endpoints.Apply(full.DeepCopy(), svc, d, trigger)
		trimmed, _ := trim(full.DeepCopy())
		got := endpoints.Apply(&trimmed.(*cachedEndpoints).Endpoints, svc, d, trigger)
		want.ManagedFields = nil
		if !equality.Semantic.DeepEqual(got, want) {
			t.Errorf("trigger %v: trimmed Endpoints gives\n%+v\nwant\n%+v", trigger, got, want)
		}
	}
	a, _ := trim(full.DeepCopy())
	b, _ := trim(full.DeepCopy())
	if reflect.ValueOf(a.(*cachedEndpoints).Labels).UnsafePointer() != reflect.ValueOf(b.(*cachedEndpoints).Labels).UnsafePointer() {
		t.Error("equal labels are not shared")
	}
}
