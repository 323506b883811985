package endpoints

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The API server answers every Endpoints write with the object it stored,
// which is almost always what was sent plus new metadata. Decoding its
// subsets again (an object per address and target reference) was most of
// the garbage a write made. DecodeWritten reads the answer's metadata and
// takes the sent subsets when the answer holds the same bytes as the
// request EncodeEndpoints made.

// protobufMagic starts every object the API server encodes as protobuf.
var protobufMagic = []byte("k8s\x00")

// IsProtobuf reports whether data is an API object encoded as protobuf.
func IsProtobuf(data []byte) bool { return bytes.HasPrefix(data, protobufMagic) }

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

// unwrap returns the encoded object inside the API server's protobuf
// envelope (magic, then a runtime.Unknown), checking it is of kind.
func unwrap(data []byte, kind string) ([]byte, error) {
	if !IsProtobuf(data) {
		return nil, errors.New("not a protobuf-encoded object")
	}
	var gotKind, raw []byte
	err := eachField(data[len(protobufMagic):], func(f int, b []byte, _ uint64) error {
		switch f {
		case 1: // typeMeta
			return eachField(b, func(f int, b []byte, _ uint64) error {
				if f == 2 {
					gotKind = b
				}
				return nil
			})
		case 2:
			raw = b
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("decoding protobuf envelope: %w", err)
	}
	if string(gotKind) != kind {
		return nil, fmt.Errorf("expected a %s, got a %q", kind, gotKind)
	}
	return raw, nil
}

// EncodedEndpoints is a v1.Endpoints read from a watch, left encoded but
// for its identity until the cache knows whether it is the echo of a write
// of this controller's, whose answer was decoded already.
type EncodedEndpoints struct {
	Namespace, Name, ResourceVersion string
	// Data is the encoded v1.Endpoints.
	Data []byte

	initialEventsEnd bool
}

// Reset and Unmarshal let the protobuf serializer decode Endpoints into
// EncodedEndpoints.
func (e *EncodedEndpoints) Reset() { *e = EncodedEndpoints{} }

// Unmarshal keeps a copy of data, reading only the identity.
func (e *EncodedEndpoints) Unmarshal(data []byte) error {
	e.Data = bytes.Clone(data)
	err := eachField(e.Data, func(f int, b []byte, _ uint64) error {
		if f != 1 {
			return nil
		}
		return eachField(b, func(f int, b []byte, _ uint64) error {
			switch f {
			case 1:
				e.Name = string(b)
			case 3:
				e.Namespace = Intern(string(b))
			case 6:
				e.ResourceVersion = string(b)
			case 12:
				return markInitialEventsEnd(b, &e.initialEventsEnd)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("decoding endpoints: %w", err)
	}
	return nil
}

// Decode decodes the whole object.
func (e *EncodedEndpoints) Decode() (*v1.Endpoints, error) {
	ep := &v1.Endpoints{}
	if err := ep.Unmarshal(e.Data); err != nil {
		return nil, fmt.Errorf("decoding endpoints %s/%s: %w", e.Namespace, e.Name, err)
	}
	return ep, nil
}

// GetObjectMeta gives the informer its key and resource version, and
// tells the bookmark that ends a watch list.
func (e *EncodedEndpoints) GetObjectMeta() metav1.Object {
	return withInitialEventsEnd(&metav1.ObjectMeta{Namespace: e.Namespace, Name: e.Name, ResourceVersion: e.ResourceVersion},
		e.initialEventsEnd)
}

// GetObjectKind and DeepCopyObject make EncodedEndpoints a runtime.Object.
func (e *EncodedEndpoints) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

// DeepCopyObject returns a deep copy of e.
func (e *EncodedEndpoints) DeepCopyObject() runtime.Object {
	out := *e
	out.Data = bytes.Clone(e.Data)
	return &out
}
