package parity

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// shadowMetrics is what our /metrics says about shadow mode.
type shadowMetrics struct {
	mismatches float64            // endpoints_controller_shadow_mismatches
	diffs      map[string]float64 // endpoints_controller_shadow_diffs_total by field
	syncs      float64            // successful syncs
	writes     float64            // syncs that wrote or failed: a shadow makes neither
}

func (m shadowMetrics) String() string {
	return fmt.Sprintf("mismatches %v, diffs %v, syncs %v, writes %v", m.mismatches, m.diffs, m.syncs, m.writes)
}

func readShadowMetrics(url string) (shadowMetrics, error) {
	samples, err := scrape(url)
	if err != nil {
		return shadowMetrics{}, err
	}
	m := shadowMetrics{
		mismatches: metricSum(samples, "endpoints_controller_shadow_mismatches", nil),
		diffs:      map[string]float64{},
		syncs:      metricSum(samples, "endpoints_controller_sync_duration_seconds_count", map[string]string{"result": "success"}),
		writes:     syncsTotal(samples, "created", "updated", "deleted", "conflict", "error"),
	}
	for _, s := range samples {
		if s.name == "endpoints_controller_shadow_diffs_total" {
			m.diffs[s.labels["field"]] += s.value
		}
	}
	return m, nil
}

// waitShadow polls our metrics until ok accepts them, and returns them.
func waitShadow(t *testing.T, p *proc, url, what string, timeout time.Duration, ok func(shadowMetrics) error) shadowMetrics {
	t.Helper()
	var m shadowMetrics
	framework.Eventually(t, timeout, func() error {
		if p.Exited() {
			t.Fatalf("%s: %s exited\n%s", what, p.Name(), p.LogTail(30))
		}
		var err error
		if m, err = readShadowMetrics(url); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := ok(m); err != nil {
			return fmt.Errorf("%s: %w (%v)\n%s", what, err, m, shadowLines(p, 0))
		}
		return nil
	})
	return m
}

