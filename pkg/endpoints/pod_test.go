package endpoints

import (
	"maps"
	"reflect"
	"testing"
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
	p.Done = true // as NewPod makes it of phase Succeeded
	if !p.Terminal() || p.inEndpoints(true) {
		t.Error("a succeeded pod is not")
	}
}

// Interned label maps are shared by equal sets only, whatever the order
// and repeats of their pairs (the last value of a key counts), and a table
// hit is checked against the pairs (holds), so a hash collision cannot
// hand out another set's map.
func TestInternLabelPairs(t *testing.T) {
	a := InternLabelPairs([]LabelPair{{"b", "2"}, {"a", "1"}})
	b := InternLabelPairs([]LabelPair{{"a", "0"}, {"a", "1"}, {"b", "2"}})
	if !maps.Equal(a, map[string]string{"a": "1", "b": "2"}) || reflect.ValueOf(a).UnsafePointer() != reflect.ValueOf(b).UnsafePointer() {
		t.Errorf("equal sets: %v and %v, not one map", a, b)
	}
	if c := InternLabelPairs([]LabelPair{{"a", "1"}}); len(c) != 1 {
		t.Errorf("a subset got %v", c)
	}
	for _, tc := range []struct {
		pairs []LabelPair
		want  bool
	}{
		{[]LabelPair{{"a", "1"}, {"b", "2"}}, true},
		{[]LabelPair{{"a", "0"}, {"a", "1"}, {"b", "2"}}, true},
		{[]LabelPair{{"a", "1"}, {"a", "0"}, {"b", "2"}}, false},
		{[]LabelPair{{"a", "1"}}, false},
		{[]LabelPair{{"a", "1"}, {"b", "2"}, {"c", "3"}}, false},
		{[]LabelPair{{"a", "1"}, {"b", "3"}}, false},
	} {
		if got := holds(a, tc.pairs); got != tc.want {
			t.Errorf("holds(%v, %v) = %v, want %v", a, tc.pairs, got, tc.want)
		}
	}
}
