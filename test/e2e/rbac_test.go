package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	v1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// The controller's identity in deploy/: ServiceAccount
// endpoints-controller/endpoints-controller.
const (
	rbacNamespace = "endpoints-controller"
	rbacSA        = "endpoints-controller"
	rbacUser      = "system:serviceaccount:" + rbacNamespace + ":" + rbacSA
)

// Only the controller's requests are audited. The policy sees the
// authenticated user, not an impersonated one (kube-apiserver evaluates it
// before impersonation), so the controller authenticates as the
// ServiceAccount itself, with a token, as it does in a pod.
const rbacAuditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  users: ["` + rbacUser + `"]
- level: None
`

const (
	rbacTestNS    = "rbac-e2e"
	rbacDenyLabel = "rbac-e2e/deny-endpoints-writes" // on a Service, hence on its Endpoints
)

// TestRBACIsWhatTheCodeUses: deploy/'s RBAC is sufficient and minimal. In
// a control plane of its own whose audit log records every request of the
// controller's ServiceAccount, the test applies deploy/'s RBAC as
// rendered, runs our binary as that ServiceAccount, a leader and a standby
// as deploy/ does, and drives every code path that talks to the API
// server: the informers (streamed watch-lists, and list then watch as
// when the API server serves none), Endpoints created, updated, restored
// after a hand edit and deleted (a Service's, and an orphan's at
// start-up), the Warning events of failed creates and updates (repeated,
// so that client-go patches the event it created), delegated
// authentication and authorization of /metrics over HTTPS, and the Lease
// taken, renewed and released on SIGTERM. Then the same for
// deploy/overlays/shadow's RBAC and --shadow. The audit log must show no
// request denied (sufficient) and every verb on every resource the roles
// bound to the ServiceAccount grant used at least once (minimal): deploy/'s
// own roles and the bootstrap ones it binds for delegated auth.
//
// As in TestFailoverUnderChurn, only etcd and kube-apiserver run: the test
// writes the pods' status itself.
func TestRBACIsWhatTheCodeUses(t *testing.T) {
	start := time.Now()
	dir := t.TempDir()
	policy, auditLog := filepath.Join(dir, "audit-policy.yaml"), filepath.Join(dir, "audit.log")
	if err := os.WriteFile(policy, []byte(rbacAuditPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	cp, err := framework.StartControlPlane(framework.Options{ExtraAPIServerArgs: []string{
		"--audit-policy-file=" + policy,
		"--audit-log-path=" + auditLog,
		"--audit-log-format=json",
		"--audit-log-mode=blocking", // an entry is written before the response goes out
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cp.Stop)
	audited := false
	t.Cleanup(func() { // before cp.Stop: a wait that timed out may have been denied something
		if t.Failed() && !audited {
			for _, r := range readRBACAudit(t, auditLog) {
				if r.denied() {
					t.Logf("denied: %s", r)
				}
			}
		}
	})
	bin, err := cluster.ControllerBinary()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("control plane with audit log ready after %s", failoverSince(start))

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cs := framework.Clientset(cp.Config)
	root, err := framework.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	kubectl := filepath.Join(cp.BinDir, "kubectl")
	base := renderRBAC(t, kubectl, filepath.Join(root, "deploy"))
	shadow := renderRBAC(t, kubectl, filepath.Join(root, "deploy/overlays/shadow"))

	applyRBAC(ctx, t, cs, base)
	grants := boundGrants(ctx, t, cs, base)
	kubeconfig := rbacKubeconfig(ctx, t, cs, cp.KubeconfigPath, dir)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: rbacTestNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	scraper := rbacScraperToken(ctx, t, cs)
	denyEndpointsWrites(ctx, t, cs)

	// Before the controller starts: an orphan, which the start-up sweep
	// deletes, and the Services with their (ready) pods.
	orphan := &v1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Namespace: rbacTestNS, Name: "orphan"},
		Subsets:    []v1.EndpointSubset{{Addresses: []v1.EndpointAddress{{IP: "10.2.9.1"}}, Ports: []v1.EndpointPort{{Port: 80}}}},
	}
	if _, err := cs.CoreV1().Endpoints(rbacTestNS).Create(ctx, orphan, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := map[string]*v1.Pod{}
	for i, name := range []string{"web-0", "web-1"} {
		pod := framework.MakePod(rbacTestNS, name, map[string]string{"app": "web"},
			framework.WithNodeName("no-such-node"), framework.WithContainerPort("http", 8080, v1.ProtocolTCP))
		created, err := cs.CoreV1().Pods(rbacTestNS).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if pods[name], err = framework.SetPodStatus(ctx, cs, created, []string{fmt.Sprintf("10.2.0.%d", i+1)}, true, v1.PodRunning); err != nil {
			t.Fatal(err)
		}
	}
	// web is the ordinary case; the deny label makes the API server refuse
	// denied-create's Endpoints from the start and denied-update's once
	// the label is added.
	for name, labels := range map[string]map[string]string{"web": nil, "denied-create": {rbacDenyLabel: "true"}, "denied-update": nil} {
		svc := &v1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: rbacTestNS, Name: name, Labels: labels},
			Spec: v1.ServiceSpec{
				Selector: map[string]string{"app": "web"},
				Ports:    []v1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: v1.ProtocolTCP}},
			},
		}
		if _, err := cs.CoreV1().Services(rbacTestNS).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// Phase 1: deploy/ as it is: a leader and a standby, which does not
	// stream its informers' initial lists (see rbacNoWatchList).
	t.Logf("phase 1 (deploy/) starts after %s", failoverSince(start))
	// The Lease named as deploy/'s Deployment names it: the Role grants
	// that one only.
	lease := rbacLeaseName(t, base)
	args := []string{"--kubeconfig=" + kubeconfig, "--leader-elect=true", "--leader-elect-resource-namespace=" + rbacNamespace,
		"--leader-elect-resource-name=" + lease}
	c := startRBACController(t, bin, dir, "leader", nil, args...)
	framework.Eventually(t, 20*time.Second, func() error {
		if !strings.Contains(c.log(), "Became leader") {
			return errors.New("not leading yet")
		}
		return nil
	})
	standby := startRBACController(t, bin, dir, "standby", rbacNoWatchList, args...)
	standby.waitReady(t)
	waitRBACEndpoints(t, cs, "orphan", nil, nil) // the start-up sweep
	for _, svc := range []string{"web", "denied-update"} {
		waitRBACEndpoints(t, cs, svc, []string{"10.2.0.1", "10.2.0.2"}, nil) // created
	}
	waitRBACEvent(t, cs, "denied-create", "FailedToCreateEndpoint") // and patched

	if pods["web-1"], err = framework.SetPodStatus(ctx, cs, pods["web-1"], []string{"10.2.0.2"}, false, v1.PodRunning); err != nil {
		t.Fatal(err)
	}
	waitRBACEndpoints(t, cs, "web", []string{"10.2.0.1"}, []string{"10.2.0.2"}) // updated

	err = retry.RetryOnConflict(retry.DefaultRetry, func() error { // a hand edit
		ep, err := cs.CoreV1().Endpoints(rbacTestNS).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		ep.Subsets = []v1.EndpointSubset{{Addresses: []v1.EndpointAddress{{IP: "10.2.9.9"}}, Ports: []v1.EndpointPort{{Name: "http", Port: 8080}}}}
		_, err = cs.CoreV1().Endpoints(rbacTestNS).Update(ctx, ep, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	waitRBACEndpoints(t, cs, "web", []string{"10.2.0.1"}, []string{"10.2.0.2"}) // restored

	patch := []byte(`{"metadata":{"labels":{"` + rbacDenyLabel + `":"true"}}}`)
	if _, err := cs.CoreV1().Services(rbacTestNS).Patch(ctx, "denied-update", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRBACEvent(t, cs, "denied-update", "FailedToUpdateEndpoint")

	if err := cs.CoreV1().Services(rbacTestNS).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRBACEndpoints(t, cs, "web", nil, nil) // deleted

	checkRBACScrape(t, c, scraper)
	stopRBACController(t, standby) // first, lest it take over
	stopRBACController(t, c)
	held, err := cs.CoordinationV1().Leases(rbacNamespace).Get(ctx, lease, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h := held.Spec.HolderIdentity; h != nil && *h != "" {
		t.Errorf("Lease still held by %q after SIGTERM, want it released", *h)
	}

	// Phase 2: deploy/overlays/shadow's RBAC and flags, read-only.
	applyRBAC(ctx, t, cs, shadow)
	shadowGrants := boundGrants(ctx, t, cs, shadow)
	framework.Eventually(t, 10*time.Second, func() error { // the authorizer has the new rules
		if rbacAllowed(ctx, t, cs, "update", "endpoints") {
			return errors.New("the ServiceAccount may still update endpoints")
		}
		return nil
	})
	boundary := time.Now()
	t.Logf("phase 2 (deploy/overlays/shadow) starts after %s", failoverSince(start))
	args = []string{"--kubeconfig=" + kubeconfig, "--shadow", "--leader-elect=false"}
	c = startRBACController(t, bin, dir, "shadow", nil, args...)
	fallback := startRBACController(t, bin, dir, "shadow-list", rbacNoWatchList, args...)
	c.waitReady(t) // caches synced: every list and watch made
	fallback.waitReady(t)
	checkRBACScrape(t, c, scraper)
	stopRBACController(t, fallback)
	stopRBACController(t, c)

	requests := readRBACAudit(t, auditLog)
	audited = true
	var phase1, phase2 []rbacRequest
	for _, r := range requests {
		if r.received.Before(boundary) {
			phase1 = append(phase1, r)
		} else {
			phase2 = append(phase2, r)
		}
	}
	checkRBACPhase(t, "deploy/", phase1, grants)
	checkRBACPhase(t, "deploy/overlays/shadow", phase2, shadowGrants)
	t.Logf("total %s", failoverSince(start))
}

// renderRBAC renders a kustomization with kubectl kustomize and returns
// its Namespaces, ServiceAccounts, roles and bindings: what the controller
// needs in a control plane with nobody to run its Deployment; and the
// Deployment, for its flags.
func renderRBAC(t *testing.T, kubectl, dir string) []runtime.Object {
	t.Helper()
	var objs []runtime.Object
	for _, obj := range renderKustomize(t, kubectl, dir) {
		switch obj.(type) {
		case *v1.Namespace, *v1.ServiceAccount, *rbacv1.ClusterRole, *rbacv1.Role, *rbacv1.ClusterRoleBinding, *rbacv1.RoleBinding, *appsv1.Deployment:
			objs = append(objs, obj)
		}
	}
	return objs
}

// renderKustomize returns every object `kubectl kustomize dir` renders,
// decoded into client-go's types.
func renderKustomize(t *testing.T, kubectl, dir string) []runtime.Object {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(kubectl, "kustomize", dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr.String())
	}
	var objs []runtime.Object
	docs := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(out)))
	for {
		doc, err := docs.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading the output of kubectl kustomize %s: %v", dir, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("decoding an object of %s: %v\n%s", dir, err, doc)
		}
		objs = append(objs, obj)
	}
	return objs
}

// rbacLeaseName is the --leader-elect-resource-name of the Deployment in
// objs.
func rbacLeaseName(t *testing.T, objs []runtime.Object) string {
	t.Helper()
	const flag = "--leader-elect-resource-name="
	for _, obj := range objs {
		if d, ok := obj.(*appsv1.Deployment); ok {
			for _, arg := range d.Spec.Template.Spec.Containers[0].Args {
				if name, ok := strings.CutPrefix(arg, flag); ok {
					return name
				}
			}
			t.Fatalf("Deployment %s has no %s", d.Name, flag)
		}
	}
	t.Fatal("no Deployment rendered")
	return ""
}

// applyRBAC creates objs, or replaces the rules of roles that exist.
func applyRBAC(ctx context.Context, t *testing.T, cs kubernetes.Interface, objs []runtime.Object) {
	t.Helper()
	rbac := cs.RbacV1()
	for _, obj := range objs {
		var err error
		switch o := obj.(type) {
		case *v1.Namespace:
			_, err = cs.CoreV1().Namespaces().Create(ctx, o, metav1.CreateOptions{})
		case *v1.ServiceAccount:
			_, err = cs.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.ClusterRoleBinding:
			_, err = rbac.ClusterRoleBindings().Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.RoleBinding:
			_, err = rbac.RoleBindings(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.ClusterRole:
			if _, err = rbac.ClusterRoles().Create(ctx, o, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
				var cur *rbacv1.ClusterRole
				if cur, err = rbac.ClusterRoles().Get(ctx, o.Name, metav1.GetOptions{}); err == nil {
					cur.Rules = o.Rules
					_, err = rbac.ClusterRoles().Update(ctx, cur, metav1.UpdateOptions{})
				}
			}
		case *rbacv1.Role:
			if _, err = rbac.Roles(o.Namespace).Create(ctx, o, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
				var cur *rbacv1.Role
				if cur, err = rbac.Roles(o.Namespace).Get(ctx, o.Name, metav1.GetOptions{}); err == nil {
					cur.Rules = o.Rules
					_, err = rbac.Roles(o.Namespace).Update(ctx, cur, metav1.UpdateOptions{})
				}
			}
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("applying %T: %v", obj, err)
		}
	}
}

// rbacGrant is one verb on one resource (or non-resource URL) that a role
// bound to the ServiceAccount grants.
type rbacGrant struct {
	role                             string // "ClusterRole x" or "Role ns/x", as bound
	group, resource, verb, namespace string // namespace "": any; resource may be "pods/status"
	names                            []string
	url                              string // a non-resource rule
}

func (g rbacGrant) String() string {
	if g.url != "" {
		return fmt.Sprintf("%s %s", g.verb, g.url)
	}
	s := fmt.Sprintf("%s %s", g.verb, rbacResource(g.group, g.resource))
	if g.namespace != "" {
		s += " in " + g.namespace
	}
	if len(g.names) > 0 {
		s += " named " + strings.Join(g.names, ",")
	}
	return s
}

func rbacResource(group, resource string) string {
	if group == "" {
		return resource
	}
	return resource + "." + group
}

// boundGrants expands the rules of every role that objs bind to the
// ServiceAccount, as the API server has them: deploy/'s own roles and the
// bootstrap ones (system:auth-delegator, extension-apiserver-authentication-reader).
func boundGrants(ctx context.Context, t *testing.T, cs kubernetes.Interface, objs []runtime.Object) []rbacGrant {
	t.Helper()
	bindsSA := func(subjects []rbacv1.Subject) bool {
		return slices.ContainsFunc(subjects, func(s rbacv1.Subject) bool {
			return s.Kind == rbacv1.ServiceAccountKind && s.Namespace == rbacNamespace && s.Name == rbacSA
		})
	}
	var grants []rbacGrant
	for _, obj := range objs {
		var ref rbacv1.RoleRef
		var ns string // of a RoleBinding
		switch b := obj.(type) {
		case *rbacv1.ClusterRoleBinding:
			if !bindsSA(b.Subjects) {
				continue
			}
			ref = b.RoleRef
		case *rbacv1.RoleBinding:
			if !bindsSA(b.Subjects) {
				continue
			}
			ref, ns = b.RoleRef, b.Namespace
		default:
			continue
		}
		var rules []rbacv1.PolicyRule
		role := "ClusterRole " + ref.Name
		if ref.Kind == "Role" {
			r, err := cs.RbacV1().Roles(ns).Get(ctx, ref.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			rules, role = r.Rules, "Role "+ns+"/"+ref.Name
		} else {
			r, err := cs.RbacV1().ClusterRoles().Get(ctx, ref.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			rules = r.Rules
		}
		for _, rule := range rules {
			for _, verb := range rule.Verbs {
				for _, url := range rule.NonResourceURLs {
					grants = append(grants, rbacGrant{role: role, verb: verb, url: url})
				}
				for _, group := range rule.APIGroups {
					for _, res := range rule.Resources {
						grants = append(grants, rbacGrant{role: role, group: group, resource: res, verb: verb, namespace: ns, names: rule.ResourceNames})
					}
				}
			}
		}
	}
	if len(grants) == 0 {
		t.Fatal("the manifests bind nothing to the ServiceAccount")
	}
	return grants
}

// rbacKubeconfig writes a kubeconfig that authenticates as the
// ServiceAccount with a token of its own.
func rbacKubeconfig(ctx context.Context, t *testing.T, cs kubernetes.Interface, admin, dir string) string {
	t.Helper()
	tr, err := cs.CoreV1().ServiceAccounts(rbacNamespace).CreateToken(ctx, rbacSA,
		&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: new(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(admin)
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range cfg.AuthInfos {
		auth.ClientCertificateData, auth.ClientKeyData = nil, nil
		auth.Token = tr.Status.Token
	}
	path := filepath.Join(dir, "serviceaccount.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// rbacScraperToken is a token of a ServiceAccount bound to deploy/'s
// ClusterRole endpoints-controller-metrics-reader.
func rbacScraperToken(ctx context.Context, t *testing.T, cs kubernetes.Interface) string {
	t.Helper()
	token, err := serviceAccountTokenIn(ctx, cs, rbacTestNS, "metrics-scraper", "endpoints-controller-metrics-reader")
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// denyEndpointsWrites makes the API server refuse creates and updates of
// Endpoints labelled rbacDenyLabel (422, not 403: admission, not
// authorization), and waits until it does.
func denyEndpointsWrites(ctx context.Context, t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	const name = "rbac-e2e-deny-endpoints-writes"
	fail := admissionv1.Fail
	policy := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionv1.MatchResources{
				ObjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{rbacDenyLabel: "true"}},
				ResourceRules: []admissionv1.NamedRuleWithOperations{{RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
					Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"endpoints"}},
				}}},
			},
			Validations: []admissionv1.Validation{{Expression: "false", Message: "denied by TestRBACIsWhatTheCodeUses"}},
		},
	}
	if _, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       admissionv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: name, ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny}},
	}
	if _, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	probe := &v1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: rbacTestNS, Name: "probe", Labels: map[string]string{rbacDenyLabel: "true"}}}
	framework.Eventually(t, 20*time.Second, func() error {
		_, err := cs.CoreV1().Endpoints(rbacTestNS).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if apierrors.IsInvalid(err) {
			return nil
		}
		return fmt.Errorf("a labelled Endpoints create is not denied yet: %v", err)
	})
}

// rbacAllowed asks the API server whether the ServiceAccount may verb
// resource (core group) in the test namespace.
func rbacAllowed(ctx context.Context, t *testing.T, cs kubernetes.Interface, verb, resource string) bool {
	t.Helper()
	review := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
		User:               rbacUser,
		Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + rbacNamespace, "system:authenticated"},
		ResourceAttributes: &authzv1.ResourceAttributes{Verb: verb, Resource: resource, Namespace: rbacTestNS},
	}}
	out, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out.Status.Allowed
}

// rbacNoWatchList turns off client-go's WatchListClient feature: the
// informers then list and watch, as they fall back to when the API server
// does not serve watch-lists (WatchList off, or an older server) or a
// watch-list fails. By default they stream their initial lists in a watch,
// and nothing else would use the list verb that fallback needs.
var rbacNoWatchList = []string{"KUBE_FEATURE_WatchListClient=false"}

// startRBACController runs our binary with env added to its environment,
// serving HTTPS on a free loopback port, and waits until it serves; a port
// taken in between means a retry.
func startRBACController(t *testing.T, bin, dir, name string, env []string, args ...string) *controller {
	t.Helper()
	for attempt := 1; ; attempt++ {
		port, err := framework.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		args := append(append([]string{"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(port)}, framework.PodDecoderArgs()...), args...)
		p, err := framework.StartProcessEnv(name, bin, args, env, filepath.Join(dir, fmt.Sprintf("%s-%d.log", name, attempt)))
		if err != nil {
			t.Fatal(err)
		}
		url := "https://127.0.0.1:" + strconv.Itoa(port)
		c := &controller{Controller: &framework.Controller{Process: p, Name: name, LogPath: p.LogPath(), PID: p.PID()},
			URL: url, MetricsURL: url + "/metrics", HealthURL: url}
		t.Cleanup(func() {
			p.Stop()
			if t.Failed() {
				t.Logf("%s", p.LogTail(40))
			}
		})
		err = c.waitServing()
		if err == nil {
			return c
		}
		p.Stop()
		if attempt == 3 || !strings.Contains(p.LogTail(20), "address already in use") {
			t.Fatalf("%s: %v\n%s", name, err, p.LogTail(40))
		}
	}
}

// stopRBACController sends SIGTERM and wants exit code 0.
func stopRBACController(t *testing.T, c *controller) {
	t.Helper()
	c.Process.Stop()
	if err := c.Process.Wait(); err != nil {
		t.Errorf("%s after SIGTERM: %v, want exit 0\n%s", c.Name, err, c.LogTail(20))
	}
}

// checkRBACScrape: /metrics answers the scraper's token (TokenReview and
// SubjectAccessReview allow it) and refuses anonymous requests
// (SubjectAccessReview denies them).
func checkRBACScrape(t *testing.T, c *controller, token string) {
	t.Helper()
	framework.Eventually(t, 20*time.Second, func() error {
		if code, body, err := getAs(c.MetricsURL, token); err != nil || code != http.StatusOK {
			return fmt.Errorf("/metrics with the metrics reader's token: %d %v %.200s", code, err, body)
		}
		return nil
	})
	if code, body, err := get(c.MetricsURL); err != nil || code != http.StatusForbidden {
		t.Errorf("/metrics without a token: %d %v %.200s, want 403", code, err, body)
	}
}

// waitRBACEndpoints waits until Endpoints name lists ready and notReady
// (sorted) or, with both nil, is gone.
func waitRBACEndpoints(t *testing.T, cs kubernetes.Interface, name string, ready, notReady []string) {
	t.Helper()
	framework.Eventually(t, 20*time.Second, func() error {
		ep, err := cs.CoreV1().Endpoints(rbacTestNS).Get(context.Background(), name, metav1.GetOptions{})
		if ready == nil && notReady == nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("Endpoints %s still there (%v)", name, err)
		}
		if err != nil {
			return err
		}
		gotReady, gotNotReady := addressIPs(ep)
		if !slices.Equal(gotReady, ready) || !slices.Equal(gotNotReady, notReady) {
			return fmt.Errorf("Endpoints %s: ready %v not ready %v, want %v and %v", name, gotReady, gotNotReady, ready, notReady)
		}
		return nil
	})
}

// waitRBACEvent waits until the controller's Warning event reason about
// Endpoints name has a count of 2 or more: created, then patched by
// client-go's event correlator on the next identical failure.
func waitRBACEvent(t *testing.T, cs kubernetes.Interface, name, reason string) {
	t.Helper()
	sel := fields.Set{"involvedObject.name": name, "reason": reason}.AsSelector().String()
	framework.Eventually(t, 30*time.Second, func() error {
		events, err := cs.CoreV1().Events(rbacTestNS).List(context.Background(), metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.Type == v1.EventTypeWarning && e.Count >= 2 {
				return nil
			}
		}
		return fmt.Errorf("no %s event about %s with a count of 2 or more (%d events)", reason, name, len(events.Items))
	})
}

// rbacRequest is one audited request of the ServiceAccount.
type rbacRequest struct {
	verb, group, resource, namespace, name string // resource may be "pods/status"
	url                                    string // of a non-resource request
	code                                   int32
	decision                               string // authorization.k8s.io/decision
	received                               time.Time
}

func (r rbacRequest) String() string {
	s := fmt.Sprintf("%s %s", r.verb, r.what())
	if r.namespace != "" {
		s += " in " + r.namespace
	}
	if r.name != "" {
		s += " named " + r.name
	}
	return fmt.Sprintf("%s: code %d, authorization decision %q", s, r.code, r.decision)
}

// denied: by authorization, or with a 403 at all (the failed writes this
// test provokes are refused by admission with 422, not 403).
func (r rbacRequest) denied() bool { return r.code == http.StatusForbidden || r.decision != "allow" }

func (r rbacRequest) what() string {
	if r.url != "" {
		return r.url
	}
	return rbacResource(r.group, r.resource)
}

func (r rbacRequest) grantedBy(g rbacGrant) bool {
	if g.verb != r.verb {
		return false
	}
	if g.url != "" || r.url != "" {
		return g.url == r.url
	}
	return g.group == r.group && g.resource == r.resource &&
		(g.namespace == "" || g.namespace == r.namespace) &&
		(len(g.names) == 0 || slices.Contains(g.names, r.name))
}

// readRBACAudit reads the audit log: one request per audit ID (watches have
// a ResponseStarted and, once over, a ResponseComplete entry).
func readRBACAudit(t *testing.T, path string) []rbacRequest {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	byID := map[string]int{}
	var out []rbacRequest
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e struct {
			AuditID    string `json:"auditID"`
			Verb       string `json:"verb"`
			RequestURI string `json:"requestURI"`
			User       struct {
				Username string `json:"username"`
			} `json:"user"`
			ObjectRef *struct {
				Resource    string `json:"resource"`
				Subresource string `json:"subresource"`
				Namespace   string `json:"namespace"`
				Name        string `json:"name"`
				APIGroup    string `json:"apiGroup"`
			} `json:"objectRef"`
			ResponseStatus *struct {
				Code int32 `json:"code"`
			} `json:"responseStatus"`
			Annotations              map[string]string `json:"annotations"`
			RequestReceivedTimestamp metav1.MicroTime  `json:"requestReceivedTimestamp"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit log line %q: %v", sc.Text(), err)
		}
		if e.User.Username != rbacUser {
			t.Fatalf("audit log line of user %q: the policy audits %s only", e.User.Username, rbacUser)
		}
		r := rbacRequest{verb: e.Verb, decision: e.Annotations["authorization.k8s.io/decision"], received: e.RequestReceivedTimestamp.Time}
		if o := e.ObjectRef; o != nil {
			r.group, r.resource, r.namespace, r.name = o.APIGroup, o.Resource, o.Namespace, o.Name
			if o.Subresource != "" {
				r.resource += "/" + o.Subresource
			}
		} else {
			r.url, _, _ = strings.Cut(e.RequestURI, "?")
		}
		if e.ResponseStatus != nil {
			r.code = e.ResponseStatus.Code
		}
		if i, ok := byID[e.AuditID]; ok {
			out[i] = r // the later stage
		} else {
			byID[e.AuditID] = len(out)
			out = append(out, r)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkRBACPhase logs what the controller used and checks that nothing was
// denied by authorization (the RBAC is sufficient) and that every grant was
// used (it is minimal).
func checkRBACPhase(t *testing.T, phase string, requests []rbacRequest, grants []rbacGrant) {
	t.Helper()
	if len(requests) == 0 {
		t.Errorf("%s: no requests audited", phase)
		return
	}
	type row struct{ what, verb, namespace string }
	counts := map[row]int{}
	codes := map[row]map[int32]bool{}
	for _, r := range requests {
		k := row{r.what(), r.verb, r.namespace}
		counts[k]++
		if codes[k] == nil {
			codes[k] = map[int32]bool{}
		}
		codes[k][r.code] = true
		if r.denied() {
			t.Errorf("%s: denied %s", phase, r)
		}
	}
	rows := make([]row, 0, len(counts))
	for k := range counts {
		rows = append(rows, k)
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		return a.what < b.what || a.what == b.what && (a.verb < b.verb || a.verb == b.verb && a.namespace < b.namespace)
	})
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "RESOURCE\tVERB\tNAMESPACE\tREQUESTS\tCODES\n")
	for _, k := range rows {
		var cl []string
		for c := range codes[k] {
			cl = append(cl, strconv.Itoa(int(c)))
		}
		sort.Strings(cl)
		ns := k.namespace
		if ns == "" {
			ns = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\n", k.what, k.verb, ns, counts[k], strings.Join(cl, ","))
	}
	w.Flush()
	t.Logf("%s: what %s used, %d requests:\n%s", phase, rbacUser, len(requests), b.String())

	for _, g := range grants {
		if !slices.ContainsFunc(requests, func(r rbacRequest) bool { return r.grantedBy(g) }) {
			t.Errorf("%s: %s grants %s, which the controller never used", phase, g.role, g)
		}
	}
}
