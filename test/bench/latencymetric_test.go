package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// The controller's own latency metric, checked against the outside view:
// endpoints_controller_event_to_write_latency_seconds{trigger="pod"} is
// scraped from ours before and after the churn, and the p50 and p99 of the
// difference, interpolated as Prometheus' histogram_quantile does, must
// agree with the tracker's per-write latencies within 10% or 5ms.

const latencyMetric = "endpoints_controller_event_to_write_latency_seconds"

// histogram is a Prometheus histogram as scraped: cumulative counts by
// upper bound, the last one +Inf.
type histogram struct {
	le     []float64
	counts []float64
	native *native // the native buckets, when scraped with them
}

// count is the number of observations.
func (h histogram) count() float64 {
	if len(h.counts) == 0 {
		return 0
	}
	return h.counts[len(h.counts)-1]
}

// sub returns h minus an earlier scrape of the same histogram.
func (h histogram) sub(before histogram) (histogram, error) {
	if len(before.le) == 0 {
		return h, nil
	}
	if !slices.Equal(h.le, before.le) {
		return histogram{}, fmt.Errorf("the buckets changed between scrapes")
	}
	d := histogram{le: h.le, counts: make([]float64, len(h.counts))}
	if h.native != nil && before.native != nil {
		n := h.native.sub(*before.native)
		d.native = &n
	}
	for i := range h.counts {
		d.counts[i] = h.counts[i] - before.counts[i]
	}
	return d, nil
}

// quantile is histogram_quantile(q, h): the bucket where the rank falls,
// and linear interpolation within it from its lower bound (0 for the
// first); the largest finite bound if it falls in +Inf. NaN without
// observations.
//
// With native buckets, those are used instead (native.quantile).
func (h histogram) quantile(q float64) float64 {
	if h.native != nil {
		return h.native.quantile(q)
	}
	n := len(h.le)
	if n < 2 || !math.IsInf(h.le[n-1], 1) || h.count() == 0 {
		return math.NaN()
	}
	rank := q * h.count()
	b := 0
	for b < n-1 && h.counts[b] < rank {
		b++
	}
	if b == n-1 {
		return h.le[n-2]
	}
	lo, below := 0.0, 0.0
	if b > 0 {
		lo, below = h.le[b-1], h.counts[b-1]
	}
	if h.counts[b] == below {
		return h.le[b]
	}
	return lo + (h.le[b]-lo)*(rank-below)/(h.counts[b]-below)
}

// parseHistogram reads the histogram name{label="value"} from a /metrics
// text body.
func parseHistogram(r io.Reader, name, label, value string) (histogram, error) {
	var h histogram
	want := label + `="` + value + `"`
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name+"_bucket{")
		if !ok {
			continue
		}
		labels, val, ok := strings.Cut(rest, "} ")
		if !ok || !slices.Contains(strings.Split(labels, ","), want) {
			continue
		}
		var le string
		for _, l := range strings.Split(labels, ",") {
			if v, ok := strings.CutPrefix(l, `le="`); ok {
				le = strings.TrimSuffix(v, `"`)
			}
		}
		bound, err := strconv.ParseFloat(le, 64)
		if err != nil {
			return histogram{}, fmt.Errorf("bad bucket in %q: %v", line, err)
		}
		count, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return histogram{}, fmt.Errorf("bad count in %q: %v", line, err)
		}
		h.le = append(h.le, bound)
		h.counts = append(h.counts, count)
	}
	if err := sc.Err(); err != nil {
		return histogram{}, err
	}
	if len(h.le) == 0 || !math.IsInf(h.le[len(h.le)-1], 1) {
		return histogram{}, fmt.Errorf("no %s{%s} with a +Inf bucket", name, want)
	}
	return h, nil
}

// latencyCheck is the controller's latency metric against the tracker.
type latencyCheck struct {
	extN, metricN      int           // writes timed: by the tracker, by the metric
	ext50, ext99       time.Duration // the tracker's, per Endpoints update
	metric50, metric99 time.Duration // histogram_quantile of the metric's increase
	err                string        // why there is no figure
}

// agreeWithin is how far the metric may be from the tracker's figure: 10%
// of it, or 5ms, whichever is more.
func agreeWithin(ext time.Duration) time.Duration {
	return max(ext/10, 5*time.Millisecond)
}

func agrees(metric, ext time.Duration) bool {
	d := metric - ext
	return max(d, -d) <= agreeWithin(ext)
}

// ok reports whether the metric agrees with the outside view.
func (c *latencyCheck) ok() bool {
	return c.err == "" && agrees(c.metric50, c.ext50) && agrees(c.metric99, c.ext99)
}

// newLatencyCheck compares the metric's increase d with the tracker's
// per-write latencies.
func newLatencyCheck(d histogram, writeLat []time.Duration) latencyCheck {
	c := latencyCheck{extN: len(writeLat), metricN: int(math.Round(d.count()))}
	c.ext50, c.ext99 = percentile(writeLat, 50), percentile(writeLat, 99)
	switch {
	case c.extN == 0:
		c.err = "no write timed from outside"
	case c.metricN == 0:
		c.err = "no write timed by the metric"
	default:
		sec := func(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }
		c.metric50, c.metric99 = sec(d.quantile(0.5)), sec(d.quantile(0.99))
	}
	return c
}

