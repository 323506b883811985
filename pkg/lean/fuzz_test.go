package lean

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
)

// The differential tests: whatever the API machinery encodes, the lean
// decoders must read as the standard path does (v1 types' own Unmarshal,
// then endpoints.NewPod), or fail. Inputs are built from the fuzzer's
// bytes, so that every input is a pod and coverage guides the shapes.

// fuzzBytes hands out small choices from the fuzzer's input (0 once
// exhausted, so that every input decodes to something).
type fuzzBytes []byte

func (b *fuzzBytes) pick(n int) int {
	if len(*b) == 0 || n <= 1 {
		return 0
	}
	v := int((*b)[0])
	*b = (*b)[1:]
	if n > 256 && len(*b) > 0 {
		v = v<<8 | int((*b)[0])
		*b = (*b)[1:]
	}
	return v % n
}

func pickOf[T any](b *fuzzBytes, xs ...T) T { return xs[b.pick(len(xs))] }

// huge is a value far larger than any the API server allows in a name,
// to check that nothing assumes a bound.
var huge = strings.Repeat("x", 70000)

var (
	fuzzStrings = []string{"", "a", "web", "ns", "10.0.0.1", "fd00::1", "\x00\xff", strings.Repeat("y", 300), huge}
	fuzzTimes   = []metav1.Time{{}, metav1.NewTime(time.Unix(1.7e9, 0)), metav1.NewTime(time.Unix(1.7e9, 999)), metav1.NewTime(time.Unix(-5, 0))}
	fuzzPorts   = []int32{0, 80, 8080, 65535, -1, math.MaxInt32, math.MinInt32}
	fuzzProtos  = []v1.Protocol{"", v1.ProtocolTCP, v1.ProtocolUDP, v1.ProtocolSCTP, "tcp"}
	fuzzPolicy  = []*v1.ContainerRestartPolicy{nil, always, ptrTo(v1.ContainerRestartPolicyNever), ptrTo(v1.ContainerRestartPolicy(""))}
	fuzzCondTyp = []v1.PodConditionType{v1.PodReady, v1.PodScheduled, v1.ContainersReady, "", "ready"}
	fuzzCondSt  = []v1.ConditionStatus{v1.ConditionTrue, v1.ConditionFalse, v1.ConditionUnknown, ""}
)

func ptrTo[T any](v T) *T { return &v }

func fuzzLabels(b *fuzzBytes) map[string]string {
	n := b.pick(5)
	if n == 0 {
		return nil
	}
	m := map[string]string{}
	for range n {
		m[pickOf(b, "app", "", "pod-template-hash", "k", huge)] = pickOf(b, fuzzStrings...)
	}
	return m
}

func fuzzContainers(b *fuzzBytes, n int) []v1.Container {
	var cs []v1.Container
	for i := range n {
		c := v1.Container{Name: fmt.Sprint("c", i), Image: pickOf(b, "", "img", huge), RestartPolicy: pickOf(b, fuzzPolicy...)}
		for range b.pick(4) {
			c.Ports = append(c.Ports, v1.ContainerPort{Name: pickOf(b, "", "http", "dns", huge), ContainerPort: pickOf(b, fuzzPorts...),
				Protocol: pickOf(b, fuzzProtos...), HostPort: pickOf(b, fuzzPorts...), HostIP: pickOf(b, "", "1.2.3.4")})
		}
		if b.pick(3) == 0 {
			c.Env = []v1.EnvVar{{Name: "A", Value: pickOf(b, fuzzStrings...)}}
		}
		cs = append(cs, c)
	}
	return cs
}

