package bench

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
)

// world is the cluster state a workload seeds: Services and the pods they
// select, all Ready at first. Pod IPs are unique across the whole run.
type world struct {
	name       string
	namespaces []string
	services   []svcSpec
	pods       []podSpec

	objs []*v1.Pod // the pods as last written (by seeding or a flip)

	// richPods: pods as make bench-scale seeds them, with more labels, a
	// sidecar and a 512-byte annotation (scalePodShape).
	richPods bool
}

type svcSpec struct {
	ns, name string
	selector map[string]string
	pods     []int // indices into world.pods
}

type podSpec struct {
	ns, name, ip, node string
	labels             map[string]string
	svcs               []int // indices into world.services
}

func (w *world) key(s int) string { return w.services[s].ns + "/" + w.services[s].name }

// nextIP hands out pod IPs from 10.64.0.0 on, never twice in a process.
var nextIP uint32 = 10<<24 | 64<<16

func allocIP() string {
	ip := nextIP
	nextIP++
	if ip&0xff == 0 { // skip .0 addresses, for looks
		ip = nextIP
		nextIP++
	}
	return fmt.Sprintf("%d.%d.%d.%d", ip>>24, ip>>16&0xff, ip>>8&0xff, ip&0xff)
}

const nodes = 50 // pods are spread over this many (non-existent) node names

// gridWorld is nsCount namespaces of svcPerNS Services, each selecting its
// own podsPerSvc pods.
func gridWorld(name string, nsCount, svcPerNS, podsPerSvc int) *world {
	w := &world{name: name}
	for n := range nsCount {
		ns := fmt.Sprintf("bench-%s-%d", name, n)
		w.namespaces = append(w.namespaces, ns)
		for s := range svcPerNS {
			app := fmt.Sprintf("app-%d", s)
			svc := svcSpec{ns: ns, name: app, selector: map[string]string{"app": app}}
			si := len(w.services)
			for p := range podsPerSvc {
				svc.pods = append(svc.pods, len(w.pods))
				w.pods = append(w.pods, podSpec{
					ns: ns, name: fmt.Sprintf("%s-%d", app, p), ip: allocIP(),
					node:   fmt.Sprintf("node-%d", len(w.pods)%nodes),
					labels: map[string]string{"app": app, "bench": name},
					svcs:   []int{si},
				})
			}
			w.services = append(w.services, svc)
		}
	}
	return w
}

// oneNamespaceWorld is one namespace of n pods and n Services: odd Services
// select one pod by its own label, even ones a pair of pods. Every pod is in
// one or two Services.
func oneNamespaceWorld(name string, n int) *world {
	ns := "bench-" + name
	w := &world{name: name, namespaces: []string{ns}}
	for i := range n {
		w.pods = append(w.pods, podSpec{
			ns: ns, name: fmt.Sprintf("pod-%d", i), ip: allocIP(),
			node:   fmt.Sprintf("node-%d", i%nodes),
			labels: map[string]string{"pod": fmt.Sprintf("p%d", i), "pair": fmt.Sprintf("q%d", i/2), "bench": name},
		})
	}
	for j := range n {
		svc := svcSpec{ns: ns, name: fmt.Sprintf("svc-%d", j)}
		if j%2 == 1 {
			svc.selector = map[string]string{"pod": fmt.Sprintf("p%d", j)}
			svc.pods = []int{j}
		} else {
			svc.selector = map[string]string{"pair": fmt.Sprintf("q%d", j/2)}
			for _, p := range []int{j, j + 1} {
				if p < n {
					svc.pods = append(svc.pods, p)
				}
			}
		}
		for _, p := range svc.pods {
			w.pods[p].svcs = append(w.pods[p].svcs, j)
		}
		w.services = append(w.services, svc)
	}
	return w
}

