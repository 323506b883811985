package lean

import (
	"bytes"
	"reflect"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
)

// encodeAsServer encodes ep as the API server answers a write: protobuf
// in its envelope, with managed fields.
func encodeAsServer(t *testing.T, ep *v1.Endpoints) []byte {
	t.Helper()
	ep = ep.DeepCopy()
	ep.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "endpoints-controller", Operation: metav1.ManagedFieldsOperationUpdate,
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:subsets":{}}`)}}}
	enc := scheme.Codecs.EncoderForVersion(protobuf.NewSerializer(scheme.Scheme, scheme.Scheme), v1.SchemeGroupVersion)
	var buf bytes.Buffer
	if err := enc.Encode(ep, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encode(t *testing.T, ep *v1.Endpoints) *Sent {
	t.Helper()
	sent, err := EncodeEndpoints(ep)
	if err != nil {
		t.Fatal(err)
	}
	return sent
}

func writtenEndpoints() *v1.Endpoints {
	node := "n1"
	return &v1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", Labels: map[string]string{endpoints.LabelManagedBy: endpoints.DefaultManagedBy},
			Annotations: map[string]string{"a": "b"}},
		Subsets: []v1.EndpointSubset{{
			Addresses: []v1.EndpointAddress{{IP: "10.0.0.1", NodeName: &node,
				TargetRef: &v1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: "web-1", UID: "u1"}}},
			NotReadyAddresses: []v1.EndpointAddress{{IP: "10.0.0.2"}},
			Ports:             []v1.EndpointPort{{Name: "http", Port: 80, Protocol: v1.ProtocolTCP}},
		}},
	}
}

func TestDecodeWritten(t *testing.T) {
	sent := writtenEndpoints()
	stored := sent.DeepCopy()
	stored.ResourceVersion, stored.UID = "42", "uid"

	got, same, err := DecodeWritten(encodeAsServer(t, stored), encode(t, sent))
	if err != nil || !same {
		t.Fatalf("same subsets: got same=%v, err=%v", same, err)
	}
	if &got.Subsets[0] != &sent.Subsets[0] {
		t.Error("same subsets: not shared with the sent object")
	}
	if !reflect.DeepEqual(got, stored) {
		t.Errorf("same subsets: got\n%+v\nwant\n%+v", got, stored)
	}

	// Stored otherwise (here: the protocol defaulted): decoded in full.
	sent.Subsets[0].Ports[0].Protocol = ""
	got, same, err = DecodeWritten(encodeAsServer(t, stored), encode(t, sent))
	if err != nil || same {
		t.Fatalf("other subsets: got same=%v, err=%v", same, err)
	}
	if !reflect.DeepEqual(got, stored) {
		t.Errorf("other subsets: got\n%+v\nwant\n%+v", got, stored)
	}
	sent.Subsets = append(sent.Subsets, v1.EndpointSubset{})
	if _, same, err = DecodeWritten(encodeAsServer(t, stored), encode(t, sent)); err != nil || same {
		t.Fatalf("more subsets sent: got same=%v, err=%v", same, err)
	}
}

// EncodeEndpoints encodes as the client's protobuf serializer does.
func TestEncodeEndpoints(t *testing.T) {
	ep := writtenEndpoints()
	var want v1.Endpoints
	if err := runtime.DecodeInto(scheme.Codecs.UniversalDecoder(v1.SchemeGroupVersion), encode(t, ep).Data, &want); err != nil {
		t.Fatal(err)
	}
	want.TypeMeta = metav1.TypeMeta{}
	if !reflect.DeepEqual(&want, ep) {
		t.Errorf("decoded\n%+v\nwant\n%+v", &want, ep)
	}
}

func TestDecodeWrittenRejects(t *testing.T) {
	sent := writtenEndpoints()
	status := &metav1.Status{Status: metav1.StatusFailure, Reason: metav1.StatusReasonConflict}
	var buf bytes.Buffer
	enc := scheme.Codecs.EncoderForVersion(protobuf.NewSerializer(scheme.Scheme, scheme.Scheme), metav1.SchemeGroupVersion)
	if err := enc.Encode(status, &buf); err != nil {
		t.Fatal(err)
	}
	full := encodeAsServer(t, sent)
	for name, data := range map[string][]byte{
		"json":      []byte(`{"kind":"Endpoints","apiVersion":"v1"}`),
		"status":    buf.Bytes(),
		"truncated": full[:len(full)-3],
	} {
		if _, _, err := DecodeWritten(data, encode(t, sent)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if !IsProtobuf(full) || IsProtobuf([]byte("{}")) {
		t.Error("IsProtobuf")
	}
}

func TestEncodedEndpoints(t *testing.T) {
	ep := writtenEndpoints()
	ep.ResourceVersion = "7"
	data, err := ep.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var e EncodedEndpoints
	if err := e.Unmarshal(data); err != nil {
		t.Fatal(err)
	}
	data[0] = 0 // Unmarshal keeps a copy
	if e.Namespace != "ns" || e.Name != "web" || e.ResourceVersion != "7" || e.initialEventsEnd {
		t.Errorf("identity: %+v", e)
	}
	full, err := e.DeepCopyObject().(*EncodedEndpoints).Decode()
	if err != nil || !reflect.DeepEqual(full, ep) {
		t.Errorf("Decode: %v\n%+v\nwant\n%+v", err, full, ep)
	}

	bookmark := &v1.Endpoints{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "9",
		Annotations: map[string]string{metav1.InitialEventsAnnotationKey: "true"}}}
	if data, err = bookmark.Marshal(); err != nil {
		t.Fatal(err)
	}
	if err := e.Unmarshal(data); err != nil {
		t.Fatal(err)
	}
	if m := e.GetObjectMeta(); m.GetResourceVersion() != "9" || m.GetAnnotations()[metav1.InitialEventsAnnotationKey] != "true" {
		t.Errorf("bookmark: %+v", m)
	}
	if err := e.Unmarshal(data[:len(data)-2]); err == nil {
		t.Error("truncated: no error")
	}
}
