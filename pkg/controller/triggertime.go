package controller

import (
	"slices"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
)

// triggerTimes yields the endpoints.kubernetes.io/last-change-trigger-time
// of each write as the built-in does: the Service's creation at its first
// sync, then the earliest change not seen by the sync before — a pod's
// Ready transition newer than the one recorded then, or a newer creation
// time. Per Service it keeps one time per pod, in a slice sorted by pod
// name (a map per Service cost several times more memory), replaced only
// when a sync sees a change.
type triggerTimes struct{ perService[serviceTriggers] }

type serviceTriggers struct {
	creation
	pods []podTrigger // by name: each pod's last Ready transition
}

// podTrigger is 24 bytes, the time as nanoseconds since the epoch: one per
// pod, and a time.Time is 24 bytes alone.
type podTrigger struct {
	name string
	at   int64
}

func newTriggerTimes() *triggerTimes { return &triggerTimes{newPerService[serviceTriggers]()} }

// compute records one sync of svc (key ns/name) over its selected pods and
// returns the trigger time to write (zero: none). Syncs of one Service
// never run concurrently.
func (t *triggerTimes) compute(key string, svc *v1.Service, pods []*endpoints.Pod) time.Time {
	st, isNew := t.record(key)
	var first time.Time
	recorded, same := 0, true
	for _, pod := range pods {
		at := pod.ReadySince
		if at == 0 {
			continue // no Ready condition: nothing to record
		}
		recorded++
		prev, found := st.lookup(pod.Name)
		if !found || at > prev {
			first = earliest(first, time.Unix(0, at))
		}
		same = same && found && at == prev
	}
	if !same || recorded != len(st.pods) {
		next := make([]podTrigger, 0, recorded)
		for _, pod := range pods {
			if at := pod.ReadySince; at != 0 {
				next = append(next, podTrigger{pod.Name, at})
			}
		}
		slices.SortFunc(next, func(a, b podTrigger) int { return strings.Compare(a.name, b.name) })
		st.pods = next
	}
	return st.settle(svc, isNew, first)
}

// lookup returns the Ready transition recorded for pod name.
func (st *serviceTriggers) lookup(name string) (int64, bool) {
	i, found := slices.BinarySearchFunc(st.pods, name, func(p podTrigger, name string) int { return strings.Compare(p.name, name) })
	if !found {
		return 0, false
	}
	return st.pods[i].at, true
}

// perService is a trigger-time tracker's record of each Service, by key.
type perService[T any] struct {
	mu       sync.Mutex
	services map[string]*T
}

func newPerService[T any]() perService[T] { return perService[T]{services: map[string]*T{}} }

// record returns the record of Service key, new (and added) if none was.
func (p *perService[T]) record(key string) (rec *T, isNew bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if rec = p.services[key]; rec == nil {
		rec, isNew = new(T), true
		p.services[key] = rec
	}
	return rec, isNew
}

// forget drops what is known of a deleted Service.
func (p *perService[T]) forget(key string) {
	p.mu.Lock()
	delete(p.services, key)
	p.mu.Unlock()
}

// creation is the Service creation time a tracker saw at its last sync.
type creation struct{ created time.Time }

// settle records svc's creation time and returns the sync's trigger time:
// the creation at a Service's first sync, else the earlier of first (the
// changes seen; zero: none) and a creation newer than the one recorded.
func (c *creation) settle(svc *v1.Service, isNew bool, first time.Time) time.Time {
	created := svc.CreationTimestamp.Time
	if created.After(c.created) {
		first = earliest(first, created)
	}
	c.created = created
	if isNew {
		return created
	}
	return first
}
