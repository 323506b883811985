package endpoints

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// Fields that Diff reports.
const (
	FieldAddresses         = "addresses"
	FieldNotReadyAddresses = "notReadyAddresses"
	FieldPorts             = "ports"
	FieldLabels            = "labels"
	FieldAnnotations       = "annotations"
)

// Diff lists what differs between a live Endpoints (nil: missing) and d,
// with a short human-readable description, for shadow mode. It is empty
// exactly when UpToDate(cur, d) holds.
func Diff(cur *v1.Endpoints, d Desired) (fields []string, summary string) {
	if cur == nil {
		return []string{FieldAddresses}, "endpoints missing"
	}
	if UpToDate(cur, d) {
		return nil, ""
	}
	var parts []string
	add := func(field, format string, args ...any) {
		fields = append(fields, field)
		parts = append(parts, field+": "+fmt.Sprintf(format, args...))
	}
	live := Repack(cur.Subsets)
	want := d.Subsets
	if d.Truncated {
		want = d.Full // compare membership, not one arbitrary cut
	}
	if extra, missing := setDiff(addressSet(live, true), addressSet(want, true)); len(extra)+len(missing) > 0 && !d.Truncated {
		add(FieldAddresses, "extra %v missing %v", extra, missing)
	}
	if extra, missing := setDiff(addressSet(live, false), addressSet(want, false)); len(extra)+len(missing) > 0 && !d.Truncated {
		add(FieldNotReadyAddresses, "extra %v missing %v", extra, missing)
	}
	if extra, missing := setDiff(portSet(live), portSet(want)); len(extra)+len(missing) > 0 {
		add(FieldPorts, "extra %v missing %v", extra, missing)
	}
	if !maps.Equal(cur.Labels, d.Labels) {
		add(FieldLabels, "live %v want %v", cur.Labels, d.Labels)
	}
	if _, ok := cur.Annotations[v1.EndpointsOverCapacity]; ok != d.Truncated {
		add(FieldAnnotations, "%s present %v want %v", v1.EndpointsOverCapacity, ok, d.Truncated)
	}
	if len(fields) == 0 {
		// Same members and ports, different grouping or details (hostname,
		// nodeName, targetRef, or a different truncation).
		add(FieldAddresses, "address details or grouping differ")
	}
	return fields, strings.Join(parts, "; ")
}

// addressSet renders "ip port-name/port" pairs of the ready or not-ready
// addresses.
func addressSet(subsets []v1.EndpointSubset, ready bool) map[string]bool {
	out := map[string]bool{}
	for _, s := range subsets {
		addrs := s.NotReadyAddresses
		if ready {
			addrs = s.Addresses
		}
		for _, a := range addrs {
			if len(s.Ports) == 0 {
				out[a.IP] = true
			}
			for _, p := range s.Ports {
				out[fmt.Sprintf("%s %s/%d", a.IP, p.Name, p.Port)] = true
			}
		}
	}
	return out
}

func portSet(subsets []v1.EndpointSubset) map[string]bool {
	out := map[string]bool{}
	for _, s := range subsets {
		for _, p := range s.Ports {
			out[fmt.Sprintf("%s/%d/%s", p.Name, p.Port, p.Protocol)] = true
		}
	}
	return out
}

// setDiff returns the sorted members only in a, and only in b.
func setDiff(a, b map[string]bool) (onlyA, onlyB []string) {
	for k := range a {
		if !b[k] {
			onlyA = append(onlyA, k)
		}
	}
	for k := range b {
		if !a[k] {
			onlyB = append(onlyB, k)
		}
	}
	slices.Sort(onlyA)
	slices.Sort(onlyB)
	return onlyA, onlyB
}
