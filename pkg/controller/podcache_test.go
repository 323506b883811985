package controller

import (
	"testing"

	"k8s.io/client-go/tools/cache"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
	"github.com/endpoints-controller/endpoints-controller/pkg/lean"
)

// The pod cache keys and indexes pod views by their metadata, whichever
// decoder made them.
func TestPodInInformerCache(t *testing.T) {
	idx := cache.NewIndexer(cache.DeletionHandlingMetaNamespaceKeyFunc, cache.Indexers{byLabel: podLabelIndex})
	standard, err := trim(testPod("a", "10.0.0.1", true))
	if err != nil {
		t.Fatal(err)
	}
	leanPod := &lean.Pod{Pod: *endpoints.NewPod(testPod("b", "10.0.0.2", true))}
	fromLean, err := trim(leanPod)
	if err != nil {
		t.Fatal(err)
	}
	if fromLean.(*cachedPod).pod() != &leanPod.Pod {
		t.Error("the lean pod's view is copied")
	}
	for _, p := range []any{standard, fromLean} {
		if err := idx.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	if got, ok, _ := idx.GetByKey("ns/a"); !ok || got != standard {
		t.Fatalf("GetByKey = %v, %v", got, ok)
	}
	pods, err := selectedPods(idx, "ns", map[string]string{"app": "web"})
	if err != nil || len(pods) != 2 {
		t.Fatalf("selectedPods = %v, %v", pods, err)
	}
	if p := asPod(cache.DeletedFinalStateUnknown{Key: "ns/b", Obj: fromLean}); p == nil || p.Name != "b" {
		t.Errorf("asPod of a tombstone = %v", p)
	}
}
