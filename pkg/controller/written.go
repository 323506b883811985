package controller

import (
	"maps"
	"strconv"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
)

// writtenTTL bounds how long a written object is trusted over the cache. The
// cache normally catches up within milliseconds; past this, something else
// happened (say, the object was deleted before the cache saw our write) and
// the cache is trusted again, with the API server's optimistic concurrency
// catching any mistake.
const writtenTTL = 30 * time.Second

// writtenTracker remembers the last Endpoints this controller wrote per
// Service until the informer cache has caught up with it. While the cache
// lags, the written object is taken as current: the built-in took the stale
// cached copy for current for years and left Endpoints wrong after fast
// ready/not-ready flips (kubernetes issues 125638, 127429, 124547).
//
// It also remembers, per Service, the resourceVersion of the last object
// it wrote in canonical form, so that a sync comparing against that object
// need not repack it.
type writtenTracker struct {
	mu        sync.Mutex
	m         map[string]written
	canonical map[string]string // key → resourceVersion
}

type written struct {
	ep *v1.Endpoints
	rv uint64
	at time.Time
}

func newWrittenTracker() *writtenTracker {
	return &writtenTracker{m: map[string]written{}, canonical: map[string]string{}}
}

// record stores the object the API server returned for a write;
// canonical tells its subsets are in canonical form.
func (t *writtenTracker) record(key string, ep *v1.Endpoints, canonical bool) {
	ep.ManagedFields = nil // as trimmed in the cache; never read
	rv, err := strconv.ParseUint(ep.ResourceVersion, 10, 64)
	t.mu.Lock()
	defer t.mu.Unlock()
	if canonical {
		t.canonical[key] = ep.ResourceVersion
	} else {
		delete(t.canonical, key)
	}
	if err != nil {
		return // not an etcd revision: nothing to order by, trust the cache
	}
	t.m[key] = written{ep: ep, rv: rv, at: time.Now()}
}

func (t *writtenTracker) forget(key string) {
	t.mu.Lock()
	delete(t.m, key)
	delete(t.canonical, key)
	t.mu.Unlock()
}

// isCanonical reports whether ep is an object this controller wrote in
// canonical form.
func (t *writtenTracker) isCanonical(key string, ep *v1.Endpoints) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	rv, ok := t.canonical[key]
	return ok && rv == ep.ResourceVersion && rv != ""
}

// current returns the newest known state of the Endpoints: the cached one,
// unless this controller wrote a newer one the cache has not seen yet.
// lagging tells that the written copy was returned.
func (t *writtenTracker) current(key string, cached *v1.Endpoints) (cur *v1.Endpoints, lagging bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	w, ok := t.m[key]
	if !ok {
		return cached, false
	}
	if time.Since(w.at) > writtenTTL {
		delete(t.m, key)
		return cached, false
	}
	if cached != nil {
		rv, err := strconv.ParseUint(cached.ResourceVersion, 10, 64)
		if err != nil || rv >= w.rv {
			delete(t.m, key) // the cache caught up, or someone wrote after us
			return cached, false
		}
	}
	return w.ep, true
}

// echo returns, for the cache, the object this controller wrote as version
// rv of key, or nil if it wrote no such version: trimmed as trimEndpoints
// does, sharing the written object's subsets, which nobody modifies.
func (t *writtenTracker) echo(key, rv string) *v1.Endpoints {
	t.mu.Lock()
	w, ok := t.m[key]
	t.mu.Unlock()
	if !ok || strconv.FormatUint(w.rv, 10) != rv {
		return nil
	}
	ep := *w.ep
	ep.Labels = endpoints.InternLabels(ep.Labels)
	ep.Annotations = dropTriggerTime(maps.Clone(ep.Annotations))
	return &ep
}

// caughtUp is told that the cache now holds version rv of key's
// Endpoints. It reports whether that is the version this controller last
// wrote (an echo, nothing to re-check), and then drops the written copy:
// the cache has the same object, and thousands of copies kept until the
// next sync of each Service would double the memory of the Endpoints.
func (t *writtenTracker) caughtUp(key, rv string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	w, ok := t.m[key]
	if !ok || strconv.FormatUint(w.rv, 10) != rv {
		return false
	}
	delete(t.m, key)
	return true
}
