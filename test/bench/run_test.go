package bench

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// Both controllers run with these workers; the rest comes from the scenario.
const workers = 5

// benchEnv is what the runs share: clients, the test's Endpoints informer
// and the tracker it feeds.
type benchEnv struct {
	t      testing.TB
	cs     kubernetes.Interface // protobuf, a high rate limit: seeding, flips
	metaCS kubernetes.Interface // the admin config as is, for /metrics
	tr     *tracker
	store  cache.Store
	logDir string
}

func newBenchEnv(t testing.TB) *benchEnv {
	t.Helper()
	cfg := *cp.Config
	cfg.QPS, cfg.Burst = 10000, 20000
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	e := &benchEnv{t: t, cs: framework.Clientset(&cfg), metaCS: framework.Clientset(cp.Config), tr: newTracker()}

	var err error
	if e.logDir, err = os.MkdirTemp("", "bench-logs-*"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("KEEP_BENCH_LOGS") == "1" {
			t.Logf("controller logs kept in %s", e.logDir)
			return
		}
		os.RemoveAll(e.logDir)
	})

	factory := informers.NewSharedInformerFactoryWithOptions(e.cs, 0, informers.WithTransform(func(obj any) (any, error) {
		if ep, ok := obj.(*v1.Endpoints); ok {
			ep.ManagedFields = nil
		}
		return obj, nil
	}))
	inf := factory.Core().V1().Endpoints().Informer()
	e.store = inf.GetStore()
	// Handlers look the key up in the store rather than trusting the event:
	// notifications lag the store, which is always the newest state.
	onEvent := func(obj any) {
		key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
		if err == nil {
			e.tr.observe(key, e.lookup(key))
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    onEvent,
		UpdateFunc: func(_, cur any) { onEvent(cur) },
		DeleteFunc: onEvent,
	}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	factory.Start(stop)
	t.Cleanup(func() { close(stop); factory.Shutdown() })
	if !cache.WaitForCacheSync(t.Context().Done(), inf.HasSynced) {
		t.Fatal("the test's Endpoints informer did not sync")
	}
	return e
}

func (e *benchEnv) lookup(key string) *v1.Endpoints {
	obj, exists, err := e.store.GetByKey(key)
	if err != nil || !exists {
		return nil
	}
	ep, _ := obj.(*v1.Endpoints)
	return ep
}

// seedWorld builds and seeds the named world and starts tracking it.
func (e *benchEnv) seedWorld(ctx context.Context, name string) (*world, time.Duration) {
	e.t.Helper()
	return e.seedBuilt(ctx, worlds[name]())
}

// seedBuilt seeds w and starts tracking it.
func (e *benchEnv) seedBuilt(ctx context.Context, w *world) (*world, time.Duration) {
	e.t.Helper()
	name := w.name
	start := time.Now()
	if err := seed(ctx, e.cs, w); err != nil {
		e.t.Fatalf("seeding %s: %v", name, err)
	}
	took := time.Since(start)
	e.t.Logf("seeded %s: %d namespaces, %d services, %d pods in %s", name, len(w.namespaces), len(w.services), len(w.pods), took.Round(100*time.Millisecond))
	e.tr.setWorld(w, e.lookup)
	return w, took
}

// dropWorld stops tracking w and deletes it.
func (e *benchEnv) dropWorld(ctx context.Context, w *world) {
	e.t.Helper()
	e.tr.setWorld(nil, nil)
	start := time.Now()
	if err := deleteWorld(ctx, e.cs, w); err != nil {
		e.t.Errorf("deleting %s: %v", w.name, err)
	}
	e.t.Logf("deleted %s in %s", w.name, time.Since(start).Round(100*time.Millisecond))
}

// controllerKind is the built-in or one variant of ours.
type controllerKind int

const (
	builtin controllerKind = iota
	ours                   // our defaults
	oursStandard
	oursSpeed
	oursSlices // --source=endpointslices: only make bench-scale runs it, beside the EndpointSlice controller
)

