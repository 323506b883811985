package bench

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// Unit tests of the variants of ours in the harness and the report; they
// need no control plane (though TestMain starts one).

func TestSelectedOurs(t *testing.T) {
	for env, want := range map[string][]controllerKind{
		"":                        {ours, oursStandard, oursSpeed},
		"all":                     {ours, oursStandard, oursSpeed},
		"ours-speed, ours":        {ours, oursSpeed},
		"ours-standard":           {oursStandard},
		"ours,ours-standard,ours": {ours, oursStandard},
	} {
		t.Setenv("BENCH_OURS", env)
		got, err := selectedOurs(defaultOurs)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("BENCH_OURS=%q: got %v, %v; want %v", env, got, err, want)
		}
	}
	t.Setenv("BENCH_OURS", "")
	if got, _ := selectedOurs("ours,ours-standard"); !slices.Equal(got, []controllerKind{ours, oursStandard}) {
		t.Errorf("default ours,ours-standard: got %v", got)
	}
	for _, env := range []string{"built-in", "ours,fast", ","} {
		t.Setenv("BENCH_OURS", env)
		if got, err := selectedOurs(defaultOurs); err == nil {
			t.Errorf("BENCH_OURS=%q: got %v, want an error", env, got)
		}
	}
}

func TestRunOrder(t *testing.T) {
	vs := []controllerKind{ours, oursStandard, oursSpeed}
	first := map[controllerKind]int{}
	for turn := range 8 {
		got := runOrder(vs, turn)
		sorted := slices.Clone(got)
		slices.Sort(sorted)
		if !slices.Equal(sorted, []controllerKind{builtin, ours, oursStandard, oursSpeed}) {
			t.Fatalf("turn %d: %v does not run each controller once", turn, got)
		}
		first[got[0]]++
	}
	if got := runOrder(vs, 0); !slices.Equal(got, []controllerKind{builtin, ours, oursStandard, oursSpeed}) {
		t.Errorf("turn 0: %v, want the built-in first, then ours in order", got)
	}
	for _, k := range append([]controllerKind{builtin}, vs...) {
		if first[k] != 2 {
			t.Errorf("%s ran first in %d of 8 turns, want 2", k, first[k])
		}
	}
	if got := runOrder(nil, 3); !slices.Equal(got, []controllerKind{builtin}) {
		t.Errorf("no variants: %v", got)
	}
}

func TestCommandVariants(t *testing.T) {
	sc := smokeScenario
	_, base, env := ours.command(sc)
	if len(env) != 0 || slices.ContainsFunc(base, func(a string) bool {
		return strings.HasPrefix(a, "--pod-decoder") || strings.HasPrefix(a, "--kube-api-http2") || strings.HasPrefix(a, "--timer-slack")
	}) {
		t.Errorf("ours must run with the defaults: %v, env %v", base, env)
	}
	_, std, env := oursStandard.command(sc)
	if len(env) != 0 || !slices.Equal(std, append(slices.Clone(base), "--pod-decoder=standard")) {
		t.Errorf("ours-standard: %v, env %v", std, env)
	}
	_, speed, env := oursSpeed.command(sc)
	if !slices.Equal(env, []string{"GOMAXPROCS=1"}) || !slices.Equal(speed, append(slices.Clone(base), "--kube-api-http2=false", "--timer-slack=5ms")) {
		t.Errorf("ours-speed: %v, env %v", speed, env)
	}
	if _, bi, env := builtin.command(sc); len(env) != 0 || !slices.Contains(bi, "--controllers=endpoints-controller") {
		t.Errorf("built-in: %v, env %v", bi, env)
	}
	for _, k := range ourKinds {
		if !k.isOurs() || !isOursName(k.String()) {
			t.Errorf("%s is not counted as ours", k)
		}
	}
	if isOursName(builtin.String()) || isOursName("nobody") {
		t.Error("the built-in or an unknown name counted as ours")
	}
}

