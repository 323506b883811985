package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// scopedLeaseArgs keep the Leases where the test can read them; their
// names are left to the controller, which derives them from the scope.
var scopedLeaseArgs = []string{"--leader-elect=true", "--leader-elect-resource-namespace=kube-system"}

// TestScopedInstances: two instances with disjoint namespace scopes run
// side by side, each leading with its own Lease. The one scoped to A never
// lists, watches, creates, updates or deletes anything of B's — not even
// the orphaned Endpoints B deletes at its start — and every one of its
// requests for pods, Services and Endpoints is namespaced to A (a
// recording proxy sees them all). A third instance excludes both
// namespaces by field selector and serves a third.
func TestScopedInstances(t *testing.T) {
	nsA, nsB, nsC := newNamespace(t), newNamespace(t), newNamespace(t)
	orphanA := createOrphanEndpoints(t, nsA, "gone-a", nil)
	orphanB := createOrphanEndpoints(t, nsB, "gone-b", nil)
	createWeb(t, nsB, "web", 2)
	bEvents := recordEndpointsEvents(t, nsB)

	proxyA := startRecordingProxy(t)
	a := startController(t, append([]string{"--kubeconfig=" + proxyA.kubeconfig, "--namespaces=" + nsA}, scopedLeaseArgs...)...)
	createWeb(t, nsA, "web", 2)
	waitEndpointsFollowPods(t, nsA, "web", 2, 0)
	waitEndpointsGone(t, nsA, orphanA.Name)
	// A works; what it does in B while B has no controller: nothing,
	// through a change to B's pods too.
	scale(t, nsB, "web", 3)
	waitPodsReady(t, nsB, "web", 3)
	time.Sleep(2 * time.Second) // a negative check: time for a wrong write to show
	if ev := bEvents(); len(ev) != 0 {
		t.Errorf("Endpoints events in %s while only %s's instance ran: %v", nsB, nsA, ev)
	}
	if _, err := clientset().CoreV1().Endpoints(nsB).Get(t.Context(), orphanB.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("orphan %s/%s: %v, want it left alone", nsB, orphanB.Name, err)
	}

	b := startController(t, append([]string{"--namespaces=" + nsB}, scopedLeaseArgs...)...)
	waitEndpointsFollowPods(t, nsB, "web", 3, 0)
	waitEndpointsGone(t, nsB, orphanB.Name)
	leaseA, leaseB := waitScopedLeader(t, a), waitScopedLeader(t, b)
	if leaseA == leaseB || leaseA == "endpoints-controller" {
		t.Errorf("Leases %q and %q, want two scoped ones", leaseA, leaseB)
	}
	// Both work at once, each in its own namespace.
	scale(t, nsA, "web", 1)
	scale(t, nsB, "web", 2)
	waitEndpointsFollowPods(t, nsA, "web", 1, 0)
	waitEndpointsFollowPods(t, nsB, "web", 2, 0)

	// Excluding A and B by field selector: C serves the rest (here nsC).
	proxyC := startRecordingProxy(t)
	c := startController(t, append([]string{"--kubeconfig=" + proxyC.kubeconfig, "--exclude-namespaces=" + nsA + "," + nsB}, scopedLeaseArgs...)...)
	createWeb(t, nsC, "web", 1)
	waitEndpointsFollowPods(t, nsC, "web", 1, 0)
	leaseC := waitScopedLeader(t, c)
	if leaseC == leaseA || leaseC == leaseB {
		t.Errorf("C's Lease %q is A's or B's", leaseC)
	}
	scale(t, nsA, "web", 2)
	waitEndpointsFollowPods(t, nsA, "web", 2, 0)

	checkScopeInfo(t, a, `namespaces="`+nsA+`"`, `exclude_namespaces=""`)
	checkScopeInfo(t, c, `namespaces=""`, `exclude_namespaces="`+strings.Join(sorted(nsA, nsB), ",")+`"`)

	// What A asked: pods, Services and Endpoints of A only, each kind
	// watched (a watch-list may stand in for the list).
	seen := map[string]bool{}
	for _, r := range proxyA.requests() {
		ns, kind, ok := scopedKind(r.path)
		if !ok {
			continue
		}
		seen[kind+" "+r.verb()] = true
		if ns != nsA {
			t.Errorf("instance A asked outside %s: %s", nsA, r)
		}
	}
	for _, kind := range []string{"pods", "services", "endpoints"} {
		if !seen[kind+" watch"] {
			t.Errorf("instance A never watched %s: %v", kind, seen)
		}
	}
	t.Logf("instance A's requests for pods, Services and Endpoints: %v", seen)
	// What C asked: cluster-wide, always without A and B.
	exclude := "metadata.namespace!=" + strings.Join(sorted(nsA, nsB), ",metadata.namespace!=")
	for _, r := range proxyC.requests() {
		ns, _, ok := scopedKind(r.path)
		if !ok {
			continue
		}
		if ns == nsA || ns == nsB || (ns == "" && r.fieldSelector != exclude) {
			t.Errorf("instance C asked for excluded namespaces: %s (want field selector %q)", r, exclude)
		}
	}
	if a.writes(t) == 0 || b.writes(t) == 0 || c.writes(t) == 0 {
		t.Errorf("writes: A %v, B %v, C %v; each should have written", a.writes(t), b.writes(t), c.writes(t))
	}
}

