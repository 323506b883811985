package integration

import (
	"os/exec"
	"path/filepath"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"

	"github.com/endpoints-controller/endpoints-controller/pkg/controller"
	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// The manifests render and the API server accepts every object in them;
// then the controller works with exactly the RBAC they grant, by
// impersonating their ServiceAccount.
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
	out, err := exec.Command(filepath.Join(cp.BinDir, "kubectl"), "--kubeconfig", cp.KubeconfigPath,
		"apply", "--server-side", "-k", filepath.Join(root, "deploy")).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl apply -k deploy: %v\n%s", err, out)
	}

	cfg := rest.CopyConfig(cp.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:endpoints-controller:endpoints-controller"}
	e := newEnv(t)
	e.cs = framework.Clientset(cfg) // the controller's client; setup below uses it too
	admin := framework.Clientset(cp.Config)
	e.startController(controller.Options{})
	e.cs = admin
	e.createService(service("web", port("http", 80, intstr.FromInt32(8080), v1.ProtocolTCP)))
	e.createPod("a", app("web"), []string{"10.0.0.1"}, true)
	e.createPod("b", app("web"), []string{"10.0.0.2"}, false)
	e.waitIPs("web", []string{"10.0.0.1"}, []string{"10.0.0.2"})
}
