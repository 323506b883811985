package endpoints

import (
	"bytes"
	"hash"
	"hash/fnv"
	"slices"
	"strconv"

	v1 "k8s.io/api/core/v1"
)

// The built-in orders the ports of a subset, and subsets, by the FNV-128a
// hash of each element as k8s.io/utils/dump.ForHash prints it (bytes
// compared), so that is the order we write too: the stored bytes then match
// the built-in's. Unlike the built-in, which hashes both sides of every
// comparison, each element is hashed once per sort; and the text is printed
// here rather than by spew (reflection), which costs several microseconds
// per address. TestForHash holds the two outputs equal.

type hashed[T any] struct {
	sum [16]byte
	v   T
}

// hashText collects the text of one element, handing it to the hash in
// chunks so that a large subset needs no buffer of its own size.
type hashText struct {
	h hash.Hash // nil: keep all the text in b
	b []byte
}

func (t *hashText) flushIfBig() {
	if t.h != nil && len(t.b) >= 4<<10 {
		t.h.Write(t.b)
		t.b = t.b[:0]
	}
}

// sortByHash sorts s in place by the hash of each element as put by
// write. A single element is not hashed.
func sortByHash[T any](s []T, write func(*hashText, *T)) {
	if len(s) < 2 {
		return
	}
	t := &hashText{h: fnv.New128a()}
	hs := make([]hashed[T], len(s))
	for i := range s {
		t.h.Reset()
		write(t, &s[i])
		t.h.Write(t.b)
		t.b = t.b[:0]
		hs[i].v = s[i]
		t.h.Sum(hs[i].sum[:0])
	}
	// Equal hashes mean equal texts, i.e. interchangeable elements.
	slices.SortFunc(hs, func(a, b hashed[T]) int { return bytes.Compare(a.sum[:], b.sum[:]) })
	for i := range hs {
		s[i] = hs[i].v
	}
}

func sortPortsByHash(ports []v1.EndpointPort) {
	sortByHash(ports, func(t *hashText, p *v1.EndpointPort) {
		t.b = appendPort(append(t.b, "(v1.EndpointPort)"...), p)
	})
}

func sortSubsetsByHash(subsets []v1.EndpointSubset) {
	sortByHash(subsets, func(t *hashText, s *v1.EndpointSubset) {
		t.b = append(t.b, "(v1.EndpointSubset)"...)
		t.subset(s)
	})
}

// These print a value as dump.ForHash does inside a container (without the
// leading type of the value itself).

func (t *hashText) subset(s *v1.EndpointSubset) {
	t.b = append(t.b, "{Addresses:"...)
	t.addresses(s.Addresses)
	t.b = append(t.b, " NotReadyAddresses:"...)
	t.addresses(s.NotReadyAddresses)
	t.b = append(t.b, " Ports:([]v1.EndpointPort)"...)
	if s.Ports == nil {
		t.b = append(t.b, "<nil>}"...)
		return
	}
	t.b = append(t.b, '[')
	for i := range s.Ports {
		if i > 0 {
			t.b = append(t.b, ' ')
		}
		t.b = appendPort(t.b, &s.Ports[i])
	}
	t.b = append(t.b, "]}"...)
}

func (t *hashText) addresses(as []v1.EndpointAddress) {
	t.b = append(t.b, "([]v1.EndpointAddress)"...)
	if as == nil {
		t.b = append(t.b, "<nil>"...)
		return
	}
	t.b = append(t.b, '[')
	for i := range as {
		if i > 0 {
			t.b = append(t.b, ' ')
		}
		t.b = appendAddress(t.b, &as[i])
		t.flushIfBig()
	}
	t.b = append(t.b, ']')
}

func appendAddress(b []byte, a *v1.EndpointAddress) []byte {
	b = append(b, "{IP:(string)"...)
	b = append(b, a.IP...)
	b = append(b, " Hostname:(string)"...)
	b = append(b, a.Hostname...)
	b = append(b, " NodeName:"...)
	b = appendStrPtr(b, a.NodeName)
	b = append(b, " TargetRef:(*v1.ObjectReference)"...)
	if r := a.TargetRef; r == nil {
		b = append(b, "<nil>"...)
	} else {
		b = append(b, "{Kind:(string)"...)
		b = append(b, r.Kind...)
		b = append(b, " Namespace:(string)"...)
		b = append(b, r.Namespace...)
		b = append(b, " Name:(string)"...)
		b = append(b, r.Name...)
		b = append(b, " UID:(types.UID)"...)
		b = append(b, r.UID...)
		b = append(b, " APIVersion:(string)"...)
		b = append(b, r.APIVersion...)
		b = append(b, " ResourceVersion:(string)"...)
		b = append(b, r.ResourceVersion...)
		b = append(b, " FieldPath:(string)"...)
		b = append(b, r.FieldPath...)
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendPort(b []byte, p *v1.EndpointPort) []byte {
	b = append(b, "{Name:(string)"...)
	b = append(b, p.Name...)
	b = append(b, " Port:(int32)"...)
	b = strconv.AppendInt(b, int64(p.Port), 10)
	b = append(b, " Protocol:(v1.Protocol)"...)
	b = append(b, p.Protocol...)
	b = append(b, " AppProtocol:"...)
	b = appendStrPtr(b, p.AppProtocol)
	return append(b, '}')
}

func appendStrPtr(b []byte, s *string) []byte {
	b = append(b, "(*string)"...)
	if s == nil {
		return append(b, "<nil>"...)
	}
	return append(b, *s...)
}
