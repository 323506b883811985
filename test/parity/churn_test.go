package parity

// Helpers of the tests that run the built-in and ours at the same time
// (sidebyside_test.go, shadow_test.go): a small fixed world, a seeded
// readiness churn, a checker of Endpoints against their pods, and scrapers
// of /metrics.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

const (
	churnServices    = 10
	churnPodsPerSvc  = 4
	churnSettle      = 3 * time.Second // no Endpoints change for this long: settled
	churnConvergeMax = 60 * time.Second
)

// churnWorld is churnServices Services over churnPodsPerSvc pods each, all
// Running with an IP and a node. svc-3 is headless, svc-5 publishes
// not-ready addresses (flips change nothing in it), svc-7 has two ports.
type churnWorld struct {
	ns       string
	services []*v1.Service
	pods     []*genPod // all ready at first
}

func newChurnWorld(ns string) *churnWorld {
	w := &churnWorld{ns: ns}
	for i := range churnServices {
		name := fmt.Sprintf("svc-%d", i)
		svc := &v1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"team": "churn"}},
			Spec: v1.ServiceSpec{
				Selector: map[string]string{"app": name},
				Ports:    []v1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: v1.ProtocolTCP}},
			},
		}
		switch i {
		case 3:
			svc.Spec.ClusterIP = v1.ClusterIPNone
		case 5:
			svc.Spec.PublishNotReadyAddresses = true
		case 7:
			svc.Spec.Ports = append(svc.Spec.Ports, v1.ServicePort{Name: "metrics", Port: 9090, Protocol: v1.ProtocolTCP})
		}
		w.services = append(w.services, svc)
		for j := range churnPodsPerSvc {
			pod := framework.MakePod(ns, fmt.Sprintf("%s-pod-%d", name, j), map[string]string{"app": name},
				framework.WithContainerPort("http", 8080, v1.ProtocolTCP), framework.WithNodeName(nodes[j%len(nodes)]))
			ready := true
			w.pods = append(w.pods, &genPod{pod: pod, ips: []string{fmt.Sprintf("10.200.%d.%d", i, j+1)}, phase: v1.PodRunning, ready: &ready})
		}
	}
	return w
}

// create stores the Services and the pods with their status.
func (w *churnWorld) create(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	ctx := context.Background()
	for _, svc := range w.services {
		if _, err := cs.CoreV1().Services(w.ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating service %s: %v", svc.Name, err)
		}
	}
	for _, gp := range w.pods {
		if err := createPod(ctx, cs, gp); err != nil {
			t.Fatalf("creating pod %s: %v", gp.pod.Name, err)
		}
	}
}

// flip is one step of a churn: at offset from the start, set the pod's
// Ready condition to the opposite of what the sequence last set, and if
// twice, right back again (two writes milliseconds apart).
type flip struct {
	offset time.Duration
	pod    int
	twice  bool
}

// churnSequence returns n seeded flips spread over d.
func churnSequence(seed uint64, n, pods int, d time.Duration) []flip {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	step := d / time.Duration(n)
	out := make([]flip, n)
	for i := range out {
		out[i] = flip{
			offset: time.Duration(i)*step + time.Duration(r.Int64N(int64(step))),
			pod:    r.IntN(pods),
			twice:  r.IntN(100) < 15,
		}
	}
	return out
}

// churn plays seq from the world's current state and returns how many pod
// status writes it made. Every Ready flip is a strategic-merge patch of the
// status subresource, as a kubelet would write it.
func (w *churnWorld) churn(t *testing.T, cs kubernetes.Interface, seq []flip) int {
	t.Helper()
	ctx := context.Background()
	ready := make([]bool, len(w.pods))
	for i, gp := range w.pods {
		ready[i] = *gp.ready
	}
	writes := 0
	set := func(i int) {
		ready[i] = !ready[i]
		if err := setReady(ctx, cs, w.pods[i].pod, ready[i]); err != nil {
			t.Fatalf("flipping pod %s: %v", w.pods[i].pod.Name, err)
		}
		writes++
	}
	start := time.Now()
	for _, f := range seq {
		if d := time.Until(start.Add(f.offset)); d > 0 {
			time.Sleep(d)
		}
		set(f.pod)
		if f.twice {
			set(f.pod)
		}
	}
	for i, gp := range w.pods {
		*gp.ready = ready[i]
	}
	return writes
}

