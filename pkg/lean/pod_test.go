package lean

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestUnmarshalPodAsNewPod(t *testing.T) {
	for name, p := range map[string]*v1.Pod{
		"busy":               busyPod(),
		"minimal":            {},
		"no IPs":             mkPod("a", ""),
		"not ready, no time": mkPod("a", "10.0.0.1", notReady),
		"terminal":           mkPod("a", "10.0.0.1", phase(v1.PodSucceeded)),
		"no conditions":      mkPod("a", "10.0.0.1", noCondition),
	} {
		t.Run(name, func(t *testing.T) {
			data, err := p.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			checkPod(t, data)
		})
	}
}

func TestUnmarshalWatchListBookmark(t *testing.T) {
	p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "42", Annotations: map[string]string{metav1.InitialEventsAnnotationKey: "true"}}}
	data, _ := p.Marshal()
	var lean Pod
	if err := lean.Unmarshal(data); err != nil {
		t.Fatal(err)
	}
	if !lean.initialEventsEnd {
		t.Fatal("not the end of initial events")
	}
	if m := lean.GetObjectMeta(); m.GetResourceVersion() != "42" || m.GetAnnotations()[metav1.InitialEventsAnnotationKey] != "true" {
		t.Fatalf("bookmark lost: %+v", m)
	}
}

func TestUnmarshalPodList(t *testing.T) {
	list := &v1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: "7", Continue: "c"}, Items: []v1.Pod{*busyPod(), *mkPod("b", "10.0.0.2")}}
	data, _ := list.Marshal()
	var lean PodList
	if err := lean.Unmarshal(data); err != nil {
		t.Fatal(err)
	}
	if lean.ResourceVersion != "7" || lean.Continue != "c" || len(lean.Items) != 2 || lean.Items[1].Name != "b" || len(lean.Items[0].Ports) != 3 {
		t.Fatalf("PodList: %+v", lean)
	}
}
