package integration

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	authv1 "k8s.io/api/authorization/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/endpoints-controller/endpoints-controller/pkg/controller"
	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// The manifests render (base and overlays) and the API server accepted every
// object in them (TestMain applied deploy/); the controller works with
// exactly the RBAC they grant, by impersonating their ServiceAccount.
func TestDeployManifestsAndLeastPrivilege(t *testing.T) {
	root, err := framework.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"deploy", "deploy/overlays/prometheus-operator", "deploy/overlays/shadow"} {
		out, err := exec.Command(filepath.Join(cp.BinDir, "kubectl"), "kustomize", filepath.Join(root, dir)).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, out)
		}
	}
	// TestMain applied deploy/ and every test's controller runs as its
	// ServiceAccount; this one checks that the impersonation is real.
	allowed := func(verb, resource string) bool {
		cs := framework.Clientset(cp.Config)
		review := &authv1.SubjectAccessReview{Spec: authv1.SubjectAccessReviewSpec{
			User: controllerUser, ResourceAttributes: &authv1.ResourceAttributes{Verb: verb, Resource: resource, Namespace: "default"},
		}}
		out, err := cs.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), review, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return out.Status.Allowed
	}
	if !allowed("update", "endpoints") || allowed("update", "pods") || allowed("delete", "services") {
		t.Fatal("deploy/ RBAC is not what the controller is tested with")
	}
	e := newEnv(t)
	e.startController(controller.Options{})
	e.createService(service("web", port("http", 80, intstr.FromInt32(8080), v1.ProtocolTCP)))
	e.createPod("a", app("web"), []string{"10.0.0.1"}, true)
	e.createPod("b", app("web"), []string{"10.0.0.2"}, false)
	e.waitIPs("web", []string{"10.0.0.1"}, []string{"10.0.0.2"})
}