// restore sets every pod back to Ready (the world's initial state).
func (w *churnWorld) restore(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	ctx := context.Background()
	for _, gp := range w.pods {
		if !*gp.ready {
			if err := setReady(ctx, cs, gp.pod, true); err != nil {
				t.Fatalf("restoring pod %s: %v", gp.pod.Name, err)
			}
			*gp.ready = true
		}
	}
}

func setReady(ctx context.Context, cs kubernetes.Interface, pod *v1.Pod, ready bool) error {
	status := v1.ConditionFalse
	if ready {
		status = v1.ConditionTrue
	}
	patch := fmt.Sprintf(`{"status":{"conditions":[{"type":"Ready","status":%q,"lastTransitionTime":%q}]}}`,
		status, time.Now().UTC().Format(time.RFC3339))
	_, err := cs.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}, "status")
	return err
}

// mismatch tells how the Endpoints of the world differ from what their pods
// say ("" when they all match): every Service has controller-written
// Endpoints holding exactly its pods' IPs, ready ones (or all, with
// publishNotReadyAddresses) as addresses and the others as not-ready ones,
// with the Service's ports. The fingerprint of the Endpoints versions tells
// whether they are still changing.
func (w *churnWorld) mismatch(ctx context.Context, cs kubernetes.Interface) (fingerprint, why string, err error) {
	pods, err := cs.CoreV1().Pods(w.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", "", err
	}
	eps, err := cs.CoreV1().Endpoints(w.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", "", err
	}
	byName := map[string]*v1.Endpoints{}
	var rvs []string
	for i := range eps.Items {
		ep := &eps.Items[i]
		byName[ep.Name] = ep
		rvs = append(rvs, ep.Name+"@"+ep.ResourceVersion)
	}
	slices.Sort(rvs)
	fingerprint = strings.Join(rvs, ",")

	var whys []string
	for _, svc := range w.services {
		var wantReady, wantNotReady []string
		for _, p := range pods.Items {
			if p.Labels["app"] != svc.Spec.Selector["app"] {
				continue
			}
			if podReady(&p) || svc.Spec.PublishNotReadyAddresses {
				wantReady = append(wantReady, p.Status.PodIP)
			} else {
				wantNotReady = append(wantNotReady, p.Status.PodIP)
			}
		}
		var wantPorts []string
		for _, sp := range svc.Spec.Ports {
			port := sp.TargetPort.IntVal
			if sp.TargetPort.Type == intstr.String {
				port = 8080 // the pods' "http"
			} else if port == 0 {
				port = sp.Port
			}
			wantPorts = append(wantPorts, fmt.Sprintf("%s:%d/%s", sp.Name, port, sp.Protocol))
		}
		ep := byName[svc.Name]
		if ep == nil {
			whys = append(whys, svc.Name+": no Endpoints")
			continue
		}
		if ep.Labels[managedByLabel] == "" {
			whys = append(whys, svc.Name+": no managed-by label")
		}
		var gotReady, gotNotReady []string
		for _, s := range ep.Subsets {
			var ports []string
			for _, p := range s.Ports {
				ports = append(ports, fmt.Sprintf("%s:%d/%s", p.Name, p.Port, p.Protocol))
			}
			if !sameSet(ports, wantPorts) {
				whys = append(whys, fmt.Sprintf("%s: ports %v, want %v", svc.Name, ports, wantPorts))
			}
			for _, a := range s.Addresses {
				gotReady = append(gotReady, a.IP)
			}
			for _, a := range s.NotReadyAddresses {
				gotNotReady = append(gotNotReady, a.IP)
			}
		}
		if !sameSet(gotReady, wantReady) || !sameSet(gotNotReady, wantNotReady) {
			whys = append(whys, fmt.Sprintf("%s: ready %v not ready %v, want %v and %v", svc.Name,
				sorted(gotReady), sorted(gotNotReady), sorted(wantReady), sorted(wantNotReady)))
		}
	}
	return fingerprint, strings.Join(whys, "; "), nil
}