// TestScopedServiceSelector: an instance serving the Services labelled
// team=a leaves every other Endpoints alone: another scope's, one written
// by hand for a Service it does not select, the orphan of another scope,
// and the Endpoints of its own Service once that Service is relabelled out
// of its scope (which its filtered watch reports as a deletion). Relabelled
// back, the Service is served again.
func TestScopedServiceSelector(t *testing.T) {
	ns := newNamespace(t)
	createWeb(t, ns, "web", 2)
	setServiceLabels(t, ns, "web", map[string]string{"team": "a"})
	other := createOrphanEndpoints(t, ns, "other", map[string]string{"team": "b"})
	createService(t, ns, "other", map[string]string{"team": "b"}) // selects the web pods
	theirOrphan := createOrphanEndpoints(t, ns, "gone-b", map[string]string{"team": "b"})
	ourOrphan := createOrphanEndpoints(t, ns, "gone-a", map[string]string{"team": "a"})

	s := startController(t, append([]string{"--namespaces=" + ns, "--service-label-selector=team=a"}, scopedLeaseArgs...)...)
	waitScopedLeader(t, s)
	waitEndpointsFollowPods(t, ns, "web", 2, 0)
	waitEndpointsGone(t, ns, ourOrphan.Name)
	checkScopeInfo(t, s, `service_selector="team=a"`)

	// Relabelled out of the scope: its Endpoints stay as they are, also
	// through a change of its pods.
	setServiceLabels(t, ns, "web", map[string]string{"team": "b"})
	framework.Eventually(t, 20*time.Second, func() error {
		if n := metric(s.metrics(t), "endpoints_controller_out_of_scope_skips_total", `reason="service_selector"`); n == 0 {
			return fmt.Errorf("no out-of-scope skip counted yet")
		}
		return nil
	})
	web := getEndpoints(t, ns, "web")
	scale(t, ns, "web", 3)
	waitPodsReady(t, ns, "web", 3)
	time.Sleep(2 * time.Second)
	for _, before := range []*v1.Endpoints{web, other, theirOrphan} {
		after := getEndpoints(t, ns, before.Name)
		if after == nil || after.ResourceVersion != before.ResourceVersion {
			t.Errorf("Endpoints %s/%s outside the scope changed: %v → %v", ns, before.Name, before.ResourceVersion, after)
		}
	}

	// Back in scope: served again.
	setServiceLabels(t, ns, "web", map[string]string{"team": "a"})
	waitEndpointsFollowPods(t, ns, "web", 3, 0)
	if after := getEndpoints(t, ns, "other"); after == nil || after.ResourceVersion != other.ResourceVersion {
		t.Errorf("Endpoints %s/other changed", ns)
	}
}

// TestScopedInstanceNeedsOnlyRoles: an instance scoped to namespaces runs
// on Roles in those namespaces alone, its Lease's included; nothing it
// does needs a ClusterRole (a cluster-wide request would be refused, and
// logged). The HTTPS port's delegated authentication and authorization
// use the admin's kubeconfig here: they need cluster-wide grants of their
// own (README, Scoped instances).
func TestScopedInstanceNeedsOnlyRoles(t *testing.T) {
	ns := newNamespace(t)
	orphan := createOrphanEndpoints(t, ns, "gone", nil)
	kubeconfig := roleOnlyKubeconfig(t, ns, scopedRules)
	c := startController(t, "--kubeconfig="+kubeconfig,
		"--authentication-kubeconfig="+cluster.KubeconfigPath, "--authorization-kubeconfig="+cluster.KubeconfigPath,
		"--namespaces="+ns, "--leader-elect=true", "--leader-elect-resource-namespace="+ns)
	waitScopedLeaderIn(t, c, ns)
	createWeb(t, ns, "web", 2)
	waitEndpointsFollowPods(t, ns, "web", 2, 0)
	waitEndpointsGone(t, ns, orphan.Name)
	scale(t, ns, "web", 1)
	waitEndpointsFollowPods(t, ns, "web", 1, 0)
	if log := c.log(); strings.Contains(strings.ToLower(log), "forbidden") {
		t.Errorf("a request was refused:\n%s", c.LogTail(40))
	}
}

