package bench

import (
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// Unit tests of the harness's own logic; they need no control plane.

func endpointsOf(w *world, s int, ready func(p int) bool) *v1.Endpoints {
	ep := &v1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: w.services[s].ns, Name: w.services[s].name}}
	ss := v1.EndpointSubset{Ports: []v1.EndpointPort{{Name: "http", Port: 8080}}}
	for _, p := range w.services[s].pods {
		a := v1.EndpointAddress{IP: w.pods[p].ip}
		if ready(p) {
			ss.Addresses = append(ss.Addresses, a)
		} else {
			ss.NotReadyAddresses = append(ss.NotReadyAddresses, a)
		}
	}
	ep.Subsets = []v1.EndpointSubset{ss}
	return ep
}

func TestTracker(t *testing.T) {
	w := oneNamespaceWorld("unit", 6)
	tr := newTracker()
	tr.setWorld(w, func(string) *v1.Endpoints { return nil })
	if s := tr.snapshot(); s.wrong != 6 || s.existing != 0 {
		t.Fatalf("no Endpoints yet: got %+v", s)
	}
	allReady := func(int) bool { return true }
	for s := range w.services {
		tr.observe(w.key(s), endpointsOf(w, s, allReady))
	}
	s := tr.snapshot()
	if s.wrong != 0 || s.existing != 6 || s.allOKAt.IsZero() {
		t.Fatalf("all right: got %+v", s)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	p, ready, ok := tr.startFlip(rng)
	if !ok || ready {
		t.Fatalf("startFlip = %d, %v, %v; want a pod turning not ready", p, ready, ok)
	}
	if tr.snapshot().wrong == 0 {
		t.Fatal("a flip not yet shown must make its Services wrong")
	}
	// Shown before the response: latency 0, counted as early.
	notReady := func(q int) bool { return q != p }
	for _, s := range w.pods[p].svcs {
		tr.observe(w.key(s), endpointsOf(w, s, notReady))
	}
	time.Sleep(time.Millisecond)
	tr.flipWritten(p, time.Now())
	st := tr.takeRun()
	if len(st.lat) != 1 || st.lat[0] != 0 || st.early != 1 {
		t.Errorf("flip seen before its response: got %+v", st)
	}

	// Extra or duplicate addresses are wrong.
	s0 := w.pods[p].svcs[0]
	ep := endpointsOf(w, s0, notReady)
	ep.Subsets[0].Addresses = append(ep.Subsets[0].Addresses, v1.EndpointAddress{IP: "192.0.2.1"})
	tr.observe(w.key(s0), ep)
	if tr.snapshot().wrong == 0 {
		t.Error("an extra address must count as wrong")
	}
	tr.observe(w.key(s0), nil)
	if s := tr.snapshot(); s.wrong == 0 || s.existing == 6 {
		t.Errorf("a deleted Endpoints must count as wrong and missing: %+v", s)
	}
}

func TestTrackerSkipsPendingPods(t *testing.T) {
	w := oneNamespaceWorld("unit", 1)
	tr := newTracker()
	tr.setWorld(w, func(string) *v1.Endpoints { return nil })
	tr.observe(w.key(0), endpointsOf(w, 0, func(int) bool { return true }))
	rng := rand.New(rand.NewPCG(1, 2))
	if _, _, ok := tr.startFlip(rng); !ok {
		t.Fatal("the only pod is not pending yet")
	}
	if _, _, ok := tr.startFlip(rng); ok {
		t.Fatal("the only pod is pending: the flip must be skipped")
	}
	tr.observe(w.key(0), endpointsOf(w, 0, func(int) bool { return false }))
	tr.flipWritten(0, time.Now().Add(-time.Second)) // seen a second after the response
	if _, _, ok := tr.startFlip(rng); !ok {
		t.Fatal("the pod's flip is done: it can flip again")
	}
	st := tr.takeRun()
	if len(st.lat) != 1 || st.lat[0] < 900*time.Millisecond || st.early != 0 || st.unobserved != 1 {
		t.Errorf("got %+v, want one latency of about 1s and one flip unobserved", st)
	}
}

func TestParseEndpointsWrites(t *testing.T) {
	body := []byte(`# HELP apiserver_request_total x
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="endpoints",scope="resource",subresource="",verb="POST",version="v1"} 10
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="endpoints",scope="resource",subresource="",verb="PUT",version="v1"} 5
apiserver_request_total{code="409",component="apiserver",dry_run="",group="",resource="endpoints",scope="resource",subresource="",verb="PUT",version="v1"} 2
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="endpoints",scope="namespace",subresource="",verb="DELETECOLLECTION",version="v1"} 7
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="endpoints",scope="namespace",subresource="",verb="LIST",version="v1"} 3
apiserver_request_total{code="201",component="apiserver",dry_run="",group="discovery.k8s.io",resource="endpointslices",scope="resource",subresource="",verb="POST",version="v1"} 4
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="status",verb="PUT",version="v1"} 100
`)
	wc, err := parseEndpointsWrites(body)
	if err != nil {
		t.Fatal(err)
	}
	if wc.writes != 17 || wc.conflicts != 2 {
		t.Errorf("got %+v, want 17 writes, 2 conflicts", wc)
	}
	if _, err := parseEndpointsWrites([]byte("nothing\n")); err == nil {
		t.Error("a body without apiserver_request_total must be an error")
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(101-i)*time.Millisecond)
	}
	for q, want := range map[float64]time.Duration{50: 50 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond} {
		if got := percentile(d, q); got != want {
			t.Errorf("p%v = %v, want %v", q, got, want)
		}
	}
	if got := percentile(nil, 50); got != -1 {
		t.Errorf("no data: got %v, want -1", got)
	}
}

