package bench

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The targets, checked against each run, and its reference figures
// for the built-in, which tell whether the workloads load it as intended.

// target is one goal, as a bound on ours / built-in.
type target struct {
	what  string
	value func(bi, o *result) (float64, bool)
	max   float64
	// applies picks the scenarios the goal is about.
	applies func(sc scenario) bool
}

func ratioOf(f func(r *result) float64) func(bi, o *result) (float64, bool) {
	return func(bi, o *result) (float64, bool) {
		b := f(bi)
		if b <= 0 || f(o) < 0 {
			return 0, false
		}
		return f(o) / b, true
	}
}

func every(scenario) bool { return true }

// At QPS 20 both controllers are bound by the rate limit; "no worse" and
// "no more" allow the run-to-run noise of such runs (5% of latency, 0.5%
// of writes).
var targets = []target{
	{"peak RSS ≤ 0.5×", ratioOf(func(r *result) float64 { return float64(r.peakRSS) }), 0.5, every},
	{"CPU during churn ≤ 0.3×", ratioOf(func(r *result) float64 { return r.churnCPU }), 0.3, every},
	{"cold sync ≤ 1.0×", ratioOf(func(r *result) float64 { return r.coldSync.Seconds() }), 1.0, every},
	{"flip p99 ≤ 0.5× (QPS 1000)", ratioOf(func(r *result) float64 { return r.p99.Seconds() }), 0.5,
		func(sc scenario) bool { return sc.qps >= 1000 }},
	{"flip p99 no worse (QPS 20, ±5%)", ratioOf(func(r *result) float64 { return r.p99.Seconds() }), 1.05,
		func(sc scenario) bool { return sc.qps <= 20 }},
	{"writes no more (QPS 20, ±0.5%)", ratioOf(func(r *result) float64 { return r.writes }), 1.005,
		func(sc scenario) bool { return sc.qps <= 20 }},
	{"wrong Endpoints after settle = 0", func(_, o *result) (float64, bool) { return float64(o.wrongAfter), true }, 0, every},
}

// targetsTable lists every target for every scenario, met or not, for
// ours (the defaults), and counts the missed ones.
func targetsTable(reps []*scenarioReport) (string, int) {
	rows, missed := targetRows(reps, ours, false)
	if len(rows) == 0 {
		return "", 0
	}
	var b strings.Builder
	markdownTable(&b, []string{"workload", "target", "this run", "verdict"}, rows)
	return b.String(), missed
}

// variantTargetsTable lists the same targets for the other variants of
// ours, for information: a miss there counts for nothing.
func variantTargetsTable(reps []*scenarioReport) string {
	var rows [][]string
	for _, k := range variantsIn(reps) {
		if k == ours {
			continue
		}
		r, _ := targetRows(reps, k, true)
		rows = append(rows, r...)
	}
	if len(rows) == 0 {
		return ""
	}
	var b strings.Builder
	markdownTable(&b, []string{"workload", "variant", "target", "this run", "verdict (informational)"}, rows)
	return b.String()
}

// targetRows checks the targets for variant k in every scenario where it
// and the built-in ran; named adds a column with k's name, and marks misses
// without bold.
func targetRows(reps []*scenarioReport, k controllerKind, named bool) ([][]string, int) {
	var rows [][]string
	missed := 0
	for _, rep := range reps {
		bi, o := rep.get(builtin), rep.get(k)
		if bi == nil || o == nil || bi.err != "" || o.err != "" {
			continue
		}
		for _, t := range targets {
			if !t.applies(rep.sc) {
				continue
			}
			v, ok := t.value(bi, o)
			verdict := "met"
			switch {
			case !ok:
				verdict = "no data"
			case v > t.max:
				verdict, missed = "**missed**", missed+1
				if named {
					verdict = "missed"
				}
			}
			row := []string{rep.sc.name}
			if named {
				row = append(row, k.String())
			}
			rows = append(rows, append(row, t.what, fmt.Sprintf("%.2f", v), verdict))
		}
	}
	return rows, missed
}

// reference is the figures for the built-in on this kind of machine.
type reference struct {
	cold, p50, p99 float64 // seconds
	writesPerFlip  float64
	cpuPerFlip     float64 // CPU milliseconds
	rssMB          float64
}

var references = map[string]reference{
	"small":         {cold: 9.0, p50: 0.009, p99: 0.016, writesPerFlip: 400.0 / 400, cpuPerFlip: 1400.0 / 400, rssMB: 103},
	"large":         {cold: 50, p50: 17.3, p99: 37.5, writesPerFlip: 1351.0 / 2999, cpuPerFlip: 21500.0 / 2999, rssMB: 290},
	"large-qps1000": {cold: 13.7, p50: 0.113, p99: 0.865, writesPerFlip: 2951.0 / 3000, cpuPerFlip: 33000.0 / 3000, rssMB: 309},
}