// scopedRules are what a controller scoped to one namespace uses there.
var scopedRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"pods", "services"}, Verbs: []string{"list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"endpoints"}, Verbs: []string{"list", "watch", "create", "update", "delete"}},
	{APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	leaseRule,
}

var leaseRule = rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "list", "watch", "create", "update"}}

// roleOnlyKubeconfig is a kubeconfig of a new ServiceAccount of ns bound
// only to a Role in ns with rules.
func roleOnlyKubeconfig(t *testing.T, ns string, rules []rbacv1.PolicyRule) string {
	t.Helper()
	ctx, cs := t.Context(), clientset()
	const name = "scoped-endpoints-controller"
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &v1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
	if _, err := cs.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ns, Name: name}},
	}
	if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name,
		&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: new(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(cluster.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range cfg.AuthInfos {
		auth.ClientCertificateData, auth.ClientKeyData, auth.ClientCertificate, auth.ClientKey = nil, nil, "", ""
		auth.Token = tr.Status.Token
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// createOrphanEndpoints creates Endpoints with no Service, as the built-in
// or this controller would have left them (managed-by label, an address).
func createOrphanEndpoints(t *testing.T, ns, name string, extra map[string]string) *v1.Endpoints {
	t.Helper()
	lbls := map[string]string{"endpoints.kubernetes.io/managed-by": "endpoint-controller"}
	for k, v := range extra {
		lbls[k] = v
	}
	ep, err := clientset().CoreV1().Endpoints(ns).Create(t.Context(), &v1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: lbls},
		Subsets: []v1.EndpointSubset{{
			Addresses: []v1.EndpointAddress{{IP: "192.0.2.10"}},
			Ports:     []v1.EndpointPort{{Name: "http", Port: 8080, Protocol: v1.ProtocolTCP}},
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

// createService creates a Service like createWeb's web, labelled lbls.
func createService(t *testing.T, ns, name string, lbls map[string]string) {
	t.Helper()
	svc, err := clientset().CoreV1().Services(ns).Get(t.Context(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc = &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: lbls},
		Spec:       v1.ServiceSpec{Selector: svc.Spec.Selector, Ports: svc.Spec.Ports},
	}
	if _, err := clientset().CoreV1().Services(ns).Create(t.Context(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func setServiceLabels(t *testing.T, ns, name string, lbls map[string]string) {
	t.Helper()
	framework.Eventually(t, 10*time.Second, func() error {
		svc, err := clientset().CoreV1().Services(ns).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		svc.Labels = lbls
		_, err = clientset().CoreV1().Services(ns).Update(t.Context(), svc, metav1.UpdateOptions{})
		return err
	})
}

// getEndpoints is ns/name, nil if it does not exist.
func getEndpoints(t *testing.T, ns, name string) *v1.Endpoints {
	t.Helper()
	ep, err := clientset().CoreV1().Endpoints(ns).Get(t.Context(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

func waitEndpointsGone(t *testing.T, ns, name string) {
	t.Helper()
	framework.Eventually(t, convergeTimeout, func() error {
		if getEndpoints(t, ns, name) != nil {
			return fmt.Errorf("Endpoints %s/%s still there", ns, name)
		}
		return nil
	})
}

func waitPodsReady(t *testing.T, ns, name string, n int) {
	t.Helper()
	framework.Eventually(t, convergeTimeout, func() error {
		ready, _, err := podIPs(t.Context(), ns, map[string]string{"app": name})
		if err == nil && len(ready) != n {
			err = fmt.Errorf("%d pods ready, want %d", len(ready), n)
		}
		return err
	})
}

// recordEndpointsEvents watches the Endpoints of ns from now on until the
// test ends; the result lists the events so far.
func recordEndpointsEvents(t *testing.T, ns string) func() []string {
	t.Helper()
	list, err := clientset().CoreV1().Endpoints(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := clientset().CoreV1().Endpoints(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			mu.Lock()
			if m, err := meta(ev.Object); err == nil {
				events = append(events, fmt.Sprintf("%s %s", ev.Type, m))
			} else {
				events = append(events, string(ev.Type))
			}
			mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); w.Stop(); <-done })
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(events)
	}
}

func meta(obj any) (string, error) {
	if ep, ok := obj.(*v1.Endpoints); ok {
		return ep.Namespace + "/" + ep.Name + "@" + ep.ResourceVersion, nil
	}
	if st, ok := obj.(*metav1.Status); ok {
		return "", fmt.Errorf("watch error: %s", st.Message)
	}
	return "", fmt.Errorf("%T", obj)
}

var servingScope = regexp.MustCompile(`"Serving a scope" .*lease="([^"]+)"`)

// waitScopedLeader waits until c holds the Lease its scope names in
// kube-system, as its log and the Lease say, and returns the Lease's name.
func waitScopedLeader(t *testing.T, c *controller) string {
	t.Helper()
	return waitScopedLeaderIn(t, c, "kube-system")
}

func waitScopedLeaderIn(t *testing.T, c *controller, leaseNS string) string {
	t.Helper()
	var lease string
	framework.Eventually(t, 30*time.Second, func() error {
		log := c.log()
		m := servingScope.FindStringSubmatch(log)
		if m == nil {
			return fmt.Errorf("%s: no scope logged", c.Name)
		}
		lease = m[1]
		l, err := clientset().CoordinationV1().Leases(leaseNS).Get(t.Context(), lease, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if l.Spec.HolderIdentity == nil || !strings.Contains(log, `"Became leader" identity="`+*l.Spec.HolderIdentity+`"`) {
			return fmt.Errorf("Lease %s held by %v, not %s", lease, l.Spec.HolderIdentity, c.Name)
		}
		return checkGauge(c, 1)
	})
	return lease
}

// checkScopeInfo checks endpoints_controller_scope_info's labels.
func checkScopeInfo(t *testing.T, c *controller, labels ...string) {
	t.Helper()
	if got := metric(c.metrics(t), "endpoints_controller_scope_info", labels...); got != 1 {
		t.Errorf("%s: endpoints_controller_scope_info with %v: %v, want 1", c.Name, labels, got)
	}
}

func sorted(s ...string) []string { slices.Sort(s); return s }

// scopedKind parses a request path for pods, Services or Endpoints: the
// namespace ("" for cluster-wide) and the kind.
var scopedPath = regexp.MustCompile(`^/api/v1/(?:namespaces/([^/]+)/)?(pods|services|endpoints)(?:/|$)`)

func scopedKind(path string) (ns, kind string, ok bool) {
	m := scopedPath.FindStringSubmatch(path)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// recordingProxy passes a controller's requests on to the API server (with
// the admin's credentials, which the controller's kubeconfig holds too)
// and records each one.
type recordingProxy struct {
	kubeconfig string
	mu         sync.Mutex
	log        []proxiedRequest
}

type proxiedRequest struct {
	method, path, fieldSelector, labelSelector string
	watch                                      bool
}

func (r proxiedRequest) verb() string {
	if r.watch {
		return "watch"
	}
	return strings.ToLower(r.method)
}

func (r proxiedRequest) String() string {
	return fmt.Sprintf("%s %s fieldSelector=%q labelSelector=%q watch=%v", r.method, r.path, r.fieldSelector, r.labelSelector, r.watch)
}

func (p *recordingProxy) requests() []proxiedRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.log)
}

// startRecordingProxy serves HTTPS (HTTP/2 too) on 127.0.0.1 with the API
// server's own certificate, which is valid for any 127.0.0.1 port, so the
// controller trusts it as it trusts the API server.
func startRecordingProxy(t *testing.T) *recordingProxy {
	t.Helper()
	target, err := url.Parse(cluster.URL)
	if err != nil {
		t.Fatal(err)
	}
	transport, err := rest.TransportFor(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProxy{}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = transport
	rp.FlushInterval = -1 // watches stream
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		p.mu.Lock()
		p.log = append(p.log, proxiedRequest{
			method: r.Method, path: r.URL.Path,
			fieldSelector: q.Get("fieldSelector"), labelSelector: q.Get("labelSelector"),
			watch: q.Get("watch") == "true" || q.Get("watch") == "1",
		})
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	pki := filepath.Join(cluster.Dir, "pki")
	cert, err := tls.LoadX509KeyPair(filepath.Join(pki, "apiserver.crt"), filepath.Join(pki, "apiserver.key"))
	if err != nil {
		t.Fatal(err)
	}
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	p.kubeconfig = framework.KubeconfigVia(t, cluster.KubeconfigPath, srv.URL)
	return p
}
