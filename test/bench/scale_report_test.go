package bench

import (
	"fmt"
	"image/color"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// scaleMetric is one row of a point's table and, with a plot title, one
// panel of the curves.
type scaleMetric struct {
	name  string
	value func(pt scalePoint, r *scaleResult) (float64, bool)
	prec  int
	plot  string  // panel title; "" for none
	logY  bool    // the panel's y axis
	bound float64 // a target drawn on the panel (per pod, KB), 0 for none
}

const kb = 1024.0

func perPod(v int64, pt scalePoint) (float64, bool) { return float64(v) / kb / float64(pt.pods), v > 0 }

// cpuPerFlip is the controller's CPU during the churn and settling over
// the flips written, in ms.
func cpuPerFlip(r *result) (float64, bool) {
	if r.flips() == 0 {
		return 0, false
	}
	return 1000 * r.churnCPU / float64(r.flips()), r.churnCPU > 0
}

var scaleMetrics = []scaleMetric{
	{name: "cold sync (s)", value: func(_ scalePoint, r *scaleResult) (float64, bool) { return r.coldSync.Seconds(), r.coldSync > 0 },
		prec: 2, plot: "cold sync (s)", logY: true},
	{name: "CPU during cold sync (s)", value: func(_ scalePoint, r *scaleResult) (float64, bool) { return r.coldCPU, r.coldSync > 0 }, prec: 2},
	{name: "heap after GC (MB)", value: func(_ scalePoint, r *scaleResult) (float64, bool) {
		return float64(r.heapAlloc) / (1 << 20), r.heapAlloc > 0
	}, prec: 1},
	{name: "heap after GC per pod (KB)", value: func(pt scalePoint, r *scaleResult) (float64, bool) { return perPod(r.heapAlloc, pt) },
		prec: 2, plot: "heap after GC per pod (KB)", logY: true, bound: 1},
	{name: "heap in use after GC (MB)", value: func(_ scalePoint, r *scaleResult) (float64, bool) {
		return float64(r.heapInuse) / (1 << 20), r.heapInuse > 0
	}, prec: 1},
	{name: "peak RSS (MB)", value: func(_ scalePoint, r *scaleResult) (float64, bool) {
		return float64(r.peakRSS) / (1 << 20), r.peakRSS > 0
	}, prec: 0},
	{name: "peak RSS per pod (KB)", value: func(pt scalePoint, r *scaleResult) (float64, bool) { return perPod(r.peakRSS, pt) },
		prec: 2, plot: "peak RSS per pod (KB)", logY: true, bound: 2},
	{name: "flips written", value: func(_ scalePoint, r *scaleResult) (float64, bool) { return float64(r.flips()), r.sent > 0 }},
	{name: "CPU per flip (ms)", value: func(_ scalePoint, r *scaleResult) (float64, bool) { return cpuPerFlip(r.result) },
		prec: 2, plot: "CPU per flip (ms)", logY: true},
	{name: "flip p50 (ms)", value: func(_ scalePoint, r *scaleResult) (float64, bool) { return ms(r.p50) }, prec: 1},
	{name: "flip p99 (ms)", value: func(_ scalePoint, r *scaleResult) (float64, bool) { return ms(r.p99) },
		prec: 1, plot: "flip p99 (ms)", logY: true},
	{name: "LIST at start", value: func(_ scalePoint, r *scaleResult) (float64, bool) {
		return float64(r.start.requests("list")), r.start != nil
	}},
	{name: "WATCH at start", value: func(_ scalePoint, r *scaleResult) (float64, bool) {
		return float64(r.start.requests("watch")), r.start != nil
	}},
	{name: "LIST+WATCH MB received at start", value: func(_ scalePoint, r *scaleResult) (float64, bool) {
		return float64(r.start.bytes("list", "watch")) / (1 << 20), r.start != nil
	}, prec: 1, plot: "LIST+WATCH MB received until cold sync", logY: true},
	{name: "other requests at start", value: func(_ scalePoint, r *scaleResult) (float64, bool) {
		n := 0
		for v, c := range r.start {
			if v != "list" && v != "watch" {
				n += c.requests
			}
		}
		return float64(n), r.start != nil
	}},
	{name: "wrong after settle", value: func(_ scalePoint, r *scaleResult) (float64, bool) { return float64(r.wrongAfter), r.sent > 0 }},
}

var scaleAll = append([]controllerKind{builtin}, scaleKinds...)

func scaleCell(m scaleMetric, pt scalePoint, r *scaleResult) string {
	if r == nil || r.result == nil {
		return "–"
	}
	v, ok := m.value(pt, r)
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%.*f", m.prec, v)
}

func scaleRatio(m scaleMetric, pt scalePoint, bi, o *scaleResult) string {
	if bi == nil || o == nil || bi.result == nil || o.result == nil {
		return "–"
	}
	a, oka := m.value(pt, bi)
	b, okb := m.value(pt, o)
	if !oka || !okb || a == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", b/a)
}

// scaleComparison is a point's table: a column per controller, then ours
// over the built-in.
func scaleComparison(rep *scalePointReport, sep string) ([]string, [][]string) {
	cols := []string{"metric"}
	for _, k := range scaleAll {
		cols = append(cols, k.String())
	}
	for _, k := range scaleKinds {
		cols = append(cols, k.String()+sep+builtin.String())
	}
	var rows [][]string
	for _, m := range scaleMetrics {
		row := []string{m.name}
		for _, k := range scaleAll {
			row = append(row, scaleCell(m, rep.pt, rep.get(k)))
		}
		for _, k := range scaleKinds {
			row = append(row, scaleRatio(m, rep.pt, rep.get(builtin), rep.get(k)))
		}
		rows = append(rows, row)
	}
	return cols, rows
}

func scaleTextTable(rep *scalePointReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n== %s\n", rep.sc.title)
	cols, rows := scaleComparison(rep, "/")
	writeTextTable(&b, cols, rows)
	for _, r := range rep.runs {
		if r.result != nil && r.err != "" {
			fmt.Fprintf(&b, "%s: run failed: %s\n", r.controller, r.err)
		}
		if r.heapErr != "" {
			fmt.Fprintf(&b, "%s: heap: %s\n", r.controller, r.heapErr)
		}
	}
	if sl := rep.get(oursSlices); sl != nil && sl.slicer != nil {
		fmt.Fprintf(&b, "EndpointSlice controller beside ours-slices: %s\n", strings.Join(slicerCells(rep, sl), ", "))
	}
	return b.String()
}

// slicerCells: the EndpointSlice controller's sync time and CPU, CPU while
// ours-slices ran and per flip, peak RSS and per pod.
func slicerCells(rep *scalePointReport, r *scaleResult) []string {
	c := r.slicer
	perFlip := "–"
	if r.result != nil && r.flips() > 0 {
		perFlip = fmt.Sprintf("%.2f", 1000*c.runCPU/float64(r.flips()))
	}
	return []string{
		fmt.Sprintf("%.1f", c.syncTook.Seconds()), fmt.Sprintf("%.1f", c.syncCPU),
		fmt.Sprintf("%.1f", c.runCPU), perFlip,
		fmt.Sprintf("%.0f", float64(c.peakRSS)/(1<<20)), fmt.Sprintf("%.2f", float64(c.peakRSS)/kb/float64(rep.pt.pods)),
	}
}

// scaleTarget is one of the goals at scale.
type scaleTarget struct {
	what string
	// check returns the figure, the bound, whether it was measured, and
	// the point it is about.
	check func(reps []*scalePointReport, k controllerKind) (v, bound float64, at string, ok bool)
}

// largest is the biggest point that ran.
func largest(reps []*scalePointReport) *scalePointReport {
	var out *scalePointReport
	for _, r := range reps {
		if out == nil || r.pt.pods > out.pt.pods {
			out = r
		}
	}
	return out
}

func smallest(reps []*scalePointReport) *scalePointReport {
	var out *scalePointReport
	for _, r := range reps {
		if out == nil || r.pt.pods < out.pt.pods {
			out = r
		}
	}
	return out
}

func metricNamed(name string) scaleMetric {
	for _, m := range scaleMetrics {
		if m.name == name {
			return m
		}
	}
	panic("no scale metric " + name)
}

// atLargest checks metric ≤ bound at the largest point.
func atLargest(metric string, bound float64) func([]*scalePointReport, controllerKind) (float64, float64, string, bool) {
	return func(reps []*scalePointReport, k controllerKind) (float64, float64, string, bool) {
		rep := largest(reps)
		r := rep.get(k)
		if r == nil || r.result == nil {
			return 0, bound, rep.pt.name, false
		}
		v, ok := metricNamed(metric).value(rep.pt, r)
		return v, bound, rep.pt.name, ok
	}
}

var scaleTargets = []scaleTarget{
	{"steady heap ≤ 1 KB per pod (at 100k)", atLargest("heap after GC per pod (KB)", 1)},
	{"peak RSS ≤ 2 KB per pod (at 100k)", atLargest("peak RSS per pod (KB)", 2)},
	{"cold sync ≤ 0.3× the built-in's (at 100k)", func(reps []*scalePointReport, k controllerKind) (float64, float64, string, bool) {
		rep := largest(reps)
		bi, o := rep.get(builtin), rep.get(k)
		if bi == nil || o == nil || bi.result == nil || o.result == nil || bi.coldSync <= 0 || o.coldSync <= 0 {
			return 0, 0.3, rep.pt.name, false
		}
		return o.coldSync.Seconds() / bi.coldSync.Seconds(), 0.3, rep.pt.name, true
	}},
	{"CPU per flip flat: largest / smallest point ≤ 1.2", func(reps []*scalePointReport, k controllerKind) (float64, float64, string, bool) {
		lo, hi := smallest(reps), largest(reps)
		at := lo.pt.name + "→" + hi.pt.name
		if lo == hi || lo.get(k) == nil || hi.get(k) == nil || lo.get(k).result == nil || hi.get(k).result == nil {
			return 0, 1.2, at, false
		}
		a, oka := cpuPerFlip(lo.get(k).result)
		b, okb := cpuPerFlip(hi.get(k).result)
		return b / a, 1.2, at, oka && okb && a > 0
	}},
}

// missBy is "met", or by how much v (as shown, to 2 decimals) is above
// bound: in percent up to twice the bound, else as a factor.
func missBy(v, bound float64) string {
	shown, _ := strconv.ParseFloat(fmt.Sprintf("%.2f", v), 64)
	switch r := shown / bound; {
	case r <= 1:
		return "met"
	case r < 2:
		return fmt.Sprintf("missed by %.0f%%", 100*(r-1))
	default:
		return fmt.Sprintf("missed by %.1f×", r)
	}
}

// scaleTargetsTable lists each target for each variant of ours: met,
// missed (by how much), or not measured.
func scaleTargetsTable(reps []*scalePointReport) string {
	var rows [][]string
	for _, t := range scaleTargets {
		for _, k := range scaleKinds {
			v, bound, at, ok := t.check(reps, k)
			verdict, fig := "not measured", "–"
			if ok {
				fig, verdict = fmt.Sprintf("%.2f", v), missBy(v, bound)
			}
			rows = append(rows, []string{t.what, k.String(), at, fig, verdict})
		}
	}
	var b strings.Builder
	markdownTable(&b, []string{"target", "variant", "point", "this run", "verdict"}, rows)
	return b.String()
}

// pprofTop is `go tool pprof -top` of a heap profile (live bytes), or why
// not.
func pprofTop(file string) string {
	if file == "" {
		return "(no heap profile)"
	}
	out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=15", "-sample_index=inuse_space", file).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(go tool pprof: %v)", err)
	}
	// Drop pprof's file/type header lines; keep the totals and the table.
	var keep []string
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if strings.HasPrefix(l, "File:") || strings.HasPrefix(l, "Build ID:") || strings.HasPrefix(l, "Time:") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

