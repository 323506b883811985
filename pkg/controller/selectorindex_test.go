package controller

import (
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// TestSelectorIndexFindsEverySelectingService checks the index against a
// scan of every Service, over random selectors, labels and updates.
func TestSelectorIndexFindsEverySelectingService(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randLabels := func(n int) map[string]string {
		m := map[string]string{}
		for range n {
			m["k"+strconv.Itoa(rng.IntN(4))] = "v" + strconv.Itoa(rng.IntN(3))
		}
		return m
	}
	x := newSelectorIndex()
	type svc struct {
		ns       string
		selector map[string]string
	}
	all := map[string]svc{}
	for i := range 3000 {
		key := "s" + strconv.Itoa(rng.IntN(200))
		switch {
		case i%7 == 0:
			x.remove(key)
			delete(all, key)
		default:
			s := svc{ns: "ns" + strconv.Itoa(rng.IntN(2)), selector: randLabels(rng.IntN(4))}
			x.set(key, s.ns, s.selector)
			all[key] = s
		}
		ns, labels := "ns"+strconv.Itoa(rng.IntN(2)), randLabels(1+rng.IntN(4))
		var want, got []string
		for key, s := range all {
			if s.ns == ns && len(s.selector) > 0 && selects(s.selector, labels) {
				want = append(want, key)
			}
		}
		seen := map[string]bool{}
		x.candidates(ns, labels, func(key string, selector map[string]string) {
			if seen[key] {
				t.Fatalf("%s offered twice", key)
			}
			seen[key] = true
			if !maps.Equal(selector, all[key].selector) {
				t.Fatalf("%s: stale selector %v, want %v", key, selector, all[key].selector)
			}
			if selects(selector, labels) {
				got = append(got, key)
			}
		})
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("step %d: labels %v in %s: got %v, want %v", i, labels, ns, got, want)
		}
	}
}

// TestSelectorIndexSpreadsCommonPairs: a pair shared by every selector does
// not gather all Services in one bucket.
func TestSelectorIndexSpreadsCommonPairs(t *testing.T) {
	x := newSelectorIndex()
	for i := range 1000 {
		x.set("ns/s"+strconv.Itoa(i), "ns", map[string]string{"app": "a" + strconv.Itoa(i), "tier": "web"})
	}
	n := 0
	x.candidates("ns", map[string]string{"app": "a500", "tier": "web"}, func(string, map[string]string) { n++ })
	if n > 2 {
		t.Errorf("a pod of one Service got %d candidates", n)
	}
}
