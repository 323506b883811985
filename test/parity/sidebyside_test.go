package parity

import (
	"fmt"
	"testing"
	"time"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

const (
	sideBySideSeed  = 42
	sideBySideFlips = 150
	sideBySideSpan  = 10 * time.Second
	// Both sequences are timing dependent (how flips coalesce into syncs),
	// so together may exceed alone by a little without any fight.
	sideBySideRatio = 1.10
	sideBySideSlack = 5
	// Two writers race on every change: both see the pod event at about the
	// same time and update from the same resourceVersion, so the loser gets
	// one 409 per change (measured: 0.95-1.0 × the writes alone), after
	// which its retry finds nothing to do. A retry that hits a cache not yet
	// caught up may lose once more; a fight or retry storm loses every time.
	sideBySideConflictsPerWrite = 1.5
)

// TestSideBySide plays the same seeded readiness churn twice: (a) with the
// built-in alone, (b) with the built-in and ours both writing (as during a
// switch-over gone wrong, or a rollback before the built-in is disabled).
// Both compute the same Endpoints, so (b) must cost about as many writes as
// (a), with the loser of each race getting a conflict and then finding
// nothing to do: no write fight. The counts come from the API server's
// apiserver_request_total, diffed around each phase once all Endpoints
// match their pods and nothing is being written any more.
func TestSideBySide(t *testing.T) {
	start := time.Now()
	cs := framework.Clientset(cp.Config)
	dir := logDir(t)
	w := newChurnWorld(framework.NewNamespace(t, cs))
	w.create(t, cs)
	seq := churnSequence(sideBySideSeed, sideBySideFlips, len(w.pods), sideBySideSpan)

	builtin := startBuiltin(t, dir, "kube-controller-manager")
	a0 := w.waitMatching(t, cs, "the built-in", true, builtin)

	// (a) The built-in alone.
	flips := w.churn(t, cs, seq)
	a1 := w.waitMatching(t, cs, "(a) after churn, built-in alone", true, builtin)
	alone := a1.sub(a0)
	t.Logf("(a) built-in alone: %d pod status writes -> Endpoints writes %v ok, %v conflicts, %v other", flips, alone.ok, alone.conflict, alone.other)

	// Reset: the pods back to all Ready, the built-in catches up.
	w.restore(t, cs)
	r := w.waitMatching(t, cs, "reset", true, builtin)

	// (b) Ours joins; first it must find everything right and write nothing.
	ours, url := startOurs(t, dir, "endpoints-controller")
	waitSynced(t, ours)
	framework.Eventually(t, 60*time.Second, func() error {
		m, err := readShadowMetrics(url)
		if err != nil {
			return err
		}
		if m.syncs < churnServices {
			return fmt.Errorf("ours has synced %v Services", m.syncs)
		}
		return nil
	})
	b0 := w.waitMatching(t, cs, "ours started beside the built-in", true, builtin, ours)
	if started := b0.sub(r); started.ok+started.conflict+started.other != 0 {
		t.Errorf("starting beside the built-in (everything right, nothing changing), Endpoints writes %v ok, %v conflicts, %v other\n%s",
			started.ok, started.conflict, started.other, ours.LogTail(30))
	}
	ourBefore, ourOKBefore := ourWrites(t, url, ""), ourWrites(t, url, "success")

	flips = w.churn(t, cs, seq)
	b1 := w.waitMatching(t, cs, "(b) after churn, built-in and ours", true, builtin, ours)
	together := b1.sub(b0)
	oursTried := ourWrites(t, url, "") - ourBefore
	ourOK := ourWrites(t, url, "success") - ourOKBefore
	t.Logf("(b) built-in and ours: %d pod status writes -> Endpoints writes %v ok (ours %v, built-in %v), %v conflicts, %v other; ours tried %v",
		flips, together.ok, ourOK, together.ok-ourOK, together.conflict, together.other, oursTried)

	ratio := 0.0
	if alone.ok > 0 {
		ratio = together.ok / alone.ok
	}
	summary := fmt.Sprintf("side-by-side: writes alone %v, together %v (ratio %.2f), conflicts %v", alone.ok, together.ok, ratio, together.conflict)
	fmt.Println(summary)
	t.Log(summary)

	if alone.ok == 0 {
		t.Errorf("the churn caused no Endpoints write with the built-in alone: nothing measured")
	}
	if limit := sideBySideRatio*alone.ok + sideBySideSlack; together.ok > limit {
		t.Errorf("write fight: %v successful Endpoints writes with both controllers, more than %.1f (%.2f × %v alone + %d)\n%s\n%s",
			together.ok, limit, sideBySideRatio, alone.ok, sideBySideSlack, builtin.LogTail(30), ours.LogTail(30))
	}
	if limit := sideBySideConflictsPerWrite*alone.ok + sideBySideSlack; together.conflict > limit {
		t.Errorf("write fight: %v conflicts with both controllers, more than %.1f (%.1f × %v writes alone + %d)\n%s\n%s",
			together.conflict, limit, sideBySideConflictsPerWrite, alone.ok, sideBySideSlack, builtin.LogTail(30), ours.LogTail(30))
	}
	t.Logf("took %s", time.Since(start).Round(time.Second))
}

// ourWrites returns our controller's syncs that wrote Endpoints (result
// "success") or also those whose write failed (""), from its
// endpoints_controller_syncs_total.
func ourWrites(t *testing.T, url, result string) float64 {
	t.Helper()
	samples, err := scrape(url)
	if err != nil {
		t.Fatal(err)
	}
	results := []string{"created", "updated", "deleted"}
	if result == "" {
		results = append(results, "conflict", "error")
	}
	return syncsTotal(samples, results...)
}

// syncsTotal sums our endpoints_controller_syncs_total over results.
func syncsTotal(samples []sample, results ...string) float64 {
	var sum float64
	for _, r := range results {
		sum += metricSum(samples, "endpoints_controller_syncs_total", map[string]string{"result": r})
	}
	return sum
}
