package controller

import (
	"sync"

	"k8s.io/client-go/tools/cache"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
)

// labelIndexes index the pods of each pod cache by the label keys that
// Service selectors use, one client-go index per key, holding pods by
// namespace and value. A sync then looks at the pods carrying the
// selector's rarest pair instead of every pod of the namespace (the
// built-in lists the whole namespace per sync).
//
// Only keys some selector has used are indexed: pods carry many labels
// (ten in make bench-scale) that no Service selects on, and an index entry
// per pod and label was a third of the heap at 100k pods. A key is indexed
// when a sync first needs it (client-go indexes the cached pods then, under
// the cache's lock, and keeps the index current from there on) and stays
// indexed for the life of the process.
type labelIndexes struct {
	mu   sync.RWMutex
	keys map[cache.Indexer]map[string]bool
}

func newLabelIndexes() *labelIndexes {
	return &labelIndexes{keys: map[cache.Indexer]map[string]bool{}}
}

func labelIndexName(key string) string { return "label/" + key }

// labelIndex indexes pods by namespace and the value of label key.
func labelIndex(key string) cache.IndexFunc {
	return func(obj any) ([]string, error) {
		pod, ok := obj.(*cachedPod)
		if !ok {
			return nil, nil
		}
		v, ok := pod.Labels[key]
		if !ok {
			return nil, nil
		}
		return []string{pod.Namespace + "/" + v}, nil
	}
}

// ensure makes sure idx has an index for every key of selector.
func (l *labelIndexes) ensure(idx cache.Indexer, selector map[string]string) error {
	if l.has(idx, selector) {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	have := l.keys[idx]
	if have == nil {
		have = map[string]bool{}
		l.keys[idx] = have
	}
	for k := range selector {
		if have[k] {
			continue
		}
		if err := idx.AddIndexers(cache.Indexers{labelIndexName(k): labelIndex(k)}); err != nil {
			return err
		}
		have[k] = true
	}
	return nil
}

// has reports whether idx has an index for every key of selector: the
// usual case, under a read lock that syncs share.
func (l *labelIndexes) has(idx cache.Indexer, selector map[string]string) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	have := l.keys[idx]
	for k := range selector {
		if !have[k] {
			return false
		}
	}
	return true
}

// selectedPods returns the pods of ns in idx that selector (non-empty)
// selects.
func (l *labelIndexes) selectedPods(idx cache.Indexer, ns string, selector map[string]string) ([]*endpoints.Pod, error) {
	if idx == nil {
		return nil, nil // no cache holds ns: out of scope
	}
	if err := l.ensure(idx, selector); err != nil {
		return nil, err
	}
	var smallest []string
	first := true
	for k, v := range selector {
		keys, err := idx.IndexKeys(labelIndexName(k), ns+"/"+v)
		if err != nil {
			return nil, err
		}
		if first || len(keys) < len(smallest) {
			smallest, first = keys, false
		}
		if len(smallest) == 0 {
			return nil, nil
		}
	}
	pods := make([]*endpoints.Pod, 0, len(smallest))
	for _, key := range smallest {
		obj, exists, err := idx.GetByKey(key)
		if err != nil {
			return nil, err
		}
		if pod, ok := obj.(*cachedPod); exists && ok && selects(selector, pod.Labels) {
			pods = append(pods, pod.pod())
		}
	}
	return pods, nil
}
