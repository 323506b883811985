package lean

import (
	"bytes"
	"fmt"
	"slices"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// The API server answers every Endpoints write with the object it stored,
// which is almost always what was sent plus new metadata. Decoding its
// subsets again (an object per address and target reference) was most of
// the garbage a write made. DecodeWritten reads the answer's metadata and
// takes the sent subsets when the answer holds the same bytes as the
// request EncodeEndpoints made.

// Sent is an Endpoints on its way to the API server: the object, its
// encoding, and the encodings of its subsets within, found once.
type Sent struct {
	Obj     *v1.Endpoints
	Data    []byte
	subsets [][]byte
}

// EncodeEndpoints encodes ep as protobuf, in the envelope the API server
// expects.
func EncodeEndpoints(ep *v1.Endpoints) (*Sent, error) {
	raw, err := ep.Marshal()
	if err != nil {
		return nil, err
	}
	u := runtime.Unknown{TypeMeta: runtime.TypeMeta{APIVersion: "v1", Kind: "Endpoints"}, Raw: raw}
	out := make([]byte, len(protobufMagic)+u.Size())
	copy(out, protobufMagic)
	if _, err := u.MarshalToSizedBuffer(out[len(protobufMagic):]); err != nil {
		return nil, err
	}
	_, subsets, err := endpointsFields(raw)
	if err != nil {
		return nil, err
	}
	return &Sent{Obj: ep, Data: out, subsets: subsets}, nil
}

// DecodeWritten decodes the protobuf answer to a write of sent: see
// DecodeLike.
func DecodeWritten(data []byte, sent *Sent) (ep *v1.Endpoints, same bool, err error) {
	obj, err := unwrap(data, "Endpoints")
	if err != nil {
		return nil, false, err
	}
	return DecodeLike(obj, sent)
}

// DecodeLike decodes the protobuf encoding of an Endpoints (no envelope)
// that likely holds what sent holds: the stored object, or its watch
// event. The result shares sent's subsets when they encode the same; same
// tells whether they did. Managed fields are dropped, as in the cache.
func DecodeLike(data []byte, sent *Sent) (ep *v1.Endpoints, same bool, err error) {
	meta, subsets, err := endpointsFields(data)
	if err != nil {
		return nil, false, err
	}
	if !slices.EqualFunc(subsets, sent.subsets, bytes.Equal) {
		ep = &v1.Endpoints{}
		if err := ep.Unmarshal(data); err != nil {
			return nil, false, fmt.Errorf("decoding endpoints: %w", err)
		}
		ep.ManagedFields = nil
		return ep, false, nil
	}
	ep = &v1.Endpoints{Subsets: sent.Obj.Subsets}
	if err := ep.ObjectMeta.Unmarshal(meta); err != nil {
		return nil, false, fmt.Errorf("decoding endpoints metadata: %w", err)
	}
	ep.ManagedFields = nil
	return ep, true, nil
}

// endpointsFields splits an encoded v1.Endpoints into its metadata and
// the encodings of its subsets.
func endpointsFields(data []byte) (meta []byte, subsets [][]byte, err error) {
	err = eachField(data, func(f int, b []byte, _ uint64) error {
		switch f {
		case 1:
			meta = b
		case 2:
			subsets = append(subsets, b)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("decoding endpoints: %w", err)
	}
	return meta, subsets, nil
}