// flipPod is startFlip for a chosen pod.
func flipPod(tr *tracker, p int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.setReadyLocked(p, !tr.ready[p], time.Now())
	f := &flip{pod: p}
	for _, s := range tr.w.pods[p].svcs {
		if !tr.podShownLocked(s, p) {
			f.waiting = append(f.waiting, s)
		}
	}
	tr.flips[p] = f
}

// The tracker times each Endpoints update that first shows flips once, from
// the earliest of their responses, as the metric times each write.
func TestTrackerTimesWrites(t *testing.T) {
	w := gridWorld("unit", 1, 2, 3) // Services 0 and 1, of pods 0-2 and 3-5
	tr := newTracker()
	tr.setWorld(w, func(string) *v1.Endpoints { return nil })
	ready := map[int]bool{0: true, 1: true, 2: true, 3: true, 4: true, 5: true}
	show := func(s int) { tr.observe(w.key(s), endpointsOf(w, s, func(p int) bool { return ready[p] })) }
	show(0)
	show(1)

	// Two flips of Service 0's pods, shown by one update.
	flipPod(tr, 0)
	flipPod(tr, 1)
	ready[0], ready[1] = false, false
	now := time.Now()
	tr.flipWritten(0, now.Add(-30*time.Millisecond))
	tr.flipWritten(1, now.Add(-10*time.Millisecond))
	show(0)
	show(0) // shows nothing new
	// One of Service 1, shown before its response.
	flipPod(tr, 3)
	ready[3] = false
	show(1)
	tr.flipWritten(3, time.Now())

	st := tr.takeRun()
	if len(st.lat) != 3 || len(st.writeLat) != 2 {
		t.Fatalf("%d flips and %d writes timed, want 3 and 2: %+v", len(st.lat), len(st.writeLat), st)
	}
	if d := st.writeLat[0]; d < 30*time.Millisecond || d > 10*time.Second {
		t.Errorf("the update showing two flips: %s, want from the earlier response, 30ms ago", d)
	}
	if d := st.writeLat[1]; d != 0 {
		t.Errorf("the update before its flip's response: %s, want 0", d)
	}
}

func TestHistogramQuantile(t *testing.T) {
	body := `# TYPE endpoints_controller_event_to_write_latency_seconds histogram
endpoints_controller_event_to_write_latency_seconds_bucket{trigger="pod",le="0.001"} 10
endpoints_controller_event_to_write_latency_seconds_bucket{trigger="pod",le="0.002"} 30
endpoints_controller_event_to_write_latency_seconds_bucket{trigger="pod",le="0.005"} 40
endpoints_controller_event_to_write_latency_seconds_bucket{trigger="pod",le="+Inf"} 40
endpoints_controller_event_to_write_latency_seconds_sum{trigger="pod"} 0.08
endpoints_controller_event_to_write_latency_seconds_count{trigger="pod"} 40
endpoints_controller_event_to_write_latency_seconds_bucket{trigger="service",le="0.001"} 1
endpoints_controller_event_to_write_latency_seconds_bucket{trigger="service",le="0.002"} 1
endpoints_controller_event_to_write_latency_seconds_bucket{trigger="service",le="0.005"} 1
endpoints_controller_event_to_write_latency_seconds_bucket{trigger="service",le="+Inf"} 1
`
	h, err := parseHistogram(strings.NewReader(body), latencyMetric, "trigger", "pod")
	if err != nil {
		t.Fatal(err)
	}
	if h.count() != 40 || len(h.le) != 4 {
		t.Fatalf("parsed %+v", h)
	}
	// As histogram_quantile: linear within the bucket the rank falls in.
	for q, want := range map[float64]float64{0.25: 0.001, 0.5: 0.0015, 0.99: 0.002 + 0.003*9.6/10} {
		if got := h.quantile(q); math.Abs(got-want) > 1e-12 {
			t.Errorf("q%v = %v, want %v", q, got, want)
		}
	}
	// The increase between two scrapes; a rank in +Inf gives the largest
	// finite bound.
	later := histogram{le: h.le, counts: []float64{10, 30, 40, 50}}
	d, err := later.sub(histogram{le: h.le, counts: []float64{0, 0, 0, 0}})
	if err != nil || d.quantile(0.99) != 0.005 {
		t.Errorf("rank in +Inf: %v, %v; want 0.005", d.quantile(0.99), err)
	}
	if !math.IsNaN((histogram{le: h.le, counts: make([]float64, 4)}).quantile(0.5)) {
		t.Error("no observations: want NaN")
	}
	if _, err := parseHistogram(strings.NewReader("nothing\n"), latencyMetric, "trigger", "pod"); err == nil {
		t.Error("no histogram: want an error")
	}

	// Agreement: within 10% or 5ms, whichever is more.
	for _, tc := range []struct {
		metric, ext time.Duration
		want        bool
	}{
		{3 * time.Millisecond, 7 * time.Millisecond, true},
		{13 * time.Millisecond, 7 * time.Millisecond, false},
		{1050 * time.Millisecond, time.Second, true},
		{1150 * time.Millisecond, time.Second, false},
	} {
		if got := agrees(tc.metric, tc.ext); got != tc.want {
			t.Errorf("agrees(%s, %s) = %v", tc.metric, tc.ext, got)
		}
	}
}