// kinds describes each controllerKind: its name in the report and in
// $BENCH_OURS, what it is, and what it adds to the common flags and to the
// environment it inherits.
var kinds = [...]struct {
	name, about string
	flags, env  []string
}{
	builtin: {name: "built-in", about: "`kube-controller-manager --controllers=endpoints-controller`"},
	ours:    {name: "ours", about: "this controller with its defaults: `--pod-decoder=lean`, HTTP/2 to the API server, no timer slack, GOMAXPROCS left to the Go runtime, up to 32 writes in flight"},
	oursStandard: {name: "ours-standard", about: "`--pod-decoder=standard`: client-go's typed objects trimmed by a cache transform, the reference path; the rest as ours",
		flags: []string{"--pod-decoder=standard"}},
	oursSpeed: {name: "ours-speed", about: "the opt-in speed settings: `--kube-api-http2=false --timer-slack=5ms` and `GOMAXPROCS=1` in its environment; lean decoder",
		flags: []string{"--kube-api-http2=false", "--timer-slack=5ms"}, env: []string{"GOMAXPROCS=1"}},
	oursSlices: {name: "ours-slices", about: "`--source=endpointslices`: reads the EndpointSlices the built-in EndpointSlice controller keeps, no pod informer; the rest as ours",
		flags: []string{"--source=endpointslices"}},
}

// ourKinds is every variant of ours make bench runs, in the report's order
// (not oursSlices: it needs the EndpointSlice controller beside it).
var ourKinds = []controllerKind{ours, oursStandard, oursSpeed}

func (k controllerKind) String() string { return kinds[k].name }

// isOurs reports whether k is a variant of this controller.
func (k controllerKind) isOurs() bool { return k != builtin }

// kindNamed returns the controllerKind called name (as in result.controller).
func kindNamed(name string) (controllerKind, bool) {
	for k := range kinds {
		if kinds[k].name == name {
			return controllerKind(k), true
		}
	}
	return 0, false
}

// isOursName reports whether a result's controller is a variant of ours.
func isOursName(name string) bool {
	k, ok := kindNamed(name)
	return ok && k.isOurs()
}

// defaultOurs is what runs when $BENCH_OURS is empty.
const defaultOurs = "ours,ours-standard,ours-speed"

// selectedOurs returns the variants of ours named in $BENCH_OURS
// (comma-separated; empty: def; "all": every one), in the report's order.
func selectedOurs(def string) ([]controllerKind, error) {
	return pickNamed("BENCH_OURS", def, ourKinds, controllerKind.String)
}

// command returns the binary, flags and extra environment of controller k
// for sc.
func (k controllerKind) command(sc scenario) (string, []string, []string) {
	common := []string{
		"--kubeconfig=" + cp.KubeconfigPath,
		"--leader-elect=false",
		"--concurrent-endpoint-syncs=" + strconv.Itoa(workers),
		"--kube-api-qps=" + strconv.Itoa(sc.qps),
		"--kube-api-burst=" + strconv.Itoa(sc.burst),
		"--endpoint-updates-batch-period=" + sc.batch.String(),
	}
	if k == builtin {
		return filepath.Join(cp.BinDir, "kube-controller-manager"),
			append([]string{"--controllers=endpoints-controller", "--secure-port=0"}, common...), nil
	}
	// runController adds --metrics-bind-address, on loopback. No HTTPS,
	// as the built-in here.
	args := append(common, "--secure-port=0")
	return ourBinary, append(args, kinds[k].flags...), kinds[k].env
}

// result is what one controller did in one scenario.
type result struct {
	controller string
	args       []string
	err        string // why the run was cut short, if it was

	coldSync time.Duration
	coldCPU  float64 // CPU seconds from start until all Endpoints were right

	sent, skipped, failed int // flips attempted, skipped (pod pending), failed writes
	churnTook             time.Duration
	runStats
	p50, p90, p99, max time.Duration

	settle    time.Duration // from the last flip's response until all right
	settleErr string

	writes, conflicts float64 // Endpoints writes from churn start until settled
	churnCPU          float64 // CPU seconds, same window
	peakRSS           int64
	endRSS            int64  // RSS at the end of the run
	wrongAfter        int    // wrong Endpoints a few seconds after settling
	load              string // the host's load average (1m) at the end of the churn

	// latency is, for ours, its latency metric against the tracker's
	// per-write figures over the churn and settling.
	latency *latencyCheck
}

