package endpoints

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"maps"

	v1 "k8s.io/api/core/v1"
)

// Digest identifies a list of subsets as SubsetsEqual compares them: equal
// digests mean equal subsets (SHA-256: no collision is known). A cache that
// keeps an Endpoints' canonical subsets as their digest (32 bytes instead of
// some 200 per address) still tells whether desired subsets are the same.
type Digest [sha256.Size]byte

// DigestOf returns the digest of subsets. It feeds every field SubsetsEqual
// compares, each with its length or presence, and nothing it ignores (the
// target references' resource versions).
func DigestOf(subsets []v1.EndpointSubset) Digest {
	d := digester{h: sha256.New()}
	d.int(len(subsets))
	for i := range subsets {
		s := &subsets[i]
		d.addresses(s.Addresses)
		d.addresses(s.NotReadyAddresses)
		d.int(len(s.Ports))
		for _, p := range s.Ports {
			d.str(p.Name)
			d.int(int(p.Port))
			d.str(string(p.Protocol))
			d.strPtr(p.AppProtocol)
		}
	}
	var out Digest
	d.h.Sum(out[:0])
	return out
}

type digester struct {
	h   hash.Hash
	buf [binary.MaxVarintLen64]byte
}

func (d *digester) int(n int) { d.h.Write(binary.AppendVarint(d.buf[:0], int64(n))) }

func (d *digester) str(s string) {
	d.int(len(s))
	d.h.Write([]byte(s))
}

func (d *digester) strPtr(s *string) {
	if s == nil {
		d.int(-1)
		return
	}
	d.str(*s)
}

func (d *digester) addresses(addrs []v1.EndpointAddress) {
	d.int(len(addrs))
	for i := range addrs {
		a := &addrs[i]
		d.str(a.IP)
		d.str(a.Hostname)
		d.strPtr(a.NodeName)
		if r := a.TargetRef; r == nil {
			d.int(-1)
		} else {
			d.str(r.Kind)
			d.str(r.Namespace)
			d.str(r.Name)
			d.str(string(r.UID))
			d.str(r.APIVersion)
			d.str(r.FieldPath)
		}
	}
}

// UpToDateDigest is UpToDate for a cur whose subsets, in canonical form and
// not truncated, are known by their digest only.
func UpToDateDigest(cur *v1.Endpoints, sum Digest, d Desired) bool {
	if d.Truncated || !maps.Equal(cur.Labels, d.Labels) {
		return false
	}
	if _, ok := cur.Annotations[v1.EndpointsOverCapacity]; ok {
		return false
	}
	return DigestOf(d.Subsets) == sum
}

// Canonical reports whether subsets are in the canonical form Repack gives
// (how the built-in and this controller write them): two canonical lists
// differ exactly when the addresses and ports they hold do.
func Canonical(subsets []v1.EndpointSubset) bool {
	return SubsetsEqual(Repack(subsets), subsets)
}
