package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
)

// tracker compares what the test's Endpoints informer shows with what the
// test knows the Endpoints must be (it wrote every pod), incrementally, and
// times readiness flips from the UpdateStatus response until every Service
// selecting the pod shows its IP in the right list. It also times each
// Endpoints update that shows flips, from the earliest of their responses:
// the outside view of what the controller's
// endpoints_controller_event_to_write_latency_seconds measures per write.
type tracker struct {
	mu sync.Mutex
	w  *world
	// per Service
	byKey map[string]int
	obs   []observed
	ok    []bool
	// per pod
	ready []bool // what the pod's Ready condition is (or is being set to)
	flips map[int]*flip

	wrong     int       // Services whose Endpoints are not what they must be
	existing  int       // Services that have an Endpoints object
	allOKAt   time.Time // when wrong last dropped to 0; zero while wrong > 0
	lastEvent time.Time // last Endpoints event of the world's namespaces
	events    int

	lat        []time.Duration // latencies of the flips completed this run
	writeLat   []time.Duration // latencies of the Endpoints updates showing flips, this run
	early      int             // flips seen in the Endpoints before the UpdateStatus response
	preCorrect int             // flips whose new state was already shown (Endpoints were wrong)
}

// observed is what one Service's Endpoints show: how often each IP is
// listed as ready and as not ready.
type observed struct {
	exists          bool
	ready, notReady map[string]int
	total           int
}

type flip struct {
	pod     int
	waiting []int     // Services not yet showing the new state
	respAt  time.Time // zero until UpdateStatus returned
	obsAt   time.Time // zero until every Service shows it
}

func newTracker() *tracker { return &tracker{} }

// setWorld starts tracking w, all pods Ready, with lookup giving the
// informer's current Endpoints by key. nil stops tracking.
func (t *tracker) setWorld(w *world, lookup func(key string) *v1.Endpoints) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.w = w
	t.byKey, t.obs, t.ok, t.ready, t.flips = nil, nil, nil, nil, map[int]*flip{}
	t.wrong, t.existing, t.allOKAt, t.lat, t.writeLat, t.early, t.preCorrect = 0, 0, time.Time{}, nil, nil, 0, 0
	if w == nil {
		return
	}
	t.byKey = make(map[string]int, len(w.services))
	t.obs = make([]observed, len(w.services))
	t.ok = make([]bool, len(w.services))
	t.ready = make([]bool, len(w.pods))
	for i := range t.ready {
		t.ready[i] = true
	}
	t.wrong = len(w.services)
	for s := range w.services {
		t.byKey[w.key(s)] = s
	}
	for s := range w.services {
		t.observeLocked(s, lookup(w.key(s)), time.Now())
	}
}

// observe takes the latest Endpoints of key (nil: none) from the informer.
func (t *tracker) observe(key string, ep *v1.Endpoints) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.byKey[key]
	if !ok {
		return
	}
	t.lastEvent = now
	t.events++
	t.observeLocked(s, ep, now)
}

func (t *tracker) observeLocked(s int, ep *v1.Endpoints, now time.Time) {
	o := observed{}
	if ep != nil {
		o.exists = true
		o.ready, o.notReady = map[string]int{}, map[string]int{}
		for _, ss := range ep.Subsets {
			for _, a := range ss.Addresses {
				o.ready[a.IP]++
				o.total++
			}
			for _, a := range ss.NotReadyAddresses {
				o.notReady[a.IP]++
				o.total++
			}
		}
	}
	if o.exists != t.obs[s].exists {
		if o.exists {
			t.existing++
		} else {
			t.existing--
		}
	}
	t.obs[s] = o
	t.recheckLocked(s, now)
	// The update is timed from the earliest response of the flips it is
	// the first to show: 0 if it came before all of them.
	var first time.Time
	shown := false
	for _, p := range t.w.services[s].pods {
		if f := t.flips[p]; f != nil && f.obsAt.IsZero() && t.progressLocked(f, s, now) {
			shown = true
			if !f.respAt.IsZero() && (first.IsZero() || f.respAt.Before(first)) {
				first = f.respAt
			}
		}
	}
	if shown {
		var d time.Duration
		if !first.IsZero() {
			d = max(0, now.Sub(first))
		}
		t.writeLat = append(t.writeLat, d)
	}
}

// podShownLocked reports whether Service s's Endpoints list pod p, once,
// in the list its readiness asks for.
func (t *tracker) podShownLocked(s, p int) bool {
	o := &t.obs[s]
	if !o.exists {
		return false
	}
	ip := t.w.pods[p].ip
	if t.ready[p] {
		return o.ready[ip] == 1 && o.notReady[ip] == 0
	}
	return o.notReady[ip] == 1 && o.ready[ip] == 0
}

// recheckLocked updates whether Service s is right, and the counts.
func (t *tracker) recheckLocked(s int, now time.Time) {
	pods := t.w.services[s].pods
	ok := t.obs[s].exists && t.obs[s].total == len(pods)
	for _, p := range pods {
		if !ok {
			break
		}
		ok = t.podShownLocked(s, p)
	}
	if ok == t.ok[s] {
		return
	}
	t.ok[s] = ok
	if ok {
		t.wrong--
		if t.wrong == 0 {
			t.allOKAt = now
		}
	} else {
		if t.wrong == 0 {
			t.allOKAt = time.Time{}
		}
		t.wrong++
	}
}

// progressLocked ticks off Service s of flip f if it shows the new state,
// and reports whether it did.
func (t *tracker) progressLocked(f *flip, s int, now time.Time) bool {
	for i, ws := range f.waiting {
		if ws != s {
			continue
		}
		if !t.podShownLocked(s, f.pod) {
			return false
		}
		f.waiting = append(f.waiting[:i], f.waiting[i+1:]...)
		if len(f.waiting) == 0 {
			f.obsAt = now
			t.finishLocked(f)
		}
		return true
	}
	return false
}

