package lean

import (
	"bytes"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
)

// endpointsMessage: metadata (deletionTimestamp, labels, annotations) and
// subsets (addresses and their target references, ports).
var endpointsMessage = message{1: {9: {}, 11: {}, 12: {}}, 2: {1: {2: {}}, 2: {2: {}}, 3: {}}}

func fuzzAddresses(b *fuzzBytes, n int) []v1.EndpointAddress {
	var out []v1.EndpointAddress
	for range n {
		a := v1.EndpointAddress{IP: pickOf(b, fuzzStrings...), Hostname: pickOf(b, "", "h")}
		if b.pick(2) == 1 {
			a.NodeName = ptrTo(pickOf(b, "", "n1", huge))
		}
		if b.pick(3) > 0 {
			a.TargetRef = &v1.ObjectReference{Kind: "Pod", Namespace: pickOf(b, "", "ns"), Name: pickOf(b, fuzzStrings...),
				UID: types.UID(pickOf(b, "", "uid")), ResourceVersion: pickOf(b, "", "9")}
		}
		out = append(out, a)
	}
	return out
}

// fuzzEndpoints builds an Endpoints from b, as this controller or anyone
// else might write it.
func fuzzEndpoints(b *fuzzBytes) *v1.Endpoints {
	ep := &v1.Endpoints{ObjectMeta: metav1.ObjectMeta{
		Namespace: pickOf(b, "", "ns", huge), Name: pickOf(b, fuzzStrings...), ResourceVersion: pickOf(b, "", "7"),
		Labels: fuzzLabels(b), Annotations: fuzzLabels(b),
	}}
	if b.pick(4) == 0 {
		ep.Annotations = map[string]string{metav1.InitialEventsAnnotationKey: pickOf(b, "true", "false")}
	}
	for range b.pick(4) {
		s := v1.EndpointSubset{Addresses: fuzzAddresses(b, b.pick(4)), NotReadyAddresses: fuzzAddresses(b, b.pick(3))}
		for range b.pick(4) {
			p := v1.EndpointPort{Name: pickOf(b, "", "http", huge), Port: pickOf(b, fuzzPorts...), Protocol: pickOf(b, fuzzProtos...)}
			if b.pick(3) == 0 {
				p.AppProtocol = ptrTo(pickOf(b, "", "http"))
			}
			s.Ports = append(s.Ports, p)
		}
		ep.Subsets = append(ep.Subsets, s)
	}
	return ep
}

// checkEncoded reads data as the Endpoints informer does: its identity
// and, decoded, the object must be the standard decode's.
func checkEncoded(t *testing.T, data []byte) error {
	t.Helper()
	var e EncodedEndpoints
	err := e.Unmarshal(data)
	var full v1.Endpoints
	if fullErr := full.Unmarshal(data); fullErr != nil {
		if err == nil {
			if _, err := e.Decode(); err == nil {
				t.Fatal("Decode accepts what v1.Endpoints rejects")
			}
		}
		return fullErr
	}
	if err != nil {
		if !wellFormed(data, message{1: {12: {}}}) {
			return err // an annotation read past its end by v1.Endpoints
		}
		t.Fatalf("lean rejects Endpoints the standard decoder reads: %v", err)
	}
	if e.Namespace != full.Namespace || e.Name != full.Name || e.ResourceVersion != full.ResourceVersion ||
		e.initialEventsEnd != (full.Annotations[metav1.InitialEventsAnnotationKey] == "true") {
		t.Fatalf("identity: %s/%s@%s end=%v, want %s/%s@%s %v", e.Namespace, e.Name, e.ResourceVersion, e.initialEventsEnd,
			full.Namespace, full.Name, full.ResourceVersion, full.Annotations)
	}
	got, err := e.DeepCopyObject().(*EncodedEndpoints).Decode()
	if err != nil || !equality.Semantic.DeepEqual(got, &full) {
		t.Fatalf("Decode: %v\n%+v\nwant\n%+v", err, got, &full)
	}
	return nil
}

// checkLike decodes data as the echo or answer of a write of sent: the
// result must be the standard decode's, managed fields dropped.
func checkLike(t *testing.T, data []byte, sent *Sent) (same bool, err error) {
	t.Helper()
	got, same, err := DecodeLike(data, sent)
	var want v1.Endpoints
	if fullErr := want.Unmarshal(data); fullErr != nil {
		return false, fullErr
	}
	if err != nil {
		t.Fatalf("DecodeLike rejects Endpoints the standard decoder reads: %v", err)
	}
	want.ManagedFields = nil
	if !equality.Semantic.DeepEqual(got, &want) {
		t.Fatalf("DecodeLike (same=%v):\n%+v\nwant\n%+v", same, got, &want)
	}
	return same, nil
}

