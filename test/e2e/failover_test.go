package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// The Endpoints writes that kube-apiserver audits for TestFailoverUnderChurn;
// RequestReceived is left out, so each request is one ResponseComplete line.
const failoverAuditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  resources:
  - group: ""
    resources: ["endpoints"]
  verbs: ["create", "update", "patch", "delete", "deletecollection"]
- level: None
`

const (
	failoverLease    = "e2e-failover"
	failoverServices = 5
	failoverPods     = 4 // per Service
	failoverRounds   = 4
)

// TestFailoverUnderChurn: while pod readiness flips several times a second,
// the leader of two replicas is killed again and again (kill -9 and SIGTERM
// in turn) and replaced by a fresh replica. Every replica talks to the API
// server as a user of its own (impersonation), and kube-apiserver audits
// every Endpoints write. At the end each audited write must lie within the
// Lease term of the replica that made it, as a watch on the Lease recorded
// the terms; and the Endpoints must follow the pods' final readiness.
//
// The shared cluster has no audit log, so this test starts a control plane
// of its own with one: etcd and kube-apiserver only. Nothing else is needed:
// the pods are bound to a node that does not exist and the test writes their
// status itself, so no kwok, kubelet or pod GC touches them.
func TestFailoverUnderChurn(t *testing.T) {
	start := time.Now()
	dir := t.TempDir()
	policy, auditLog := filepath.Join(dir, "audit-policy.yaml"), filepath.Join(dir, "audit.log")
	if err := os.WriteFile(policy, []byte(failoverAuditPolicy), 0o644); err != nil {
		t.Fatal(err)
	}

	// Build our binary while the control plane starts.
	bin := filepath.Join(dir, "endpoints-controller")
	built := make(chan error, 1)
	go func() {
		_, err := framework.BuildController(context.Background(), bin)
		built <- err
	}()
	cp, err := framework.StartControlPlane(framework.Options{ExtraAPIServerArgs: []string{
		"--audit-policy-file=" + policy,
		"--audit-log-path=" + auditLog,
		"--audit-log-format=json",
		// Each entry is written before the response goes out: complete
		// when read, and in the order the requests completed.
		"--audit-log-mode=blocking",
	}})
	if err != nil {
		<-built
		t.Fatal(err)
	}
	t.Cleanup(cp.Stop)
	if err := <-built; err != nil {
		t.Fatal(err)
	}
	t.Logf("control plane with audit log ready at %s after %s", cp.URL, failoverSince(start))

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cs := framework.Clientset(cp.Config)

	// Lease history, recorded from before any replica runs.
	leases := watchLease(ctx, t, cs, "kube-system", failoverLease)

	const ns = "failover"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := createFailoverPods(ctx, t, cs, ns)

	replicas := &failoverReplicas{t: t, bin: bin, dir: dir, kubeconfig: cp.KubeconfigPath}
	t.Cleanup(replicas.stopAll)
	replicas.start()
	replicas.start()
	leader := replicas.waitLeader(ctx, leases, "")
	t.Logf("leader %s (%s)", leader.name, leader.identity)
	waitFailoverEndpoints(ctx, t, cs, ns, 60*time.Second)

	churn := startFailoverChurn(ctx, t, cs, pods)
	var kills, terms int
	for round := 1; round <= failoverRounds; round++ {
		time.Sleep(1500 * time.Millisecond) // the leader works through some churn
		old := leader
		stopped := time.Now()
		how := "kill -9"
		if old.proc.Exited() { // lost the Lease and exited: possible on an overloaded machine
			t.Logf("round %d: leader %s had exited already\n%s", round, old.name, old.proc.LogTail(10))
		}
		running := !old.proc.Exited()
		if round%2 == 0 {
			// Nothing is released: the Lease has to expire, while pods
			// keep flipping with no leader.
			kills++
			old.proc.Kill()
		} else {
			how = "SIGTERM"
			terms++
			old.proc.Stop() // returns once it has exited: the Lease is released by then
			if err := old.proc.Wait(); err != nil && running {
				t.Errorf("round %d: %s after SIGTERM: %v, want exit 0\n%s", round, old.name, err, old.proc.LogTail(20))
			}
		}
		replicas.start() // a fresh replica in its place
		leader = replicas.waitLeader(ctx, leases, old.identity)
		t.Logf("round %d: %s of leader %s; %s took over after %s (%d readiness flips so far)",
			round, how, old.name, leader.name, failoverSince(stopped), churn.flips())
	}
	churn.stop()

	converge := time.Now()
	waitFailoverEndpoints(ctx, t, cs, ns, 60*time.Second)
	converged := time.Since(converge)

	// No more writes: stop the replicas, then read what was audited.
	replicas.stopAll()
	time.Sleep(200 * time.Millisecond) // let the watch deliver the last release
	history := leases.stop()
	ids := replicas.identities()
	writes := readFailoverAudit(t, auditLog)
	outside := checkWritesInTerms(t, writes, history, ids)

	perUser := map[string]int{}
	failed := 0
	for _, w := range writes {
		perUser[w.user]++
		if w.code >= 300 {
			failed++
		}
	}
	// The check has teeth: blamed on the replica started next, writes of
	// every leader but the last would fall outside the terms.
	shifted := slices.Clone(writes)
	for i := range shifted {
		var n int
		fmt.Sscanf(shifted[i].user, "replica-%d", &n)
		shifted[i].user = fmt.Sprintf("replica-%d", n+1)
	}
	if wrong := checkWritesInTerms(nil, shifted, history, ids); wrong == 0 {
		t.Errorf("with every write blamed on another replica none falls outside the terms: the check is vacuous")
	} else {
		t.Logf("sanity: blamed on the next replica, %d of %d writes would fall outside", wrong, len(writes))
	}
	t.Logf("lease history:\n%s", formatFailoverHistory(history, ids))
	t.Logf("audited Endpoints writes per replica: %v (%d not 2xx); %d readiness flips", perUser, failed, churn.flips())
	for _, r := range replicas.all() {
		if strings.Contains(r.log(), "Lost the lease") {
			t.Logf("note: %s lost its lease (overloaded machine?)", r.name)
		}
	}
	if len(writes) == 0 {
		t.Errorf("no Endpoints writes audited")
	}
	line := fmt.Sprintf("failover: %d rounds (%d kill -9, %d SIGTERM), %d writes audited, %d outside the writer's lease term, converged in %s",
		failoverRounds, kills, terms, len(writes), outside, converged.Round(10*time.Millisecond))
	fmt.Println(line)
	t.Log(line)
	t.Logf("total %s", failoverSince(start))
}

func failoverSince(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }

// failoverPod is one pod the test plays the kubelet for.
type failoverPod struct {
	pod *v1.Pod
	ip  string
}

func createFailoverPods(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns string) []*failoverPod {
	t.Helper()
	var out []*failoverPod
	for s := range failoverServices {
		name := fmt.Sprintf("svc-%d", s)
		labels := map[string]string{"app": name}
		svc := &v1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: v1.ServiceSpec{
				Selector: labels,
				Ports:    []v1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: v1.ProtocolTCP}},
			},
		}
		if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for p := range failoverPods {
			pod := framework.MakePod(ns, fmt.Sprintf("%s-%d", name, p), labels,
				framework.WithNodeName("no-such-node"), // nobody else writes its status
				framework.WithContainerPort("http", 8080, v1.ProtocolTCP))
			created, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			fp := &failoverPod{pod: created, ip: fmt.Sprintf("10.1.%d.%d", s, p+1)}
			if fp.pod, err = framework.SetPodStatus(ctx, cs, created, []string{fp.ip}, true, v1.PodRunning); err != nil {
				t.Fatal(err)
			}
			out = append(out, fp)
		}
	}
	return out
}

// failoverChurn flips pod readiness a few times a second; now and then the same
// pod twice in a row, milliseconds apart.
type failoverChurn struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	n      int
}

func startFailoverChurn(ctx context.Context, t *testing.T, cs kubernetes.Interface, pods []*failoverPod) *failoverChurn {
	ctx, cancel := context.WithCancel(ctx)
	c := &failoverChurn{cancel: cancel, done: make(chan struct{})}
	t.Cleanup(c.stop)
	ready := make([]bool, len(pods))
	for i := range ready {
		ready[i] = true
	}
	go func() {
		defer close(c.done)
		for ctx.Err() == nil {
			i := rand.IntN(len(pods))
			times := 1
			if rand.IntN(4) == 0 {
				times = 2
			}
			for range times {
				p := pods[i]
				if _, err := framework.SetPodStatus(ctx, cs, p.pod, []string{p.ip}, !ready[i], v1.PodRunning); err != nil {
					if ctx.Err() == nil {
						t.Errorf("flipping %s: %v", p.pod.Name, err)
					}
					return
				}
				ready[i] = !ready[i]
				c.mu.Lock()
				c.n++
				c.mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(100+rand.IntN(200)) * time.Millisecond):
			}
		}
	}()
	return c
}

func (c *failoverChurn) flips() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *failoverChurn) stop() { c.cancel(); <-c.done }

// waitFailoverEndpoints waits until every Service's Endpoints list exactly
// its pods, ready ones as addresses, the others as notReadyAddresses, as the
// pods are now in the API.
func waitFailoverEndpoints(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns string, timeout time.Duration) {
	t.Helper()
	framework.Eventually(t, timeout, func() error {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		want := map[string][2][]string{} // service -> ready, not ready
		for _, p := range pods.Items {
			w := want[p.Labels["app"]]
			if podReady(&p) {
				w[0] = append(w[0], p.Status.PodIP)
			} else {
				w[1] = append(w[1], p.Status.PodIP)
			}
			want[p.Labels["app"]] = w
		}
		for svc, w := range want {
			ep, err := cs.CoreV1().Endpoints(ns).Get(ctx, svc, metav1.GetOptions{})
			if err != nil {
				return err
			}
			var ready, notReady []string
			for _, ss := range ep.Subsets {
				for _, a := range ss.Addresses {
					ready = append(ready, a.IP)
				}
				for _, a := range ss.NotReadyAddresses {
					notReady = append(notReady, a.IP)
				}
			}
			for _, l := range [][]string{w[0], w[1], ready, notReady} {
				sort.Strings(l)
			}
			if !slices.Equal(ready, w[0]) || !slices.Equal(notReady, w[1]) {
				return fmt.Errorf("Endpoints %s: ready %v not ready %v, want %v and %v", svc, ready, notReady, w[0], w[1])
			}
		}
		return nil
	})
}

// failoverReplica is one of our controller processes, with a user of its own.
type failoverReplica struct {
	name, user string
	proc       *framework.Process
	identity   string // its Lease identity, once it led
}

func (r *failoverReplica) log() string {
	data, _ := os.ReadFile(r.proc.LogPath())
	return string(data)
}

type failoverReplicas struct {
	t          *testing.T
	bin, dir   string
	kubeconfig string
	mu         sync.Mutex
	replicas   []*failoverReplica
}

// start runs a replica that talks to the API server as user replica-N
// (impersonated by the admin, in group system:masters), so that the audit
// log tells the replicas' writes apart.
func (rs *failoverReplicas) start() *failoverReplica {
	t := rs.t
	t.Helper()
	rs.mu.Lock()
	n := len(rs.replicas) + 1
	rs.mu.Unlock()
	r := &failoverReplica{name: fmt.Sprintf("replica-%d", n), user: fmt.Sprintf("replica-%d", n)}
	cfg, err := clientcmd.LoadFromFile(rs.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate = r.user
		auth.ImpersonateGroups = []string{"system:masters"}
	}
	kubeconfig := filepath.Join(rs.dir, r.name+".kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}
	r.proc, err = framework.StartProcess(r.name, rs.bin, []string{
		"--kubeconfig=" + kubeconfig,
		"--secure-port=0",
		"--leader-elect=true",
		"--leader-elect-resource-namespace=kube-system",
		"--leader-elect-resource-name=" + failoverLease,
		"--leader-elect-lease-duration=4s",
		"--leader-elect-renew-deadline=3s",
		"--leader-elect-retry-period=500ms",
	}, filepath.Join(rs.dir, r.name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	rs.mu.Lock()
	rs.replicas = append(rs.replicas, r)
	rs.mu.Unlock()
	return r
}

func (rs *failoverReplicas) all() []*failoverReplica {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return slices.Clone(rs.replicas)
}

func (rs *failoverReplicas) stopAll() {
	var wg sync.WaitGroup
	for _, r := range rs.all() {
		wg.Go(r.proc.Stop)
	}
	wg.Wait()
	if rs.t.Failed() {
		for _, r := range rs.all() {
			rs.t.Logf("%s (%s):\n%s", r.name, r.identity, r.proc.LogTail(30))
		}
	}
}

// identities maps Lease identities to replicas by their "Became leader"
// log lines.
func (rs *failoverReplicas) identities() map[string]*failoverReplica {
	ids := map[string]*failoverReplica{}
	for _, r := range rs.all() {
		for _, m := range becameLeader.FindAllStringSubmatch(r.log(), -1) {
			ids[m[1]] = r
			r.identity = m[1]
		}
	}
	return ids
}

// waitLeader waits until the Lease is held by someone other than old
// (and not by nobody) whom a replica's log names as itself.
func (rs *failoverReplicas) waitLeader(ctx context.Context, lw *failoverLeaseWatch, old string) *failoverReplica {
	t := rs.t
	t.Helper()
	var leader *failoverReplica
	framework.Eventually(t, 30*time.Second, func() error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		holder := lw.holder()
		if holder == "" || holder == old {
			return fmt.Errorf("Lease held by %q, waiting for a new holder", holder)
		}
		if leader = rs.identities()[holder]; leader == nil {
			return fmt.Errorf("Lease holder %q is none of the replicas (yet)", holder)
		}
		if leader.proc.Exited() {
			return fmt.Errorf("Lease holder %s has exited", leader.name)
		}
		return nil
	})
	return leader
}

// failoverLeaseRecord is one state of the Lease: a new holder, or a release
// (holder "") whose acquireTime is the time of release.
type failoverLeaseRecord struct {
	holder  string
	acquire time.Time
	rv      string
}

type failoverLeaseWatch struct {
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	records []failoverLeaseRecord
}

// watchLease records every change of Lease ns/name's holder or
// acquireTime, in the order etcd made them; the Lease does not exist yet.
func watchLease(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, name string) *failoverLeaseWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	lw := &failoverLeaseWatch{cancel: cancel, done: make(chan struct{})}
	api := cs.CoordinationV1().Leases(ns)
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	list, err := api.List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 0 {
		t.Fatalf("Lease %s/%s exists already", ns, name)
	}
	rv := list.ResourceVersion
	t.Cleanup(func() { cancel(); <-lw.done })
	go func() {
		defer close(lw.done)
		for ctx.Err() == nil {
			w, err := api.Watch(ctx, metav1.ListOptions{FieldSelector: sel, ResourceVersion: rv, AllowWatchBookmarks: true})
			if err != nil {
				if ctx.Err() == nil {
					t.Logf("watching the Lease: %v; again", err)
					time.Sleep(100 * time.Millisecond)
				}
				continue
			}
			for ev := range w.ResultChan() {
				if ev.Type == watch.Error {
					if ctx.Err() == nil {
						t.Errorf("Lease watch error: %v", ev.Object) // a gap in the history
					}
					break
				}
				lease, ok := ev.Object.(*coordinationv1.Lease)
				if !ok {
					continue
				}
				rv = lease.ResourceVersion
				if ev.Type == watch.Bookmark {
					continue
				}
				lw.add(lease)
			}
			w.Stop()
		}
	}()
	return lw
}

func (lw *failoverLeaseWatch) add(lease *coordinationv1.Lease) {
	rec := failoverLeaseRecord{rv: lease.ResourceVersion}
	if lease.Spec.HolderIdentity != nil {
		rec.holder = *lease.Spec.HolderIdentity
	}
	if lease.Spec.AcquireTime != nil {
		rec.acquire = lease.Spec.AcquireTime.Time
	}
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if n := len(lw.records); n > 0 && lw.records[n-1].holder == rec.holder && lw.records[n-1].acquire.Equal(rec.acquire) {
		return // a renewal
	}
	lw.records = append(lw.records, rec)
}

func (lw *failoverLeaseWatch) holder() string {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if len(lw.records) == 0 {
		return ""
	}
	return lw.records[len(lw.records)-1].holder
}

// snapshot returns the records so far; the watch goes on.
func (lw *failoverLeaseWatch) snapshot() []failoverLeaseRecord {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return slices.Clone(lw.records)
}

func (lw *failoverLeaseWatch) stop() []failoverLeaseRecord {
	lw.cancel()
	<-lw.done
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return slices.Clone(lw.records)
}

func formatFailoverHistory(history []failoverLeaseRecord, ids map[string]*failoverReplica) string {
	var b strings.Builder
	for _, r := range history {
		who := "(released)"
		if r.holder != "" {
			who = "?"
			if rep := ids[r.holder]; rep != nil {
				who = rep.name
			}
		}
		fmt.Fprintf(&b, "  %s  %-10s %s (rv %s)\n", r.acquire.Format("15:04:05.000000"), who, r.holder, r.rv)
	}
	return b.String()
}

// failoverWrite is one Endpoints write from the audit log.
type failoverWrite struct {
	user, verb, object string
	code               int32
	received, done     time.Time
}

func readFailoverAudit(t *testing.T, path string) []failoverWrite {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []failoverWrite
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e struct {
			Stage string `json:"stage"`
			Verb  string `json:"verb"`
			User  struct {
				Username string `json:"username"`
			} `json:"user"`
			ImpersonatedUser *struct {
				Username string `json:"username"`
			} `json:"impersonatedUser"`
			ObjectRef *struct {
				Resource, Namespace, Name string
			} `json:"objectRef"`
			ResponseStatus *struct {
				Code int32 `json:"code"`
			} `json:"responseStatus"`
			RequestReceivedTimestamp metav1.MicroTime `json:"requestReceivedTimestamp"`
			StageTimestamp           metav1.MicroTime `json:"stageTimestamp"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit log line %q: %v", sc.Text(), err)
		}
		if e.Stage != "ResponseComplete" && e.Stage != "Panic" {
			continue
		}
		w := failoverWrite{user: e.User.Username, verb: e.Verb,
			received: e.RequestReceivedTimestamp.Time, done: e.StageTimestamp.Time}
		if e.ImpersonatedUser != nil {
			w.user = e.ImpersonatedUser.Username
		}
		if e.ObjectRef != nil {
			w.object = e.ObjectRef.Namespace + "/" + e.ObjectRef.Name
		}
		if e.ResponseStatus != nil {
			w.code = e.ResponseStatus.Code
		}
		out = append(out, w)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkWritesInTerms returns how many writes lie outside a term of the
