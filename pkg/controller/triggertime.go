package controller

import (
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
)

// triggerTimes yields the endpoints.kubernetes.io/last-change-trigger-time
// of each write as the built-in does: the Service's creation at its first
// sync, then the earliest change not seen by the sync before — a pod's
// Ready transition newer than the one recorded then, or a newer creation
// time. Per Service it keeps one time per pod, updated in place
// rather than rebuilt on every sync.
type triggerTimes struct {
	mu       sync.Mutex
	services map[string]*serviceTriggers
}

type serviceTriggers struct {
	created time.Time
	pods    map[string]podTrigger // pod name → its last Ready transition
	sync    uint32                // counts syncs, to find the pods gone since
}

type podTrigger struct {
	at   time.Time
	sync uint32
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
		st = &serviceTriggers{pods: make(map[string]podTrigger, len(pods))}
		t.services[key] = st
	}
	t.mu.Unlock()

	st.sync++
	var earliest time.Time
	changed := func(at time.Time) {
		if earliest.IsZero() || at.Before(earliest) {
			earliest = at
		}
	}
	recorded := 0
	for _, pod := range pods {
		at := pod.ReadySince.Time
		if at.IsZero() {
			continue // no Ready condition: nothing to record
		}
		if at.After(st.pods[pod.Name].at) {
			changed(at)
		}
		st.pods[pod.Name] = podTrigger{at: at, sync: st.sync}
		recorded++
	}
	if len(st.pods) > recorded {
		for name, p := range st.pods {
			if p.sync != st.sync {
				delete(st.pods, name)
			}
		}
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

// forget drops what is known of a deleted Service.
func (t *triggerTimes) forget(key string) {
	t.mu.Lock()
	delete(t.services, key)
	t.mu.Unlock()
}
