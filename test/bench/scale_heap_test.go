package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// heapSource reads a controller's Go heap over its /debug/pprof and
// /metrics: ours on its plain-HTTP metrics address, the built-in on its
// secure port (anonymous on these paths; its certificate is self-signed).
type heapSource struct{ base string }

var insecureLoopback = &http.Client{Transport: &http.Transport{
	// Only ever 127.0.0.1: kube-controller-manager's self-signed serving
	// certificate.
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
}}

// afterGC forces a GC (the heap profile's gc=1), saves that profile to
// file, and returns go_memstats_heap_alloc_bytes and _inuse_bytes read
// right after: the live heap and what its spans hold.
func (h heapSource) afterGC(ctx context.Context, file string) (alloc, inuse int64, err error) {
	prof, err := h.get(ctx, "/debug/pprof/heap?gc=1")
	if err != nil {
		return 0, 0, err
	}
	if err := os.WriteFile(file, prof, 0o644); err != nil {
		return 0, 0, err
	}
	body, err := h.get(ctx, "/metrics")
	if err != nil {
		return 0, 0, err
	}
	vals := gaugeValues(body, "go_memstats_heap_alloc_bytes", "go_memstats_heap_inuse_bytes")
	a, ok1 := vals["go_memstats_heap_alloc_bytes"]
	i, ok2 := vals["go_memstats_heap_inuse_bytes"]
	if !ok1 || !ok2 {
		return 0, 0, fmt.Errorf("no go_memstats_heap_{alloc,inuse}_bytes in %s/metrics", h.base)
	}
	return int64(a), int64(i), nil
}

func (h heapSource) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := insecureLoopback.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s%s: %s: %.200s", h.base, path, resp.Status, body)
	}
	return body, nil
}

// gaugeValues picks the unlabelled samples named in the Prometheus text
// body.
func gaugeValues(body []byte, names ...string) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		for _, n := range names {
			if f[0] == n {
				if v, err := strconv.ParseFloat(f[1], 64); err == nil {
					out[n] = v
				}
			}
		}
	}
	return out
}