// fuzzPod builds a pod from b: every field the view reads, with empty,
// irregular and huge values, among fields it skips.
func fuzzPod(b *fuzzBytes) *v1.Pod {
	p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: pickOf(b, fuzzStrings...), Namespace: pickOf(b, "", "ns", "kube-system", huge),
		UID: types.UID(pickOf(b, "", "uid-1")), ResourceVersion: pickOf(b, "", "42", "18446744073709551615"),
		Labels: fuzzLabels(b), Annotations: fuzzLabels(b),
	}}
	switch b.pick(4) {
	case 1:
		p.Annotations = map[string]string{metav1.InitialEventsAnnotationKey: pickOf(b, "true", "false", "")}
	case 2:
		p.DeletionTimestamp = ptrTo(pickOf(b, fuzzTimes...))
	}
	if b.pick(3) == 0 {
		p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubelet", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{}}`)}}}
		p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web"}}
	}
	p.Spec.NodeName, p.Spec.Hostname, p.Spec.Subdomain = pickOf(b, fuzzStrings...), pickOf(b, fuzzStrings...), pickOf(b, fuzzStrings...)
	p.Spec.Containers = fuzzContainers(b, b.pick(4))
	p.Spec.InitContainers = fuzzContainers(b, b.pick(4))
	if b.pick(3) == 0 {
		p.Spec.Volumes = []v1.Volume{{Name: "v"}}
		p.Spec.Tolerations = []v1.Toleration{{Key: "k"}}
	}
	p.Status.Phase = pickOf(b, v1.PodRunning, v1.PodPending, v1.PodSucceeded, v1.PodFailed, "", "Weird")
	p.Status.PodIP = pickOf(b, fuzzStrings...)
	for range b.pick(5) {
		p.Status.PodIPs = append(p.Status.PodIPs, v1.PodIP{IP: pickOf(b, fuzzStrings...)})
	}
	for range b.pick(5) {
		p.Status.Conditions = append(p.Status.Conditions, v1.PodCondition{Type: pickOf(b, fuzzCondTyp...), Status: pickOf(b, fuzzCondSt...),
			LastTransitionTime: pickOf(b, fuzzTimes...), LastProbeTime: pickOf(b, fuzzTimes...), Reason: pickOf(b, "", "r")})
	}
	if b.pick(3) == 0 {
		p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "app", Ready: true}}
	}
	return p
}

// message describes the nested messages of an encoding that unknown
// fields are added to: field number → the message it holds.
type message map[protowire.Number]message

var (
	podMessage = message{
		1: {9: {}, 11: {}, 12: {}}, // metadata: deletionTimestamp, labels, annotations
		2: {2: containerMessage, 20: containerMessage},
		3: {2: {3: {}, 4: {}}, 12: {}}, // status: conditions (and their times), podIPs
	}
	containerMessage = message{6: {}} // ports
	listMessage      = message{1: {}, 2: podMessage}
)

// withUnknown adds fields unknown to the v1 types (new fields, of every
// wire type, groups included) to msg and the messages m says it holds.
func withUnknown(b *fuzzBytes, msg []byte, m message) []byte {
	var out []byte
	if b.pick(2) == 1 {
		out = appendUnknown(b, out)
	}
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			panic("bad encoding")
		}
		m2, nested := m[num]
		if typ != protowire.BytesType || !nested {
			l := protowire.ConsumeFieldValue(num, typ, msg[n:])
			out = append(out, msg[:n+l]...)
			msg = msg[n+l:]
			continue
		}
		v, l := protowire.ConsumeBytes(msg[n:])
		out = protowire.AppendTag(out, num, typ)
		out = protowire.AppendBytes(out, withUnknown(b, v, m2))
		msg = msg[n+l:]
	}
	if b.pick(2) == 1 {
		out = appendUnknown(b, out)
	}
	return out
}

// wellFormed reports whether msg and the messages m says it holds are
// sequences of whole fields, as the lean decoders require of what they
// read. The generated decoders are laxer: a map entry may end past its
// end.
func wellFormed(msg []byte, m message) bool {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return false
		}
		l := protowire.ConsumeFieldValue(num, typ, msg[n:])
		if l < 0 {
			return false
		}
		if m2, nested := m[num]; nested && typ == protowire.BytesType {
			if v, _ := protowire.ConsumeBytes(msg[n:]); !wellFormed(v, m2) {
				return false
			}
		}
		msg = msg[n+l:]
	}
	return true
}

func appendUnknown(b *fuzzBytes, out []byte) []byte {
	num := protowire.Number(1000 + b.pick(3)*100000) // up to 200000: beyond any field so far
	switch b.pick(5) {
	case 0:
		out = protowire.AppendTag(out, num, protowire.VarintType)
		return protowire.AppendVarint(out, math.MaxUint64)
	case 1:
		out = protowire.AppendTag(out, num, protowire.Fixed32Type)
		return protowire.AppendFixed32(out, 7)
	case 2:
		out = protowire.AppendTag(out, num, protowire.Fixed64Type)
		return protowire.AppendFixed64(out, 7)
	case 3:
		// Looks like fields the decoders read (a name, a label), one level down.
		inner := protowire.AppendTag(nil, 1, protowire.BytesType)
		inner = protowire.AppendString(inner, "not-me")
		out = protowire.AppendTag(out, num, protowire.BytesType)
		return protowire.AppendBytes(out, inner)
	default:
		out = protowire.AppendTag(out, num, protowire.StartGroupType)
		out = protowire.AppendTag(out, 1, protowire.BytesType)
		out = protowire.AppendString(out, "in a group")
		return protowire.AppendTag(out, num, protowire.EndGroupType)
	}
}

// standardPod is the standard path: the full decode, then its view.
func standardPod(data []byte) (*v1.Pod, *endpoints.Pod, error) {
	var full v1.Pod
	if err := full.Unmarshal(data); err != nil {
		return nil, nil, err
	}
	return &full, endpoints.NewPod(&full), nil
}