func scaleMarkdown(reps []*scalePointReport, meta reportMeta) string {
	var b strings.Builder
	b.WriteString("# Scale: 2k / 20k / 100k pods\n\n")
	b.WriteString("<!-- Generated by test/bench (make bench-scale); edits are overwritten. -->\n\n")
	fmt.Fprintf(&b, "Measured %s, in %s, with:\n\n```sh\n%s\n```\n\n",
		meta.started.UTC().Format("2006-01-02 15:04 UTC"), meta.took.Round(time.Second), meta.command)
	fmt.Fprintf(&b, "Machine: %s. Load average before the run: %s.\n", machine(), meta.loadAvg)
	fmt.Fprintf(&b, "Control plane and controllers: %s; this controller at %s.\n\n", kubeVersion(), meta.version)
	b.WriteString(scaleMethodText)
	for _, k := range scaleAll {
		fmt.Fprintf(&b, "- **%s**: %s\n", k, kinds[k].about)
	}
	if meta.plotFile != "" {
		fmt.Fprintf(&b, "\n## Curves\n\n![scale curves](%s)\n", meta.plotFile)
	}
	b.WriteString("\n## Summary\n\n")
	var rows [][]string
	for _, rep := range reps {
		for _, k := range scaleAll {
			r := rep.get(k)
			row := []string{rep.pt.name, k.String()}
			for _, name := range []string{"cold sync (s)", "heap after GC per pod (KB)", "peak RSS per pod (KB)", "CPU per flip (ms)", "flip p50 (ms)", "flip p99 (ms)", "LIST at start", "WATCH at start", "LIST+WATCH MB received at start"} {
				row = append(row, scaleCell(metricNamed(name), rep.pt, r))
			}
			rows = append(rows, row)
		}
	}
	markdownTable(&b, []string{"pods", "controller", "cold sync (s)", "heap/pod (KB)", "peak RSS/pod (KB)", "CPU/flip (ms)", "flip p50 (ms)", "flip p99 (ms)", "LIST at start", "WATCH at start", "MB at start"}, rows)
	if m := marginalHeap(reps); m != "" {
		b.WriteString("\n" + m)
	}

	b.WriteString("\n## Targets\n\n")
	if l := largest(reps); l != nil && l.pt.pods < 100000 {
		fmt.Fprintf(&b, "The 100k point did not run here: the targets \"at 100k\" are checked at %s, the largest point that ran.\n\n", l.pt.name)
	}
	b.WriteString(scaleTargetsTable(reps))

	if l := largest(reps); l != nil {
		fmt.Fprintf(&b, "\n## Where ours' heap goes (%s pods)\n\n", l.pt.name)
		b.WriteString("`go tool pprof -top -sample_index=inuse_space` of the heap profile taken after the forced GC:\n")
		for _, k := range scaleKinds {
			if r := l.get(k); r != nil {
				fmt.Fprintf(&b, "\n%s:\n\n```\n%s\n```\n", k, pprofTop(r.heapProfile))
			}
		}
	}

	b.WriteString("\n## The EndpointSlice controller beside ours-slices\n\n")
	b.WriteString("Not counted in ours-slices' figures: `kube-controller-manager --controllers=endpointslice-controller`, started before\n")
	b.WriteString("ours-slices and waited for until every Service's slices were right (as in a cluster, where it runs anyway).\n\n")
	var srows [][]string
	for _, rep := range reps {
		if r := rep.get(oursSlices); r != nil && r.slicer != nil {
			srows = append(srows, append([]string{rep.pt.name}, slicerCells(rep, r)...))
		}
	}
	markdownTable(&b, []string{"pods", "slices right after (s)", "CPU until then (s)", "CPU while ours-slices ran (s)", "its CPU per flip (ms)", "peak RSS (MB)", "peak RSS per pod (KB)"}, srows)

	for _, rep := range reps {
		fmt.Fprintf(&b, "\n## %s\n\n", rep.sc.title)
		fmt.Fprintf(&b, "%d Services, %d pods, %d namespace(s) (seeded in %s); point took %s.\n\n",
			rep.pt.services(), rep.pt.pods, rep.pt.namespaces, rep.seedTook.Round(time.Second), rep.took.Round(time.Second))
		var order []string
		for _, r := range rep.runs {
			order = append(order, r.controller)
		}
		fmt.Fprintf(&b, "Run order: %s.\n\n", strings.Join(order, ", "))
		cols, rows := scaleComparison(rep, " / ")
		markdownTable(&b, cols, rows)
		for _, r := range rep.runs {
			if r.result != nil && r.err != "" {
				fmt.Fprintf(&b, "\n%s: run failed: %s\n", r.controller, r.err)
			}
			if r.heapErr != "" {
				fmt.Fprintf(&b, "\n%s: heap not measured: %s\n", r.controller, r.heapErr)
			}
		}
	}
	return b.String()
}

