package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// Tests of make bench-scale's own parts: the report from made-up runs, and
// the counting proxy against the package's API server (a second or so).

func TestScaleReport(t *testing.T) {
	run := func(k controllerKind, pt scalePoint, cold time.Duration, heapPerPod, rssPerPod int64, cpu float64) *scaleResult {
		return &scaleResult{
			result: &result{controller: k.String(), coldSync: cold, coldCPU: 1, sent: 1000, churnCPU: cpu,
				p50: 5 * time.Millisecond, p99: 20 * time.Millisecond, peakRSS: rssPerPod * int64(pt.pods)},
			start:     apiCounts{"list": {requests: 3, bytes: 1 << 20}, "watch": {requests: 3, bytes: 1 << 10}, "create": {requests: 7}},
			heapAlloc: heapPerPod * int64(pt.pods), heapInuse: 2 * heapPerPod * int64(pt.pods),
		}
	}
	small, big := scalePoints[1], scalePoints[2]
	reps := []*scalePointReport{
		{pt: small, sc: small.scenario(), runs: []*scaleResult{
			run(builtin, small, 10*time.Second, 10<<10, 20<<10, 2), run(ours, small, 2*time.Second, 2<<10, 4<<10, 0.5),
			run(oursSlices, small, time.Second, 512, 1<<10, 0.4)}},
		{pt: big, sc: big.scenario(), runs: []*scaleResult{
			run(ours, big, 20*time.Second, 1500, 3<<10, 0.55), run(oursSlices, big, 3*time.Second, 700, 1<<10, 0.64),
			run(builtin, big, 100*time.Second, 10<<10, 20<<10, 3)}},
	}
	reps[0].runs[2].slicer = &sliceCost{syncTook: 5 * time.Second, syncCPU: 3, runCPU: 1, peakRSS: 50 << 20}
	md := scaleMarkdown(reps, reportMeta{command: "make bench-scale", started: time.Now(), loadAvg: "0 0 0", version: "`test`", plotFile: "bench-scale.png"})
	for _, want := range []string{
		"| 2k | ours | 2.00 | 2.00 | 4.00 | 0.50 | 5.0 | 20.0 | 3 | 3 | 1.0 |",
		"| steady heap ≤ 1 KB per pod (at 100k) | ours | 20k | 1.46 | missed by 46% |",
		"| steady heap ≤ 1 KB per pod (at 100k) | ours-slices | 20k | 0.68 | met |",
		"| cold sync ≤ 0.3× the built-in's (at 100k) | ours | 20k | 0.20 | met |",
		"| CPU per flip flat: largest / smallest point ≤ 1.2 | ours-slices | 2k→20k | 1.60 | missed by 33% |",
		"The 100k point did not run here",
		"| 2k | 5.0 | 3.0 | 1.0 | 1.00 | 50 | 25.60 |",
		"| other requests at start | 7 | 7 | 7 |",
		"![scale curves](bench-scale.png)",
		"Heap per additional pod from 2k to 20k (the slope, without the fixed start-up heap): built-in 10.00 KB, ours 1.41 KB, ours-slices 0.70 KB.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("no %q in the report:\n%s", want, md)
		}
	}
	for _, c := range []struct {
		v, bound float64
		want     string
	}{{0.96, 1, "met"}, {2.001, 2, "met"}, {2.07, 2, "missed by 3%"}, {0.53, 0.3, "missed by 77%"}, {4.5, 2, "missed by 2.2×"}} {
		if got := missBy(c.v, c.bound); got != c.want {
			t.Errorf("missBy(%v, %v) = %q, want %q", c.v, c.bound, got, c.want)
		}
	}
	path := filepath.Join(t.TempDir(), "scale.png")
	if err := plotScale(reps, path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Errorf("no plot written: %v", err)
	}
}

func TestCountingProxy(t *testing.T) {
	proxy, err := startCountingProxy(cp.URL, cp.Config, filepath.Join(cp.Dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.close()
	cfg := rest.CopyConfig(cp.Config)
	cfg.Host = proxy.URL()
	cs := framework.Clientset(cfg)
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := cs.CoreV1().Namespaces().Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	<-w.ResultChan() // the initial ADDED of an existing namespace
	w.Stop()
	c := proxy.take()
	if c.requests("list") != 1 || c.requests("get") != 1 || c.requests("watch") != 1 {
		t.Errorf("counts %+v, want one list, one get, one watch", c)
	}
	if c.bytes("list") == 0 || c.bytes("watch") == 0 {
		t.Errorf("no bytes counted: %+v", c)
	}
	if again := proxy.take(); again.requests("list") != 0 {
		t.Errorf("take did not start over: %+v", again)
	}
}
