package endpoints

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// Decoding a v1.Pod from the API server's protobuf only to keep a few of
// its fields was a tenth of the controller's CPU and most of its garbage
// (managed fields alone are half a pod). Unmarshal reads the same bytes
// straight into a Pod, skipping the rest unparsed. Field numbers are those
// of k8s.io/api/core/v1/generated.proto; a test checks the result against
// NewPod of the full decode for every field read.

// Reset clears p; with Unmarshal it lets the protobuf serializer decode
// pods into Pods.
func (p *Pod) Reset() { *p = Pod{} }

// Unmarshal decodes the protobuf encoding of a v1.Pod into p.
func (p *Pod) Unmarshal(data []byte) error {
	var ports podPorts
	err := eachField(data, func(f int, b []byte, _ uint64) error {
		switch f {
		case 1:
			return p.unmarshalMeta(b)
		case 2:
			return p.unmarshalSpec(b, &ports)
		case 3:
			return p.unmarshalStatus(b)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("decoding pod: %w", err)
	}
	p.Ports = ports.interned()
	return nil
}

func (p *Pod) unmarshalMeta(data []byte) error {
	var labels labelPairs
	err := eachField(data, func(f int, b []byte, _ uint64) error {
		switch f {
		case 1:
			p.Name = string(b)
		case 3:
			p.Namespace = Intern(string(b))
		case 5:
			p.UID = types.UID(b)
		case 6:
			p.ResourceVersion = string(b)
		case 9:
			t, err := unmarshalTime(b)
			p.DeletionTimestamp = &t
			return err
		case 11:
			k, v, err := mapEntry(b)
			labels.add(k, v)
			return err
		case 12:
			return markInitialEventsEnd(b, &p.initialEventsEnd)
		}
		return nil
	})
	if err == nil {
		p.Labels = labels.interned()
	}
	return err
}

func (p *Pod) unmarshalSpec(data []byte, ports *podPorts) error {
	return eachField(data, func(f int, b []byte, _ uint64) error {
		switch f {
		case 2:
			return ports.addContainer(b, false)
		case 20:
			return ports.addContainer(b, true)
		case 10:
			p.NodeName = Intern(string(b))
		case 16:
			p.Hostname = string(b)
		case 17:
			p.Subdomain = string(b)
		}
		return nil
	})
}

func (p *Pod) unmarshalStatus(data []byte) error {
	seenReady := false
	return eachField(data, func(f int, b []byte, _ uint64) error {
		switch f {
		case 1:
			p.Phase = v1.PodPhase(b)
		case 6:
			p.PodIP = string(b)
		case 12:
			var ip v1.PodIP
			err := eachField(b, func(f int, b []byte, _ uint64) error {
				if f == 1 {
					ip.IP = string(b)
				}
				return nil
			})
			p.PodIPs = append(p.PodIPs, ip)
			return err
		case 2:
			if seenReady {
				return nil // the first Ready condition counts
			}
			var typ, status, since []byte
			err := eachField(b, func(f int, b []byte, _ uint64) error {
				switch f {
				case 1:
					typ = b
				case 2:
					status = b
				case 4:
					since = b
				}
				return nil
			})
			if err != nil || string(typ) != string(v1.PodReady) {
				return err
			}
			seenReady = true
			p.Ready = string(status) == string(v1.ConditionTrue)
			if since != nil {
				p.ReadySince, err = unmarshalTime(since)
			}
			return err
		}
		return nil
	})
}

// podPorts collects container ports while decoding: those of regular
// containers, then those of sidecars, whatever order the fields come in.
type podPorts struct {
	regular, sidecar []NamedPort
	buf              [8]NamedPort
}

func (pp *podPorts) addContainer(data []byte, init bool) error {
	var ports []NamedPort
	sidecar := false
	err := eachField(data, func(f int, b []byte, _ uint64) error {
		switch f {
		case 6:
			var np NamedPort
			err := eachField(b, func(f int, b []byte, n uint64) error {
				switch f {
				case 1:
					np.Name = string(b)
				case 3:
					np.Port = int32(n)
				case 4:
					np.Protocol = v1.Protocol(b)
				}
				return nil
			})
			ports = append(ports, np)
			return err
		case 24:
			sidecar = string(b) == string(v1.ContainerRestartPolicyAlways)
		}
		return nil
	})
	switch {
	case !init:
		pp.regular = append(pp.regular, ports...)
	case sidecar:
		pp.sidecar = append(pp.sidecar, ports...)
	}
	return err
}

func (pp *podPorts) interned() []NamedPort {
	if len(pp.sidecar) == 0 {
		return internPorts(pp.regular)
	}
	return internPorts(append(append(pp.buf[:0], pp.regular...), pp.sidecar...))
}

// labelPairs collects labels as views into the message being decoded;
// interned copies them out only for a label set not seen before.
type labelPairs struct {
	pairs []labelPair
	buf   [16]labelPair
}

func (l *labelPairs) add(k, v []byte) {
	if l.pairs == nil {
		l.pairs = l.buf[:0]
	}
	l.pairs = append(l.pairs, labelPair{view(k), view(v)})
}

func (l *labelPairs) interned() map[string]string {
	if len(l.pairs) == 0 {
		return nil
	}
	return internLabelPairs(l.pairs)
}

// view is b as a string without copying: valid only while b is, so only
// for lookups.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// markInitialEventsEnd sets *end if the annotation encoded in entry is
// the one marking the bookmark that ends a watch list.
func markInitialEventsEnd(entry []byte, end *bool) error {
	k, v, err := mapEntry(entry)
	if string(k) == metav1.InitialEventsAnnotationKey && string(v) == "true" {
		*end = true
	}
	return err
}

// withInitialEventsEnd adds to m the annotation of the bookmark ending a
// watch list if end, for the reflector to see.
func withInitialEventsEnd(m *metav1.ObjectMeta, end bool) *metav1.ObjectMeta {
	if end {
		m.Annotations = map[string]string{metav1.InitialEventsAnnotationKey: "true"}
	}
	return m
}

func mapEntry(data []byte) (k, v []byte, err error) {
	err = eachField(data, func(f int, b []byte, _ uint64) error {
		switch f {
		case 1:
			k = b
		case 2:
			v = b
		}
		return nil
	})
	return k, v, err
}

// unmarshalTime decodes a metav1.Time as its own Unmarshal does: whole
// seconds, local time, zero when empty.
func unmarshalTime(data []byte) (metav1.Time, error) {
	if len(data) == 0 {
		return metav1.Time{}, nil
	}
	var sec uint64
	err := eachField(data, func(f int, _ []byte, n uint64) error {
		if f == 1 {
			sec = n
		}
		return nil
	})
	return metav1.Time{Time: time.Unix(int64(sec), 0).Local()}, err
}

var errTruncated = errors.New("truncated protobuf")

// eachField calls fn for every field of a protobuf message: with its bytes
// for length-delimited fields, its value for varints. Fixed-size fields
// and groups (long deprecated, never sent by the API server) are skipped.
func eachField(data []byte, fn func(field int, b []byte, n uint64) error) error {
	depth := 0 // of groups being skipped
	for i := 0; i < len(data); {
		key, n := uvarint(data[i:])
		if n <= 0 {
			return errTruncated
		}
		i += n
		field, wire := int(key>>3), key&7
		var b []byte
		var v uint64
		switch wire {
		case 0: // varint
			if v, n = uvarint(data[i:]); n <= 0 {
				return errTruncated
			}
			i += n
		case 1: // fixed64
			i += 8
		case 5: // fixed32
			i += 4
		case 2: // length-delimited
			l, n := uvarint(data[i:])
			if n <= 0 || l > uint64(len(data)-i-n) {
				return errTruncated
			}
			i += n
			b = data[i : i+int(l) : i+int(l)]
			i += int(l)
		case 3: // start group
			depth++
			continue
		case 4: // end group
			if depth == 0 {
				return errors.New("protobuf group ends before it starts")
			}
			depth--
			continue
		default:
			return fmt.Errorf("unexpected protobuf wire type %d", wire)
		}
		if i > len(data) {
			return errTruncated
		}
		if depth > 0 || (wire != 0 && wire != 2) {
			continue
		}
		if err := fn(field, b, v); err != nil {
			return err
		}
	}
	if depth > 0 {
		return errTruncated
	}
	return nil
}

// uvarint decodes a varint; n <= 0 when data ends first or it overflows.
func uvarint(data []byte) (v uint64, n int) {
	for shift := uint(0); shift < 64; shift += 7 {
		if n >= len(data) {
			return 0, 0
		}
		b := data[n]
		n++
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return v, n
		}
	}
	return 0, -1
}

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