const scaleMethodText = `## Method

Each point is seeded once on the loopback control plane (real etcd and kube-apiserver, no kubelets): Services of
10 pods each, 200 Services per namespace (1, 10 and 50 namespaces at 2k, 20k and 100k pods, so that the built-in's
per-namespace Service scan stays the same and the curves are about pods), pods created and then given a kubelet's
Running/Ready status by UpdateStatus. The pods look like a Deployment's in an older cluster: owner reference,
pod-template-hash and the app.kubernetes.io labels, two containers (app and a sidecar) with their statuses, and a
512-byte annotation. Both controllers run with 5 workers (ours hands writes over, up to 32 in flight: its default), QPS 1000/burst 2000 and no batching, one after the other
over the same pods (the order rotates by one from point to point), each from a reset state (all pods Ready, no
Endpoints).

- **cold sync**: from process start until every Endpoints is right, watched from outside.
- **heap after GC**: ` + "`go_memstats_heap_alloc_bytes`" + ` read from the controller's /metrics right after
  /debug/pprof/heap?gc=1 forced a GC, once the start-up work drained (both expose component-base's Go collector:
  ours on ` + "`--metrics-bind-address`" + ` with ` + "`--profiling`" + `, the built-in on its secure port, anonymous on those paths).
- **peak RSS**: VmHWM of the process over the whole run.
- **CPU per flip**: process CPU time from the start of the churn (50 readiness flips/s for 20 s, written by
  UpdateStatus) until all Endpoints are right again, over the flips written. Flip p50/p99 as in make bench.
- **requests at start**: every controller talks to the API server through a counting reverse proxy on 127.0.0.1
  (HTTPS and HTTP/2, the API server's certificate); LIST and WATCH requests from start to cold sync, and the response
  bytes they received in that time (as sent: gzip where the client asked for it). The proxy is in the path for the
  whole run, for both controllers alike.
- **ours-slices** reads EndpointSlices, so the built-in EndpointSlice controller runs during its run only, straight to
  the API server; its cost is in its own table, not in ours-slices' figures. Ours-slices' flip latency includes the
  EndpointSlice controller's.

`

