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
type triggerTimes struct {
	mu       sync.Mutex
	services map[string]*serviceTriggers
}

type serviceTriggers struct {
	created time.Time
	pods    []podTrigger // by name: each pod's last Ready transition
}

type podTrigger struct {
	name string
	at   time.Time
}

func newTriggerTimes() *triggerTimes {
	return &triggerTimes{services: map[string]*serviceTriggers{}}
}

// compute records one sync of svc (key ns/name) over its selected pods and
// returns the trigger time to write (zero: none). Syncs of one Service
// never run concurrently.
func (t *triggerTimes) compute(key string, svc *v1.Service, pods []*endpoints.Pod) time.Time {
	t.mu.Lock()
	st := t.services[key]
	isNew := st == nil
	if isNew {
		st = &serviceTriggers{}
		t.services[key] = st
	}
	t.mu.Unlock()

	var earliest time.Time
	changed := func(at time.Time) {
		if earliest.IsZero() || at.Before(earliest) {
			earliest = at
		}
	}
	recorded, same := 0, true
	for _, pod := range pods {
		at := pod.ReadySince.Time
		if at.IsZero() {
			continue // no Ready condition: nothing to record
		}
		recorded++
		prev, found := st.lookup(pod.Name)
		if at.After(prev) {
			changed(at)
		}
		same = same && found && at.Equal(prev)
	}
	if !same || recorded != len(st.pods) {
		next := make([]podTrigger, 0, recorded)
		for _, pod := range pods {
			if at := pod.ReadySince.Time; !at.IsZero() {
				next = append(next, podTrigger{pod.Name, at})
			}
		}
		slices.SortFunc(next, func(a, b podTrigger) int { return strings.Compare(a.name, b.name) })
		st.pods = next
	}
	if created := svc.CreationTimestamp.Time; created.After(st.created) {
		changed(created)
	}
	st.created = svc.CreationTimestamp.Time
	if isNew {
		return svc.CreationTimestamp.Time
	}
	return earliest
}

// lookup returns the Ready transition recorded for pod name.
func (st *serviceTriggers) lookup(name string) (time.Time, bool) {
	i, found := slices.BinarySearchFunc(st.pods, name, func(p podTrigger, name string) int { return strings.Compare(p.name, name) })
	if !found {
		return time.Time{}, false
	}
	return st.pods[i].at, true
}

// forget drops what is known of a deleted Service.
func (t *triggerTimes) forget(key string) {
	t.mu.Lock()
	delete(t.services, key)
	t.mu.Unlock()
}