func (r *result) flips() int { return r.sent - r.skipped - r.failed }

// timeouts of one run, scaled to the scenario.
func timeouts(sc scenario, w *world) (cold, settle, stall time.Duration) {
	cold = 2*time.Minute + time.Duration(3*float64(len(w.services))/float64(sc.qps)*float64(time.Second))
	settle = 5 * time.Minute
	stall = 30 * time.Second
	if sc.name == smokeScenario.name {
		settle, stall = time.Minute, 20*time.Second
	}
	if sc.coldTimeout > 0 {
		cold = sc.coldTimeout
	}
	return cold, settle, stall
}

// runController runs controller k over w, which must be in the reset state
// (all pods Ready, no Endpoints): cold sync, churn, settle. It stops the
// controller before returning; the caller resets.
func (e *benchEnv) runController(ctx context.Context, sc scenario, w *world, k controllerKind, seed uint64) *result {
	return e.runControllerWith(ctx, sc, w, k, seed, runHooks{})
}

// runHooks is what make bench-scale adds to a run: flags (appended, so
// they win over the common ones) and calls at points of the run.
type runHooks struct {
	args []string
	// coldSynced is called as soon as every Endpoints is right; steady
	// once the start-up work has drained, before the churn. metricsAddr
	// is ours' plain-HTTP /metrics, "" for the built-in.
	coldSynced, steady func(p *framework.Process, metricsAddr string)
}

