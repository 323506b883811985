package parity

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// render returns the comparable JSON of ep ("" for a missing one): the
// object as stored, subsets in their stored order, without what the API
// server sets (resourceVersion, uid, creationTimestamp, managedFields) and
// with the trigger time's value masked (only its presence is compared).
func render(ep *v1.Endpoints) string {
	if ep == nil {
		return ""
	}
	ep = ep.DeepCopy()
	ep.ResourceVersion, ep.UID, ep.Generation = "", "", 0
	ep.CreationTimestamp, ep.ManagedFields = metav1.Time{}, nil
	if _, ok := ep.Annotations[v1.EndpointsLastChangeTriggerTime]; ok {
		ep.Annotations[v1.EndpointsLastChangeTriggerTime] = "<set>"
	}
	out, err := json.MarshalIndent(ep, "", "  ")
	if err != nil {
		panic(err) // API types always marshal
	}
	return string(out)
}

// rewrittenEverySync returns the Endpoints the built-in rewrites on every
// sync of their Service even though nothing changed: truncated ones
// (capacityAnnotationSetCorrectly is false for them), and those of Services
// whose own labels hold the headless or managed-by key
// (labelsCorrectForEndpoints miscounts them). Such a rewrite without a new
// trigger drops the last-change-trigger-time annotation, so whether the
// built-in's copy has it depends on how many times the Service happened to
// be synced at start-up (its informers queue it once per pod event); and
// a pre-existing Endpoints that is already right gets it from the
// built-in's needless first write, while ours leaves it alone.
func rewrittenEverySync(worlds []*world, builtin map[string]*v1.Endpoints) map[string]bool {
	out := map[string]bool{}
	for _, w := range worlds {
		for _, svc := range w.services {
			if !served(svc) {
				continue
			}
			key := w.ns + "/" + svc.Name
			_, headless := svc.Labels[v1.IsHeadlessService]
			_, managed := svc.Labels[managedByLabel]
			ep := builtin[key]
			if headless || managed || (ep != nil && ep.Annotations[v1.EndpointsOverCapacity] != "") {
				out[key] = true
			}
		}
	}
	return out
}

// withoutTriggerTime returns ep without the trigger-time annotation.
func withoutTriggerTime(ep *v1.Endpoints) *v1.Endpoints {
	if ep == nil {
		return nil
	}
	if _, ok := ep.Annotations[v1.EndpointsLastChangeTriggerTime]; !ok {
		return ep
	}
	ep = ep.DeepCopy()
	delete(ep.Annotations, v1.EndpointsLastChangeTriggerTime)
	return ep
}

// compareSnapshots compares two snapshots Endpoints by Endpoints and returns
// how many were compared and a readable report per difference. For relaxed
// keys (see rewrittenEverySync) the trigger time's presence is not compared.
func compareSnapshots(builtin, ours map[string]*v1.Endpoints, relaxed map[string]bool) (int, []string) {
	keys := slices.Sorted(maps.Keys(builtin))
	for k := range ours {
		if _, ok := builtin[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var diffs []string
	for _, k := range keys {
		be, oe := builtin[k], ours[k]
		if relaxed[k] {
			be, oe = withoutTriggerTime(be), withoutTriggerTime(oe)
		}
		a, b := render(be), render(oe)
		switch {
		case a == b:
		case a == "":
			diffs = append(diffs, fmt.Sprintf("Endpoints %s: written by ours only:\n%s", k, b))
		case b == "":
			diffs = append(diffs, fmt.Sprintf("Endpoints %s: written by the built-in only:\n%s", k, a))
		default:
			diffs = append(diffs, fmt.Sprintf("Endpoints %s differ (- built-in, + ours):\n%s", k, lineDiff(a, b)))
		}
	}
	return len(keys), diffs
}

// lineDiff is a small line diff: common head and tail are cut down to a
// little context, the middle is diffed by longest common subsequence (or
// shown whole when too big).
func lineDiff(a, b string) string {
	const context, maxLines = 3, 120
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	head := 0
	for head < len(x) && head < len(y) && x[head] == y[head] {
		head++
	}
	tail := 0
	for tail < len(x)-head && tail < len(y)-head && x[len(x)-1-tail] == y[len(y)-1-tail] {
		tail++
	}
	var out []string
	for _, l := range x[max(0, head-context):head] {
		out = append(out, "  "+l)
	}
	mx, my := x[head:len(x)-tail], y[head:len(y)-tail]
	if len(mx)*len(my) > 4_000_000 {
		for _, l := range mx {
			out = append(out, "- "+l)
		}
		for _, l := range my {
			out = append(out, "+ "+l)
		}
	} else {
		out = append(out, lcsDiff(mx, my)...)
	}
	for _, l := range x[len(x)-tail : min(len(x), len(x)-tail+context)] {
		out = append(out, "  "+l)
	}
	if len(out) > maxLines {
		out = append(out[:maxLines], fmt.Sprintf("... (%d more lines)", len(out)-maxLines))
	}
	return strings.Join(out, "\n")
}

func lcsDiff(x, y []string) []string {
	// n[i][j]: length of the LCS of x[i:] and y[j:].
	n := make([][]int, len(x)+1)
	for i := range n {
		n[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				n[i][j] = n[i+1][j+1] + 1
			} else {
				n[i][j] = max(n[i+1][j], n[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			out = append(out, "  "+x[i])
			i, j = i+1, j+1
		case j < len(y) && (i == len(x) || n[i][j+1] >= n[i+1][j]):
			out = append(out, "+ "+y[j])
			j++
		default:
			out = append(out, "- "+x[i])
			i++
		}
	}
	return out
}
