package bench

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// metric is one row of the tables.
type metric struct {
	name string
	// value returns the row's value for r; ok false shows "–".
	value func(r *result) (v float64, ok bool)
	prec  int
	// better is -1 when lower is better, +1 when higher is, 0 if neither.
	better int
}

func ms(d time.Duration) (float64, bool) { return float64(d) / 1e6, d >= 0 }

var metrics = []metric{
	{"cold sync (s)", func(r *result) (float64, bool) { return r.coldSync.Seconds(), r.coldSync > 0 }, 2, -1},
	{"CPU during cold sync (s)", func(r *result) (float64, bool) { return r.coldCPU, r.coldSync > 0 }, 2, -1},
	{"flips written", func(r *result) (float64, bool) { return float64(r.flips()), r.sent > 0 }, 0, 0},
	{"flips skipped (pod pending)", func(r *result) (float64, bool) { return float64(r.skipped), r.sent > 0 }, 0, -1},
	{"flip p50 (ms)", func(r *result) (float64, bool) { return ms(r.p50) }, 1, -1},
	{"flip p90 (ms)", func(r *result) (float64, bool) { return ms(r.p90) }, 1, -1},
	{"flip p99 (ms)", func(r *result) (float64, bool) { return ms(r.p99) }, 1, -1},
	{"flip max (ms)", func(r *result) (float64, bool) { return ms(r.max) }, 1, -1},
	{"flips never seen", func(r *result) (float64, bool) { return float64(r.unobserved), r.sent > 0 }, 0, -1},
	{"flips seen before UpdateStatus returned", func(r *result) (float64, bool) { return float64(r.early), r.sent > 0 }, 0, 0},
	{"settle after churn (s)", func(r *result) (float64, bool) { return r.settle.Seconds(), r.sent > 0 && r.settle >= 0 }, 2, -1},
	{"Endpoints writes", func(r *result) (float64, bool) { return r.writes, r.sent > 0 }, 0, -1},
	{"writes per flip", func(r *result) (float64, bool) {
		return r.writes / float64(r.flips()), r.sent > 0 && r.flips() > 0
	}, 2, -1},
	{"write conflicts (409)", func(r *result) (float64, bool) { return r.conflicts, r.sent > 0 }, 0, -1},
	{"CPU during churn+settle (s)", func(r *result) (float64, bool) { return r.churnCPU, r.sent > 0 }, 2, -1},
	{"peak RSS (MB)", func(r *result) (float64, bool) { return float64(r.peakRSS) / (1 << 20), r.peakRSS > 0 }, 0, -1},
	{"RSS at the end (MB)", func(r *result) (float64, bool) { return float64(r.endRSS) / (1 << 20), r.endRSS > 0 }, 0, -1},
	{"wrong after settle", func(r *result) (float64, bool) { return float64(r.wrongAfter), r.sent > 0 }, 0, -1},
	{"host load avg (1m) after churn", func(r *result) (float64, bool) {
		v, err := strconv.ParseFloat(r.load, 64)
		return v, err == nil
	}, 2, 0},
}

func cell(m metric, r *result) string {
	if r == nil {
		return "–"
	}
	v, ok := m.value(r)
	if !ok {
		if m.name == "settle after churn (s)" && r.settleErr != "" {
			return "did not settle"
		}
		return "–"
	}
	return fmt.Sprintf("%.*f", m.prec, v)
}

// ratio is b/a (a variant of ours / built-in) when both are known and a is not zero.
func ratio(m metric, a, b *result) string {
	if a == nil || b == nil {
		return "–"
	}
	va, oka := m.value(a)
	vb, okb := m.value(b)
	if !oka || !okb || m.better == 0 {
		return "–"
	}
	if va == 0 {
		if vb == 0 {
			return "="
		}
		return "–"
	}
	return fmt.Sprintf("%.2f", vb/va)
}

func (rep *scenarioReport) get(k controllerKind) *result {
	for _, r := range rep.results {
		if r.controller == k.String() {
			return r
		}
	}
	return nil
}