// runControllerWith is runController with hooks.
func (e *benchEnv) runControllerWith(ctx context.Context, sc scenario, w *world, k controllerKind, seed uint64, hooks runHooks) *result {
	bin, args, env := k.command(sc)
	args = append(args, hooks.args...)
	res := &result{controller: k.String(), args: append(slices.Clone(env), args...)}
	var prof *profiler
	var metricsAddr string // ours: where its /metrics is
	if k.isOurs() {
		var profArgs []string
		var err error
		if metricsAddr, err = freeLoopbackAddr(); err != nil {
			e.t.Fatalf("a port for /metrics: %v", err)
		}
		if prof, profArgs, err = newProfiler(sc, k, metricsAddr); err != nil {
			e.t.Fatalf("profiling: %v", err)
		}
		args = append(append(args, "--metrics-bind-address="+metricsAddr), profArgs...)
	}
	coldTimeout, settleTimeout, stall := timeouts(sc, w)
	logPath := filepath.Join(e.logDir, fmt.Sprintf("%s-%s.log", sc.name, k))

	e.waitHostQuiet(ctx, sc.name, k, "before the start")
	e.tr.takeRun()
	t0 := time.Now()
	p, err := framework.StartProcessEnv(k.String(), bin, args, env, logPath)
	if err != nil {
		res.err = err.Error()
		e.t.Errorf("%s: %v", sc.name, err)
		return res
	}
	defer p.Stop()
	fail := func(format string, args ...any) *result {
		res.err = fmt.Sprintf(format, args...)
		if p.Exited() {
			res.err += fmt.Sprintf(" (%s exited: %v)", k, p.Wait())
		}
		e.t.Errorf("%s, %s: %s\n%s", sc.name, k, res.err, p.LogTail(20))
		return res
	}

	// Cold sync: from process start until every Endpoints is right.
	okAt, err := e.tr.waitAllOK(ctx, coldTimeout, 2*time.Minute, p.Done())
	if err != nil {
		return fail("cold sync: %v", err)
	}
	res.coldSync = okAt.Sub(t0)
	res.coldCPU = p.CPUSeconds()
	if hooks.coldSynced != nil {
		hooks.coldSynced(p, metricsAddr)
	}
	// Let the start-up work drain, so that it is not billed to the churn.
	if err := e.tr.waitQuiet(ctx, 2*time.Second, time.Minute, func(s snapshot) bool { return s.wrong == 0 }); err != nil {
		e.t.Logf("%s, %s: after the cold sync: %v", sc.name, k, err)
	}
	if hooks.steady != nil {
		hooks.steady(p, metricsAddr)
	}
	if prof != nil {
		if err := prof.save(ctx, "heap", "heap-cold"); err != nil {
			e.t.Logf("%s: heap profile: %v", sc.name, err)
		}
		if err := prof.saveMetrics(ctx, "metrics-cold"); err != nil {
			e.t.Logf("%s: metrics: %v", sc.name, err)
		}
		wait := prof.cpu(ctx, sc.churn, "cpu-churn")
		defer func() {
			if err := wait(); err != nil {
				e.t.Logf("%s: CPU profile: %v", sc.name, err)
			}
			if err := prof.saveMetrics(ctx, "metrics-end"); err != nil {
				e.t.Logf("%s: metrics: %v", sc.name, err)
			}
		}()
	}

	e.waitHostQuiet(ctx, sc.name, k, "before the churn")
	before, err := endpointsWrites(ctx, e.metaCS)
	if err != nil {
		return fail("%v", err)
	}
	var latBefore histogram
	var latErr error
	if k.isOurs() {
		latBefore, latErr = scrapeLatency(ctx, metricsAddr)
	}
	cpu0 := p.CPUSeconds()
	e.tr.takeRun()
	cst := e.churn(ctx, w, sc.flipRate, sc.churn, seed)
	res.sent, res.skipped, res.failed, res.churnTook = cst.sent, cst.skipped, cst.failed, cst.took
	res.load = strings.Fields(loadAvg())[0]
	if p.Exited() {
		return fail("exited during the churn")
	}

	okAt, err = e.tr.waitAllOK(ctx, settleTimeout, stall, p.Done())
	switch {
	case err == nil:
		res.settle = max(0, okAt.Sub(cst.lastResp))
	case errors.Is(err, errStalled) || !p.Exited():
		res.settle = -1
		res.settleErr = err.Error()
		e.t.Logf("%s, %s: did not settle: %v", sc.name, k, err)
	default:
		return fail("settling: %v", err)
	}
	after, err := endpointsWrites(ctx, e.metaCS)
	if err != nil {
		return fail("%v", err)
	}
	res.churnCPU = p.CPUSeconds() - cpu0
	res.writes, res.conflicts = after.writes-before.writes, after.conflicts-before.conflicts

	// A late stale write would make an Endpoints wrong again: look once
	// more when nothing has happened for a while.
	if err := e.tr.waitQuiet(ctx, 3*time.Second, 30*time.Second, func(snapshot) bool { return true }); err != nil {
		e.t.Logf("%s, %s: after settling: %v", sc.name, k, err)
	}
	res.wrongAfter = e.tr.snapshot().wrong
	if res.wrongAfter > 0 {
		e.t.Logf("%s, %s: %d Endpoints wrong after settling, e.g. %v", sc.name, k, res.wrongAfter, e.tr.wrongKeys(5))
	}
	res.runStats = e.tr.takeRun()
	res.p50, res.p90, res.p99, res.max = percentile(res.lat, 50), percentile(res.lat, 90), percentile(res.lat, 99), percentile(res.lat, 100)
	if k.isOurs() {
		// The same window as the tracker's: from before the churn until
		// quiet after settling.
		res.latency = &latencyCheck{}
		var latAfter, d histogram
		if latErr == nil {
			latAfter, latErr = scrapeLatency(ctx, metricsAddr)
		}
		if latErr == nil {
			d, latErr = latAfter.sub(latBefore)
		}
		if latErr != nil {
			res.latency.err = "scraping the metric: " + latErr.Error()
		} else {
			*res.latency = newLatencyCheck(d, res.writeLat)
		}
	}
	res.peakRSS, res.endRSS = p.PeakRSSBytes(), p.RSSBytes()
	if p.Exited() {
		return fail("exited before the end of the run")
	}
	return res
}

type churnStats struct {
	sent, skipped, failed int
	lastResp              time.Time
	took                  time.Duration
}