func leanPod(data []byte) (*Pod, error) {
	var p Pod
	if err := p.Unmarshal(data); err != nil {
		return nil, err
	}
	return &p, nil
}

// checkPod decodes data both ways: the lean view must be the standard one
// whenever the standard decoder accepts data. It returns the lean result.
func checkPod(t *testing.T, data []byte) (*Pod, error) {
	t.Helper()
	full, std, stdErr := standardPod(data)
	lean, leanErr := leanPod(data)
	if stdErr != nil {
		return lean, leanErr
	}
	if leanErr != nil {
		if !wellFormed(data, podMessage) {
			// The generated decoders read map entries past their end.
			return lean, leanErr
		}
		t.Fatalf("lean rejects a pod the standard decoder reads: %v", leanErr)
	}
	if !reflect.DeepEqual(&lean.Pod, std) {
		t.Fatalf("views differ:\nlean:     %+v\nstandard: %+v", lean.Pod, *std)
	}
	if got, want := lean.initialEventsEnd, full.Annotations[metav1.InitialEventsAnnotationKey] == "true"; got != want {
		t.Fatalf("end of initial events: lean %v, annotations %v", got, full.Annotations)
	}
	return lean, leanErr
}

// checkDamaged checks a pod encoding cut short or with one byte changed:
// no panic; the standard view when the standard decoder accepts it; and
// an error when cut anywhere but between top-level fields (where both
// decoders accept the shorter pod).
func checkDamaged(t *testing.T, b *fuzzBytes, enc []byte) {
	if len(enc) == 0 {
		return
	}
	cut := enc[:b.pick(len(enc))]
	_, _, stdErr := standardPod(cut)
	if _, err := checkPod(t, cut); stdErr != nil && err == nil {
		t.Fatalf("lean reads a pod cut at %d of %d bytes: %v", len(cut), len(enc), stdErr)
	}
	garbled := append([]byte(nil), enc...)
	garbled[b.pick(len(enc))] ^= byte(1 + b.pick(255))
	_, _ = checkPod(t, garbled)
}

func FuzzPodDecoders(f *testing.F) {
	for _, p := range []*v1.Pod{busyPod(), mkPod("a", "10.0.0.1"), {}} {
		data, _ := p.Marshal()
		f.Add(data)
	}
	f.Add([]byte{})
	f.Add([]byte("\x01\x02\x03\x04\x05\x06\x07\x08\x01\x02\x03\x01\x01\x02\x03\x01\x01\x01\x01\x02\x02\x02\x01\x02\x03\x04\x01\x03\x02\x01"))
	f.Add([]byte(strings.Repeat("\x01\x03\x02", 40)))
	f.Fuzz(func(t *testing.T, data []byte) {
		// The input itself, as bytes a server might send.
		_, _ = checkPod(t, data)

		// A pod built from the input, encoded by the API machinery,
		// with new fields added everywhere or not.
		b := fuzzBytes(data)
		p := fuzzPod(&b)
		enc, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if b.pick(2) == 1 {
			enc = withUnknown(&b, enc, podMessage)
		}
		if _, err := checkPod(t, enc); err != nil {
			t.Fatalf("lean rejects an encoded pod: %v", err)
		}
		checkDamaged(t, &b, enc)

		// Two pods in one message, which protobuf merges (lists append,
		// maps merge, the last scalar counts).
		other, err := fuzzPod(&b).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := checkPod(t, append(enc[:len(enc):len(enc)], other...)); err != nil {
			t.Fatalf("lean rejects two pods merged: %v", err)
		}

		// In a list, as a list request returns it.
		list := &v1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: "7", Continue: pickOf(&b, "", "c")}, Items: []v1.Pod{*p, *mkPod("b", "10.0.0.2")}}
		enc, err = list.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if b.pick(2) == 1 {
			enc = withUnknown(&b, enc, listMessage)
		}
		var got PodList
		if err := got.Unmarshal(enc); err != nil {
			t.Fatalf("lean rejects an encoded pod list: %v", err)
		}
		var full v1.PodList
		if err := full.Unmarshal(enc); err != nil {
			t.Fatal(err)
		}
		if got.ResourceVersion != full.ResourceVersion || got.Continue != full.Continue || len(got.Items) != len(full.Items) {
			t.Fatalf("list: %+v", got.ListMeta)
		}
		for i := range got.Items {
			if want := endpoints.NewPod(&full.Items[i]); !reflect.DeepEqual(&got.Items[i].Pod, want) {
				t.Fatalf("list item %d:\nlean:     %+v\nstandard: %+v", i, got.Items[i].Pod, *want)
			}
		}
	})
}
