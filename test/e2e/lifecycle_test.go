package e2e

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// The two builds rolled between; what /metrics' build_info reports.
const (
	lifecycleV1 = "v1.0.0-e2e"
	lifecycleV2 = "v2.0.0-e2e"
)

// TestLifecycle walks deploy/ through what an operator does, against the
// shared cluster (whose kube-controller-manager runs with the recipes'
// --controllers): install, upgrade, rollback, uninstall. kwok fakes the
// Deployment's pods, so they never run our image: the replicas are
// processes of our binary, started with the Deployment's own args as its
// ServiceAccount (a token), rolled as its strategy rolls them.
func TestLifecycle(t *testing.T) {
	root, err := framework.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	lc := &lifecycle{t: t, dir: t.TempDir(), deploy: filepath.Join(root, "deploy"), kubectl: filepath.Join(cluster.BinDir, "kubectl")}
	builds := lc.build(lifecycleV1, lifecycleV2)
	t.Cleanup(lc.cleanup)

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"Install", func(t *testing.T) { lc.install(t, <-builds) }},
		{"Upgrade", func(t *testing.T) { lc.roll(t, lifecycleV2) }},
		{"Rollback", func(t *testing.T) { lc.roll(t, lifecycleV1) }},
		{"Uninstall", lc.uninstall},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			return // each step starts from where the one before left off
		}
	}
}

type lifecycle struct {
	t                    *testing.T
	dir, deploy, kubectl string
	bins                 map[string]string // version → binary
	args                 []string          // the Deployment's container args
	kubeconfig           string            // the ServiceAccount's
	leases               *failoverLeaseWatch
	replicas             []*controller
	versions             map[*controller]string
	ns                   string   // the workload's
	services             []string // web-0…
	next                 int
}

const (
	lifecycleServices = 4
	lifecyclePods     = 2 // per Service
)

// build builds one binary per version, while the install goes on.
func (lc *lifecycle) build(versions ...string) <-chan error {
	lc.bins = map[string]string{}
	done := make(chan error, 1)
	go func() {
		var errs []error
		for _, v := range versions {
			bin, err := framework.BuildControllerVersion(context.Background(), filepath.Join(lc.dir, "endpoints-controller-"+v), v)
			lc.bins[v] = bin
			errs = append(errs, err)
		}
		done <- errors.Join(errs...)
	}()
	return done
}

