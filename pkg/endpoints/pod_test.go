package endpoints

import (
	"reflect"
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestNewPodSharesWhatPodsOfOneTemplateShare(t *testing.T) {
	a, b := mkPod("a", "10.0.0.1", cports(cp("http", 8080, TCP))), mkPod("b", "10.0.0.2", cports(cp("http", 8080, TCP)))
	a.Labels = map[string]string{"app": "web", "hash": "1"}
	b.Labels = map[string]string{"hash": "1", "app": "web"}
	pa, pb := NewPod(a), NewPod(b)
	if reflect.ValueOf(pa.Labels).UnsafePointer() != reflect.ValueOf(pb.Labels).UnsafePointer() {
		t.Error("equal labels not shared")
	}
	if len(pa.Ports) != 1 || &pa.Ports[0] != &pb.Ports[0] {
		t.Errorf("equal ports not shared: %v %v", pa.Ports, pb.Ports)
	}
	b.Labels = map[string]string{"app": "web", "hash": "2"}
	if pb := NewPod(b); pb.Labels["hash"] != "2" || pa.Labels["hash"] != "1" {
		t.Errorf("different labels shared: %v %v", pa.Labels, pb.Labels)
	}
}

func TestPodInEndpoints(t *testing.T) {
	p := NewPod(mkPod("a", "10.0.0.1"))
	if p.Terminal() || !p.inEndpoints(false) {
		t.Error("a running pod with an IP is in Endpoints")
	}
	p.Phase = v1.PodSucceeded
	if !p.Terminal() || p.inEndpoints(true) {
		t.Error("a succeeded pod is not")
	}
}