// plotScale draws one panel per plotted metric: pods on x (log scale), a
// line per controller, the targets as dotted lines.
func plotScale(reps []*scalePointReport, path string) error {
	if len(reps) == 0 {
		return nil
	}
	var panels []scaleMetric
	for _, m := range scaleMetrics {
		if m.plot != "" {
			panels = append(panels, m)
		}
	}
	cols := 3
	rows := (len(panels) + cols - 1) / cols
	plots := make([][]*plot.Plot, rows)
	for i := range plots {
		plots[i] = make([]*plot.Plot, cols)
	}
	colors := map[controllerKind]color.Color{
		builtin:    color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
		ours:       color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
		oursSlices: color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	}
	minX, maxX := math.Inf(1), math.Inf(-1)
	for _, rep := range reps {
		minX, maxX = min(minX, float64(rep.pt.pods)), max(maxX, float64(rep.pt.pods))
	}
	for i, m := range panels {
		p := plot.New()
		p.Title.Text = m.plot
		p.X.Label.Text = "pods (log)"
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
		p.X.Min, p.X.Max = math.Pow(10, math.Floor(math.Log10(minX))), math.Pow(10, math.Ceil(math.Log10(maxX*1.0001)))
		p.Add(plotter.NewGrid())
		p.Legend.Top, p.Legend.Left = true, true
		minY, maxY := math.Inf(1), math.Inf(-1)
		for _, k := range scaleAll {
			var xys plotter.XYs
			for _, rep := range reps {
				r := rep.get(k)
				if r == nil || r.result == nil {
					continue
				}
				if v, ok := m.value(rep.pt, r); ok && v > 0 {
					xys = append(xys, plotter.XY{X: float64(rep.pt.pods), Y: v})
					minY, maxY = min(minY, v), max(maxY, v)
				}
			}
			if len(xys) == 0 {
				continue
			}
			line, pts, err := plotter.NewLinePoints(xys)
			if err != nil {
				return err
			}
			line.Color, pts.Color = colors[k], colors[k]
			line.Width = vg.Points(1.5)
			if k == builtin {
				line.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
			}
			p.Add(line, pts)
			p.Legend.Add(k.String(), line, pts)
		}
		if m.bound > 0 {
			bound, err := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: m.bound}, {X: p.X.Max, Y: m.bound}})
			if err != nil {
				return err
			}
			bound.Color = color.Gray{Y: 0x60}
			bound.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
			p.Add(bound)
			p.Legend.Add(fmt.Sprintf("target at 100k (%g)", m.bound), bound)
			minY, maxY = min(minY, m.bound), max(maxY, m.bound)
		}
		if m.logY && !math.IsInf(minY, 1) && minY > 0 {
			p.Y.Scale = plot.LogScale{}
			p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
			p.Y.Min = math.Pow(10, math.Floor(math.Log10(minY)))
			// A decade more on top: the legend's room.
			p.Y.Max = math.Pow(10, math.Ceil(math.Log10(maxY*1.0001))+1)
		}
		plots[i/cols][i%cols] = p
	}
	return writeGrid(plots, 4*vg.Inch, 3.2*vg.Inch, path)
}

// marginalHeap says what each more pod costs in heap between the smallest
// and the largest point: the per-pod figures include a fixed start-up
// heap, which this leaves out.
func marginalHeap(reps []*scalePointReport) string {
	lo, hi := smallest(reps), largest(reps)
	if lo == nil || lo == hi {
		return ""
	}
	var parts []string
	for _, k := range scaleAll {
		a, b := lo.get(k), hi.get(k)
		if a == nil || b == nil || a.heapAlloc <= 0 || b.heapAlloc <= 0 {
			continue
		}
		per := float64(b.heapAlloc-a.heapAlloc) / kb / float64(hi.pt.pods-lo.pt.pods)
		parts = append(parts, fmt.Sprintf("%s %.2f KB", k, per))
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("Heap per additional pod from %s to %s (the slope, without the fixed start-up heap): %s.\n",
		lo.pt.name, hi.pt.name, strings.Join(parts, ", "))
}
