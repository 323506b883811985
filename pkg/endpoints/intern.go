package endpoints

import (
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
// being decoded: they are copied when kept. The lookup key is built on the
// stack; label keys and values hold no NUL.
func InternLabelPairs(pairs []LabelPair) map[string]string {
	slices.SortStableFunc(pairs, func(a, b LabelPair) int { return strings.Compare(a.Key, b.Key) })
	var buf [512]byte
	key := buf[:0]
	for _, p := range pairs {
		key = append(key, p.Key...)
		key = append(key, 0)
		key = append(key, p.Value...)
		key = append(key, 0)
	}
	labelsIntern.Lock()
	defer labelsIntern.Unlock()
	if m, ok := labelsIntern.m[string(key)]; ok {
		return m
	}
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		m[strings.Clone(p.Key)] = strings.Clone(p.Value)
	}
	if len(labelsIntern.m) >= maxInternedLabels {
		clear(labelsIntern.m) // many unique label sets (StatefulSet pods): start over
	}
	labelsIntern.m[string(key)] = m
	return m
}

// maxInternedLabels bounds the interned label maps; once full, the table
// starts over, so maps no pod uses any more are not kept for long.
const maxInternedLabels = 16384

var labelsIntern = struct {
	sync.Mutex
	m map[string]map[string]string
}{m: map[string]map[string]string{}}
