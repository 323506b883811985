package lean

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// PodList is a v1.PodList decoded the same way, for list requests.
type PodList struct {
	metav1.TypeMeta
	metav1.ListMeta
	Items []Pod
}

// Reset clears l.
func (l *PodList) Reset() { *l = PodList{} }

// Unmarshal decodes the protobuf encoding of a v1.PodList into l.
func (l *PodList) Unmarshal(data []byte) error {
	return eachField(data, func(f int, b []byte, _ uint64) error {
		switch f {
		case 1:
			return eachField(b, func(f int, b []byte, n uint64) error {
				switch f {
				case 2:
					l.ResourceVersion = string(b)
				case 3:
					l.Continue = string(b)
				case 4:
					c := int64(n)
					l.RemainingItemCount = &c
				}
				return nil
			})
		case 2:
			l.Items = append(l.Items, Pod{})
			return l.Items[len(l.Items)-1].Unmarshal(b)
		}
		return nil
	})
}

// DeepCopyObject returns a deep copy of l.
func (l *PodList) DeepCopyObject() runtime.Object {
	out := &PodList{TypeMeta: l.TypeMeta}
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	for i := range l.Items {
		out.Items = append(out.Items, *l.Items[i].DeepCopyObject().(*Pod))
	}
	return out
}
