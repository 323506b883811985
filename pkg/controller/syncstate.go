package controller

import (
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/endpoints-controller/endpoints-controller/pkg/metrics"
)

// trigger is the kind of an observed change: what a Service's pending
// change came from.
type trigger uint8

const (
	noTrigger trigger = iota // an add that observed no change: resync, retry, recheck
	byPod
	byService
	byEndpoints
)

func (t trigger) String() string {
	switch t {
	case byPod:
		return metrics.TriggerPod
	case byService:
		return metrics.TriggerService
	case byEndpoints:
		return metrics.TriggerEndpoints
	}
	return ""
}

// mono is a time on the controller's clock, as nanoseconds since the
// syncStates' base plus one, so that 0 means none. No pointers: the map
// of them is not scanned by the garbage collector.
type mono int64

// syncStates keeps, per Service key, what the latency metrics and the
// out-of-sync gauges need: when the earliest change not yet taken by a
// sync was observed and its kind, the same for the sync in progress,
// when the key was first queued since its last sync started, when its
// syncs started failing, and when it last synced successfully. An entry
// is made when a Service is queued or synced, and dropped once a sync has
// found the Service gone (its Endpoints deleted) with nothing pending.
type syncStates struct {
	clock clock.PassiveClock
	base  time.Time

	mu   sync.Mutex
	keys map[string]keyState
}

type keyState struct {
	pending   mono // earliest change observed and not taken by a sync
	taken     mono // the earliest change the sync in progress reflects
	queued    mono // first queued since the last sync started
	failed    mono // first failed sync since the last successful one
	lastOK    mono // last successful sync
	since     mono // when the entry was made
	pendingBy trigger
	takenBy   trigger
}

func newSyncStates(clk clock.PassiveClock) *syncStates {
	return &syncStates{clock: clk, base: clk.Now(), keys: map[string]keyState{}}
}

func (s *syncStates) now() mono { return mono(s.clock.Since(s.base)) + 1 }

// entryLocked returns key's state, a new one if none.
func (s *syncStates) entryLocked(key string, now mono) keyState {
	st, ok := s.keys[key]
	if !ok {
		st.since = now
	}
	return st
}

// queue notes that key is about to be queued because of a change of kind
// by (noTrigger: none) observed just now. Call it before adding the key to
// the queue, so that the sync the add leads to finds the change.
func (s *syncStates) queue(key string, by trigger) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.entryLocked(key, now)
	if st.queued == 0 {
		st.queued = now
	}
	if by != noTrigger && st.pending == 0 {
		st.pending, st.pendingBy = now, by
	}
	s.keys[key] = st
}

// begin starts a sync of key: the pending change is taken, to be measured
// when the sync writes. It returns how long the key waited since it was
// first queued, ok false when that is not known.
func (s *syncStates) begin(key string) (wait time.Duration, ok bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.entryLocked(key, now)
	if st.queued != 0 {
		wait, ok = time.Duration(now-st.queued), true
	}
	st.queued = 0
	st.taken, st.takenBy = st.pending, st.pendingBy
	st.pending, st.pendingBy = 0, noTrigger
	s.keys[key] = st
	return wait, ok
}

// retake adds the changes observed since begin to the sync in progress,
// which is about to compute again what to write.
func (s *syncStates) retake(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.keys[key]
	if !ok || st.pending == 0 {
		return
	}
	if st.taken == 0 {
		st.taken, st.takenBy = st.pending, st.pendingBy
	}
	st.pending, st.pendingBy = 0, noTrigger
	s.keys[key] = st
}

// finish ends the sync of key. A failed sync puts the change it took back
// (the earliest pending one stays the earliest). A successful one that
// wrote, acknowledged at ack (non-zero), returns the time from the
// earliest change it took to ack and that change's kind (ok false when it
// took none); one that wrote nothing drops the change unmeasured. gone
// tells that the Service does not exist: its entry is dropped unless it
// was queued again meanwhile.
func (s *syncStates) finish(key string, failed bool, ack mono, gone bool) (d time.Duration, by trigger, ok bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.entryLocked(key, now)
	taken, takenBy := st.taken, st.takenBy
	st.taken, st.takenBy = 0, noTrigger
	if failed {
		if taken != 0 && (st.pending == 0 || taken < st.pending) {
			st.pending, st.pendingBy = taken, takenBy
		}
		if st.failed == 0 {
			st.failed = now
		}
		s.keys[key] = st
		return 0, noTrigger, false
	}
	st.failed, st.lastOK = 0, now
	if gone && st.pending == 0 && st.queued == 0 {
		delete(s.keys, key)
	} else {
		s.keys[key] = st
	}
	if ack == 0 || taken == 0 {
		return 0, noTrigger, false
	}
	return time.Duration(max(ack-taken, 0)), takenBy, true
}

// OutOfSync counts the Services with a change observed, or a failed sync,
// more than metrics.OutOfSyncAfter ago and no successful sync since.
func (s *syncStates) OutOfSync() int {
	now := s.now()
	limit := now - mono(metrics.OutOfSyncAfter)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, st := range s.keys {
		for _, t := range [...]mono{st.pending, st.taken, st.failed} {
			if t != 0 && t < limit {
				n++
				break
			}
		}
	}
	return n
}

// OldestSuccessfulSyncAge is the longest time since a known Service synced
// successfully; one that never did counts from when it became known.
func (s *syncStates) OldestSuccessfulSyncAge() time.Duration {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var oldest mono
	for _, st := range s.keys {
		t := st.lastOK
		if t == 0 {
			t = st.since
		}
		oldest = max(oldest, now-t)
	}
	return time.Duration(oldest)
}

// len is the number of entries.
func (s *syncStates) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys)
}
