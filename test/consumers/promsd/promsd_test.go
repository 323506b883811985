package promsd

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

const (
	// followTimeout bounds how long SD may take to follow one step: pods go
	// through kwok, the writer and two watches on a shared 2-core machine.
	followTimeout = 90 * time.Second
	// settle: SD's view must hold still this long before it is snapshotted,
	// so that a late update cannot slip in between the two runs.
	settle = time.Second
)

// writer starts the process that writes the Endpoints for one run.
type writer struct {
	name  string
	start func(t *testing.T) *framework.Process
}

var writers = []writer{
	{"built-in", func(t *testing.T) *framework.Process {
		// kube-controller-manager with nothing but its endpoints
		// controller; the cluster's own runs without it.
		p, err := framework.StartProcess("kube-controller-manager-endpoints",
			filepath.Join(cluster.BinDir, "kube-controller-manager"),
			[]string{"--kubeconfig=" + cluster.KubeconfigPath, "--controllers=endpoints-controller",
				"--leader-elect=false", "--secure-port=0"},
			filepath.Join(cluster.Dir, "kube-controller-manager-endpoints.log"))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}},
	{"ours", func(t *testing.T) *framework.Process {
		ctrl, err := cluster.StartController("--leader-elect=false")
		if err != nil {
			t.Fatal(err)
		}
		return ctrl.Process
	}},
}

// TestPrometheusEndpointsSD runs the scenario under each writer in turn,
// only one of them running at a time, each in a fresh namespace that SD
// watches, and compares SD's normalised view step by step.
func TestPrometheusEndpointsSD(t *testing.T) {
	cs := framework.Clientset(cluster.Config)
	views := map[string][]snapshot{}
	for _, w := range writers {
		ok := t.Run(w.name, func(t *testing.T) {
			start := time.Now()
			views[w.name] = runScenario(t, cs, w)
			t.Logf("%s: scenario took %s", w.name, time.Since(start).Round(100*time.Millisecond))
		})
		if !ok {
			t.FailNow()
		}
	}

	a, b := writers[0].name, writers[1].name
	same := 0
	for i, s := range scenario {
		if d := diff(views[a][i], views[b][i]); d != "" {
			t.Errorf("step %d %q: Prometheus SD sees different targets (- %s, + %s):\n%s", i+1, s.name, a, b, d)
			continue
		}
		same++
	}
	summary := fmt.Sprintf("prometheus-sd: %d of %d steps identical with the %s and %s endpoints controllers", same, len(scenario), a, b)
	fmt.Println(summary)
	t.Log(summary)
}

// runScenario starts w's writer and SD on a new namespace, then takes each
// step, waits until SD shows what the pods imply and snapshots its view.
// The writer stops when t ends, before the namespace is cleaned up.
func runScenario(t *testing.T, cs kubernetes.Interface, w writer) []snapshot {
	ns := framework.NewNamespace(t, cs)
	proc := w.start(t)
	t.Cleanup(proc.Stop)
	sd := startSD(t, cluster.KubeconfigPath, ns)

	var views []snapshot
	for i, s := range scenario {
		if err := s.do(t.Context(), cs, ns); err != nil {
			t.Fatalf("step %d %q: %v", i+1, s.name, err)
		}
		start := time.Now()
		keys, view := follow(t, cs, ns, sd, proc)
		t.Logf("step %d %q: SD followed in %s, %d targets:\n  %s", i+1, s.name,
			time.Since(start).Round(10*time.Millisecond), len(keys), strings.Join(keys, "\n  "))
		views = append(views, view)
	}
	return views
}

// follow waits until SD's targets are what the pods imply and its whole
// view has not changed for settle, and returns both.
func follow(t *testing.T, cs kubernetes.Interface, ns string, sd *sdWatch, proc *framework.Process) ([]string, snapshot) {
	t.Helper()
	deadline := time.Now().Add(followTimeout)
	var (
		last       snapshot
		stableFrom time.Time
	)
	for {
		want, err := expectedTargets(t.Context(), cs, ns)
		if err != nil {
			t.Fatal(err)
		}
		groups := sd.latest()
		got := sdKeys(groups)
		view := normalise(groups, ns)
		switch {
		case !slices.Equal(got, want):
			last = nil
		case last == nil || diff(last, view) != "":
			last, stableFrom = view, time.Now()
		case time.Since(stableFrom) >= settle:
			return got, view
		}
		if proc.Exited() {
			t.Fatalf("%s exited\n%s", proc.Name(), proc.LogTail(30))
		}
		if time.Now().After(deadline) {
			t.Fatalf("SD did not follow the pods within %s\nwant: %v\ngot:  %v\nview:\n%s\n%s",
				followTimeout, want, got, view, proc.LogTail(30))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