// churn flips the readiness of random pods, rate per second for dur, open
// loop: flips are started on schedule whether or not earlier ones are done
// (up to flipWorkers in flight; later ones queue, keeping their turn).
func (e *benchEnv) churn(ctx context.Context, w *world, rate float64, dur time.Duration, seed uint64) churnStats {
	const flipWorkers = 32
	n := int(rate * dur.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	jobs := make(chan int, n)
	var mu sync.Mutex
	var st churnStats
	var wg sync.WaitGroup
	for range flipWorkers {
		wg.Go(func() {
			for job := range jobs {
				// Each flip draws from its own stream, so both controllers
				// get the same pods at the same times: which worker takes a
				// job, or a skip, does not shift the flips after it.
				rng := rand.New(rand.NewPCG(seed, uint64(job)))
				p, ready, ok := e.tr.startFlip(rng)
				if !ok {
					mu.Lock()
					st.skipped++
					mu.Unlock()
					continue
				}
				err := setPodReady(ctx, e.cs, w, p, ready)
				at := time.Now()
				if err != nil {
					actual, gerr := podReady(ctx, e.cs, w, p)
					if gerr != nil {
						actual = ready // unknown; the settle check will tell
					}
					e.tr.flipFailed(p, actual)
					e.t.Logf("flipping pod %s/%s: %v", w.pods[p].ns, w.pods[p].name, err)
				} else {
					e.tr.flipWritten(p, at)
				}
				mu.Lock()
				if err != nil {
					st.failed++
				}
				if at.After(st.lastResp) {
					st.lastResp = at
				}
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
		if ctx.Err() != nil {
			break
		}
		jobs <- i
		st.sent++ // only this goroutine writes sent before wg.Wait
	}
	close(jobs)
	wg.Wait()
	st.took = time.Since(start)
	return st
}

// reset brings w back to the start state: every pod Ready, no Endpoints,
// and no Endpoints event for a while. No controller may be running.
func (e *benchEnv) reset(ctx context.Context, w *world) error {
	e.tr.takeRun()
	notReady := e.tr.notReadyPods()
	err := parallel(ctx, len(notReady), seedConcurrency, func(ctx context.Context, i int) error {
		p := notReady[i]
		e.tr.setReady(p, true)
		return setPodReady(ctx, e.cs, w, p, true)
	})
	if err != nil {
		return fmt.Errorf("making pods ready again: %w", err)
	}
	if err := deleteEndpoints(ctx, e.cs, w); err != nil {
		return err
	}
	return e.tr.waitQuiet(ctx, 2*time.Second, 2*time.Minute, func(s snapshot) bool { return s.existing == 0 })
}

// scenarioReport is a scenario's results, in the order they ran.
type scenarioReport struct {
	sc       scenario
	services int
	pods     int
	ns       int
	seedTook time.Duration
	results  []*result
	took     time.Duration
}

// runOrder is the order in which the built-in and the variants of ours run
// in the turn-th scenario: all of them in turn, the list rotated by one
// each scenario, so that none always runs first, right after seeding, or
// last.
func runOrder(variants []controllerKind, turn int) []controllerKind {
	all := append([]controllerKind{builtin}, variants...)
	turn %= len(all)
	return append(all[turn:len(all):len(all)], all[:turn]...)
}

// runScenario runs the built-in and each of variants over w, one after the
// other in runOrder, resetting after each.
func (e *benchEnv) runScenario(ctx context.Context, sc scenario, w *world, seedTook time.Duration, variants []controllerKind, turn int) *scenarioReport {
	e.t.Helper()
	start := time.Now()
	rep := &scenarioReport{sc: sc, services: len(w.services), pods: len(w.pods), ns: len(w.namespaces), seedTook: seedTook}
	h := fnv.New64a()
	h.Write([]byte(sc.name))
	for _, k := range runOrder(variants, turn) {
		runStart := time.Now()
		// The same seed for all: the same pods are flipped, as far as
		// pending pods allow.
		res := e.runController(ctx, sc, w, k, h.Sum64())
		rep.results = append(rep.results, res)
		e.t.Logf("%s, %s: run took %s", sc.name, k, time.Since(runStart).Round(100*time.Millisecond))
		if err := e.reset(ctx, w); err != nil {
			e.t.Fatalf("%s: resetting after %s: %v", sc.name, k, err)
		}
	}
	rep.took = time.Since(start)
	return rep
}

// percentile returns the nearest-rank q-th percentile of d (q in (0, 100]).
func percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return -1
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s))*q/100+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}