// variants is the variants of ours that ran in rep, in the report's order.
func (rep *scenarioReport) variants() []controllerKind {
	var out []controllerKind
	for _, k := range ourKinds {
		if rep.get(k) != nil {
			out = append(out, k)
		}
	}
	return out
}

// variantsIn is the variants of ours that ran in any of reps.
func variantsIn(reps []*scenarioReport) []controllerKind {
	var out []controllerKind
	for _, k := range ourKinds {
		for _, rep := range reps {
			if rep.get(k) != nil {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

// comparison is a scenario's table: a column per controller, the built-in
// first, then a ratio column per variant of ours (sep between the names of
// a ratio).
func comparison(rep *scenarioReport, sep string) (cols []string, rows [][]string) {
	vs := rep.variants()
	bi := rep.get(builtin)
	cols = []string{"metric", builtin.String()}
	for _, k := range vs {
		cols = append(cols, k.String())
	}
	for _, k := range vs {
		cols = append(cols, k.String()+sep+builtin.String())
	}
	for _, m := range metrics {
		row := []string{m.name, cell(m, bi)}
		for _, k := range vs {
			row = append(row, cell(m, rep.get(k)))
		}
		for _, k := range vs {
			row = append(row, ratio(m, bi, rep.get(k)))
		}
		rows = append(rows, row)
	}
	return cols, rows
}

// textTable is the fixed-width table for the terminal.
func textTable(rep *scenarioReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n== %s\n", rep.sc.title)
	cols, rows := comparison(rep, "/")
	writeTextTable(&b, cols, rows)
	for _, r := range rep.results {
		if r.err != "" {
			fmt.Fprintf(&b, "%s: run failed: %s\n", r.controller, r.err)
		}
		if r.settleErr != "" {
			fmt.Fprintf(&b, "%s: %s\n", r.controller, r.settleErr)
		}
	}
	for _, row := range latencyMetricRows([]*scenarioReport{rep}) {
		fmt.Fprintf(&b, "latency metric, %s: outside p50/p99 %s/%s ms, metric %s/%s ms, writes timed %s; agree: %s\n",
			row[1], row[2], row[3], row[4], row[5], row[6], row[7])
	}
	return b.String()
}

// latencyMetricRows compares, for every run of ours, its latency metric
// with the tracker's per-write figures: workload, variant, outside p50 and
// p99, metric p50 and p99 (ms), writes timed (outside / metric), agree.
func latencyMetricRows(reps []*scenarioReport) [][]string {
	var rows [][]string
	for _, rep := range reps {
		for _, k := range rep.variants() {
			r := rep.get(k)
			c := r.latency
			if c == nil {
				continue
			}
			row := []string{rep.sc.name, k.String(), "–", "–", "–", "–", fmt.Sprintf("%d / %d", c.extN, c.metricN), "no"}
			if c.extN > 0 {
				row[2], row[3] = fmtDurMS(c.ext50), fmtDurMS(c.ext99)
			}
			if c.err == "" {
				row[4], row[5] = fmtDurMS(c.metric50), fmtDurMS(c.metric99)
			}
			if c.ok() {
				row[7] = "yes"
			} else if c.err != "" {
				row[7] = "no (" + c.err + ")"
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// latencyMetricDisagreements lists the runs of ours whose latency metric
// does not agree with the outside view.
func latencyMetricDisagreements(reps []*scenarioReport) []string {
	var out []string
	for _, row := range latencyMetricRows(reps) {
		if row[7] != "yes" {
			out = append(out, fmt.Sprintf("%s, %s: latency metric p50/p99 %s/%s ms, outside %s/%s ms (writes timed %s): %s",
				row[0], row[1], row[4], row[5], row[2], row[3], row[6], row[7]))
		}
	}
	return out
}

func fmtDurMS(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/1e6) }

func markdownTable(b *strings.Builder, cols []string, rows [][]string) {
	fmt.Fprintf(b, "| %s |\n", strings.Join(cols, " | "))
	seps := make([]string, len(cols))
	seps[0] = "---"
	for i := 1; i < len(cols); i++ {
		seps[i] = "---:"
	}
	fmt.Fprintf(b, "| %s |\n", strings.Join(seps, " | "))
	for _, r := range rows {
		fmt.Fprintf(b, "| %s |\n", strings.Join(r, " | "))
	}
}

// reportMeta describes where and how the numbers were taken.
type reportMeta struct {
	command  string
	started  time.Time
	took     time.Duration
	loadAvg  string
	plotFile string // relative to the Markdown file; empty: no plot
	// version is the commit measured, taken before the run writes its
	// outputs into the tree (which would make it look dirty).
	version string
}

// markdown renders the whole report.
func markdown(reps []*scenarioReport, meta reportMeta) string {
	var b strings.Builder
	b.WriteString("# Benchmarks: this controller vs the built-in\n\n")
	b.WriteString("<!-- Generated by test/bench (make bench); edits are overwritten. -->\n\n")
	fmt.Fprintf(&b, "Measured %s, in %s, with:\n\n```sh\n%s\n```\n\n",
		meta.started.UTC().Format("2006-01-02 15:04 UTC"), meta.took.Round(time.Second), meta.command)
	fmt.Fprintf(&b, "Machine: %s. Load average before the run: %s.\n", machine(), meta.loadAvg)
	fmt.Fprintf(&b, "Control plane and controllers: %s; this controller at %s.\n\n", kubeVersion(), meta.version)
	b.WriteString(scaleLink)
	b.WriteString(methodology(variantsIn(reps)))

	for _, rep := range reps {
		fmt.Fprintf(&b, "\n## %s\n\n", rep.sc.title)
		fmt.Fprintf(&b, "%d Services, %d pods, %d namespaces (seeded in %s); scenario took %s.\n\n",
			rep.services, rep.pods, rep.ns, rep.seedTook.Round(time.Second), rep.took.Round(time.Second))
		var order []string
		for _, r := range rep.results {
			order = append(order, r.controller)
		}
		fmt.Fprintf(&b, "Run order: %s.\n\n", strings.Join(order, ", "))
		cols, rows := comparison(rep, " / ")
		markdownTable(&b, cols, rows)
		for _, r := range rep.results {
			if r.err != "" {
				fmt.Fprintf(&b, "\n%s: run failed: %s\n", r.controller, r.err)
			}
			if r.settleErr != "" {
				fmt.Fprintf(&b, "\n%s did not settle: %s\n", r.controller, r.settleErr)
			}
		}
	}

	if t, missed := targetsTable(reps); t != "" {
		b.WriteString("\n## Targets\n\n")
		fmt.Fprintf(&b, "The issue's goals, as ours (the defaults) / built-in in this run (%d missed):\n\n", missed)
		b.WriteString(t)
	}
	if t := variantTargetsTable(reps); t != "" {
		b.WriteString("\n### The other variants against the targets (informational)\n\n")
		b.WriteString("The same goals for the opt-in variants of ours, as variant / built-in; the targets are checked for the defaults only:\n\n")
		b.WriteString(t)
	}
	if t := calibrationTable(reps); t != "" {
		b.WriteString("\n## The built-in against the issue's reference figures\n\n")
		b.WriteString("Whether the workloads load the built-in as the issue's own measurements did (same kind of machine, 5 workers):\n\n")
		b.WriteString(t)
	}
	if rows := latencyMetricRows(reps); len(rows) > 0 {
		b.WriteString("\n## The latency metric against the outside measurement\n\n")
		b.WriteString("`endpoints_controller_event_to_write_latency_seconds{trigger=\"pod\"}` of each run of ours (its increase\n")
		b.WriteString("over the churn and settling, quantiles as `histogram_quantile` computes them from its native buckets) against the same\n")
		b.WriteString("writes timed from outside (see Method); they agree within 10% or 5 ms:\n\n")
		markdownTable(&b, []string{"workload", "variant", "outside p50 (ms)", "outside p99 (ms)", "metric p50 (ms)", "metric p99 (ms)", "writes timed (outside / metric)", "agree"}, rows)
	}
	if t := batchTable(reps); t != "" {
		b.WriteString("\n## Batching: --endpoint-updates-batch-period=500ms vs 0 (small workload)\n\n")
		b.WriteString(t)
	}
	if meta.plotFile != "" {
		fmt.Fprintf(&b, "\n## Flip latency distributions\n\n![flip latency CDFs](%s)\n", meta.plotFile)
	}
	b.WriteString("\n## Where ours is not ahead\n\n")
	if obs := worse(reps); len(obs) > 0 {
		for _, o := range obs {
			fmt.Fprintf(&b, "- %s\n", o)
		}
	} else {
		b.WriteString("Nowhere in this run: every lower-is-better metric of every variant of ours was at most 10% above the built-in's.\n")
	}
	return b.String()
}

// scaleLink points from make bench's report to make bench-scale's.
const scaleLink = "How the costs grow with pods (2k, 20k, 100k), with EndpointSlices as the source too: [benchmarks-scale.md](benchmarks-scale.md) (`make bench-scale`).\n\n"

// methodology is the report's method section, naming the variants of ours
// that ran.
func methodology(variants []controllerKind) string {
	var b strings.Builder
	b.WriteString(methodText)
	b.WriteString("\nThis controller ran in these variants (the same binary; every variant gets\n")
	b.WriteString("the same checks, and each has its own column and ratio):\n\n")
	for _, k := range variants {
		fmt.Fprintf(&b, "- **%s**: %s.\n", k, kinds[k].about)
	}
	if len(variants) < len(ourKinds) {
		b.WriteString("\n(`BENCH_OURS` picks the variants; default: " + strings.Join(strings.Split(defaultOurs, ","), ", ") + ".)\n")
	}
	return b.String()
}

const methodText = `## Method

One etcd and kube-apiserver on loopback serve every controller. Each
workload is seeded once: pods as a Deployment creates them (owner
reference, pod-template-hash label, one container), with the status a
kubelet writes (Running, an IP and a node, five conditions, a container
status) through the status subresource; then the built-in
(` + "`kube-controller-manager --controllers=endpoints-controller`" + `) and each
variant of this controller (below) run over it one after the other, each
from the same start state: all pods Ready, no Endpoints. The order is
rotated by one from one workload to the next (each table says it), so that
no controller always runs first or last. All get
` + "`--concurrent-endpoint-syncs=5`" + ` and the workload's
` + "`--kube-api-qps`/`--kube-api-burst`" + `.

- **cold sync**: from starting the process until every Endpoints is right,
  as seen by an Endpoints informer in the test, compared with the ready and
  not-ready IPs the test knows every Service must list. It includes process
  start-up and the initial LIST of Services, pods and Endpoints.
- Before the start and before the churn the test waits (up to a minute)
  until the host is quiet, under 5% of its CPUs busy over a second, so that
  no controller pays for work left over from seeding or a reset.
- **flips**: open loop, at the workload's rate, random pods (the same for
  every controller: one seeded stream per flip) have their readiness
  flipped as a kubelet does it (Ready and ContainersReady
  conditions, the container's ready flag; UpdateStatus). A flip's latency
  runs from the UpdateStatus response until every Service selecting the
  pod lists its IP in the right list (addresses vs notReadyAddresses); a
  flip seen before the response arrived counts as 0. A pod whose previous
  flip is not yet visible is not flipped again (skipped).
- **settle**: from the last flip's response until every Endpoints is right.
- **writes, conflicts, CPU**: from the start of the churn until settled:
  kube-apiserver's ` + "`apiserver_request_total`" + ` for Endpoints
  creates/updates/deletes (409 Conflict answers counted separately), and the
  controller's user+system CPU from /proc/PID/stat.
- **peak RSS**: the controller's VmHWM at the end of its run (usually
  reached while decoding the initial LIST of pods); **RSS at the end**: its
  VmRSS then, the steady state.
- **wrong after settle**: Endpoints still wrong once nothing has changed for
  3s after settling; must be 0 for every variant of this controller.
- **latency metric**: this controller's own
  ` + "`endpoints_controller_event_to_write_latency_seconds{trigger=\"pod\"}`" + `,
  scraped before the churn and once quiet after settling, is checked
  against the outside view of the same writes. The flip latency above is
  not that view: it counts every flip, from its own response, until every
  Service selecting the pod shows it, while the metric counts every
  Endpoints write once, from the earliest pod change it reflects (a write
  that carries several flips of a Service's pods is one observation, timed
  from the first; a pod in two Services is two writes). So the test also
  times, for each Endpoints update its informer sees that is the first to
  show one or more flips, the time since the earliest of their UpdateStatus
  responses (0 if it came before all of them), and compares the p50 and p99
  of those with the metric's, computed as Prometheus'
  ` + "`histogram_quantile`" + ` does on its native buckets (about 4% wide,
  scraped in the protobuf format; the classic buckets, up to 25% wide,
  would put a batch period's 500 ms anywhere in 500-600 ms). They must
  agree within 10% or 5 ms,
  whichever is more; the small gaps left are the time between the
  UpdateStatus response and the controller's watch event, and between the
  write's answer and the test's watch event.

Ratios are variant / built-in: below 1 is better, except for the rows
without a ratio. The test process, etcd and kube-apiserver share the same
cores, so absolute numbers depend on the machine, and on whatever else runs on it
(the last row: the host's 1-minute load average; above the core count, the
latencies are inflated by CPU contention); compare the columns.
`

// batchTable compares batching on and off, for every controller, when
// both small scenarios ran.
func batchTable(reps []*scenarioReport) string {
	var off, on *scenarioReport
	for _, r := range reps {
		switch r.sc.name {
		case "small":
			off = r
		case "small-batch":
			on = r
		}
	}
	if off == nil || on == nil {
		return ""
	}
	var b strings.Builder
	var rows [][]string
	for _, m := range metrics {
		if !slices.Contains([]string{"flip p50 (ms)", "flip p99 (ms)", "settle after churn (s)", "Endpoints writes",
			"writes per flip", "CPU during churn+settle (s)"}, m.name) {
			continue
		}
		for _, k := range append(variantsIn(reps), builtin) {
			a, c := off.get(k), on.get(k)
			if a == nil && c == nil {
				continue
			}
			rows = append(rows, []string{m.name, k.String(), cell(m, a), cell(m, c), ratio(m, a, c)})
		}
	}
	markdownTable(&b, []string{"metric", "controller", "0", "500ms", "500ms / 0"}, rows)
	return b.String()
}

// worse lists the lower-is-better metrics where a variant of ours is more
// than 10% above the built-in (and by more than noise: 0.05 s, 5 ms, 2
// writes, 5 MB).
func worse(reps []*scenarioReport) []string {
	var out []string
	for _, rep := range reps {
		bi := rep.get(builtin)
		if bi == nil {
			continue
		}
		for _, k := range rep.variants() {
			o := rep.get(k)
			for _, m := range metrics {
				if m.better != -1 {
					continue
				}
				va, oka := m.value(bi)
				vb, okb := m.value(o)
				if !oka || !okb || vb <= va*1.1 || vb-va < 2*math.Pow10(-m.prec) {
					continue
				}
				out = append(out, fmt.Sprintf("%s, %s: %s %s vs %s", rep.sc.name, k, m.name, cell(m, o), cell(m, bi)))
			}
			if o.err != "" {
				out = append(out, fmt.Sprintf("%s, %s: the run failed: %s", rep.sc.name, k, o.err))
			}
		}
	}
	return out
}

// machine describes the host: CPUs, model, memory, kernel.
func machine() string {
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(data), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
		}
	}
	kernel := ""
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(data))
	}
	return fmt.Sprintf("%d cores (%s)%s%s, %s/%s, %s", runtime.NumCPU(), model, mem, kernel, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func kubeVersion() string {
	out, err := exec.Command(cp.BinDir+"/kube-controller-manager", "--version").Output()
	if err != nil {
		return "kube-controller-manager (version unknown)"
	}
	return "kube-controller-manager " + strings.TrimPrefix(strings.TrimSpace(string(out)), "Kubernetes ")
}

func gitVersion() string {
	out, err := exec.Command("git", "describe", "--tags", "--always", "--dirty").Output()
	if err != nil {
		return "an unknown commit"
	}
	return "`" + strings.TrimSpace(string(out)) + "`"
}

// plotLatencies draws one panel per scenario with the CDF of the flip
// latencies of each controller, and writes it as a PNG.
func plotLatencies(reps []*scenarioReport, path string) error {
	if len(reps) == 0 {
		return nil
	}
	cols := min(2, len(reps))
	rows := (len(reps) + cols - 1) / cols
	plots := make([][]*plot.Plot, rows)
	for i := range plots {
		plots[i] = make([]*plot.Plot, cols)
	}
	colors := map[string]color.Color{
		builtin.String():      color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
		ours.String():         color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
		oursStandard.String(): color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
		oursSpeed.String():    color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
	}
	for i, rep := range reps {
		p := plot.New()
		p.Title.Text = rep.sc.name
		p.X.Label.Text = "flip latency (ms, log)"
		p.Y.Label.Text = "fraction of flips"
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Min, p.Y.Max = 0, 1
		p.Add(plotter.NewGrid())
		p.Legend.Top, p.Legend.Left = true, true // a CDF leaves the top left empty
		minX, maxX := math.Inf(1), math.Inf(-1)
		for _, k := range append([]controllerKind{builtin}, rep.variants()...) {
			r := rep.get(k) // in the report's order, whatever the run order
			if r == nil || len(r.lat) == 0 {
				continue
			}
			s := slices.Clone(r.lat)
			slices.Sort(s)
			xys := make(plotter.XYs, 0, len(s)+1)
			for j, d := range s {
				x := max(float64(d)/1e6, 0.1) // log scale: no zeros
				if j == 0 {
					xys = append(xys, plotter.XY{X: x, Y: 0})
				}
				xys = append(xys, plotter.XY{X: x, Y: float64(j+1) / float64(len(s))})
				minX, maxX = min(minX, x), max(maxX, x)
			}
			line, err := plotter.NewLine(xys)
			if err != nil {
				return err
			}
			line.Color = colors[r.controller]
			line.Width = vg.Points(1.5)
			if r.controller == builtin.String() {
				line.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
			}
			p.Add(line)
			p.Legend.Add(fmt.Sprintf("%s (p50 %s, p99 %s)", r.controller, fmtMS(r.p50), fmtMS(r.p99)), line)
		}
		if math.IsInf(minX, 1) { // no data: keep the log scale valid
			minX, maxX = 1, 10
		}
		p.X.Min = math.Pow(10, math.Floor(math.Log10(minX)))
		p.X.Max = math.Pow(10, math.Ceil(math.Log10(maxX*1.0001)))
		plots[i/cols][i%cols] = p
	}
	return writeGrid(plots, 5*vg.Inch, 3.5*vg.Inch, path)
}

func fmtMS(d time.Duration) string {
	if d < 0 {
		return "–"
	}
	return fmt.Sprintf("%.0fms", float64(d)/1e6)
}

// writeGrid draws a grid of plots (nil cells left empty), each cell w by h,
// into the PNG file path.
func writeGrid(plots [][]*plot.Plot, w, h vg.Length, path string) error {
	rows, cols := len(plots), len(plots[0])
	img := vgimg.New(vg.Length(cols)*w, vg.Length(rows)*h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 6, PadY: vg.Millimeter * 6,
		PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3, PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 3}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		for j, p := range plots[i] {
			if p != nil {
				p.Draw(canvases[i][j])
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeTextTable writes a table of columns and rows to b, right-aligned.
func writeTextTable(b *strings.Builder, cols []string, rows [][]string) {
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\t\n", strings.Join(cols, "\t"))
	for _, row := range rows {
		fmt.Fprintf(tw, "%s\t\n", strings.Join(row, "\t"))
	}
	tw.Flush()
}