// shadowLines returns the "Shadow:" lines p logged past offset.
func shadowLines(p *proc, offset int64) string {
	f, err := os.Open(p.LogPath())
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return err.Error()
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, "Shadow:") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func logSize(t *testing.T, p *proc) int64 {
	t.Helper()
	fi, err := os.Stat(p.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestShadowBesideBuiltin runs ours with --shadow beside the built-in under
// readiness churn: once the built-in has caught up, ours must report no
// mismatch, and it must never write. A hand-edited Endpoints must then be
// reported within seconds, and cleared once the built-in repairs it.
func TestShadowBesideBuiltin(t *testing.T) {
	start := time.Now()
	ctx := context.Background()
	cs := framework.Clientset(cp.Config)
	dir := logDir(t)
	w := newChurnWorld(framework.NewNamespace(t, cs))
	w.create(t, cs)

	builtin := startBuiltin(t, dir, "kube-controller-manager")
	w.waitMatching(t, cs, "the built-in", false, builtin)

	ours, url := startOurs(t, dir, "endpoints-controller-shadow", "--shadow")
	waitSynced(t, ours)
	// Every Service compared once (syncs count) and found right.
	m := waitShadow(t, ours, url, "shadow start-up", 60*time.Second, func(m shadowMetrics) error {
		if m.syncs < churnServices {
			return fmt.Errorf("only %v syncs so far", m.syncs)
		}
		if m.mismatches != 0 {
			return fmt.Errorf("%v mismatches", m.mismatches)
		}
		return nil
	})
	if n := sumValues(m.diffs); n != 0 {
		t.Errorf("shadow false positive: with the built-in's Endpoints settled, ours counted %v mismatches at start-up (%v)\n%s",
			n, m.diffs, shadowLines(ours, 0))
	}
	uids := endpointsUIDs(t, cs, w.ns)

	// Churn, then the built-in catches up and so must the shadow.
	seq := churnSequence(7, 100, len(w.pods), 10*time.Second)
	churnStart := time.Now()
	flips := w.churn(t, cs, seq)
	t.Logf("churn: %d Ready flips in %s", flips, time.Since(churnStart).Round(100*time.Millisecond))
	before := time.Now()
	w.waitMatching(t, cs, "the built-in after churn", false, builtin, ours)
	m = waitShadow(t, ours, url, "shadow after churn", 30*time.Second, func(m shadowMetrics) error {
		if m.mismatches != 0 {
			return fmt.Errorf("%v mismatches", m.mismatches)
		}
		return nil
	})
	t.Logf("shadow: mismatches back to 0 %s after churn ended; transient mismatches counted during churn: %v",
		time.Since(before).Round(100*time.Millisecond), m.diffs)
	checkShadowWroteNothing(t, cs, w.ns, uids, ours, url)

	// A hand edit while the built-in is stopped (so it stays) is reported.
	builtin.Stop()
	offset := logSize(t, ours)
	const edited, bogusIP = "svc-2", "10.250.0.99"
	key := w.ns + "/" + edited
	ep, err := cs.CoreV1().Endpoints(w.ns).Get(ctx, edited, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ep.Subsets) == 0 {
		t.Fatalf("Endpoints %s have no subsets", key)
	}
	ep.Subsets[0].Addresses = append(ep.Subsets[0].Addresses, v1.EndpointAddress{IP: bogusIP})
	if _, err := cs.CoreV1().Endpoints(w.ns).Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	edit := time.Now()
	addrDiffs := m.diffs["addresses"]
	waitShadow(t, ours, url, "shadow after a hand edit", 20*time.Second, func(m shadowMetrics) error {
		if m.mismatches < 1 {
			return fmt.Errorf("mismatch not reported")
		}
		if m.diffs["addresses"] <= addrDiffs {
			return fmt.Errorf(`shadow_diffs_total{field="addresses"} still %v`, m.diffs["addresses"])
		}
		return nil
	})
	var line string
	framework.Eventually(t, 10*time.Second, func() error { // logs may trail the metrics a little
		for _, l := range strings.Split(shadowLines(ours, offset), "\n") {
			if strings.Contains(l, `service="`+key+`"`) && strings.Contains(l, bogusIP) {
				line = l
				return nil
			}
		}
		return fmt.Errorf("no Shadow: line naming %s and %s in %s", key, bogusIP, ours.LogPath())
	})
	t.Logf("hand edit reported in %s: %s", time.Since(edit).Round(100*time.Millisecond), line)

	// The built-in, restarted, repairs the edit; the shadow sees it.
	offset = logSize(t, ours)
	restarted := startBuiltin(t, dir, "kube-controller-manager-restarted")
	w.waitMatching(t, cs, "the restarted built-in", false, restarted, ours)
	waitShadow(t, ours, url, "shadow after the repair", 30*time.Second, func(m shadowMetrics) error {
		if m.mismatches != 0 {
			return fmt.Errorf("%v mismatches", m.mismatches)
		}
		return nil
	})
	if lines := shadowLines(ours, offset); !strings.Contains(lines, "match again") || !strings.Contains(lines, key) {
		t.Errorf("no \"match again\" line for %s after the repair; Shadow: lines:\n%s", key, lines)
	}
	checkShadowWroteNothing(t, cs, w.ns, uids, ours, url)
	t.Logf("took %s", time.Since(start).Round(time.Second))
}

func sumValues(m map[string]float64) float64 {
	var n float64
	for _, v := range m {
		n += v
	}
	return n
}

// endpointsUIDs maps the namespace's Endpoints names to UIDs: a delete and
// re-create changes the UID.
func endpointsUIDs(t *testing.T, cs kubernetes.Interface, ns string) map[string]types.UID {
	t.Helper()
	list, err := cs.CoreV1().Endpoints(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]types.UID{}
	for _, ep := range list.Items {
		out[ep.Name] = ep.UID
	}
	return out
}

// checkShadowWroteNothing fails if ours wrote any Endpoints of ns: none may
// name it as a field manager (an update or create would), none of uids may
// have been deleted or re-created, and ours must not have counted a write.
func checkShadowWroteNothing(t *testing.T, cs kubernetes.Interface, ns string, uids map[string]types.UID, ours *proc, url string) {
	t.Helper()
	list, err := cs.CoreV1().Endpoints(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	managers := map[string]bool{}
	seen := map[string]bool{}
	for _, ep := range list.Items {
		seen[ep.Name] = true
		if uid, ok := uids[ep.Name]; ok && uid != ep.UID {
			t.Errorf("shadow: Endpoints %s/%s were deleted and re-created", ns, ep.Name)
		}
		for _, mf := range ep.ManagedFields {
			managers[mf.Manager] = true
			if strings.Contains(mf.Manager, "endpoints-controller") {
				t.Errorf("shadow: Endpoints %s/%s were written by %q (%s at %v)", ns, ep.Name, mf.Manager, mf.Operation, mf.Time)
			}
		}
	}
	for name := range uids {
		if !seen[name] {
			t.Errorf("shadow: Endpoints %s/%s were deleted", ns, name)
		}
	}
	m, err := readShadowMetrics(url)
	if err != nil {
		t.Fatal(err)
	}
	if m.writes != 0 {
		t.Errorf("shadow: ours counted %v Endpoints writes\n%s", m.writes, ours.LogTail(30))
	}
	t.Logf("Endpoints field managers: %v", slices.Sorted(maps.Keys(managers)))
}
