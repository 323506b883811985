package controller

import (
	"reflect"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/endpoints-controller/endpoints-controller/pkg/lean"
)

func TestParseDecoder(t *testing.T) {
	for _, s := range []string{"lean", "standard"} {
		if d, err := ParseDecoder(s); err != nil || string(d) != s {
			t.Errorf("ParseDecoder(%q) = %q, %v", s, d, err)
		}
	}
	for _, s := range []string{"", "Lean", "json", "protobuf"} {
		if _, err := ParseDecoder(s); err == nil {
			t.Errorf("ParseDecoder(%q): no error", s)
		}
	}
}

// Each decoder wires its own informer types and write path; nothing is
// contacted before the informers start.
func TestDecoderWiring(t *testing.T) {
	client, err := kubernetes.NewForConfig(&rest.Config{Host: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		decoder        Decoder
		pod, endpoints any
		writesLean     bool
	}{
		{"", &lean.Pod{}, &lean.EncodedEndpoints{}, true},
		{Lean, &lean.Pod{}, &lean.EncodedEndpoints{}, true},
		{Standard, &v1.Pod{}, &v1.Endpoints{}, false},
	} {
		inf := NewInformers(client, "", tc.decoder)
		if reflect.TypeOf(inf.podType) != reflect.TypeOf(tc.pod) || reflect.TypeOf(inf.endpointsType) != reflect.TypeOf(tc.endpoints) {
			t.Errorf("%q: informers read %T and %T", tc.decoder, inf.podType, inf.endpointsType)
		}
		c, err := New(client, inf, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if (c.rest != nil) != tc.writesLean {
			t.Errorf("%q: lean writes = %v", tc.decoder, c.rest != nil)
		}
	}
}