func podReady(p *v1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == v1.PodReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

func sameSet(a, b []string) bool { return slices.Equal(sorted(a), sorted(b)) }

// waitMatching waits until every Endpoints of the world matches its pods
// and none changed for churnSettle, failing if one of procs exits. If
// apiserverStable is set, the Endpoints write counts of the API server must
// not change over the settling either (no write still failing and being
// retried), and their final value is returned.
func (w *churnWorld) waitMatching(t *testing.T, cs kubernetes.Interface, what string, apiserverStable bool, procs ...*proc) writeCounts {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	deadline := start.Add(churnConvergeMax)
	var last, why string
	var lastCounts writeCounts
	stableSince := time.Now()
	for {
		for _, p := range procs {
			if p.Exited() {
				t.Fatalf("%s: %s exited\n%s", what, p.Name(), p.LogTail(40))
			}
		}
		fp, notYet, err := w.mismatch(ctx, cs)
		changed := err != nil || notYet != "" || fp != last
		switch {
		case err != nil:
			why = err.Error()
		case notYet != "":
			why = notYet
		case fp != last:
			why = "Endpoints still changing"
		}
		if !changed && time.Since(stableSince) >= churnSettle {
			if !apiserverStable {
				t.Logf("%s: Endpoints match their pods after %s", what, time.Since(start).Round(100*time.Millisecond))
				return writeCounts{}
			}
			counts, err := apiserverWrites(ctx, cs)
			switch {
			case err != nil:
				why, changed = err.Error(), true
			case counts != lastCounts:
				why, changed, lastCounts = "API server still counting Endpoints writes", true, counts
			default:
				t.Logf("%s: Endpoints match their pods after %s", what, time.Since(start).Round(100*time.Millisecond))
				return counts
			}
		}
		if changed {
			last, stableSince = fp, time.Now()
		}
		if time.Now().After(deadline) {
			var tails []string
			for _, p := range procs {
				tails = append(tails, p.LogTail(30))
			}
			t.Fatalf("%s: Endpoints did not settle on their pods' state within %s: %s\n%s", what, churnConvergeMax, why, strings.Join(tails, "\n"))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// logDir returns a directory for the controllers' logs, kept if t fails
// or $KEEP_PARITY_LOGS is set.
func logDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "parity-logs-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("KEEP_PARITY_LOGS") != "" {
			t.Logf("controller logs kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return dir
}

// startBuiltin starts kube-controller-manager with only its endpoints
// controller, logging as name.
func startBuiltin(t *testing.T, dir, name string) *proc {
	t.Helper()
	return startProc(t, dir, name, filepath.Join(cp.BinDir, "kube-controller-manager"), append([]string{
		"--kubeconfig=" + cp.KubeconfigPath, "--controllers=endpoints-controller",
		"--leader-elect=false", "--secure-port=0"}, clientFlags...)...)
}

// startOurs starts our binary without leader election, serving /metrics
// on a free local port (returned as the metrics URL).
func startOurs(t *testing.T, dir, name string, extra ...string) (*proc, string) {
	t.Helper()
	port, err := framework.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := append([]string{"--kubeconfig=" + cp.KubeconfigPath, "--leader-elect=false",
		"--metrics-bind-address=" + addr, "--secure-port=0"}, clientFlags...)
	p := startProc(t, dir, name, ourBinary, append(args, extra...)...)
	return p, "http://" + addr + "/metrics"
}

// waitSynced waits until p logged that its caches are synced.
func waitSynced(t *testing.T, p *proc) {
	t.Helper()
	framework.Eventually(t, 60*time.Second, func() error {
		if p.Exited() {
			t.Fatalf("%s exited\n%s", p.Name(), p.LogTail(20))
		}
		if data, _ := os.ReadFile(p.LogPath()); !strings.Contains(string(data), "Caches are synced") {
			return fmt.Errorf("%s has not synced its caches", p.Name())
		}
		return nil
	})
}

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// parseMetrics reads the Prometheus text format (no dependency on expfmt,
// whose parser setup changes between versions).
func parseMetrics(r io.Reader) ([]sample, error) {
	var out []sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		s := sample{labels: map[string]string{}}
		i := strings.IndexAny(line, "{ ")
		if i < 0 {
			return nil, fmt.Errorf("bad metrics line %q", line)
		}
		s.name = line[:i]
		rest := line[i:]
		if strings.HasPrefix(rest, "{") {
			rest = rest[1:]
			for {
				rest = strings.TrimLeft(rest, ", ")
				if strings.HasPrefix(rest, "}") {
					rest = rest[1:]
					break
				}
				eq := strings.Index(rest, `="`)
				if eq < 0 {
					return nil, fmt.Errorf("bad labels in %q", line)
				}
				key := rest[:eq]
				rest = rest[eq+2:]
				var val strings.Builder
				i := 0
				for ; i < len(rest) && rest[i] != '"'; i++ {
					if rest[i] == '\\' && i+1 < len(rest) {
						i++
						switch rest[i] {
						case 'n':
							val.WriteByte('\n')
						default:
							val.WriteByte(rest[i])
						}
						continue
					}
					val.WriteByte(rest[i])
				}
				if i == len(rest) {
					return nil, fmt.Errorf("unterminated label value in %q", line)
				}
				s.labels[key] = val.String()
				rest = rest[i+1:]
			}
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return nil, fmt.Errorf("no value in %q", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("bad value in %q: %w", line, err)
		}
		s.value = v
		out = append(out, s)
	}
	return out, sc.Err()
}

// writeCounts are the Endpoints writes the API server answered, by result.
type writeCounts struct {
	ok, conflict, other float64
}

func (c writeCounts) sub(d writeCounts) writeCounts {
	return writeCounts{ok: c.ok - d.ok, conflict: c.conflict - d.conflict, other: c.other - d.other}
}

// endpointsWriteVerbs are the verbs apiserver_request_total reports for
// writes (it reports HTTP methods, upper-case, with server-side apply as
// APPLY). DELETECOLLECTION is left out: only the tests' cleanup uses it.
var endpointsWriteVerbs = map[string]bool{"POST": true, "PUT": true, "PATCH": true, "APPLY": true, "DELETE": true}

// apiserverWrites scrapes the API server's apiserver_request_total for
// writes of core/v1 Endpoints, through the admin client.
func apiserverWrites(ctx context.Context, cs kubernetes.Interface) (writeCounts, error) {
	body, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return writeCounts{}, fmt.Errorf("scraping the API server: %w", err)
	}
	samples, err := parseMetrics(strings.NewReader(string(body)))
	if err != nil {
		return writeCounts{}, err
	}
	var c writeCounts
	for _, s := range samples {
		l := s.labels
		if s.name != "apiserver_request_total" || l["resource"] != "endpoints" || l["group"] != "" ||
			l["subresource"] != "" || !endpointsWriteVerbs[l["verb"]] || l["dry_run"] != "" {
			continue
		}
		switch code := l["code"]; {
		case strings.HasPrefix(code, "2"):
			c.ok += s.value
		case code == "409":
			c.conflict += s.value
		default:
			c.other += s.value
		}
	}
	return c, nil
}

// scrape fetches our controller's /metrics.
func scrape(url string) ([]sample, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return parseMetrics(resp.Body)
}

// metricSum sums the samples called name whose labels include match.
func metricSum(samples []sample, name string, match map[string]string) float64 {
	var sum float64
	for _, s := range samples {
		if s.name != name {
			continue
		}
		ok := true
		for k, v := range match {
			if s.labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			sum += s.value
		}
	}
	return sum
}