// calibrationTable sets the built-in's figures in this run beside the
// issue's reference figures.
func calibrationTable(reps []*scenarioReport) string {
	var rows [][]string
	for _, rep := range reps {
		ref, ok := references[rep.sc.name]
		bi := rep.get(builtin)
		if !ok || bi == nil || bi.err != "" || bi.flips() == 0 {
			continue
		}
		pair := func(what string, refV, here float64, prec int) {
			rows = append(rows, []string{rep.sc.name, what, fmt.Sprintf("%.*f", prec, refV), fmt.Sprintf("%.*f", prec, here)})
		}
		flips := float64(bi.flips())
		pair("cold sync (s)", ref.cold, bi.coldSync.Seconds(), 1)
		pair("flip p50 (ms)", ref.p50*1000, float64(bi.p50)/1e6, 1)
		pair("flip p99 (ms)", ref.p99*1000, float64(bi.p99)/1e6, 1)
		pair("writes per flip", ref.writesPerFlip, bi.writes/flips, 2)
		pair("CPU ms per flip", ref.cpuPerFlip, bi.churnCPU*1000/flips, 1)
		pair("peak RSS (MB)", ref.rssMB, float64(bi.peakRSS)/(1<<20), 0)
	}
	if len(rows) == 0 {
		return ""
	}
	var b strings.Builder
	markdownTable(&b, []string{"workload", "built-in's", "issue's reference", "this run"}, rows)
	return b.String()
}

func TestTargetsTable(t *testing.T) {
	res := func(k controllerKind, rss int64, cpu float64, p99 time.Duration, writes float64) *result {
		return &result{controller: k.String(), peakRSS: rss, churnCPU: cpu, coldSync: time.Second, p99: p99, writes: writes, sent: 10}
	}
	reps := []*scenarioReport{
		{sc: scenario{name: "a", qps: 20}, results: []*result{res(builtin, 100, 1, time.Second, 1000), res(ours, 40, 0.2, time.Second, 1004)}},
		{sc: scenario{name: "b", qps: 1000}, results: []*result{res(builtin, 100, 1, time.Second, 1000), res(ours, 60, 0.5, 400*time.Millisecond, 900)}},
	}
	// ours-speed misses more, ours-standard runs only in a: neither counts.
	reps[0].results = append(reps[0].results, res(oursSpeed, 90, 0.9, time.Second, 1100), res(oursStandard, 45, 0.25, time.Second, 1000))
	reps[1].results = append(reps[1].results, res(oursSpeed, 90, 0.9, time.Second, 1100))
	table, missed := targetsTable(reps)
	if missed != 2 {
		t.Errorf("missed %d, want 2 (b's RSS and CPU):\n%s", missed, table)
	}
	for _, want := range []string{"| a | writes no more (QPS 20, ±0.5%) | 1.00 | met |", "| b | CPU during churn ≤ 0.3× | 0.50 | **missed** |", "| b | flip p99 ≤ 0.5× (QPS 1000) | 0.40 | met |"} {
		if !strings.Contains(table, want) {
			t.Errorf("no row %q in\n%s", want, table)
		}
	}
	if strings.Contains(table, "| a | flip p99 ≤ 0.5×") {
		t.Errorf("the QPS 1000 target was applied at QPS 20:\n%s", table)
	}
	if strings.Contains(table, "ours-") {
		t.Errorf("the targets table names another variant:\n%s", table)
	}

	info := variantTargetsTable(reps)
	for _, want := range []string{
		"| a | ours-standard | peak RSS ≤ 0.5× | 0.45 | met |",
		"| a | ours-speed | writes no more (QPS 20, ±0.5%) | 1.10 | missed |",
		"| b | ours-speed | CPU during churn ≤ 0.3× | 0.90 | missed |",
	} {
		if !strings.Contains(info, want) {
			t.Errorf("no row %q in\n%s", want, info)
		}
	}
	if strings.Contains(info, "**") || strings.Contains(info, "| ours |") || strings.Contains(info, "| b | ours-standard |") {
		t.Errorf("the informational table marks a miss as one, lists ours, or a run that did not happen:\n%s", info)
	}
	if idx := strings.Index(info, "ours-standard"); idx < 0 || idx > strings.Index(info, "ours-speed") {
		t.Errorf("the variants are not in the report's order:\n%s", info)
	}
}
