package endpoints

import (
	"reflect"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// DigestOf feeds the fields SubsetsEqual compares by name. A field added to
// these types by a k8s.io/api upgrade must be added to both, or a change in
// it would go unnoticed in a digested cache.
func TestDigestCoversEveryField(t *testing.T) {
	for typ, want := range map[reflect.Type]int{
		reflect.TypeFor[v1.EndpointSubset]():  3,
		reflect.TypeFor[v1.EndpointAddress](): 4,
		reflect.TypeFor[v1.ObjectReference](): 7,
		reflect.TypeFor[v1.EndpointPort]():    4,
	} {
		if got := typ.NumField(); got != want {
			t.Errorf("%v has %d fields, DigestOf and SubsetsEqual know %d: add the new ones to both", typ, got, want)
		}
	}
}

// Every field SubsetsEqual compares changes the digest; the target
// reference's resource version, which it ignores, does not.
func TestDigestChangesWithEachField(t *testing.T) {
	base := func() []v1.EndpointSubset {
		a := podAddr("p", "10.0.0.1")
		a.Hostname = "h"
		return []v1.EndpointSubset{{Addresses: []v1.EndpointAddress{a}, Ports: []v1.EndpointPort{ep("web", 80, TCP)}}}
	}
	sum := DigestOf(base())
	same := base()
	same[0].Addresses[0].TargetRef.ResourceVersion = "42"
	if DigestOf(same) != sum {
		t.Error("the target reference's resource version changed the digest")
	}
	for name, change := range map[string]func(s []v1.EndpointSubset) []v1.EndpointSubset{
		"ip":          func(s []v1.EndpointSubset) []v1.EndpointSubset { s[0].Addresses[0].IP = "10.0.0.2"; return s },
		"hostname":    func(s []v1.EndpointSubset) []v1.EndpointSubset { s[0].Addresses[0].Hostname = ""; return s },
		"nodeName":    func(s []v1.EndpointSubset) []v1.EndpointSubset { s[0].Addresses[0].NodeName = ptr.To("n2"); return s },
		"no nodeName": func(s []v1.EndpointSubset) []v1.EndpointSubset { s[0].Addresses[0].NodeName = nil; return s },
		"empty node":  func(s []v1.EndpointSubset) []v1.EndpointSubset { s[0].Addresses[0].NodeName = ptr.To(""); return s },
		"ref kind":    func(s []v1.EndpointSubset) []v1.EndpointSubset { s[0].Addresses[0].TargetRef.Kind = "Node"; return s },
		"ref ns":      func(s []v1.EndpointSubset) []v1.EndpointSubset { s[0].Addresses[0].TargetRef.Namespace = "x"; return s },
		"ref name":    func(s []v1.EndpointSubset) []v1.EndpointSubset { s[0].Addresses[0].TargetRef.Name = "q"; return s },
		"ref uid":     func(s []v1.EndpointSubset) []v1.EndpointSubset { s[0].Addresses[0].TargetRef.UID = "u2"; return s },
		"ref version": func(s []v1.EndpointSubset) []v1.EndpointSubset {
			s[0].Addresses[0].TargetRef.APIVersion = "v1"
			return s
		},
		"ref field": func(s []v1.EndpointSubset) []v1.EndpointSubset { s[0].Addresses[0].TargetRef.FieldPath = "f"; return s },
		"no ref":    func(s []v1.EndpointSubset) []v1.EndpointSubset { s[0].Addresses[0].TargetRef = nil; return s },
		"not ready": func(s []v1.EndpointSubset) []v1.EndpointSubset {
			s[0].NotReadyAddresses, s[0].Addresses = s[0].Addresses, nil
			return s
		},
		"port name":   func(s []v1.EndpointSubset) []v1.EndpointSubset { s[0].Ports[0].Name = "w"; return s },
		"port":        func(s []v1.EndpointSubset) []v1.EndpointSubset { s[0].Ports[0].Port = 81; return s },
		"protocol":    func(s []v1.EndpointSubset) []v1.EndpointSubset { s[0].Ports[0].Protocol = UDP; return s },
		"appProtocol": func(s []v1.EndpointSubset) []v1.EndpointSubset { s[0].Ports[0].AppProtocol = ptr.To(""); return s },
		"no port":     func(s []v1.EndpointSubset) []v1.EndpointSubset { s[0].Ports = nil; return s },
		"two subsets": func(s []v1.EndpointSubset) []v1.EndpointSubset { return append(s, v1.EndpointSubset{}) },
		"no subsets":  func([]v1.EndpointSubset) []v1.EndpointSubset { return nil },
		"string split": func(s []v1.EndpointSubset) []v1.EndpointSubset {
			s[0].Addresses[0].IP, s[0].Addresses[0].Hostname = "10.0.0.1h", ""
			return s
		},
	} {
		changed := change(base())
		if SubsetsEqual(changed, base()) {
			t.Fatalf("%s: SubsetsEqual ignores this change; the test is wrong", name)
		}
		if DigestOf(changed) == sum {
			t.Errorf("%s: the digest did not change", name)
		}
	}
}

// Equal digests exactly when SubsetsEqual says equal, over fuzzed pairs.
func FuzzDigest(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 2})
	f.Add([]byte{2, 1, 4, 1, 0, 0, 2, 1, 4, 1, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		b := fuzzBytes(data)
		x, y := fuzzSubsets(&b), fuzzSubsets(&b)
		if eq, same := SubsetsEqual(x, y), DigestOf(x) == DigestOf(y); eq != same {
			t.Fatalf("SubsetsEqual = %v, equal digests = %v\nx:\n%s\ny:\n%s", eq, same, dump(x), dump(y))
		}
	})
}
