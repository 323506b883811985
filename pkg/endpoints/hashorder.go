package endpoints

import (
	"bytes"
	"hash"
	"hash/fnv"
	"io"
	"slices"

	v1 "k8s.io/api/core/v1"
	utildump "k8s.io/utils/dump"
)

// The built-in orders the ports of a subset, and subsets, by the FNV-128a
// hash of each element as dump.ForHash prints it (bytes compared), so that
// is the order we write too: the stored bytes then match the built-in's.
// Unlike the built-in, which hashes both sides of every comparison, each
// element is hashed once per sort.

// hashSum is the built-in's DeepHashObject of v into a reset h.
func hashSum(h hash.Hash, v any) (sum [16]byte) {
	h.Reset()
	_, _ = io.WriteString(h, utildump.ForHash(v))
	h.Sum(sum[:0])
	return sum
}

type hashed[T any] struct {
	sum [16]byte
	v   T
}

// sortByHash sorts s in place by the hash of each element. A single
// element is not hashed: a 1000-address subset costs a millisecond.
func sortByHash[T any](s []T) {
	if len(s) < 2 {
		return
	}
	h := fnv.New128a()
	hs := make([]hashed[T], len(s))
	for i := range s {
		hs[i] = hashed[T]{hashSum(h, s[i]), s[i]}
	}
	// Equal hashes mean equal dumps, i.e. interchangeable elements.
	slices.SortFunc(hs, func(a, b hashed[T]) int { return bytes.Compare(a.sum[:], b.sum[:]) })
	for i := range hs {
		s[i] = hs[i].v
	}
}

func sortPortsByHash(ports []v1.EndpointPort)       { sortByHash(ports) }
func sortSubsetsByHash(subsets []v1.EndpointSubset) { sortByHash(subsets) }
