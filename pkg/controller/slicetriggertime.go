package controller

import (
	"time"

	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
)

// sliceTriggerAnnotation is the trigger time the EndpointSlice controller
// writes on the slices it changes: the earliest pod or Service change of
// that sync, computed by the same tracker as the Endpoints controller's.
const sliceTriggerAnnotation = v1.EndpointsLastChangeTriggerTime

// sliceTriggerTimes is triggerTimes for the slice source, which sees no
// pod's Ready transition: the Service's creation at its first sync, then
// the earliest trigger time of the slices changed since the sync before
// (a slice whose annotation differs from the one recorded, or a new slice), or a
// newer creation time. It keeps each slice's last annotation per Service.
type sliceTriggerTimes struct{ perService[sliceTriggers] }

type sliceTriggers struct {
	creation
	slices map[string]string // slice name → its trigger-time annotation
}

func newSliceTriggerTimes() *sliceTriggerTimes {
	return &sliceTriggerTimes{newPerService[sliceTriggers]()}
}

// compute records one sync of svc (key ns/name) over its slices and returns
// the trigger time to write (zero: none). Syncs of one Service never run
// concurrently.
func (t *sliceTriggerTimes) compute(key string, svc *v1.Service, slices []*discovery.EndpointSlice) time.Time {
	st, isNew := t.record(key)
	var first time.Time
	next := make(map[string]string, len(slices))
	for _, s := range slices {
		v, ok := s.Annotations[sliceTriggerAnnotation]
		if !ok {
			continue
		}
		next[s.Name] = v
		if prev, seen := st.slices[s.Name]; seen && prev == v {
			continue
		}
		if at, err := time.Parse(time.RFC3339Nano, v); err == nil {
			first = earliest(first, at)
		}
	}
	st.slices = next
	return st.settle(svc, isNew, first)
}
