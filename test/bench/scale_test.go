package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// scalePoint is one size of make bench-scale's workload: 10 pods per
// Service, 200 Services per namespace. The built-in's work per pod event
// grows with the Services of the pod's namespace; holding that at 200
// makes the curves about the number of pods (and one namespace of 10k
// Services would make the built-in's cold sync alone take most of an hour
// at 100k pods on 2 cores).
type scalePoint struct {
	name       string // what BENCH_SCALE_POINTS selects
	pods       int
	namespaces int
}

const (
	scaleSvcPerNS   = 200
	scalePodsPerSvc = 10
)

var scalePoints = []scalePoint{
	{name: "tiny", pods: 200, namespaces: 1}, // a harness check, not in the default set
	{name: "2k", pods: 2000, namespaces: 1},
	{name: "20k", pods: 20000, namespaces: 10},
	{name: "100k", pods: 100000, namespaces: 50},
}

const defaultScalePoints = "2k,20k,100k"

func (pt scalePoint) services() int { return pt.pods / scalePodsPerSvc }

func (pt scalePoint) world() *world {
	w := gridWorld("scale-"+pt.name, pt.namespaces, pt.services()/pt.namespaces, scalePodsPerSvc)
	w.richPods = true
	return w
}

// scenario is the same for every point, so that only the size changes:
// QPS 1000 (at QPS 20 the rate limit, not the controller, sets the cold
// sync of thousands of Services), 50 flips/s for 20 s.
func (pt scalePoint) scenario() scenario {
	return scenario{
		name: "scale-" + pt.name,
		title: fmt.Sprintf("%s: %d Services × %d pods (%d pods) in %d namespace(s), QPS 1000/burst 2000, 50 flips/s for 20s",
			pt.name, pt.services(), scalePodsPerSvc, pt.pods, pt.namespaces),
		world: "scale-" + pt.name, qps: 1000, burst: 2000, flipRate: 50, churn: 20 * time.Second,
		coldTimeout: 5*time.Minute + time.Duration(pt.pods/100)*time.Second,
	}
}

// scaleKinds is what runs at each point, rotated by one from point to
// point (runOrder): the built-in, ours reading pods, ours reading slices.
var scaleKinds = []controllerKind{ours, oursSlices}

// scaleResult is one run at one point: the common measurements and the
// scale ones.
type scaleResult struct {
	*result
	start apiCounts // the controller's requests from its start to the cold sync

	heapAlloc, heapInuse int64 // after a forced GC, once the start-up drained
	heapErr              string
	heapProfile          string // pprof file of that moment

	slicer *sliceCost // ours-slices: what the EndpointSlice controller cost beside it
}

// scalePointReport is one point's runs, in the order they ran.
type scalePointReport struct {
	pt       scalePoint
	sc       scenario
	seedTook time.Duration
	runs     []*scaleResult
	took     time.Duration
}

func (r *scalePointReport) get(k controllerKind) *scaleResult {
	for _, x := range r.runs {
		if x.controller == k.String() {
			return x
		}
	}
	return nil
}

// TestBenchScale runs the built-in and ours (reading pods, and reading
// EndpointSlices beside the built-in EndpointSlice controller) at the
// points in $BENCH_SCALE_POINTS (default 2k,20k,100k) and writes
// docs/benchmarks-scale.md and docs/bench-scale.png (or into $BENCH_OUT).
// Only with BENCH_SCALE=1, as make bench-scale does.
func TestBenchScale(t *testing.T) {
	if os.Getenv("BENCH_SCALE") != "1" {
		t.Skip("the scale benchmarks take long: set BENCH_SCALE=1 (make bench-scale) to run them")
	}
	points, err := pickNamed("BENCH_SCALE_POINTS", defaultScalePoints, scalePoints, func(p scalePoint) string { return p.name })
	if err != nil {
		t.Fatal(err)
	}
	outDir := os.Getenv("BENCH_OUT")
	if outDir == "" {
		root, err := framework.RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		outDir = filepath.Join(root, "docs")
	}
	profDir := profileDir()
	if profDir == "" {
		profDir = t.TempDir()
	}
	for _, d := range []string{outDir, profDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	meta := reportMeta{command: scaleCommand(), started: time.Now(), loadAvg: loadAvg(), plotFile: "bench-scale.png", version: gitVersion()}

	ctx := context.Background()
	e := newBenchEnv(t)
	s, err := newScaleEnv(t, e, profDir)
	if err != nil {
		t.Fatal(err)
	}
	var reps []*scalePointReport
	md := filepath.Join(outDir, "benchmarks-scale.md")
	for turn, pt := range points {
		rep := s.runPoint(ctx, pt, turn)
		reps = append(reps, rep)
		fmt.Print(scaleTextTable(rep))
		// After every point: a long run cut short keeps what it measured.
		meta.took = time.Since(meta.started)
		if err := plotScale(reps, filepath.Join(outDir, meta.plotFile)); err != nil {
			t.Errorf("plotting: %v", err)
		}
		if err := os.WriteFile(md, []byte(scaleMarkdown(reps, meta)), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("\nwrote %s and %s (%s so far)\n", md, filepath.Join(outDir, meta.plotFile), meta.took.Round(time.Second))
	}
	for _, rep := range reps {
		for _, r := range rep.runs {
			if r.wrongAfter > 0 && r.controller != builtin.String() {
				t.Errorf("%s: %s left %d Endpoints wrong", rep.pt.name, r.controller, r.wrongAfter)
			}
		}
	}
}

// scaleCommand is the command that reproduces this run.
func scaleCommand() string {
	cmd := "make bench-scale"
	if p := strings.TrimSpace(os.Getenv("BENCH_SCALE_POINTS")); p != "" && p != defaultScalePoints {
		cmd = "BENCH_SCALE_POINTS=" + p + " " + cmd
	}
	return cmd
}

// scaleEnv is what the scale runs add to benchEnv: the counting proxy
// every controller talks through, and where profiles go.
type scaleEnv struct {
	*benchEnv
	proxy      *countingProxy
	kubeconfig string // the admin kubeconfig, pointed at the proxy
	profDir    string
}

func newScaleEnv(t *testing.T, e *benchEnv, profDir string) (*scaleEnv, error) {
	proxy, err := startCountingProxy(cp.URL, cp.Config, filepath.Join(cp.Dir, "pki"))
	if err != nil {
		return nil, err
	}
	t.Cleanup(proxy.close)
	s := &scaleEnv{benchEnv: e, proxy: proxy, profDir: profDir,
		kubeconfig: framework.KubeconfigVia(t, cp.KubeconfigPath, proxy.URL())}
	// The EndpointSlice controller puts only pods on known nodes in slices.
	if err := createNodes(context.Background(), e.cs, nodes); err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = deleteNodes(context.Background(), e.cs, nodes) })
	return s, nil
}

