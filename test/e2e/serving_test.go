package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	authnv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// The secure port answers as kube-controller-manager's does: probes for
// anyone, /metrics only for a token allowed to get it (deploy/'s
// ClusterRole), 403 for anonymous requests and for tokens without the
// permission; the series carry kube-controller-manager's names.
func TestSecureServing(t *testing.T) {
	c := startController(t, "--leader-elect=true", "--leader-elect-resource-name=e2e-secure-serving")
	c.waitReady(t)
	for _, probe := range []string{"/healthz", "/livez", "/readyz"} {
		if code, body, err := get(c.URL + probe); err != nil || code != http.StatusOK {
			t.Errorf("%s without a token: %d %q %v, want 200", probe, code, body, err)
		}
	}
	noPerm := serviceAccountToken(t, "no-permissions", "")
	reader, err := metricsReaderToken()
	if err != nil {
		t.Fatal(err)
	}
	checkAccess(t, c.MetricsURL, access{"anonymous", "", http.StatusForbidden},
		access{"a token without the permission", noPerm, http.StatusForbidden}, access{"the metrics reader", reader, http.StatusOK})
	// A client certificate the API server's client CA signed authenticates
	// too (the CA is read from kube-system's
	// extension-apiserver-authentication); admin is in system:masters.
	cert, err := tls.LoadX509KeyPair(filepath.Join(cluster.Dir, "pki", "admin.crt"), filepath.Join(cluster.Dir, "pki", "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	withCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{cert}}}}
	if resp, err := withCert.Get(c.MetricsURL); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/metrics with the admin client certificate: %v %v, want 200", resp, err)
	} else {
		resp.Body.Close()
	}
	// Profiling is off: not served even to whoever may read it.
	profiler := serviceAccountToken(t, "profiler", profilerRole(t))
	if code, _, err := getAs(c.URL+"/debug/pprof/", profiler); err != nil || code != http.StatusNotFound {
		t.Errorf("/debug/pprof/ without --profiling: %d %v, want 404", code, err)
	}

	scrape := c.metrics(t)
	for _, series := range []string{
		`workqueue_adds_total{name="endpoint"}`,
		`workqueue_depth{name="endpoint"}`,
		`workqueue_queue_duration_seconds_count{name="endpoint"}`,
		`workqueue_work_duration_seconds_count{name="endpoint"}`,
		`workqueue_retries_total{name="endpoint"}`,
		`workqueue_unfinished_work_seconds{name="endpoint"}`,
		`workqueue_longest_running_processor_seconds{name="endpoint"}`,
		`rest_client_requests_total{`,
		`rest_client_request_duration_seconds_count{`,
		`rest_client_rate_limiter_duration_seconds_count{`,
		`leader_election_master_status{name="e2e-secure-serving"} 1`,
		`endpoints_controller_build_info{`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(scrape, "\n"+series) {
			t.Errorf("no %s in /metrics", series)
		}
	}
	if !strings.Contains(scrape, `goversion="go1.`) {
		t.Errorf("build_info lacks the Go version")
	}
	// Whatever the process exposes, docs/metrics.md explains.
	if missing := undocumented(t, scrape); len(missing) > 0 {
		t.Errorf("metrics missing from docs/metrics.md: %s", strings.Join(missing, " "))
	}
}

// With --profiling, /debug/pprof/ is served to whoever may get it, and to
// nobody else.
func TestProfilingAuthorized(t *testing.T) {
	c := startController(t, "--leader-elect=false", "--profiling")
	profiler := serviceAccountToken(t, "profiler", profilerRole(t))
	reader, err := metricsReaderToken()
	if err != nil {
		t.Fatal(err)
	}
	checkAccess(t, c.URL+"/debug/pprof/", access{"anonymous", "", http.StatusForbidden},
		access{"the metrics reader", reader, http.StatusForbidden}, access{"the profiler", profiler, http.StatusOK})
}

// access is who GETs with which token (none: ""), and the status expected.
type access struct {
	who, token string
	want       int
}

func checkAccess(t *testing.T, url string, cases ...access) {
	t.Helper()
	for _, tc := range cases {
		if code, body, err := getAs(url, tc.token); err != nil || code != tc.want {
			t.Errorf("%s as %s: %d %v, want %d\n%.300s", url, tc.who, code, err, tc.want, body)
		}
	}
}

// --logging-format=json: every line the process writes is one JSON object
// (the framework's own "=== " lines mark start and exit).
func TestJSONLogs(t *testing.T) {
	c := startController(t, "--leader-elect=false", "--logging-format=json")
	c.waitReady(t)
	lines := strings.Split(strings.TrimSpace(c.log()), "\n")
	msgs := 0
	for _, line := range lines {
		if strings.HasPrefix(line, "=== ") {
			continue
		}
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if _, ok := entry["msg"]; ok {
			msgs++
		}
	}
	if msgs < 3 || !strings.Contains(c.log(), `"msg":"Starting"`) {
		t.Fatalf("%d JSON lines with a msg, want the start-up lines among them:\n%s", msgs, c.log())
	}
}

var (
	readerOnce  sync.Once
	readerToken string
	readerErr   error
)

// metricsReaderToken is a token of a ServiceAccount bound to deploy/'s
// ClusterRole for reading /metrics, made once for the package.
func metricsReaderToken() (string, error) {
	readerOnce.Do(func() {
		readerToken, readerErr = makeServiceAccountToken("metrics-reader", deployMetricsReaderRole())
	})
	return readerToken, readerErr
}

// deployMetricsReaderRole creates deploy/base/metrics-reader.yaml's
// ClusterRole, as is, and returns its name; "" with the error logged.
func deployMetricsReaderRole() string {
	root, err := framework.RepoRoot()
	if err != nil {
		panic(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "deploy/base/metrics-reader.yaml"))
	if err != nil {
		panic(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(data, &role); err != nil {
		panic(fmt.Sprintf("deploy/base/metrics-reader.yaml: %v", err))
	}
	_, err = clientset().RbacV1().ClusterRoles().Create(context.Background(), &role, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		panic(err)
	}
	return role.Name
}

// profilerRole is a ClusterRole allowing get on /debug/pprof/*.
func profilerRole(t *testing.T) string {
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-profiler"},
		Rules:      []rbacv1.PolicyRule{{NonResourceURLs: []string{"/debug/pprof/*", "/debug/pprof/"}, Verbs: []string{"get"}}},
	}
	_, err := clientset().RbacV1().ClusterRoles().Create(context.Background(), role, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	return role.Name
}

// serviceAccountToken is makeServiceAccountToken for a test.
func serviceAccountToken(t *testing.T, name, clusterRole string) string {
	t.Helper()
	token, err := makeServiceAccountToken(name, clusterRole)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// makeServiceAccountToken creates ServiceAccount default/name in the
// package's cluster, bound to clusterRole unless that is "", and returns a
// token for it.
func makeServiceAccountToken(name, clusterRole string) (string, error) {
	return serviceAccountTokenIn(context.Background(), clientset(), "default", name, clusterRole)
}

// serviceAccountTokenIn is makeServiceAccountToken for ns/name in the
// cluster of cs.
func serviceAccountTokenIn(ctx context.Context, cs kubernetes.Interface, ns, name, clusterRole string) (string, error) {
	sa := &v1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", err
	}
	if clusterRole != "" {
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "e2e-" + name},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: clusterRole},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}},
		}
		if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return "", err
		}
	}
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authnv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for %s: %w", name, err)
	}
	return tr.Status.Token, nil
}

// documentedMetrics are the names docs/metrics.md lists in backticks in the
// first column of its tables; a name ending in * covers a prefix.
func documentedMetrics(t *testing.T) (exact map[string]bool, prefixes []string) {
	t.Helper()
	root, err := framework.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "docs/metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	exact = map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 {
			continue
		}
		for _, name := range strings.Split(cells[1], ",") {
			name = strings.Trim(strings.TrimSpace(name), "`")
			if p, ok := strings.CutSuffix(name, "*"); ok {
				prefixes = append(prefixes, p)
			} else if name != "" {
				exact[name] = true
			}
		}
	}
	return exact, prefixes
}

// undocumented lists the metric families of a scrape that docs/metrics.md
// does not name.
func undocumented(t *testing.T, scrape string) []string {
	exact, prefixes := documentedMetrics(t)
	var missing []string
	for _, line := range strings.Split(scrape, "\n") {
		rest, ok := strings.CutPrefix(line, "# TYPE ")
		if !ok {
			continue
		}
		name := strings.Fields(rest)[0]
		covered := exact[name]
		for _, p := range prefixes {
			covered = covered || strings.HasPrefix(name, p)
		}
		if !covered {
			missing = append(missing, name)
		}
	}
	return missing
}
