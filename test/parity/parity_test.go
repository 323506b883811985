package parity

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

const (
	settle          = 3 * time.Second // no Endpoints change for this long: converged
	convergeTimeout = 2 * time.Minute
)

// Both controllers get the same generous client rate limit, so that the
// default 20 QPS does not dominate the run time (it changes nothing
// written), and log their writes (-v=4) for when the test fails.
var clientFlags = []string{"--kube-api-qps=500", "--kube-api-burst=1000", "--v=4"}

// seeds returns the seeds to run: $PARITY_SEEDS (comma-separated) or 1..8.
// The first seed also gets the Services over 1400 pods.
func seeds(t *testing.T) []uint64 {
	env := os.Getenv("PARITY_SEEDS")
	if env == "" {
		return []uint64{1, 2, 3, 4, 5, 6, 7, 8}
	}
	var out []uint64
	for _, s := range strings.Split(env, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			t.Fatalf("PARITY_SEEDS: %v", err)
		}
		out = append(out, n)
	}
	return out
}

// TestParity runs the built-in endpoints controller and then ours over the
// same objects (so pod UIDs, on which the order of subsets depends, match)
// and compares what they wrote, as stored. In between, ours takes over the
// built-in's Endpoints, and at the end the built-in takes over ours: both
// must write nothing.
func TestParity(t *testing.T) {
	start := time.Now()
	cs := framework.Clientset(cp.Config)
	logDir, err := os.MkdirTemp("", "parity-logs-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("controller logs kept in %s", logDir)
			return
		}
		os.RemoveAll(logDir)
	})

	var worlds []*world
	untouched := map[string]string{}
	for i, seed := range seeds(t) {
		w := generate(seed, i, framework.NewNamespace(t, cs), i == 0)
		if framework.SliceSource() && i == 1 {
			moveToMissingNode(w)
		}
		for k, rv := range w.create(t, cs) {
			untouched[k] = rv
		}
		t.Logf("seed %d: namespace %s, %d services, %d pods", seed, w.ns, len(w.services), len(w.pods))
		worlds = append(worlds, w)
	}
	t.Logf("cluster state created in %s", time.Since(start).Round(time.Second))
	sliceSource := framework.SliceSource()
	if sliceSource {
		startSliceController(t, cs, logDir)
	}

	builtin := runController(t, cs, worlds, startProc(t, logDir, "kube-controller-manager",
		filepath.Join(cp.BinDir, "kube-controller-manager"), append([]string{
			"--kubeconfig=" + cp.KubeconfigPath, "--controllers=endpoints-controller",
			"--leader-elect=false", "--secure-port=0"}, clientFlags...)...))
	checkUntouched(t, cs, worlds, untouched, "the built-in")
	seen, missing := coverage(worlds, builtin)
	t.Logf("coverage (cases seen in the built-in's Endpoints): %v", seen)
	if len(missing) > 0 && os.Getenv("PARITY_SEEDS") == "" { // a few chosen seeds need not cover all
		t.Errorf("the generated state did not exercise: %v", missing)
	}

	ourArgs := append([]string{"--kubeconfig=" + cp.KubeconfigPath, "--leader-elect=false",
		"--secure-port=0"}, clientFlags...)
	// With the slice source, Endpoints a rule makes differ are rewritten on
	// takeover both ways: not counted there, checked against the rule below.
	var expected map[string]*v1.Endpoints
	var rules map[string]string
	var ruleKeys map[string]bool
	if sliceSource {
		waitSlicesSettled(t, cs, worlds)
		expected, rules = ruleExpectations(t, cs, worlds, builtin)
		ruleKeys = map[string]bool{}
		for k := range rules {
			ruleKeys[k] = true
		}
	}
	checkTakeover(t, cs, worlds, builtin, ruleKeys, "ours", "the built-in",
		startProc(t, logDir, "endpoints-controller-takeover", ourBinary, ourArgs...))

	reset(t, cs, worlds)

	ours := runController(t, cs, worlds, startProc(t, logDir, "endpoints-controller", ourBinary, ourArgs...))
	checkUntouched(t, cs, worlds, untouched, "ours")

	relaxed := rewrittenEverySync(worlds, builtin)
	t.Logf("%d Endpoints the built-in rewrites on every sync: trigger-time presence not compared", len(relaxed))

	// And back: the built-in takes over what ours wrote. The Endpoints it
	// rewrites on every sync, its own included, are not held against it.
	skip := maps.Clone(relaxed)
	maps.Copy(skip, ruleKeys)
	checkTakeover(t, cs, worlds, ours, skip, "the built-in", "ours",
		startProc(t, logDir, "kube-controller-manager-takeover", filepath.Join(cp.BinDir, "kube-controller-manager"),
			append([]string{"--kubeconfig=" + cp.KubeconfigPath, "--controllers=endpoints-controller",
				"--leader-elect=false", "--secure-port=0"}, clientFlags...)...))
	if sliceSource {
		identical, documented, unexplained := compareSliceSource(builtin, ours, expected, rules, relaxed)
		for _, d := range unexplained {
			t.Error(d)
		}
		summary := fmt.Sprintf("parity (--source=endpointslices): %d Endpoints compared over %d seeds: %d identical, %d differ by a documented rule %v, %d unexplained",
			identical+len(unexplained)+sum(documented), len(worlds), identical, sum(documented), documented, len(unexplained))
		fmt.Println(summary)
		t.Log(summary)
		t.Logf("took %s", time.Since(start).Round(time.Second))
		return
	}
	n, diffs := compareSnapshots(builtin, ours, relaxed)
	for _, d := range diffs {
		t.Error(d)
	}
	summary := fmt.Sprintf("parity: %d Endpoints compared over %d seeds, %d differ", n, len(worlds), len(diffs))
	fmt.Println(summary)
	t.Log(summary)
	t.Logf("took %s", time.Since(start).Round(time.Second))
}

