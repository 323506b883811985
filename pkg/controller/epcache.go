package controller

import (
	v1 "k8s.io/api/core/v1"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
)

// cachedEndpoints is an Endpoints as its cache holds it. Subsets in
// canonical form and not truncated, which is how this controller and the
// built-in write them, are kept as their digest only: 32 bytes instead of
// some 200 per address, which were a sixth of the heap at 100k pods. A
// sync needs no more: the subsets it computes are canonical too, so they
// are the same exactly when their digests are. Anything else (another
// writer's order, a truncation, shadow mode's diffs) keeps its subsets.
type cachedEndpoints struct {
	v1.Endpoints // Subsets nil when digested

	digest   endpoints.Digest
	digested bool
}

// cacheEndpoints wraps ep for the cache, digesting its subsets if it may.
func cacheEndpoints(ep *v1.Endpoints, digest bool) *cachedEndpoints {
	c := &cachedEndpoints{Endpoints: *ep}
	if _, truncated := ep.Annotations[v1.EndpointsOverCapacity]; digest && !truncated && endpoints.Canonical(ep.Subsets) {
		c.digest, c.digested = endpoints.DigestOf(ep.Subsets), true
		c.Subsets = nil
	}
	return c
}

// upToDate reports whether cur already holds d. held is the cache's copy
// of cur, nil if cur is another (the written copy the cache lags behind);
// canonical tells that cur's subsets are known to be in canonical form.
func upToDate(cur *v1.Endpoints, held *cachedEndpoints, canonical bool, d endpoints.Desired) bool {
	switch {
	case held != nil && held.digested:
		return endpoints.UpToDateDigest(cur, held.digest, d)
	case canonical:
		return endpoints.UpToDateCanonical(cur, d)
	}
	return endpoints.UpToDate(cur, d)
}

// asEndpoints is the Endpoints an informer event or cache entry holds: the
// cache's form, or a plain one (as tests hand handlers); nil if neither.
func asEndpoints(obj any) *v1.Endpoints {
	switch o := obj.(type) {
	case *cachedEndpoints:
		return &o.Endpoints
	case *v1.Endpoints:
		return o
	}
	return nil
}
