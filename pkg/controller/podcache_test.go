package controller

import (
	"slices"
	"testing"

	"k8s.io/client-go/tools/cache"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
	"github.com/endpoints-controller/endpoints-controller/pkg/lean"
)

// The pod cache keys and indexes pod views by their metadata, whichever
// decoder made them.
func TestPodInInformerCache(t *testing.T) {
	idx := cache.NewIndexer(cache.DeletionHandlingMetaNamespaceKeyFunc, cache.Indexers{})
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
	pods, err := newLabelIndexes().selectedPods(idx, "ns", map[string]string{"app": "web"})
	if err != nil || len(pods) != 2 {
		t.Fatalf("selectedPods = %v, %v", pods, err)
	}
	if p := asPod(cache.DeletedFinalStateUnknown{Key: "ns/b", Obj: fromLean}); p == nil || p.Name != "b" {
		t.Errorf("asPod of a tombstone = %v", p)
	}
}

// Pods are indexed by the label keys selectors use, and only by those:
// pods cached before a key's first use are found, as are pods added,
// relabelled or deleted after it.
func TestLabelIndexesOnlySelectorKeys(t *testing.T) {
	idx := cache.NewIndexer(cache.DeletionHandlingMetaNamespaceKeyFunc, cache.Indexers{})
	l := newLabelIndexes()
	add := func(name string, labels map[string]string) {
		t.Helper()
		p := testPod(name, "10.0.0.1", true)
		p.Labels = labels
		obj, _ := trim(p)
		if err := idx.Update(obj); err != nil {
			t.Fatal(err)
		}
	}
	selected := func(ns string, selector map[string]string) []string {
		t.Helper()
		pods, err := l.selectedPods(idx, ns, selector)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range pods {
			names = append(names, p.Name)
		}
		slices.Sort(names)
		return names
	}
	add("a", map[string]string{"app": "web", "tier": "front", "version": "1"})
	add("b", map[string]string{"app": "web", "tier": "back", "version": "1"})
	if got := selected("ns", map[string]string{"app": "web", "tier": "front"}); !slices.Equal(got, []string{"a"}) {
		t.Errorf("cached before the index: selected %v, want [a]", got)
	}
	add("c", map[string]string{"app": "web", "tier": "front"})
	add("b", map[string]string{"app": "web", "tier": "front"}) // relabelled
	if got := selected("ns", map[string]string{"app": "web", "tier": "front"}); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("added and relabelled after: selected %v, want [a b c]", got)
	}
	if err := idx.Delete(idx.List()[0]); err != nil {
		t.Fatal(err)
	}
	if got := selected("ns", map[string]string{"app": "web"}); len(got) != 2 {
		t.Errorf("after a delete: selected %v, want two pods", got)
	}
	if got := selected("other", map[string]string{"app": "web"}); len(got) != 0 {
		t.Errorf("another namespace: selected %v, want none", got)
	}
	var names []string
	for name := range idx.GetIndexers() {
		names = append(names, name)
	}
	slices.Sort(names)
	if want := []string{labelIndexName("app"), labelIndexName("tier")}; !slices.Equal(names, want) {
		t.Errorf("indexes %v, want %v: a key no selector uses (version) is not indexed", names, want)
	}
}
