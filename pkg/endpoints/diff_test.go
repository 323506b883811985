package endpoints

import (
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDiff(t *testing.T) {
	svc := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
		Spec:       v1.ServiceSpec{ClusterIP: "10.96.0.1"},
	}
	port := []v1.EndpointPort{{Name: "http", Port: 80, Protocol: v1.ProtocolTCP}}
	addr := func(ip string) v1.EndpointAddress { return v1.EndpointAddress{IP: ip} }
	d := Desire(svc, []v1.EndpointSubset{{Addresses: []v1.EndpointAddress{addr("10.0.0.1")}, NotReadyAddresses: []v1.EndpointAddress{addr("10.0.0.2")}, Ports: port}}, DefaultManagedBy)
	live := func(mut func(*v1.Endpoints)) *v1.Endpoints {
		ep := Apply(nil, svc, d, metav1.Now().Time)
		ep = ep.DeepCopy()
		mut(ep)
		return ep
	}
	for name, tc := range map[string]struct {
		ep   *v1.Endpoints
		want []string
	}{
		"equal":     {live(func(*v1.Endpoints) {}), nil},
		"missing":   {nil, []string{FieldAddresses}},
		"ready":     {live(func(ep *v1.Endpoints) { ep.Subsets[0].Addresses[0].IP = "10.0.0.9" }), []string{FieldAddresses}},
		"not ready": {live(func(ep *v1.Endpoints) { ep.Subsets[0].NotReadyAddresses = nil }), []string{FieldNotReadyAddresses}},
		"port":      {live(func(ep *v1.Endpoints) { ep.Subsets[0].Ports[0].Port = 81 }), []string{FieldAddresses, FieldNotReadyAddresses, FieldPorts}},
		"labels":    {live(func(ep *v1.Endpoints) { ep.Labels["x"] = "y" }), []string{FieldLabels}},
		"annotation": {live(func(ep *v1.Endpoints) { ep.Annotations[v1.EndpointsOverCapacity] = "truncated" }),
			[]string{FieldAnnotations}},
		"hostname": {live(func(ep *v1.Endpoints) { ep.Subsets[0].Addresses[0].Hostname = "h" }), []string{FieldAddresses}},
	} {
		got, summary := Diff(tc.ep, d)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: fields %v (%s), want %v", name, got, summary, tc.want)
		}
		if (len(got) == 0) != (summary == "") {
			t.Errorf("%s: summary %q with fields %v", name, summary, got)
		}
	}
}