func TestWorlds(t *testing.T) {
	for name, build := range worlds {
		w := build()
		seen := map[string]bool{}
		for i, p := range w.pods {
			if seen[p.ip] {
				t.Errorf("%s: duplicate IP %s", name, p.ip)
			}
			seen[p.ip] = true
			if len(p.svcs) == 0 {
				t.Errorf("%s: pod %d is in no Service", name, i)
			}
			for _, s := range p.svcs {
				for k, v := range w.services[s].selector {
					if p.labels[k] != v {
						t.Errorf("%s: pod %d listed in Service %d it is not selected by", name, i, s)
					}
				}
			}
		}
		// Every pod a selector matches is listed.
		byNS := map[string][]podSpec{}
		for _, p := range w.pods {
			byNS[p.ns] = append(byNS[p.ns], p)
		}
		for s, svc := range w.services {
			n := 0
			for _, p := range byNS[svc.ns] {
				match := true
				for k, v := range svc.selector {
					match = match && p.labels[k] == v
				}
				if match {
					n++
				}
			}
			if n != len(svc.pods) || n == 0 {
				t.Errorf("%s: Service %d selects %d pods, lists %d", name, s, n, len(svc.pods))
			}
		}
	}
}

// TestProcess checks framework.Process, which the runs measure with.
func TestProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("CPU and memory are read from /proc, which only Linux has") // on Linux a missing /proc fails below
	}
	log := filepath.Join(t.TempDir(), "busy.log")
	// Burn some CPU, then wait to be stopped.
	p, err := framework.StartProcess("busy", "/bin/sh", []string{"-c", `i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo loop-$((40+2)); exec sleep 60`}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	if p.PID() <= 0 || p.Exited() {
		t.Fatalf("PID %d, exited %v", p.PID(), p.Exited())
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.LogTail(5), "loop-42") {
		if time.Now().After(deadline) || p.Exited() {
			t.Fatalf("the child did not finish its loop: %s", p.LogTail(5))
		}
		time.Sleep(20 * time.Millisecond)
	}
	running := p.CPUSeconds()
	if running <= 0 {
		t.Errorf("CPUSeconds while running = %v, want > 0", running)
	}
	if rss, peak := p.RSSBytes(), p.PeakRSSBytes(); rss <= 0 || peak < rss {
		t.Errorf("while running: PeakRSSBytes %d, RSSBytes %d; want 0 < RSS <= peak", peak, rss)
	}
	start := time.Now()
	p.Stop()
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Stop took %s; SIGTERM should end sleep at once", took)
	}
	if !p.Exited() || p.Wait() == nil {
		t.Errorf("after Stop: exited %v, wait %v (want a signal error)", p.Exited(), p.Wait())
	}
	if after := p.CPUSeconds(); after < running-0.02 {
		t.Errorf("CPUSeconds after exit = %v, below %v while running", after, running)
	}
	if rss := p.PeakRSSBytes(); rss <= 0 {
		t.Errorf("PeakRSSBytes after exit = %d, want > 0", rss)
	}
	p.Stop() // a second Stop is a no-op
}
