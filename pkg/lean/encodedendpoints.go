package lean

import (
	"bytes"
	"fmt"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
)

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
				e.Namespace = endpoints.Intern(string(b))
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
