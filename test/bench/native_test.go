package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// The latency histograms carry native buckets too (pkg/metrics
// NativeBucketFactor); the check uses them when the scrape has them, as
// Prometheus' histogram_quantile does for a native histogram: the bucket
// the rank falls in, and exponential interpolation within it.

// native is a native histogram's positive buckets: count by index at schema
// (bucket i holds (base^(i-1), base^i], base = 2^(2^-schema)), and the zero
// bucket [0, zeroThreshold].
type native struct {
	schema        int32
	zeroThreshold float64
	zero          float64
	buckets       map[int]float64
}

func (n native) count() float64 {
	c := n.zero
	for _, v := range n.buckets {
		c += v
	}
	return c
}

// downscale returns n at a lower schema: bucket i becomes ceil(i/2) per step.
func (n native) downscale(schema int32) native {
	for n.schema > schema {
		b := map[int]float64{}
		for i, v := range n.buckets {
			b[(i+1)>>1] += v
		}
		n = native{schema: n.schema - 1, zeroThreshold: n.zeroThreshold, zero: n.zero, buckets: b}
	}
	return n
}

// sub returns n minus an earlier scrape, at the lower of their schemas
// (client_golang lowers it when the buckets get too many).
func (n native) sub(before native) native {
	s := min(n.schema, before.schema)
	n, before = n.downscale(s), before.downscale(s)
	d := native{schema: s, zeroThreshold: n.zeroThreshold, zero: n.zero - before.zero, buckets: map[int]float64{}}
	for i, v := range n.buckets {
		if v -= before.buckets[i]; v != 0 {
			d.buckets[i] = v
		}
	}
	return d
}

func (n native) quantile(q float64) float64 {
	total := n.count()
	if total == 0 {
		return math.NaN()
	}
	rank := q * total
	if rank <= n.zero {
		return n.zeroThreshold * rank / n.zero
	}
	below := n.zero
	base := math.Pow(2, math.Pow(2, -float64(n.schema)))
	idx := make([]int, 0, len(n.buckets))
	for i := range n.buckets {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for _, i := range idx {
		c := n.buckets[i]
		if below+c >= rank {
			lo, hi := math.Pow(base, float64(i-1)), math.Pow(base, float64(i))
			return lo * math.Pow(hi/lo, (rank-below)/c)
		}
		below += c
	}
	return math.Pow(base, float64(idx[len(idx)-1]))
}

// fromDTO is a scraped histogram, its native buckets as well when it has
// them.
func fromDTO(h *dto.Histogram) histogram {
	var out histogram
	for _, b := range h.GetBucket() {
		out.le = append(out.le, b.GetUpperBound())
		out.counts = append(out.counts, float64(b.GetCumulativeCount()))
	}
	out.le = append(out.le, math.Inf(1))
	out.counts = append(out.counts, float64(h.GetSampleCount()))
	if h.Schema == nil {
		return out
	}
	n := native{schema: h.GetSchema(), zeroThreshold: h.GetZeroThreshold(), zero: float64(h.GetZeroCount()), buckets: map[int]float64{}}
	i, deltas, count := 0, h.GetPositiveDelta(), int64(0)
	for _, span := range h.GetPositiveSpan() {
		i += int(span.GetOffset())
		for range span.GetLength() {
			count += deltas[0]
			deltas = deltas[1:]
			n.buckets[i] = float64(count)
			i++
		}
	}
	out.native = &n
	return out
}

// parseProto reads name{label="value"} from a protobuf /metrics body.
func parseProto(r io.Reader, format expfmt.Format, name, label, value string) (histogram, error) {
	dec := expfmt.NewDecoder(r, format)
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return histogram{}, err
		}
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return fromDTO(m.GetHistogram()), nil
				}
			}
		}
	}
	return histogram{}, fmt.Errorf("no %s{%s=%q}", name, label, value)
}

// scrapeLatency returns our controller's pod-triggered latency histogram,
// from its /metrics at addr, in the protobuf format (native buckets are
// not in the text format).
func scrapeLatency(ctx context.Context, addr string) (histogram, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return histogram{}, err
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeProtoDelim)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return histogram{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return histogram{}, fmt.Errorf("/metrics: %s", resp.Status)
	}
	return parseProto(resp.Body, expfmt.ResponseFormat(resp.Header), latencyMetric, "trigger", "pod")
}

// Native buckets: decoded from spans and deltas, subtracted across a
// schema change, and quantiles to within one bucket (about 4%).
func TestNativeQuantile(t *testing.T) {
	schema := int32(4)
	base := math.Pow(2, 1.0/16)
	// 100 observations in the bucket holding 0.5s, 100 in the one holding 2s.
	i500 := int(math.Ceil(math.Log(0.5) / math.Log(base)))
	i2 := int(math.Ceil(math.Log(2) / math.Log(base)))
	h := &dto.Histogram{
		SampleCount: ptr(uint64(200)), Schema: &schema, ZeroThreshold: ptr(1e-128), ZeroCount: ptr(uint64(0)),
		PositiveSpan:  []*dto.BucketSpan{{Offset: ptr(int32(i500)), Length: ptr(uint32(1))}, {Offset: ptr(int32(i2 - i500 - 1)), Length: ptr(uint32(1))}},
		PositiveDelta: []int64{100, 0},
	}
	got := fromDTO(h)
	if got.native == nil || got.native.count() != 200 {
		t.Fatalf("decoded %+v", got.native)
	}
	for q, want := range map[float64]float64{0.25: 0.5, 0.99: 2} {
		if v := got.quantile(q); math.Abs(v-want)/want > 0.05 {
			t.Errorf("q%v = %v, want %v within 5%%", q, v, want)
		}
	}
	// The earlier scrape at a finer schema: subtracted at the coarser one.
	before := native{schema: 5, zeroThreshold: 1e-128, buckets: map[int]float64{2 * i500: 40}}
	d := got.native.sub(before)
	if d.schema != 4 || d.count() != 160 || d.buckets[i500] != 60 {
		t.Errorf("difference %+v, want 60 and 100 at schema 4", d)
	}
}

func ptr[T any](v T) *T { return &v }
