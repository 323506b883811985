package endpoints

import (
	"fmt"
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"
)

// countedSubsets returns one subset per entry, with ready[i] and
// notReady[i] distinct addresses and its own port.
func countedSubsets(ready, notReady []int) []v1.EndpointSubset {
	out := make([]v1.EndpointSubset, len(ready))
	for i := range out {
		mk := func(kind, n int) addrs {
			var as addrs
			for j := range n {
				as = append(as, podAddr(fmt.Sprintf("p%d-%d-%d", i, kind, j), fmt.Sprintf("10.%d.%d.%d", i, kind, j)))
			}
			return as
		}
		out[i] = v1.EndpointSubset{Addresses: mk(0, ready[i]), NotReadyAddresses: mk(1, notReady[i]),
			Ports: eports{ep(fmt.Sprintf("p%d", i), int32(80+i), TCP)}}
	}
	return out
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		ready, notReady         []int
		wantReady, wantNotReady []int
		wantTruncated           bool
	}{
		{name: "empty"},
		{name: "under capacity", ready: []int{50, 100, 300}, notReady: []int{50, 100, 300}},
		{name: "at capacity", ready: []int{400, 100}, notReady: []int{250, 250}},
		{name: "at capacity, all ready", ready: []int{1000}, notReady: []int{0}},
		{name: "one over, not ready cut", ready: []int{500, 100}, notReady: []int{200, 201},
			wantReady: []int{500, 100}, wantNotReady: []int{200, 200}, wantTruncated: true},
		{name: "ready kept, not ready cut in proportion (ceil)", ready: []int{90, 110, 50, 10, 20}, notReady: []int{101, 200, 200, 201, 298},
			wantReady: []int{90, 110, 50, 10, 20}, wantNotReady: []int{73, 144, 144, 145, 214}, wantTruncated: true},
		{name: "ready fill capacity, not ready all dropped", ready: []int{600, 400}, notReady: []int{5, 0},
			wantReady: []int{600, 400}, wantNotReady: []int{0, 0}, wantTruncated: true},
		{name: "ready cut in proportion, not ready dropped", ready: []int{205, 400, 402, 400, 693}, notReady: []int{100, 200, 200, 200, 300},
			wantReady: []int{98, 191, 192, 191, 328}, wantNotReady: []int{0, 0, 0, 0, 0}, wantTruncated: true},
		{name: "ready cut, rounding leaves the last short", ready: []int{600, 500}, notReady: []int{0, 0},
			wantReady: []int{546, 454}, wantNotReady: []int{0, 0}, wantTruncated: true},
		// The emptied subset fails API validation ("must specify addresses
		// or notReadyAddresses"), with the built-in as with us.
		{name: "ready cut, a subset of only not-ready addresses emptied", ready: []int{1001, 0}, notReady: []int{0, 3},
			wantReady: []int{1000, 0}, wantNotReady: []int{0, 0}, wantTruncated: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := countedSubsets(tc.ready, tc.notReady)
			before := dump(in)
			out, truncated := Truncate(in)
			if dump(in) != before {
				t.Fatal("Truncate modified its input")
			}
			if truncated != tc.wantTruncated {
				t.Errorf("truncated = %v, want %v", truncated, tc.wantTruncated)
			}
			if !tc.wantTruncated {
				assertSubsets(t, out, in)
				return
			}
			r, nr := CountAddresses(out)
			if r+nr != MaxCapacity {
				t.Errorf("kept %d addresses, want %d", r+nr, MaxCapacity)
			}
			for i, s := range out {
				if len(s.Addresses) != tc.wantReady[i] || len(s.NotReadyAddresses) != tc.wantNotReady[i] {
					t.Errorf("subset %d: kept %d ready, %d not ready; want %d, %d",
						i, len(s.Addresses), len(s.NotReadyAddresses), tc.wantReady[i], tc.wantNotReady[i])
				}
				// The first addresses are kept (in canonical order, the
				// lowest IPs), ports untouched.
				kept := v1.EndpointSubset{Addresses: in[i].Addresses[:len(s.Addresses)],
					NotReadyAddresses: in[i].NotReadyAddresses[:len(s.NotReadyAddresses)], Ports: in[i].Ports}
				assertSubsets(t, out[i:i+1], []v1.EndpointSubset{kept})
			}
			// Appending to the output must not write into the input.
			for i := range out {
				_ = append(out[i].Addresses, podAddr("x", "192.0.2.1"))
				_ = append(out[i].NotReadyAddresses, podAddr("x", "192.0.2.1"))
			}
			if dump(in) != before {
				t.Error("the output shares spare capacity with the input")
			}
		})
	}
}

func TestCountAddresses(t *testing.T) {
	if r, nr := CountAddresses(countedSubsets([]int{3, 0, 2}, []int{1, 4, 0})); r != 5 || nr != 5 {
		t.Errorf("CountAddresses = %d, %d; want 5, 5", r, nr)
	}
	if r, nr := CountAddresses(nil); r != 0 || nr != 0 {
		t.Errorf("CountAddresses(nil) = %d, %d", r, nr)
	}
}

// TestTruncateCanonicalInput: Truncate on Compute's output keeps all ready
// pods of a big Service and cuts its not-ready ones.
func TestTruncateCanonicalInput(t *testing.T) {
	svc, pods := benchInput(1500, 3) // ~1350 ready: ready cut
	full := Compute(svc, Pods(pods)).Subsets
	out, truncated := Truncate(full)
	r, nr := CountAddresses(out)
	if !truncated || r != MaxCapacity || nr != 0 || len(out) != len(full) {
		t.Errorf("truncated=%v ready=%d notReady=%d subsets=%d/%d", truncated, r, nr, len(out), len(full))
	}
	if !slices.EqualFunc(out, full, func(a, b v1.EndpointSubset) bool { return portsSignature(a.Ports) == portsSignature(b.Ports) }) {
		t.Error("Truncate changed the subsets' ports")
	}
}

// TestDivergence_TruncationDropsEmptySubset (divergence_test.go) covers
// subsets cut to nothing.

// TestTruncateAsBuiltin: over capacity, the addresses kept are exactly the
// built-in's, which cuts in its (hash) order of subsets.
func TestTruncateAsBuiltin(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pods      int
		notReadyL bool // not-ready addresses left after the cut
	}{
		{"ready cut", 1500, false},
		{"not ready cut", 560, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc, pods := benchInput(tc.pods, 3)
			full := Compute(svc, Pods(pods)).Subsets
			out, cut := Truncate(full)
			r, nr := CountAddresses(out)
			if !cut || r+nr != MaxCapacity || (nr > 0) != tc.notReadyL || len(full) < 3 {
				t.Errorf("cut=%v ready=%d notReady=%d subsets=%d", cut, r, nr, len(full))
			}
			if g, w := dump(out), dump(modelTruncate(builtinModel(svc, pods))); g != w {
				t.Errorf("kept other addresses than the built-in\ngot:\n%s\nbuilt-in:\n%s", g, w)
			}
		})
	}
}