// replica that made them and reports each (unless t is nil). A term runs from the holder's
// acquireTime to the next change of holder: another replica's acquireTime,
// or the time of a release (which client-go writes as acquireTime). A write
// is inside when it was received at or after the start and completed at or
// before the end. Both the controllers and kube-apiserver read the same
// clock, and both times are cut to microseconds, so no slop is needed. The
// last term has no end.
func checkWritesInTerms(t *testing.T, writes []failoverWrite, history []failoverLeaseRecord, ids map[string]*failoverReplica) int {
	report := func(format string, args ...any) {
		if t != nil {
			t.Helper()
			t.Errorf(format, args...)
		}
	}
	type term struct{ start, end time.Time }
	terms := map[string][]term{} // by user
	for i, rec := range history {
		if rec.holder == "" {
			continue
		}
		r := ids[rec.holder]
		if r == nil {
			report("Lease holder %q is none of the replicas", rec.holder)
			continue
		}
		end := time.Unix(1<<40, 0)
		if i+1 < len(history) {
			end = history[i+1].acquire
		}
		terms[r.user] = append(terms[r.user], term{rec.acquire, end})
	}
	outside := 0
	for _, w := range writes {
		in := false
		for _, tm := range terms[w.user] {
			if !w.received.Before(tm.start) && !w.done.After(tm.end) {
				in = true
			}
		}
		if !in {
			outside++
			if outside <= 20 {
				report("write outside the writer's lease term: %s %s by %s (code %d), received %s, completed %s; terms of %s: %v",
					w.verb, w.object, w.user, w.code, w.received.Format("15:04:05.000000"), w.done.Format("15:04:05.000000"),
					w.user, terms[w.user])
			}
		}
	}
	return outside
}
