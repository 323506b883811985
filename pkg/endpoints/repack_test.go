package endpoints

import (
	"math/rand/v2"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// checkRepack runs Repack and checks, besides returning its output, that
// it equals the built-in model up to order, is idempotent, does not modify
// its input, and gives the same output whatever the order of the input's
// subsets, addresses and ports (addresses with the same IP and UID must
// have the same content).
func checkRepack(t testing.TB, in []v1.EndpointSubset, shuffles int) []v1.EndpointSubset {
	t.Helper()
	before := dump(in)
	out := Repack(in)
	if dump(in) != before {
		t.Errorf("Repack modified its input")
	}
	if g, w := dump(out), dump(modelSort(modelRepack(in))); g != w {
		t.Errorf("Repack differs from the built-in model\ngot:\n%s\nbuilt-in:\n%s", g, w)
	}
	if again := Repack(out); dump(again) != dump(out) || !SubsetsEqual(again, out) {
		t.Errorf("Repack is not idempotent\nonce:\n%stwice:\n%s", dump(out), dump(again))
	}
	r := rand.New(rand.NewPCG(uint64(len(in)), 7))
	for range shuffles {
		s := shuffled(r, in)
		if got := Repack(s); dump(got) != dump(out) {
			t.Fatalf("Repack depends on input order\ninput:\n%sgot:\n%swant:\n%s", dump(s), dump(got), dump(out))
		}
	}
	return out
}

func TestRepack(t *testing.T) {
	A, B, C := podAddr("a", "10.0.0.1"), podAddr("b", "10.0.0.2"), podAddr("c", "10.0.0.3")
	A2 := podAddr("a2", "10.0.0.1") // same IP as A, another pod (host network)
	P1, P2, P3 := ep("p1", 81, TCP), ep("p2", 82, TCP), ep("p3", 83, UDP)
	app := func(p v1.EndpointPort, v string) v1.EndpointPort { p.AppProtocol = ptr.To(v); return p }
	DNSU, DNST := ep("dns", 53, UDP), ep("dns", 53, TCP)

	for _, tc := range []struct {
		name    string
		in, out subsets
	}{
		{"nil", nil, nil},
		{"empty", subsets{}, nil},
		{"built-in expansion, all pods all ports",
			subsets{{Addresses: addrs{A}, Ports: eports{P1}}, {Addresses: addrs{B}, Ports: eports{P1}}, {Addresses: addrs{A}, Ports: eports{P2}}, {Addresses: addrs{B}, Ports: eports{P2}}},
			subsets{{Addresses: addrs{A, B}, Ports: eports{P1, P2}}}},
		{"built-in expansion, a pod without p2",
			subsets{{Addresses: addrs{A}, Ports: eports{P1}}, {Addresses: addrs{B}, Ports: eports{P1}}, {Addresses: addrs{A}, Ports: eports{P2}}},
			subsets{{Addresses: addrs{A, B}, Ports: eports{P1}}, {Addresses: addrs{A}, Ports: eports{P2}}}},
		{"built-in expansion, ready and not ready",
			subsets{{NotReadyAddresses: addrs{B}, Ports: eports{P1}}, {Addresses: addrs{A}, Ports: eports{P1}}},
			subsets{{Addresses: addrs{A}, NotReadyAddresses: addrs{B}, Ports: eports{P1}}}},
		{"not ready wins over ready for the same port",
			subsets{{Addresses: addrs{A}, Ports: eports{P1}}, {NotReadyAddresses: addrs{A}, Ports: eports{P1}}, {Addresses: addrs{A}, Ports: eports{P2}}},
			subsets{{NotReadyAddresses: addrs{A}, Ports: eports{P1}}, {Addresses: addrs{A}, Ports: eports{P2}}}},
		{"not ready wins within one subset",
			subsets{{Addresses: addrs{A, B}, NotReadyAddresses: addrs{A}, Ports: eports{P1}}},
			subsets{{Addresses: addrs{B}, NotReadyAddresses: addrs{A}, Ports: eports{P1}}}},
		{"ready on one port, not ready on another",
			subsets{{Addresses: addrs{A}, Ports: eports{P1, P2}}, {NotReadyAddresses: addrs{A}, Ports: eports{P2}}},
			subsets{{Addresses: addrs{A}, Ports: eports{P1}}, {NotReadyAddresses: addrs{A}, Ports: eports{P2}}}},
		{"same address twice", subsets{{Addresses: addrs{A, A}, Ports: eports{P1}}, {Addresses: addrs{A}, Ports: eports{P1}}},
			subsets{{Addresses: addrs{A}, Ports: eports{P1}}}},
		{"same IP, other pod", subsets{{Addresses: addrs{A2}, Ports: eports{P1}}, {Addresses: addrs{A}, Ports: eports{P1}}},
			subsets{{Addresses: addrs{A, A2}, Ports: eports{P1}}}},
		{"ports without addresses dropped", subsets{{Ports: eports{P1}}, {Addresses: addrs{A}, Ports: eports{P2}}},
			subsets{{Addresses: addrs{A}, Ports: eports{P2}}}},
		{"duplicate port", subsets{{Addresses: addrs{A}, Ports: eports{P1, P1}}}, subsets{{Addresses: addrs{A}, Ports: eports{P1}}}},
		{"subsets without ports merge", subsets{{Addresses: addrs{B}}, {NotReadyAddresses: addrs{C}}, {Addresses: addrs{A}}},
			subsets{{Addresses: addrs{A, B}, NotReadyAddresses: addrs{C}}}},
		{"port-less subset absorbed by a port with the same addresses",
			subsets{{Addresses: addrs{A}}, {Addresses: addrs{A}, Ports: eports{P1}}},
			subsets{{Addresses: addrs{A}, Ports: eports{P1}}}},
		{"port-less subset with other addresses",
			subsets{{Addresses: addrs{B}, Ports: eports{P1}}, {Addresses: addrs{A}}},
			subsets{{Addresses: addrs{A}}, {Addresses: addrs{B}, Ports: eports{P1}}}},
		{"appProtocol compared by value",
			subsets{{Addresses: addrs{A}, Ports: eports{app(P1, "http")}}, {Addresses: addrs{B}, Ports: eports{app(P1, "http")}}},
			subsets{{Addresses: addrs{A, B}, Ports: eports{app(P1, "http")}}}},
		{"appProtocol set and unset are different ports",
			subsets{{Addresses: addrs{A}, Ports: eports{app(P1, "http")}}, {Addresses: addrs{B}, Ports: eports{P1}}},
			subsets{{Addresses: addrs{B}, Ports: eports{P1}}, {Addresses: addrs{A}, Ports: eports{app(P1, "http")}}}},
		{"protocol tells ports apart",
			subsets{{Addresses: addrs{A}, Ports: eports{DNSU}}, {Addresses: addrs{B}, Ports: eports{DNST}}},
			subsets{{Addresses: addrs{B}, Ports: eports{DNST}}, {Addresses: addrs{A}, Ports: eports{DNSU}}}},
		{"everything sorted, ports and subsets by hash",
			subsets{{Addresses: addrs{C}, Ports: eports{P2}}, {Addresses: addrs{C, A, B}, Ports: eports{P3, P1}}},
			subsets{{Addresses: addrs{A, B, C}, Ports: eports{P1, P3}}, {Addresses: addrs{C}, Ports: eports{P2}}}},
		{"address without targetRef",
			subsets{{Addresses: addrs{{IP: "10.0.0.9"}, A}, Ports: eports{P1}}},
			subsets{{Addresses: addrs{A, {IP: "10.0.0.9"}}, Ports: eports{P1}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertSubsets(t, checkRepack(t, tc.in, 30), builtinOrder(tc.out))
		})
	}
}

// TestRepackBuiltinExpansion: Repack turns the built-in's single-address
// subsets, in any order, into exactly Compute's output.
func TestRepackBuiltinExpansion(t *testing.T) {
	svc, pods := benchInput(60, 3)
	want := Compute(svc, Pods(pods)).Subsets
	if len(want) < 2 {
		t.Fatalf("want several subsets, got %d", len(want))
	}
	assertSubsets(t, checkRepack(t, builtinExpand(svc, pods), 20), want)
}