// runController waits until p has converged, stops it and snapshots the
// Endpoints of the worlds: what it left behind.
func runController(t *testing.T, cs kubernetes.Interface, worlds []*world, p *proc) map[string]*v1.Endpoints {
	t.Helper()
	start := time.Now()
	waitConverged(t, cs, worlds, p, settle, convergeTimeout)
	p.Stop()
	snap, err := listEndpoints(context.Background(), cs, worlds)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s converged in %s (incl. %s settling)", p.Name(), time.Since(start).Round(100*time.Millisecond), settle)
	return snap
}

// checkTakeover runs p (who) over what the other controller (from) left,
// before, and fails for every Endpoints it writes or deletes, except those
// in skip: switching controllers must cost no writes.
func checkTakeover(t *testing.T, cs kubernetes.Interface, worlds []*world, before map[string]*v1.Endpoints, skip map[string]bool, who, from string, p *proc) {
	t.Helper()
	// Nothing changes if p does nothing: wait until it works first.
	framework.Eventually(t, 30*time.Second, func() error {
		if p.Exited() {
			return fmt.Errorf("%s exited\n%s", p.Name(), p.LogTail(20))
		}
		if data, _ := os.ReadFile(p.LogPath()); !strings.Contains(string(data), "Caches are synced") {
			return fmt.Errorf("%s has not synced its caches", p.Name())
		}
		return nil
	})
	runController(t, cs, worlds, p)
	after, err := listEndpoints(context.Background(), cs, worlds)
	if err != nil {
		t.Fatal(err)
	}
	writes, skipped := 0, 0
	for k, ep := range after {
		if b := before[k]; b == nil || b.ResourceVersion != ep.ResourceVersion {
			if skip[k] {
				skipped++
				continue
			}
			writes++
			t.Errorf("taking over from %s, %s wrote Endpoints %s (- %s, + %s):\n%s", from, who, k, from, who, lineDiff(render(b), render(ep)))
		}
	}
	for k, b := range before {
		if after[k] == nil {
			writes++
			t.Errorf("taking over from %s, %s deleted Endpoints %s:\n%s", from, who, k, render(b))
		}
	}
	summary := fmt.Sprintf("takeover %s -> %s: %d Endpoints, %d written or deleted (%d more not counted)", from, who, len(before), writes, skipped)
	fmt.Println(summary)
	t.Log(summary)
}