// kubectlRun runs kubectl against the shared cluster.
func (lc *lifecycle) kubectlRun(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(lc.kubectl, append([]string{"--kubeconfig=" + cluster.KubeconfigPath}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// install: README "Install". kubectl apply creates every object of
// deploy/; two replicas as the Deployment runs them (a leader and a
// standby) make the workload's Endpoints right.
func (lc *lifecycle) install(t *testing.T, built error) {
	if built != nil {
		t.Fatal(built)
	}
	ctx := t.Context()
	cs := clientset()
	var dep *appsv1.Deployment
	for _, obj := range renderKustomize(t, lc.kubectl, lc.deploy) {
		if d, ok := obj.(*appsv1.Deployment); ok {
			dep = d
		}
	}
	if dep == nil {
		t.Fatal("deploy/ renders no Deployment")
	}
	// What the roll below does is what this strategy does.
	if ru := dep.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxSurge == nil || ru.MaxUnavailable == nil || ru.MaxSurge.String() != "1" || ru.MaxUnavailable.String() != "0" || *dep.Spec.Replicas != 2 {
		t.Fatalf("deploy/'s Deployment: replicas %d, strategy %+v; the test rolls 2 replicas with maxSurge 1, maxUnavailable 0", *dep.Spec.Replicas, dep.Spec.Strategy)
	}
	lc.args = dep.Spec.Template.Spec.Containers[0].Args
	lease := ""
	for _, a := range lc.args {
		if v, ok := strings.CutPrefix(a, "--leader-elect-resource-name="); ok {
			lease = v
		}
	}
	if lease == "" {
		t.Fatalf("deploy/'s Deployment names no Lease: %q", lc.args)
	}
	lc.leases = watchLease(context.Background(), lc.t, cs, rbacNamespace, lease) // for every step

	start := time.Now()
	lc.kubectlRun(t, "apply", "--server-side", "-k", lc.deploy)
	names := lc.kubectlRun(t, "get", "-k", lc.deploy, "-o", "name") // fails if any is missing
	t.Logf("kubectl apply --server-side -k deploy/: %d objects in %s", len(strings.Fields(names)), time.Since(start).Round(10*time.Millisecond))

	lc.kubeconfig = rbacKubeconfig(ctx, t, cs, cluster.KubeconfigPath, lc.dir)
	lc.ns = newNamespace(lc.t) // outlives the step: the steps after use it
	for i := range lifecycleServices {
		name := fmt.Sprintf("web-%d", i)
		createWeb(t, lc.ns, name, lifecyclePods)
		lc.services = append(lc.services, name)
	}
	lc.replicas = []*controller{lc.start(t, lifecycleV1), lc.start(t, lifecycleV1)}
	for _, svc := range lc.services {
		waitEndpointsFollowPods(t, lc.ns, svc, lifecyclePods, 0)
	}
	leader := lc.leader(t)
	t.Logf("leader %s, standby ready; Endpoints of %d Services right %s after apply", leader.Name, len(lc.services), time.Since(start).Round(10*time.Millisecond))
}

// start runs a replica as the Deployment's container does: its args, the
// POD_NAMESPACE it gets from the downward API, the ServiceAccount's
// token; then only the HTTPS port moves to a free loopback one.
func (lc *lifecycle) start(t *testing.T, version string) *controller {
	t.Helper()
	lc.next++
	name := fmt.Sprintf("%s-%d", version, lc.next)
	for attempt := 1; ; attempt++ {
		port, err := framework.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		args := append(append(slices.Clone(lc.args), framework.PodDecoderArgs()...),
			"--kubeconfig="+lc.kubeconfig, "--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(port))
		p, err := framework.StartProcessEnv(name, lc.bins[version], args, []string{"POD_NAMESPACE=" + rbacNamespace},
			filepath.Join(lc.dir, fmt.Sprintf("%s-%d.log", name, attempt)))
		if err != nil {
			t.Fatal(err)
		}
		url := "https://127.0.0.1:" + strconv.Itoa(port)
		c := &controller{Controller: &framework.Controller{Process: p, Name: name, LogPath: p.LogPath(), PID: p.PID()},
			URL: url, MetricsURL: url + "/metrics", HealthURL: url}
		if err = c.waitServing(); err == nil {
			c.waitReady(t)
			if lc.versions == nil {
				lc.versions = map[*controller]string{}
			}
			lc.versions[c] = version
			return c
		}
		p.Stop()
		if attempt == 3 || !strings.Contains(p.LogTail(20), "address already in use") {
			t.Fatalf("%s: %v\n%s", name, err, p.LogTail(40))
		}
	}
}

// leader waits until one of the replicas holds the Lease, as the Lease and
// its log say, and returns it.
func (lc *lifecycle) leader(t *testing.T) *controller {
	t.Helper()
	var leader *controller
	framework.Eventually(t, 30*time.Second, func() error {
		holder := lc.leases.holder()
		leader = nil
		for _, c := range lc.replicas {
			for _, m := range becameLeader.FindAllStringSubmatch(c.log(), -1) {
				if m[1] == holder && !c.Exited() {
					leader = c
				}
			}
		}
		if leader == nil {
			return fmt.Errorf("Lease holder %q is none of the running replicas", holder)
		}
		return nil
	})
	return leader
}

// roll replaces both replicas by builds of version as the Deployment's
// strategy does (maxSurge 1, maxUnavailable 0): start a new one, once it
// is ready SIGTERM an old one (the leader first, so the Lease changes
// hands), twice. Right after each SIGTERM a pod's readiness flips. Then:
// no Endpoints was written but the flipped Service's, once per flip; each
// flip was in its Endpoints within 2s; the Lease went from release to its
// next holder within 1s and never expired; both replicas report version.
func (lc *lifecycle) roll(t *testing.T, version string) {
	ctx := t.Context()
	cs := clientset()
	flipped := lc.services[0]
	pods, err := cs.CoreV1().Pods(lc.ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + flipped})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("pods of %s: %v (%d)", flipped, err, len(pods.Items))
	}
	pod := &pods.Items[0]
	writes := watchEndpointsWrites(t, lc.ns)
	history := len(lc.leases.snapshot())

	old := lc.replicas
	if leader := lc.leader(t); leader != old[0] {
		old = []*controller{old[1], old[0]}
	}
	var next []*controller
	var latencies []time.Duration
	ready := true
	for _, o := range old {
		n := lc.start(t, version) // surge
		lc.replicas = append(lc.replicas, n)
		if err := o.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		ready = !ready
		var err error
		if pod, err = framework.SetPodStatus(ctx, cs, pod, []string{pod.Status.PodIP}, ready, v1.PodRunning); err != nil {
			t.Fatal(err)
		}
		flippedAt := time.Now()
		framework.Eventually(t, 30*time.Second, func() error {
			return endpointsFollowPods(ctx, lc.ns, flipped, lifecyclePods-boolInt(!ready), boolInt(!ready))
		})
		latencies = append(latencies, time.Since(flippedAt).Round(time.Millisecond))
		if err := o.Wait(10 * time.Second); err != nil {
			t.Errorf("%s after SIGTERM: %v, want exit 0\n%s", o.Name, err, o.LogTail(20))
		}
		lc.replicas = slices.DeleteFunc(lc.replicas, func(c *controller) bool { return c == o })
		next = append(next, n)
	}
	lc.replicas = next
	leader := lc.leader(t)
	time.Sleep(time.Second) // any late write would show
	counts := writes.stop()

	var gaps []time.Duration
	recs := lc.leases.snapshot()[max(history-1, 0):]
	for i := 1; i < len(recs); i++ {
		prev, cur := recs[i-1], recs[i]
		switch {
		case cur.holder == "":
			continue // a release: measured with the holder after it
		case prev.holder == "":
			gap := cur.acquire.Sub(prev.acquire)
			gaps = append(gaps, gap.Round(time.Millisecond))
			if gap > time.Second {
				t.Errorf("the Lease was free for %s after a release, want < 1s", gap.Round(time.Millisecond))
			}
		default:
			t.Errorf("the Lease went from %s to %s without a release: it expired", prev.holder, cur.holder)
		}
	}
	for svc, n := range counts {
		if svc != flipped {
			t.Errorf("Endpoints %s, right before the roll, was written %d times during it", svc, n)
		}
	}
	if counts[flipped] != len(old) {
		t.Errorf("Endpoints %s written %d times for %d readiness flips", flipped, counts[flipped], len(old))
	}
	for _, l := range latencies {
		if l > 2*time.Second {
			t.Errorf("a readiness flip made during the roll was in the Endpoints after %s, want < 2s", l)
		}
	}
	for _, c := range lc.replicas {
		scrape := c.metrics(t)
		if got := metric(scrape, "endpoints_controller_build_info", `version="`+version+`"`); got != 1 {
			t.Errorf("%s: endpoints_controller_build_info{version=%q} %v, want 1", c.Name, version, got)
		}
	}
	line := fmt.Sprintf("roll to %s: leader now %s; Lease free for %v after each release; flips in the Endpoints after %v; Endpoints writes %v (%d Services, %s flipped twice)",
		version, leader.Name, gaps, latencies, counts, len(lc.services), flipped)
	fmt.Println(line)
	t.Log(line)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// uninstall: README "Uninstall". The replicas stop (releasing the Lease)
// and kubectl delete -k deploy/ removes what apply created; the Endpoints
// stay as they were, owned by nothing of deploy/. Then the built-in,
// switched on again in a kube-controller-manager of its own, takes over
// without rewriting any of them, and follows the next change.
func (lc *lifecycle) uninstall(t *testing.T) {
	ctx := t.Context()
	cs := clientset()
	before := lc.endpoints(t)
	if len(before) != lifecycleServices {
		t.Fatalf("%d Endpoints before, want %d", len(before), lifecycleServices)
	}
	for _, c := range lc.replicas {
		c.Stop()
		if err := c.Wait(time.Second); err != nil {
			t.Errorf("%s after SIGTERM: %v", c.Name, err)
		}
	}
	lc.replicas = nil
	start := time.Now()
	lc.kubectlRun(t, "delete", "-k", lc.deploy, "--timeout=60s")
	t.Logf("kubectl delete -k deploy/ took %s", time.Since(start).Round(10*time.Millisecond))
	if _, err := cs.CoreV1().Namespaces().Get(ctx, rbacNamespace, metav1.GetOptions{}); err == nil {
		t.Errorf("namespace %s still there after kubectl delete -k", rbacNamespace)
	}
	after := lc.endpoints(t)
	lc.sameEndpoints(t, "after kubectl delete -k deploy/", before, after)
	for name, ep := range after {
		if len(ep.OwnerReferences) != 0 {
			t.Errorf("Endpoints %s has ownerReferences %v: deleting their owner would delete it", name, ep.OwnerReferences)
		}
	}

	kcm, err := framework.StartProcess("kube-controller-manager-builtin", filepath.Join(cluster.BinDir, "kube-controller-manager"), []string{
		"--kubeconfig=" + cluster.KubeconfigPath,
		"--controllers=endpoints-controller",
		"--leader-elect=false",
		"--secure-port=0",
	}, filepath.Join(lc.dir, "kube-controller-manager-builtin.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kcm.Stop)
	framework.Eventually(t, 30*time.Second, func() error {
		if kcm.Exited() {
			return fmt.Errorf("exited:\n%s", kcm.LogTail(20))
		}
		if !strings.Contains(kcm.LogTail(200), "Caches are synced") {
			return errors.New("the built-in has not synced its caches")
		}
		return nil
	})
	time.Sleep(3 * time.Second) // its first sync of every Service
	lc.sameEndpoints(t, "after the built-in took over", before, lc.endpoints(t))

	// It works: a scale shows up in the Endpoints, and still nothing else
	// was written.
	scaled := lc.services[1]
	scale(t, lc.ns, scaled, lifecyclePods+1)
	waitEndpointsFollowPods(t, lc.ns, scaled, lifecyclePods+1, 0)
	delete(before, scaled)
	lc.sameEndpoints(t, "after a scale under the built-in", before, lc.endpoints(t))
}

func (lc *lifecycle) endpoints(t *testing.T) map[string]*v1.Endpoints {
	t.Helper()
	list, err := clientset().CoreV1().Endpoints(lc.ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*v1.Endpoints{}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out
}

func (lc *lifecycle) sameEndpoints(t *testing.T, when string, before, after map[string]*v1.Endpoints) {
	t.Helper()
	for name, b := range before {
		a := after[name]
		switch {
		case a == nil:
			t.Errorf("%s: Endpoints %s is gone", when, name)
		case a.ResourceVersion != b.ResourceVersion:
			t.Errorf("%s: Endpoints %s was rewritten (resourceVersion %s → %s)", when, name, b.ResourceVersion, a.ResourceVersion)
		}
	}
}

// cleanup leaves the shared cluster as other tests expect it, also after
// a failed step: no replicas, nothing of deploy/, and deploy/'s metrics
// reader ClusterRole, which their metrics-reader token is bound to.
func (lc *lifecycle) cleanup() {
	for _, c := range lc.replicas {
		c.Stop()
		if lc.t.Failed() {
			lc.t.Logf("%s:\n%s", c.Name, c.LogTail(30))
		}
	}
	out, err := exec.Command(lc.kubectl, "--kubeconfig="+cluster.KubeconfigPath, "delete", "-k", lc.deploy, "--ignore-not-found", "--wait=false").CombinedOutput()
	if err != nil {
		lc.t.Logf("kubectl delete -k deploy/: %v\n%s", err, out)
	}
	deployMetricsReaderRole()
}

// endpointsWrites counts the changes to each Endpoints of a namespace
// from the moment it is made.
type endpointsWrites struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	counts map[string]int
}

func watchEndpointsWrites(t *testing.T, ns string) *endpointsWrites {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := clientset().CoreV1().Endpoints(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: lcListRV(t, ns)})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ew := &endpointsWrites{cancel: cancel, done: make(chan struct{}), counts: map[string]int{}}
	t.Cleanup(func() { ew.stop() })
	go func() {
		defer close(ew.done)
		for ev := range w.ResultChan() {
			ep, ok := ev.Object.(*v1.Endpoints)
			if !ok || ev.Type == watch.Bookmark {
				if ev.Type == watch.Error && ctx.Err() == nil {
					t.Errorf("Endpoints watch: %v", ev.Object) // writes would go uncounted
				}
				continue
			}
			ew.mu.Lock()
			ew.counts[ep.Name]++
			ew.mu.Unlock()
		}
	}()
	return ew
}

func lcListRV(t *testing.T, ns string) string {
	t.Helper()
	list, err := clientset().CoreV1().Endpoints(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return list.ResourceVersion
}

func (ew *endpointsWrites) stop() map[string]int {
	ew.cancel()
	<-ew.done
	ew.mu.Lock()
	defer ew.mu.Unlock()
	return ew.counts
}
