package endpoints

import (
	"reflect"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// checkUnmarshal checks that Pod.Unmarshal of data does not panic and,
// if data is a pod (as v1.Pod's decoder sees it), that Unmarshal of its
// encoding equals NewPod of the full decode. (The generated decoder lets
// some malformed input through, which the API server never sends.)
func checkUnmarshal(t *testing.T, data []byte) {
	t.Helper()
	_ = new(Pod).Unmarshal(data)
	var full v1.Pod
	if err := full.Unmarshal(data); err != nil {
		return
	}
	data, err := full.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var lean Pod
	if leanErr := lean.Unmarshal(data); leanErr != nil {
		t.Fatalf("Unmarshal failed where v1.Pod's did not: %v", leanErr)
	}
	if want := NewPod(&full); !reflect.DeepEqual(&lean, want) {
		t.Fatalf("Unmarshal:\n%+v\nNewPod of the full decode:\n%+v", lean, *want)
	}
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
			checkUnmarshal(t, data)
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

func FuzzUnmarshalPod(f *testing.F) {
	for _, p := range []*v1.Pod{busyPod(), mkPod("a", "10.0.0.1")} {
		data, _ := p.Marshal()
		f.Add(data)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkUnmarshal(t, data)
		// Pods as fuzzPod builds them, encoded.
		b := fuzzBytes(data)
		p := fuzzPod(&b, 0)
		enc, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		checkUnmarshal(t, enc)
	})
}
