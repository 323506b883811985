package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// TestFlowSchemaClassifiesTheController: with deploy/'s ServiceAccount,
// leader-election Role and FlowSchemas applied for real, the API server's
// API Priority and Fairness puts the ServiceAccount's requests where
// deploy/base/flowschema.yaml says: a Lease get (the elector's) in
// FlowSchema endpoints-controller-leader-election, priority level
// leader-election; a Lease list (any other request) in endpoints-controller,
// workload-high. Another ServiceAccount of the same namespace lands in
// neither. The proof is the X-Kubernetes-PF-FlowSchema-UID and
// X-Kubernetes-PF-PriorityLevel-UID headers of the responses, compared
// with the UIDs of the objects in the API server.
//
// In a control plane of its own: the package's cluster, like every test
// control plane, runs with API Priority and Fairness off.
func TestFlowSchemaClassifiesTheController(t *testing.T) {
	root, err := framework.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cp, err := framework.StartControlPlane(framework.Options{ExtraAPIServerArgs: []string{"--enable-priority-and-fairness=true"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cp.Stop)
	cs := framework.Clientset(cp.Config)
	// The ServiceAccount, the FlowSchemas and the Lease's Role and binding:
	// nothing cluster-wide that other tests of the package use too.
	var objs []*unstructured.Unstructured
	for _, o := range deployObjects(t, filepath.Join(root, "deploy"), "ServiceAccount", "Role", "RoleBinding", "FlowSchema") {
		if o.GetKind() == "FlowSchema" || o.GetNamespace() == rbacNamespace {
			objs = append(objs, o)
		}
	}
	var lease string
	for _, o := range objs {
		if o.GetKind() == "Role" {
			rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
			for _, r := range rules {
				if names, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resourceNames"); len(names) == 1 {
					lease = names[0]
				}
			}
		}
	}
	if lease == "" {
		t.Fatalf("no Role naming one Lease in deploy/ (%s)", objectNames(objs))
	}
	if _, err := cs.CoreV1().Namespaces().Create(t.Context(), &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: rbacNamespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if out, err := kubectl(t, cp, encodeManifests(t, objs), "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply %s: %v\n%s", objectNames(objs), err, out)
	}
	type class struct{ flowSchema, priorityLevel types.UID }
	classOf := func(name string) (class, string) {
		fs, err := cs.FlowcontrolV1().FlowSchemas().Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pl, err := cs.FlowcontrolV1().PriorityLevelConfigurations().Get(t.Context(), fs.Spec.PriorityLevelConfiguration.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("FlowSchema %s's priority level: %v", name, err)
		}
		return class{fs.UID, pl.UID}, fmt.Sprintf("FlowSchema %s (uid %s, precedence %d) / priority level %s (uid %s)",
			fs.Name, fs.UID, fs.Spec.MatchingPrecedence, pl.Name, pl.UID)
	}
	workload, workloadName := classOf("endpoints-controller")
	election, electionName := classOf("endpoints-controller-leader-election")
	t.Logf("deploy/: %s; %s", workloadName, electionName)

	const otherSA = "not-the-controller"
	if _, err := cs.CoreV1().ServiceAccounts(rbacNamespace).Create(t.Context(),
		&v1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: otherSA}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token := func(sa string) string {
		tr, err := cs.CoreV1().ServiceAccounts(rbacNamespace).CreateToken(t.Context(), sa,
			&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: new(int64(600))}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	controller, other := token(rbacSA), token(otherSA)

	leases := "/apis/coordination.k8s.io/v1/namespaces/" + rbacNamespace + "/leases"
	byName := "?" + url.Values{"fieldSelector": {"metadata.name=" + lease}}.Encode()
	for _, c := range []struct {
		what, token, path string
		code              int
		want              class
		wantName          string
	}{
		{"the controller's Lease get", controller, leases + "/" + lease, http.StatusNotFound, election, electionName},
		{"the controller's Lease list", controller, leases + byName, http.StatusOK, workload, workloadName},
		// want nothing: neither of deploy/'s FlowSchemas.
		{"another ServiceAccount's Lease get", other, leases + "/" + lease, http.StatusForbidden, class{}, ""},
		{"another ServiceAccount's Lease list", other, leases + byName, http.StatusForbidden, class{}, ""},
	} {
		// The API server's flow control picks up new FlowSchemas shortly
		// after they are created.
		var got class
		framework.Eventually(t, 20*time.Second, func() error {
			code, h, err := getWithToken(cp, c.token, c.path)
			if err != nil {
				return err
			}
			got = class{types.UID(h.Get(flowcontrolv1.ResponseHeaderMatchedFlowSchemaUID)), types.UID(h.Get(flowcontrolv1.ResponseHeaderMatchedPriorityLevelConfigurationUID))}
			switch {
			case code != c.code:
				return fmt.Errorf("%s: %d, want %d", c.what, code, c.code)
			case got.flowSchema == "" || got.priorityLevel == "":
				return fmt.Errorf("%s: no X-Kubernetes-PF-* headers: %v", c.what, h)
			case c.want == class{} && (got.flowSchema == workload.flowSchema || got.flowSchema == election.flowSchema):
				return fmt.Errorf("%s: classified into %s, one of deploy/'s", c.what, flowSchemaWithUID(t, cs, got.flowSchema))
			case c.want != class{} && got != c.want:
				return fmt.Errorf("%s: classified as FlowSchema %s / priority level %s (%s), want %s",
					c.what, got.flowSchema, got.priorityLevel, flowSchemaWithUID(t, cs, got.flowSchema), c.wantName)
			}
			return nil
		})
		t.Logf("%s: %d, headers FlowSchema %s, priority level %s: %s", c.what, c.code, got.flowSchema, got.priorityLevel, flowSchemaWithUID(t, cs, got.flowSchema))
	}
}

// getWithToken GETs path of cp's API server with a bearer token and
// returns the status code and the response headers.
func getWithToken(cp *framework.ControlPlane, token, path string) (int, http.Header, error) {
	cfg := rest.AnonymousClientConfig(cp.Config)
	cfg.BearerToken = token
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return 0, nil, err
	}
	resp, err := hc.Get(strings.TrimSuffix(cfg.Host, "/") + path)
	if err != nil {
		return 0, nil, err
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header, nil
}

// flowSchemaWithUID names the FlowSchema with uid and its priority level.
func flowSchemaWithUID(t *testing.T, cs kubernetes.Interface, uid types.UID) string {
	list, err := cs.FlowcontrolV1().FlowSchemas().List(t.Context(), metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	for _, fs := range list.Items {
		if fs.UID == uid {
			return fmt.Sprintf("FlowSchema %s, priority level %s", fs.Name, fs.Spec.PriorityLevelConfiguration.Name)
		}
	}
	return "no such FlowSchema"
}