// runPoint seeds pt's world, runs each controller over it and deletes it.
func (s *scaleEnv) runPoint(ctx context.Context, pt scalePoint, turn int) *scalePointReport {
	s.t.Helper()
	start := time.Now()
	sc := pt.scenario()
	w, seedTook := s.seedBuilt(ctx, pt.world())
	rep := &scalePointReport{pt: pt, sc: sc, seedTook: seedTook}
	for _, k := range runOrder(scaleKinds, turn) {
		runStart := time.Now()
		res := s.runOne(ctx, sc, w, k)
		rep.runs = append(rep.runs, res)
		s.t.Logf("%s, %s: run took %s", sc.name, k, time.Since(runStart).Round(100*time.Millisecond))
		if err := s.reset(ctx, w); err != nil {
			s.t.Fatalf("%s: resetting after %s: %v", sc.name, k, err)
		}
	}
	if err := deleteSlices(ctx, s.cs, w); err != nil {
		s.t.Errorf("%s: %v", sc.name, err)
	}
	s.dropWorld(ctx, w)
	rep.took = time.Since(start)
	return rep
}

// runOne runs controller k over w through the counting proxy, measuring
// its requests until the cold sync and its heap once that drained; for
// ours-slices with the EndpointSlice controller running beside it.
func (s *scaleEnv) runOne(ctx context.Context, sc scenario, w *world, k controllerKind) *scaleResult {
	out := &scaleResult{}
	args := []string{"--kubeconfig=" + s.kubeconfig}
	var heap heapSource
	switch {
	case k == builtin:
		port, err := framework.FreePort()
		if err != nil {
			s.t.Fatal(err)
		}
		// Its secure port, so that its /metrics and /debug/pprof (on by
		// default) can be read as ours' are; anonymous, on these paths only.
		args = append(args, "--secure-port="+strconv.Itoa(port), "--bind-address=127.0.0.1", "--cert-dir="+s.t.TempDir(),
			"--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics,/debug/pprof/*")
		heap = heapSource{base: fmt.Sprintf("https://127.0.0.1:%d", port)}
	default:
		args = append(args, "--profiling")
	}
	if k == oursSlices {
		sl, err := s.startSliceController(ctx, sc, w)
		if err != nil {
			out.result = &result{controller: k.String(), err: err.Error()}
			s.t.Errorf("%s, %s: %v", sc.name, k, err)
			return out
		}
		out.slicer = sl
		defer sl.stop()
	}
	s.proxy.take()
	hooks := runHooks{
		args: args,
		coldSynced: func(_ *framework.Process, _ string) {
			out.start = s.proxy.take()
		},
		steady: func(_ *framework.Process, metricsAddr string) {
			if k.isOurs() {
				heap.base = "http://" + metricsAddr
			}
			file := filepath.Join(s.profDir, sc.name+"-"+k.String()+"-heap.pprof")
			alloc, inuse, err := heap.afterGC(ctx, file)
			if err != nil {
				out.heapErr = err.Error()
				s.t.Logf("%s, %s: heap: %v", sc.name, k, err)
				return
			}
			out.heapAlloc, out.heapInuse, out.heapProfile = alloc, inuse, file
		},
	}
	if out.slicer != nil {
		out.slicer.markRunStart()
	}
	out.result = s.runControllerWith(ctx, sc, w, k, seedOf(sc), hooks)
	if out.slicer != nil {
		out.slicer.markRunEnd()
	}
	return out
}