// finishLocked records f's latency once both its times are known.
func (t *tracker) finishLocked(f *flip) {
	if f.respAt.IsZero() || f.obsAt.IsZero() {
		return
	}
	d := f.obsAt.Sub(f.respAt)
	if d < 0 {
		d = 0
		t.early++
	}
	t.lat = append(t.lat, d)
	delete(t.flips, f.pod)
}

// setReadyLocked sets what pod p's readiness is, rechecking its Services.
func (t *tracker) setReadyLocked(p int, ready bool, now time.Time) {
	t.ready[p] = ready
	for _, s := range t.w.pods[p].svcs {
		t.recheckLocked(s, now)
	}
}

// startFlip picks a random pod without a flip in progress (up to 20 tries),
// records that its readiness is about to flip, and returns it with its new
// readiness; ok is false if every try hit a pending pod.
func (t *tracker) startFlip(rng *rand.Rand) (pod int, ready, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for range 20 {
		p := rng.IntN(len(t.w.pods))
		if t.flips[p] != nil {
			continue
		}
		now := time.Now()
		t.setReadyLocked(p, !t.ready[p], now)
		f := &flip{pod: p}
		for _, s := range t.w.pods[p].svcs {
			if t.podShownLocked(s, p) {
				t.preCorrect++ // the Endpoints were wrong before the flip
				continue
			}
			f.waiting = append(f.waiting, s)
		}
		if len(f.waiting) == 0 {
			// Nothing to wait for; the flip is not timed.
			return p, t.ready[p], true
		}
		t.flips[p] = f
		return p, t.ready[p], true
	}
	return 0, false, false
}

// flipWritten records when UpdateStatus for pod p's flip returned.
func (t *tracker) flipWritten(p int, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.flips[p]; f != nil {
		f.respAt = at
		t.finishLocked(f)
	}
}

// flipFailed forgets pod p's flip and sets its readiness to what the API
// server says it is (ready), since the write may or may not have happened.
func (t *tracker) flipFailed(p int, ready bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.flips, p)
	t.setReadyLocked(p, ready, time.Now())
}

// setReady records a readiness change that is not timed (resets).
func (t *tracker) setReady(p int, ready bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.flips, p)
	t.setReadyLocked(p, ready, time.Now())
}

// notReadyPods returns the pods whose readiness is false.
func (t *tracker) notReadyPods() []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []int
	for p, r := range t.ready {
		if !r {
			out = append(out, p)
		}
	}
	return out
}

// runStats is what the tracker measured since the last resetRun.
type runStats struct {
	lat        []time.Duration
	writeLat   []time.Duration // per Endpoints update showing flips
	early      int             // seen before the UpdateStatus response (counted as 0)
	preCorrect int             // Endpoints already showed the new state before the flip
	unobserved int             // flips never seen in the Endpoints
}

// takeRun returns the run's stats and starts a new run: flips still in
// flight are dropped.
func (t *tracker) takeRun() runStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := runStats{lat: t.lat, writeLat: t.writeLat, early: t.early, preCorrect: t.preCorrect, unobserved: len(t.flips)}
	t.lat, t.writeLat, t.early, t.preCorrect, t.flips = nil, nil, 0, 0, map[int]*flip{}
	return st
}

type snapshot struct {
	wrong, existing, services, events int
	allOKAt, lastEvent                time.Time
}

func (t *tracker) snapshot() snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	return snapshot{wrong: t.wrong, existing: t.existing, services: len(t.obs), events: t.events,
		allOKAt: t.allOKAt, lastEvent: t.lastEvent}
}

// wrongKeys returns up to n Services whose Endpoints are wrong, for errors.
func (t *tracker) wrongKeys(n int) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for s, ok := range t.ok {
		if !ok && len(out) < n {
			out = append(out, t.w.key(s))
		}
	}
	return out
}

var errStalled = errors.New("stalled")

// waitAllOK waits until every Endpoints is right and returns when that
// happened (by the event that made it so). It gives up after timeout, or
// after stall without any Endpoints event (counted from the call), or when
// died is closed (the controller exited).
func (t *tracker) waitAllOK(ctx context.Context, timeout, stall time.Duration, died <-chan struct{}) (time.Time, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		s := t.snapshot()
		if s.wrong == 0 {
			return s.allOKAt, nil
		}
		now := time.Now()
		last := s.lastEvent
		if last.Before(start) {
			last = start
		}
		switch {
		case now.After(deadline):
			return time.Time{}, fmt.Errorf("%d of %d Endpoints still wrong after %s (e.g. %v)", s.wrong, s.services, timeout, t.wrongKeys(5))
		case now.Sub(last) > stall:
			return time.Time{}, fmt.Errorf("%w: %d of %d Endpoints wrong and no Endpoints event for %s (e.g. %v)", errStalled, s.wrong, s.services, stall, t.wrongKeys(5))
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-died:
			return time.Time{}, errors.New("the controller exited")
		case <-tick.C:
		}
	}
}

// waitQuiet waits until cond holds and no Endpoints event came for quiet.
func (t *tracker) waitQuiet(ctx context.Context, quiet, timeout time.Duration, cond func(snapshot) bool) error {
	deadline := time.Now().Add(timeout)
	for {
		s := t.snapshot()
		if cond(s) && time.Since(s.lastEvent) >= quiet {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not quiet within %s: %d Endpoints exist, %d wrong, last event %s ago",
				timeout, s.existing, s.wrong, time.Since(s.lastEvent).Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
