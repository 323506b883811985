package endpoints

import (
	"math"

	v1 "k8s.io/api/core/v1"
)

// MaxCapacity is the most addresses (ready plus not ready) one Endpoints
// object holds; beyond it the object is truncated and annotated.
const MaxCapacity = 1000

// CountAddresses returns the number of ready and not-ready addresses.
func CountAddresses(subsets []v1.EndpointSubset) (ready, notReady int) {
	for i := range subsets {
		ready += len(subsets[i].Addresses)
		notReady += len(subsets[i].NotReadyAddresses)
	}
	return ready, notReady
}

// Truncate cuts subsets down to MaxCapacity addresses as the built-in does:
// ready addresses are kept first; whichever list is cut is cut in proportion
// to each subset's share, rounded up, until the capacity is used; subsets cut
// to nothing are dropped. It returns
// a new slice (the input is not modified) and whether anything was cut.
func Truncate(subsets []v1.EndpointSubset) ([]v1.EndpointSubset, bool) {
	ready, notReady := CountAddresses(subsets)
	if ready+notReady <= MaxCapacity {
		return subsets, false
	}
	cutReady := ready > MaxCapacity
	budget, total := MaxCapacity-ready, notReady
	if cutReady {
		budget, total = MaxCapacity, ready
	}
	left := budget
	out := make([]v1.EndpointSubset, 0, len(subsets))
	for _, s := range subsets {
		n := len(s.NotReadyAddresses)
		if cutReady {
			n = len(s.Addresses)
		}
		take := min(int(math.Ceil(float64(n)/float64(total)*float64(budget))), left, n)
		if cutReady {
			s.Addresses = s.Addresses[:take:take]
			s.NotReadyAddresses = nil
		} else {
			s.NotReadyAddresses = s.NotReadyAddresses[:take:take]
		}
		left -= take
		// A subset cut to nothing is dropped: the API server rejects one
		// without addresses, which leaves the built-in failing forever on
		// such a Service.
		if len(s.Addresses)+len(s.NotReadyAddresses) > 0 {
			out = append(out, s)
		}
	}
	return out, true
}
