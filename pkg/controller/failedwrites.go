package controller

import (
	"sync"
	"time"
)

// failedWrites keeps, per Service whose last write failed, the trigger
// time that write carried. The trigger-time tracker has already moved on
// to the state that write reflected, so the retry, seeing no change,
// would otherwise write none and the change would be lost (as it is in
// the built-in). Entries exist only while a failed write is pending.
type failedWrites struct {
	mu      sync.Mutex
	pending map[string]time.Time
}

func newFailedWrites() *failedWrites {
	return &failedWrites{pending: map[string]time.Time{}}
}

// get returns the trigger time of key's failed write (zero: none).
func (f *failedWrites) get(key string) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pending[key]
}

// set records the trigger time of key's failed write; zero clears it.
func (f *failedWrites) set(key string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if at.IsZero() {
		delete(f.pending, key)
	} else {
		f.pending[key] = at
	}
}

// len is the number of Services with a failed write pending.
func (f *failedWrites) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pending)
}
