package controller

import (
	"slices"
	"sync"
)

// selectorIndex finds the Services that may select a pod without looking at
// every Service of its namespace, as the built-in does on each pod event
// (a namespace with 5000 Services made that most of its CPU). A Service is
// filed under one pair of its selector: a pod can only be selected by the
// Services filed under one of its own label pairs.
type selectorIndex struct {
	mu sync.RWMutex
	// A slice, not a map, per pair: most buckets hold one Service, and a
	// map per Service was the largest thing the controller kept for it.
	byPair  map[labelPair][]filedService
	filedAs map[string]labelPair // Service key → its pair
}

type labelPair struct{ ns, key, value string }

type filedService struct {
	key      string
	selector map[string]string
}

func newSelectorIndex() *selectorIndex {
	return &selectorIndex{byPair: map[labelPair][]filedService{}, filedAs: map[string]labelPair{}}
}

// set files the Service key of namespace ns under selector; an empty
// selector removes it. It goes under the pair the fewest Services share
// now, so that a label common to many selectors (tier=web) does not make
// one bucket hold them all.
func (x *selectorIndex) set(key, ns string, selector map[string]string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.removeLocked(key)
	if len(selector) == 0 {
		return
	}
	var best labelPair
	bestLen := -1
	for k, v := range selector {
		p := labelPair{ns, k, v}
		n := len(x.byPair[p])
		// Ties go to the smaller key, so that filing does not depend on
		// map order.
		if bestLen < 0 || n < bestLen || (n == bestLen && k < best.key) {
			best, bestLen = p, n
		}
	}
	x.byPair[best] = append(x.byPair[best], filedService{key, selector})
	x.filedAs[key] = best
}

func (x *selectorIndex) remove(key string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.removeLocked(key)
}

func (x *selectorIndex) removeLocked(key string) {
	p, ok := x.filedAs[key]
	if !ok {
		return
	}
	delete(x.filedAs, key)
	bucket := x.byPair[p]
	i := slices.IndexFunc(bucket, func(f filedService) bool { return f.key == key })
	last := len(bucket) - 1
	bucket[i] = bucket[last]
	bucket[last] = filedService{} // no reference kept past the length
	if last == 0 {
		delete(x.byPair, p)
	} else {
		x.byPair[p] = bucket[:last]
	}
}

// candidates calls fn with every Service of ns filed under one of labels'
// pairs: a superset of those selecting labels, each once. fn runs under
// the index's read lock and must not call back into it.
func (x *selectorIndex) candidates(ns string, labels map[string]string, fn func(key string, selector map[string]string)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for k, v := range labels {
		for _, f := range x.byPair[labelPair{ns, k, v}] {
			fn(f.key, f.selector)
		}
	}
}
