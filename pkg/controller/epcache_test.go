package controller

import (
	"context"
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
)

// The Endpoints cache keeps canonical, untruncated subsets as their digest,
// and everything else (another writer's order, a truncation, shadow mode)
// whole; a sync tells a digested Endpoints that is right from one that is
// not, and writes only the second.
func TestCanonicalEndpointsCachedAsDigest(t *testing.T) {
	svc := testService()
	pods := []*v1.Pod{testPod("a", "10.0.0.1", true), testPod("b", "10.0.0.2", true), testPod("c", "10.0.0.3", false)}
	right := func() *v1.Endpoints {
		d := endpoints.Desire(svc, endpoints.Compute(svc, endpoints.Pods(pods)).Subsets, endpoints.DefaultManagedBy)
		ep := endpoints.Apply(nil, svc, d, metav1.Now().Time)
		ep.ResourceVersion = "5"
		return ep
	}
	reordered := right()
	slices.Reverse(reordered.Subsets[0].Addresses)
	truncated := right()
	truncated.Annotations[v1.EndpointsOverCapacity] = "truncated"
	stale := right()
	stale.Subsets[0].Addresses = stale.Subsets[0].Addresses[:1]

	for _, tc := range []struct {
		name         string
		ep           *v1.Endpoints
		shadow       bool
		wantDigested bool
		wantWrites   int
	}{
		{"canonical and right", right(), false, true, 0},
		{"canonical and stale", stale, false, true, 1},
		{"another writer's order", reordered, false, false, 0},
		{"truncated", truncated, false, false, 1},
		{"shadow mode", right(), true, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessWith(t, Options{Shadow: tc.shadow}, svc.DeepCopy(), tc.ep.DeepCopy())
			h.cache(svc.DeepCopy())
			for _, p := range pods {
				h.cache(p)
			}
			h.cache(tc.ep)
			held, err := h.c.cachedEndpoints("ns", "web")
			if err != nil {
				t.Fatal(err)
			}
			if held.digested != tc.wantDigested || (held.digested && held.Subsets != nil) {
				t.Fatalf("digested %v with %d subsets, want digested %v", held.digested, len(held.Subsets), tc.wantDigested)
			}
			if held.Annotations[v1.EndpointsLastChangeTriggerTime] != "" || held.Labels[endpoints.LabelManagedBy] == "" {
				t.Errorf("metadata not trimmed as before: %v %v", held.Labels, held.Annotations)
			}
			if err := h.sync("ns/web"); err != nil {
				t.Fatal(err)
			}
			if got := h.actions("update"); got != tc.wantWrites {
				t.Fatalf("%d updates, want %d: %v", got, tc.wantWrites, h.client.Actions())
			}
			if tc.wantWrites > 0 {
				got, err := h.client.CoreV1().Endpoints("ns").Get(context.Background(), "web", metav1.GetOptions{})
				if err != nil || !endpoints.SubsetsEqual(got.Subsets, right().Subsets) {
					t.Fatalf("written %v, %v; want the right subsets", got, err)
				}
			}
		})
	}
}
