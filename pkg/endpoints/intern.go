package endpoints

import (
	"hash/maphash"
	"iter"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unique"
)

// Intern returns the canonical copy of a string repeated across objects
// (namespace, node name), so that the cache holds it once.
func Intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

// InternPorts returns a list equal to ports (which it does not keep),
// shared with the pods of the same template. It allocates only for a list
// not seen before.
func InternPorts(ports []NamedPort) []NamedPort {
	if len(ports) == 0 {
		return nil
	}
	var buf [256]byte
	key := buf[:0]
	for _, p := range ports {
		key = append(key, p.Name...)
		key = append(key, 0)
		key = append(key, p.Protocol...)
		key = append(key, 0)
		key = strconv.AppendInt(key, int64(p.Port), 10)
		key = append(key, 0)
	}
	portsIntern.Lock()
	defer portsIntern.Unlock()
	if shared, ok := portsIntern.m[string(key)]; ok {
		return shared
	}
	shared := slices.Clone(ports)
	if len(portsIntern.m) >= maxInternedPorts {
		clear(portsIntern.m) // rare: that many templates; start over
	}
	portsIntern.m[string(key)] = shared
	return shared
}

// maxInternedPorts bounds the interned port lists; each is a few bytes.
const maxInternedPorts = 4096

var portsIntern = struct {
	sync.Mutex
	m map[string][]NamedPort
}{m: map[string][]NamedPort{}}

// InternLabels returns a map equal to labels, shared with every object
// interned with the same labels (the pods of one ReplicaSet, typically).
// Nobody may modify it.
func InternLabels(labels map[string]string) map[string]string {
	if len(labels) == 0 {
		return labels
	}
	var buf [16]LabelPair
	pairs := buf[:0]
	for k, v := range labels {
		pairs = append(pairs, LabelPair{k, v})
	}
	return InternLabelPairs(pairs)
}

// LabelPair is one label, for InternLabelPairs.
type LabelPair struct{ Key, Value string }

// InternLabelPairs returns the interned map holding pairs,
// creating it if needed; of pairs with the same key the last counts, as
// when decoding a map. It sorts pairs, which may be views into a buffer
// being decoded: they are copied when kept, values as they are and keys
// interned (a few keys recur in every set).
//
// The table is keyed by a hash of the pairs, not by their text (a copy of
// every set, a quarter of the interned bytes), and a hit is compared with
// the pairs: a collision costs a map, never a wrong one.
func InternLabelPairs(pairs []LabelPair) map[string]string {
	slices.SortStableFunc(pairs, func(a, b LabelPair) int { return strings.Compare(a.Key, b.Key) })
	var h maphash.Hash
	h.SetSeed(labelsSeed)
	for p := range effective(pairs) {
		maphash.WriteComparable(&h, p)
	}
	key := h.Sum64()
	labelsIntern.Lock()
	defer labelsIntern.Unlock()
	if m, ok := labelsIntern.m[key]; ok && holds(m, pairs) {
		return m
	}
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		m[Intern(p.Key)] = strings.Clone(p.Value)
	}
	if len(labelsIntern.m) >= maxInternedLabels {
		clear(labelsIntern.m) // many unique label sets (StatefulSet pods): start over
	}
	labelsIntern.m[key] = m
	return m
}

// holds reports whether m is the map sorted pairs make: for each key the
// last value.
func holds(m map[string]string, pairs []LabelPair) bool {
	n := 0
	for p := range effective(pairs) {
		if v, ok := m[p.Key]; !ok || v != p.Value {
			return false
		}
		n++
	}
	return n == len(m)
}

// effective yields the pairs of sorted pairs that count: of pairs with the
// same key, the last.
func effective(pairs []LabelPair) iter.Seq[LabelPair] {
	return func(yield func(LabelPair) bool) {
		for i, p := range pairs {
			if i+1 < len(pairs) && pairs[i+1].Key == p.Key {
				continue // a later value counts
			}
			if !yield(p) {
				return
			}
		}
	}
}

var labelsSeed = maphash.MakeSeed()

// maxInternedLabels bounds the interned label maps; once full, the table
// starts over, so maps no pod uses any more are not kept for long.
const maxInternedLabels = 16384

var labelsIntern = struct {
	sync.Mutex
	m map[uint64]map[string]string
}{m: map[uint64]map[string]string{}}