func TestReport(t *testing.T) {
	res := func(k controllerKind, p99 time.Duration, rss int64, wrong int) *result {
		return &result{controller: k.String(), coldSync: time.Second, coldCPU: 1, sent: 100, p50: p99 / 2, p90: p99, p99: p99, max: p99,
			runStats: runStats{lat: []time.Duration{p99 / 2, p99}}, writes: 100, churnCPU: 1, peakRSS: rss << 20, endRSS: rss << 20, wrongAfter: wrong, load: "0.5"}
	}
	scen := func(name string, qps int, order ...*result) *scenarioReport {
		return &scenarioReport{sc: scenario{name: name, title: name + " title", qps: qps}, services: 1, pods: 2, ns: 1, results: order}
	}
	reps := []*scenarioReport{
		scen("small", 20, res(builtin, 10*time.Millisecond, 100, 0), res(ours, 10*time.Millisecond, 40, 0),
			res(oursStandard, 10*time.Millisecond, 60, 0), res(oursSpeed, 30*time.Millisecond, 40, 1)),
		scen("small-batch", 20, res(oursSpeed, 5*time.Millisecond, 40, 0), res(builtin, 10*time.Millisecond, 100, 0),
			res(ours, 5*time.Millisecond, 40, 0), res(oursStandard, 5*time.Millisecond, 60, 0)),
	}
	md := markdown(reps, reportMeta{command: "make bench", started: time.Now(), loadAvg: "0 0 0", version: "`test`"})
	for _, want := range []string{
		"| metric | built-in | ours | ours-standard | ours-speed | ours / built-in | ours-standard / built-in | ours-speed / built-in |",
		"| flip p99 (ms) | 10.0 | 10.0 | 10.0 | 30.0 | 1.00 | 1.00 | 3.00 |",
		"| peak RSS (MB) | 100 | 40 | 60 | 40 | 0.40 | 0.60 | 0.40 |",
		"Run order: ours-speed, built-in, ours, ours-standard.",
		"- **ours**: this controller with its defaults",
		"- **ours-standard**: `--pod-decoder=standard`",
		"- **ours-speed**: the opt-in speed settings: `--kube-api-http2=false --timer-slack=5ms` and `GOMAXPROCS=1`",
		"The issue's goals, as ours (the defaults) / built-in in this run (2 missed):", // CPU, twice; not ours-speed's misses
		"| small | ours-speed | flip p99 no worse (QPS 20, ±5%) | 3.00 | missed |",
		"| small | ours-speed | wrong Endpoints after settle = 0 | 1.00 | missed |",
		"| flip p99 (ms) | ours-speed | 30.0 | 5.0 | 0.17 |",
		"| flip p99 (ms) | built-in | 10.0 | 10.0 | 1.00 |",
		"- small, ours-speed: flip p99 (ms) 30.0 vs 10.0",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("no %q in the report:\n%s", want, md)
		}
	}
	if strings.Contains(md, "BENCH_OURS") {
		t.Errorf("every variant ran, yet the report says how to pick them:\n%s", md)
	}
	if strings.Contains(md, "small, ours:") || strings.Contains(md, "small, ours-standard:") {
		t.Errorf("a variant as good as the built-in is listed as behind:\n%s", md)
	}

	// Only some variants: the method says which ran, the tables have
	// columns for those only.
	few := []*scenarioReport{scen("small", 20, res(builtin, 10*time.Millisecond, 100, 0), res(oursStandard, 10*time.Millisecond, 60, 0))}
	md = markdown(few, reportMeta{command: "make bench", started: time.Now(), loadAvg: "0 0 0", version: "`test`"})
	if !strings.Contains(md, "| metric | built-in | ours-standard | ours-standard / built-in |") ||
		strings.Contains(md, "- **ours**") || strings.Contains(md, "## Targets") || !strings.Contains(md, "`BENCH_OURS` picks") {
		t.Errorf("with ours-standard alone:\n%s", md)
	}
	if text := textTable(few[0]); !strings.Contains(text, "ours-standard/built-in") {
		t.Errorf("the text table has no ratio column for ours-standard:\n%s", text)
	}
}
