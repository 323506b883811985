package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// TestExamples applies deploy/examples/ (what make run shows) with kubectl
// and checks the three kinds of Service there: web gets its pods on both
// named ports, web-headless the same pods, and the selector-less mysql
// keeps its hand-written Endpoints.
func TestExamples(t *testing.T) {
	startController(t, "--leader-elect=false")
	cs := clientset()
	framework.Eventually(t, convergeTimeout, func() error { // an earlier run's (-count) must be gone
		if _, err := cs.CoreV1().Namespaces().Get(t.Context(), "demo", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("namespace demo from an earlier run still there (%v)", err)
		}
		return nil
	})
	root, err := framework.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	kubectl := exec.Command(filepath.Join(cluster.BinDir, "kubectl"), "--kubeconfig="+cluster.KubeconfigPath,
		"apply", "-f", filepath.Join(root, "deploy", "examples"))
	if out, err := kubectl.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply -f deploy/examples: %v\n%s", err, out)
	}
	t.Cleanup(func() { // the namespace controller deletes the rest
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := cs.CoreV1().Namespaces().Delete(ctx, "demo", metav1.DeleteOptions{}); err != nil {
			t.Logf("deleting namespace demo: %v", err)
		}
	})
	mysql, err := cs.CoreV1().Endpoints("demo").Get(t.Context(), "mysql", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	waitEndpointsFollowPods(t, "demo", "web", 3, 0)
	framework.Eventually(t, convergeTimeout, func() error {
		web, err := cs.CoreV1().Endpoints("demo").Get(t.Context(), "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		headless, err := cs.CoreV1().Endpoints("demo").Get(t.Context(), "web-headless", metav1.GetOptions{})
		if err != nil {
			return err
		}
		want, _, _ := endpointIPs(web, webPorts)
		got, notReady, err := endpointIPs(headless, []string{"http:8080"})
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) || len(notReady) > 0 {
			return fmt.Errorf("web-headless: %v / %v, want %v", got, notReady, want)
		}
		if _, ok := headless.Labels[v1.IsHeadlessService]; ok { // value "", as the built-in's
			return nil
		}
		return fmt.Errorf("web-headless has no %s label: %v", v1.IsHeadlessService, headless.Labels)
	})

	// By now the controller has synced every Service: mysql must be as
	// written, not emptied nor claimed.
	time.Sleep(time.Second)
	after, err := cs.CoreV1().Endpoints("demo").Get(t.Context(), "mysql", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != mysql.ResourceVersion {
		t.Errorf("mysql Endpoints rewritten: %+v", after)
	}
	if len(after.Subsets) != 1 || len(after.Subsets[0].Addresses) != 1 || after.Subsets[0].Addresses[0].IP != "192.0.2.10" ||
		len(after.Subsets[0].Ports) != 1 || after.Subsets[0].Ports[0].Port != 3306 {
		t.Errorf("mysql Endpoints: %+v, want 192.0.2.10:3306", after.Subsets)
	}
}