// serverEncoding is ep as the API server's protobuf serializer encodes it.
func serverEncoding(t *testing.T, ep *v1.Endpoints) []byte {
	t.Helper()
	enc := scheme.Codecs.EncoderForVersion(protobuf.NewSerializer(scheme.Scheme, scheme.Scheme), v1.SchemeGroupVersion)
	var buf bytes.Buffer
	if err := enc.Encode(ep, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func FuzzEndpointsDecoders(f *testing.F) {
	data, _ := writtenEndpoints().Marshal()
	f.Add(data)
	f.Add([]byte{})
	f.Add([]byte("\x01\x01\x01\x01\x01\x03\x02\x01\x02\x01\x01\x02\x03\x01\x02\x01\x00\x01\x01\x02\x01"))
	f.Add([]byte("\x02\x01\x01\x01\x00\x02\x03\x03\x01\x02\x01\x01\x02\x01\x01\x01\x02\x01\x01\x01\x00\x01\x02"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// The input itself, as a watch event or a write's answer.
		_ = checkEncoded(t, data)
		_, _ = checkLike(t, data, encode(t, writtenEndpoints()))

		b := fuzzBytes(data)
		ep := fuzzEndpoints(&b)

		// Writes are encoded as client-go's serializer encodes them.
		sent, err := EncodeEndpoints(ep)
		if err != nil {
			t.Fatal(err)
		}
		if want := serverEncoding(t, ep); !bytes.Equal(sent.Data, want) {
			t.Fatalf("EncodeEndpoints:\n%q\nwant\n%q", sent.Data, want)
		}

		// Watched, with new fields or not.
		enc, err := ep.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if b.pick(2) == 1 {
			enc = withUnknown(&b, enc, endpointsMessage)
		}
		if err := checkEncoded(t, enc); err != nil {
			t.Fatalf("standard decoder rejects encoded Endpoints: %v", err)
		}
		other, err := fuzzEndpoints(&b).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := checkEncoded(t, append(enc[:len(enc):len(enc)], other...)); err != nil {
			t.Fatalf("standard decoder rejects two Endpoints merged: %v", err)
		}

		// Stored with new metadata, subsets as sent or changed.
		stored := ep.DeepCopy()
		stored.ResourceVersion, stored.UID = "8", "uid"
		stored.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "endpoints-controller", Operation: metav1.ManagedFieldsOperationUpdate}}
		changed := false
		if len(stored.Subsets) > 0 && b.pick(2) == 1 {
			changed = true
			if s := &stored.Subsets[0]; len(s.Ports) > 0 {
				s.Ports[0].Protocol = "" // say, a default the server fills differently
			} else {
				stored.Subsets = stored.Subsets[1:]
			}
		}
		enc, err = stored.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		same, err := checkLike(t, enc, sent)
		if err != nil {
			t.Fatal(err)
		}
		if !changed && !same {
			t.Fatal("subsets stored as sent not recognised")
		}

		// The same answer in its envelope, whole, cut or garbled.
		answer := serverEncoding(t, stored)
		got, _, err := DecodeWritten(answer, sent)
		want := stored.DeepCopy()
		want.ManagedFields = nil
		if err != nil || !equality.Semantic.DeepEqual(got, want) {
			t.Fatalf("DecodeWritten: %v\n%+v\nwant\n%+v", err, got, want)
		}
		cut := answer[:b.pick(len(answer))]
		checkDamagedAnswer(t, cut, sent, true)
		garbled := append([]byte(nil), answer...)
		garbled[b.pick(len(garbled))] ^= byte(1 + b.pick(255))
		checkDamagedAnswer(t, garbled, sent, false)
	})
}

// checkDamagedAnswer: no panic, the standard decode when that succeeds,
// and an error when it fails if the answer was cut short.
func checkDamagedAnswer(t *testing.T, data []byte, sent *Sent, cut bool) {
	t.Helper()
	got, _, err := DecodeWritten(data, sent)
	if !IsProtobuf(data) {
		if err == nil {
			t.Fatal("DecodeWritten reads what is not protobuf")
		}
		return // the controller decodes it the standard way
	}
	var want v1.Endpoints
	stdErr := runtime.DecodeInto(scheme.Codecs.UniversalDecoder(v1.SchemeGroupVersion), data, &want)
	switch {
	case stdErr == nil && err == nil:
		want.ManagedFields, want.TypeMeta = nil, metav1.TypeMeta{}
		if !equality.Semantic.DeepEqual(got, &want) {
			t.Fatalf("DecodeWritten of damaged bytes:\n%+v\nwant\n%+v", got, &want)
		}
	case stdErr == nil:
		t.Fatalf("DecodeWritten rejects an answer the standard decoder reads: %v", err)
	case err == nil && cut:
		t.Fatalf("DecodeWritten reads an answer cut at %d bytes: %v", len(data), stdErr)
	}
}
