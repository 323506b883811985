package lean

import (
	"fmt"
	"maps"
	"slices"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
)

// Decoding a v1.Pod from the API server's protobuf only to keep a few of
// its fields was a tenth of the controller's CPU and most of its garbage
// (managed fields alone are half a pod). Unmarshal reads the same bytes
// straight into the pod view, skipping the rest unparsed; fuzz tests check
// the result against endpoints.NewPod of the full decode.

// Pod is a pod as the pod informer decodes it: the view the cache keeps,
// and what the informer's reflector needs of a runtime.Object.
type Pod struct {
	endpoints.Pod

	// initialEventsEnd marks the bookmark that ends the initial events
	// of a watch list.
	initialEventsEnd bool
}

// Reset clears p; with Unmarshal it lets the protobuf serializer decode
// pods into Pods.
func (p *Pod) Reset() { *p = Pod{} }

// podState is what decoding a pod gathers across its fields: protobuf
// merges a message sent in parts (metadata, spec or status repeated), as
// v1.Pod's decoder does.
type podState struct {
	ports     podPorts
	labels    labelPairs
	seenReady bool
}

// Unmarshal decodes the protobuf encoding of a v1.Pod into p.
func (p *Pod) Unmarshal(data []byte) error {
	var st podState
	err := eachField(data, func(f int, b []byte, _ uint64) error {
		switch f {
		case 1:
			return p.unmarshalMeta(b, &st.labels)
		case 2:
			return p.unmarshalSpec(b, &st.ports)
		case 3:
			return p.unmarshalStatus(b, &st.seenReady)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("decoding pod: %w", err)
	}
	p.Labels = st.labels.interned()
	p.Ports = st.ports.interned()
	return nil
}

func (p *Pod) unmarshalMeta(data []byte, labels *labelPairs) error {
	return eachField(data, func(f int, b []byte, _ uint64) error {
		switch f {
		case 1:
			p.Name = string(b)
		case 3:
			p.Namespace = endpoints.Intern(string(b))
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
}

func (p *Pod) unmarshalSpec(data []byte, ports *podPorts) error {
	return eachField(data, func(f int, b []byte, _ uint64) error {
		switch f {
		case 2:
			return ports.addContainer(b, false)
		case 20:
			return ports.addContainer(b, true)
		case 10:
			p.NodeName = endpoints.Intern(string(b))
		case 16:
			p.Hostname = string(b)
		case 17:
			p.Subdomain = string(b)
		}
		return nil
	})
}

func (p *Pod) unmarshalStatus(data []byte, seenReady *bool) error {
	return eachField(data, func(f int, b []byte, _ uint64) error {
		switch f {
		case 1:
			p.Done = endpoints.TerminalPhase(v1.PodPhase(b))
		case 6:
			p.PodIP = string(b)
		case 12:
			var ip v1.PodIP
			err := eachField(b, func(f int, b []byte, _ uint64) error {
				if f == 1 {
					ip.IP = p.PodIP // podIP comes first: the same string, kept once
					if string(b) != ip.IP {
						ip.IP = string(b)
					}
				}
				return nil
			})
			p.PodIPs = append(p.PodIPs, ip)
			return err
		case 2:
			if *seenReady {
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
			*seenReady = true
			p.Ready = string(status) == string(v1.ConditionTrue)
			if since != nil {
				var t metav1.Time
				t, err = unmarshalTime(since)
				p.ReadySince = endpoints.UnixNanos(t)
			}
			return err
		}
		return nil
	})
}

// podPorts collects container ports while decoding: those of regular
// containers, then those of sidecars, whatever order the fields come in.
type podPorts struct {
	regular, sidecar []endpoints.NamedPort
	buf              [8]endpoints.NamedPort
}

func (pp *podPorts) addContainer(data []byte, init bool) error {
	var ports []endpoints.NamedPort
	sidecar := false
	err := eachField(data, func(f int, b []byte, _ uint64) error {
		switch f {
		case 6:
			var np endpoints.NamedPort
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

func (pp *podPorts) interned() []endpoints.NamedPort {
	if len(pp.sidecar) == 0 {
		return endpoints.InternPorts(pp.regular)
	}
	return endpoints.InternPorts(append(append(pp.buf[:0], pp.regular...), pp.sidecar...))
}

// labelPairs collects labels as views into the message being decoded;
// interned copies them out only for a label set not seen before.
type labelPairs struct {
	pairs []endpoints.LabelPair
	buf   [16]endpoints.LabelPair
}

func (l *labelPairs) add(k, v []byte) {
	if l.pairs == nil {
		l.pairs = l.buf[:0]
	}
	l.pairs = append(l.pairs, endpoints.LabelPair{Key: view(k), Value: view(v)})
}

func (l *labelPairs) interned() map[string]string {
	if len(l.pairs) == 0 {
		return nil
	}
	return endpoints.InternLabelPairs(l.pairs)
}

// GetObjectMeta gives the reflector the pod's key and resource version,
// and tells the bookmark that ends a watch list.
func (p *Pod) GetObjectMeta() metav1.Object {
	return withInitialEventsEnd(&metav1.ObjectMeta{
		Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion,
		Labels: p.Labels, DeletionTimestamp: p.DeletionTimestamp,
	}, p.initialEventsEnd)
}

// GetObjectKind and DeepCopyObject make a Pod a runtime.Object.
func (p *Pod) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

// DeepCopyObject returns a deep copy of p.
func (p *Pod) DeepCopyObject() runtime.Object {
	out := *p
	out.Labels = maps.Clone(p.Labels)
	out.DeletionTimestamp = p.DeletionTimestamp.DeepCopy()
	out.PodIPs = slices.Clone(p.PodIPs)
	out.Ports = slices.Clone(p.Ports)
	return &out
}
