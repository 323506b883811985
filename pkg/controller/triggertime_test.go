package controller

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	endpointsliceutil "k8s.io/endpointslice/util"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
)

// TestTriggerTimesAsBuiltin replays random syncs through our tracker and the
// one the built-in uses (published in k8s.io/endpointslice): every trigger
// time must be the same.
func TestTriggerTimesAsBuiltin(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ours, theirs := newTriggerTimes(), endpointsliceutil.NewTriggerTimeTracker()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func() metav1.Time {
		if rng.IntN(5) == 0 {
			return metav1.Time{}
		}
		return metav1.NewTime(base.Add(time.Duration(rng.IntN(50)) * time.Second))
	}
	svcs := map[string]*v1.Service{}
	pods := map[string]map[string]*v1.Pod{} // service → pod name → pod
	for step := range 5000 {
		name := "s" + strconv.Itoa(rng.IntN(5))
		key := "ns/" + name
		if svcs[name] == nil || rng.IntN(40) == 0 { // (re)created
			svcs[name] = &v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, CreationTimestamp: at()}}
			pods[name] = map[string]*v1.Pod{}
		}
		if rng.IntN(30) == 0 { // deleted
			ours.forget(key)
			theirs.DeleteService("ns", name)
			delete(svcs, name)
			continue
		}
		for range rng.IntN(3) { // pods come, change and go
			pn := "p" + strconv.Itoa(rng.IntN(8))
			if rng.IntN(4) == 0 {
				delete(pods[name], pn)
				continue
			}
			p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: pn}}
			if lt := at(); !lt.IsZero() {
				p.Status.Conditions = []v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionTrue, LastTransitionTime: lt}}
			}
			pods[name][pn] = p
		}
		var list []*v1.Pod
		for _, p := range pods[name] {
			list = append(list, p)
		}
		want := theirs.ComputeEndpointLastChangeTriggerTime("ns", svcs[name], list)
		got := ours.compute(key, svcs[name], endpoints.Pods(list))
		if !got.Equal(want) {
			t.Fatalf("step %d, %s: trigger time %v, built-in %v", step, key, got, want)
		}
	}
}
