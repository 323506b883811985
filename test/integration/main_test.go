// Package integration runs the controller's tests against a real etcd and
// kube-apiserver started once per package by test/framework.
package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// cp is the package's control plane, set by TestMain before any test runs.
var cp *framework.ControlPlane

// controllerClient is what the controller under test uses: the deploy/
// ServiceAccount, bound only to the RBAC in deploy/, so that every test also
// proves those permissions are enough (least privilege).
var controllerClient kubernetes.Interface

const controllerUser = "system:serviceaccount:endpoints-controller:endpoints-controller"

func TestMain(m *testing.M) {
	framework.RunMain(m, framework.Options{}, func(c *framework.ControlPlane) {
		cp = c
		if err := applyDeploy(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		cfg := rest.CopyConfig(cp.Config)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: controllerUser}
		controllerClient = framework.Clientset(cfg)
	})
}

// applyDeploy applies deploy/ (namespace, ServiceAccount, RBAC, ...) as an
// operator would; nothing runs the Deployment here.
func applyDeploy() error {
	root, err := framework.RepoRoot()
	if err != nil {
		return err
	}
	out, err := exec.Command(filepath.Join(cp.BinDir, "kubectl"), "--kubeconfig", cp.KubeconfigPath,
		"apply", "--server-side", "-k", filepath.Join(root, "deploy")).CombinedOutput()
	if err != nil {
		return fmt.Errorf("kubectl apply -k deploy: %v\n%s", err, out)
	}
	return nil
}
