package e2e

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// TestEndpointSlicesOverlay: deploy/overlays/endpointslices' ClusterRole
// (granted here as a Role, with the controller scoped to one namespace)
// and its flag run the controller from the EndpointSlices of the e2e
// cluster's built-in EndpointSlice controller, with no access to pods and
// nothing refused.
func TestEndpointSlicesOverlay(t *testing.T) {
	root, err := framework.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var rules []rbacv1.PolicyRule
	var args []string
	for _, obj := range renderKustomize(t, filepath.Join(cluster.BinDir, "kubectl"), filepath.Join(root, "deploy/overlays/endpointslices")) {
		switch o := obj.(type) {
		case *rbacv1.ClusterRole:
			if o.Name == "endpoints-controller" {
				rules = o.Rules
			}
		case *appsv1.Deployment:
			args = o.Spec.Template.Spec.Containers[0].Args
		}
	}
	if !slices.Contains(args, "--source=endpointslices") {
		t.Fatalf("the overlay's Deployment does not read slices: %v", args)
	}
	for _, r := range rules {
		if slices.Contains(r.Resources, "pods") {
			t.Fatalf("the overlay still grants pods: %+v", r)
		}
	}

	ns := newNamespace(t)
	kubeconfig := roleOnlyKubeconfig(t, ns, append(rules, leaseRule))
	c := startController(t, "--kubeconfig="+kubeconfig,
		"--authentication-kubeconfig="+cluster.KubeconfigPath, "--authorization-kubeconfig="+cluster.KubeconfigPath,
		"--source=endpointslices", "--namespaces="+ns, "--leader-elect=true", "--leader-elect-resource-namespace="+ns)
	waitScopedLeaderIn(t, c, ns)
	createWeb(t, ns, "web", 2)
	waitEndpointsFollowPods(t, ns, "web", 2, 0)
	scale(t, ns, "web", 1)
	waitEndpointsFollowPods(t, ns, "web", 1, 0)
	if log := c.log(); strings.Contains(strings.ToLower(log), "forbidden") {
		t.Errorf("a request was refused:\n%s", c.LogTail(40))
	}
}