// scenario is one side-by-side comparison: the built-in and ours, one after
// the other, with the same flags over the same world.
type scenario struct {
	name     string // what BENCH_WORKLOADS selects
	title    string
	world    string // key into worlds
	qps      int
	burst    int
	flipRate float64 // readiness flips per second
	churn    time.Duration
	batch    time.Duration // --endpoint-updates-batch-period, for both

	coldTimeout time.Duration // 0: timeouts' default
}

// worlds builds the worlds scenarios run over, seeded once each. Small and
// large keep all their Services in one namespace: so laid out, with pods as
// a Deployment makes them, the built-in lands on the reference
// figures (the report compares them in every run). Spread over 10 and 20
// namespaces with bare pods it did a quarter of the reference's work.
var worlds = map[string]func() *world{
	"smoke": func() *world { return gridWorld("smoke", 2, 10, 3) },
	"small": func() *world { return gridWorld("small", 1, 200, 10) },
	"large": func() *world { return gridWorld("large", 1, 1000, 20) },
	"onens": func() *world { return oneNamespaceWorld("onens", 5000) },
}

var smokeScenario = scenario{
	name: "smoke", title: "smoke: 20 Services × 3 pods in 2 namespaces, QPS 20, 10 flips/s for 5s",
	world: "smoke", qps: 20, burst: 30, flipRate: 10, churn: 5 * time.Second,
}

// scenarios runs in this order; scenarios over the same world are adjacent,
// so each world is seeded once.
var scenarios = []scenario{
	{
		name: "small", title: "small: 200 Services × 10 pods in one namespace, QPS 20/burst 30, 20 flips/s for 30s",
		world: "small", qps: 20, burst: 30, flipRate: 20, churn: 30 * time.Second,
	},
	{
		name: "small-batch", title: "small, --endpoint-updates-batch-period=500ms (both), QPS 20/burst 30, 20 flips/s for 30s",
		world: "small", qps: 20, burst: 30, flipRate: 20, churn: 30 * time.Second, batch: 500 * time.Millisecond,
	},
	{
		name: "large", title: "large: 1000 Services × 20 pods (20k pods) in one namespace, QPS 20/burst 30, 100 flips/s for 30s",
		world: "large", qps: 20, burst: 30, flipRate: 100, churn: 30 * time.Second,
	},
	{
		name: "large-qps1000", title: "large at QPS 1000/burst 2000, 100 flips/s for 30s",
		world: "large", qps: 1000, burst: 2000, flipRate: 100, churn: 30 * time.Second,
	},
	{
		name: "onens", title: "one namespace: 5000 Services over 5000 pods (1-2 each), QPS 1000/burst 2000, 50 flips/s for 20s",
		world: "onens", qps: 1000, burst: 2000, flipRate: 50, churn: 20 * time.Second,
	},
}

// selectedScenarios returns the scenarios named in $BENCH_WORKLOADS
// (comma-separated; empty or "all": every one), in their fixed order.
func selectedScenarios() ([]scenario, error) {
	return pickNamed("BENCH_WORKLOADS", "", scenarios, func(s scenario) string { return s.name })
}

// pickNamed returns the items of all named in the environment variable
// (comma-separated; empty: def, or every item when def is empty; "all":
// every item), in all's order. An unknown name is an error.
func pickNamed[T any](variable, def string, all []T, name func(T) string) ([]T, error) {
	env := strings.TrimSpace(os.Getenv(variable))
	if env == "" {
		env = def
	}
	if env == "" || env == "all" {
		return all, nil
	}
	var names []string
	for _, x := range all {
		names = append(names, name(x))
	}
	want := map[string]bool{}
	for _, n := range strings.Split(env, ",") {
		n = strings.TrimSpace(n)
		if !slices.Contains(names, n) {
			return nil, fmt.Errorf("%s: unknown name %q (known: %s, all)", variable, n, strings.Join(names, ", "))
		}
		want[n] = true
	}
	var out []T
	for _, x := range all {
		if want[name(x)] {
			out = append(out, x)
		}
	}
	return out, nil
}
