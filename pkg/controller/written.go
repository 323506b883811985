package controller

import (
	"maps"
	"strconv"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
	"github.com/endpoints-controller/endpoints-controller/pkg/lean"
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
// need not repack it; and the write in flight, whose echo often comes
// before its answer, so that the echo is neither decoded in full nor taken
// for someone else's change.
type writtenTracker struct {
	mu        sync.Mutex
	m         map[string]written
	canonical map[string]string // key → resourceVersion
	inFlight  map[string]*lean.Sent
	early     map[string]string  // key → resourceVersion of an echo seen before its answer
	clock     clock.PassiveClock // for writtenTTL
}

type written struct {
	ep *v1.Endpoints
	rv uint64
	at time.Time
}

func newWrittenTracker(clk clock.PassiveClock) *writtenTracker {
	return &writtenTracker{m: map[string]written{}, canonical: map[string]string{},
		inFlight: map[string]*lean.Sent{}, early: map[string]string{}, clock: clk}
}

// send notes that s is being written.
func (t *writtenTracker) send(key string, s *lean.Sent) {
	t.mu.Lock()
	t.inFlight[key] = s
	t.mu.Unlock()
}

// record stores the object the API server returned for a write;
// canonical tells its subsets are in canonical form.
func (t *writtenTracker) record(key string, ep *v1.Endpoints, canonical bool) {
	ep.ManagedFields = nil // as trimmed in the cache; never read
	rv, err := strconv.ParseUint(ep.ResourceVersion, 10, 64)
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.inFlight, key)
	if t.early[key] == ep.ResourceVersion {
		// The cache has it already.
		delete(t.early, key)
		delete(t.m, key)
		if canonical {
			t.canonical[key] = ep.ResourceVersion
		}
		return
	}
	if canonical {
		t.canonical[key] = ep.ResourceVersion
	} else {
		delete(t.canonical, key)
	}
	if err != nil {
		return // not an etcd revision: nothing to order by, trust the cache
	}
	t.m[key] = written{ep: ep, rv: rv, at: t.clock.Now()}
}

func (t *writtenTracker) forget(key string) {
	t.mu.Lock()
	delete(t.m, key)
	delete(t.canonical, key)
	delete(t.inFlight, key)
	delete(t.early, key)
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
	if t.clock.Since(w.at) > writtenTTL {
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

// echo returns, for the cache, e decoded without its subsets if it is the
// echo of a write of this controller's: the object the write's answer was
// decoded into when e has its version, or, before the answer, e's
// metadata over the subsets sent if e holds those. Nil otherwise.
func (t *writtenTracker) echo(key string, e *lean.EncodedEndpoints) *v1.Endpoints {
	t.mu.Lock()
	w, done := t.m[key]
	s, inFlight := t.inFlight[key]
	t.mu.Unlock()
	var ep *v1.Endpoints
	switch {
	case done && strconv.FormatUint(w.rv, 10) == e.ResourceVersion:
		shallow := *w.ep
		ep = &shallow
		ep.Annotations = maps.Clone(ep.Annotations)
	case inFlight:
		var same bool
		var err error
		if ep, same, err = lean.DecodeLike(e.Data, s); err != nil {
			return nil // trim reports it
		}
		if !same {
			return trimEndpoints(ep)
		}
		if maps.Equal(ep.Labels, s.Obj.Labels) && maps.Equal(ep.Annotations, s.Obj.Annotations) {
			// What is being written: nothing to re-check when it comes.
			t.mu.Lock()
			t.early[key] = e.ResourceVersion
			t.mu.Unlock()
		}
	default:
		return nil
	}
	ep.Labels = endpoints.InternLabels(ep.Labels)
	ep.Annotations = dropTriggerTime(ep.Annotations)
	return ep
}

// caughtUp is told that the cache now holds version rv of key's
// Endpoints. It reports whether that is the version this controller last
// wrote (an echo, nothing to re-check), and then drops the written copy:
// the cache has the same object, and thousands of copies kept until the
// next sync of each Service would double the memory of the Endpoints.
func (t *writtenTracker) caughtUp(key, rv string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.early[key] == rv {
		return true // record drops it when the answer comes
	}
	w, ok := t.m[key]
	if !ok || strconv.FormatUint(w.rv, 10) != rv {
		return false
	}
	delete(t.m, key)
	return true
}
