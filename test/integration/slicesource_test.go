package integration

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/endpoints-controller/endpoints-controller/pkg/controller"
	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// requestLog records the paths and queries of a client's requests.
type requestLog struct {
	mu   sync.Mutex
	reqs []string
	next http.RoundTripper
}

func (l *requestLog) RoundTrip(r *http.Request) (*http.Response, error) {
	l.mu.Lock()
	l.reqs = append(l.reqs, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	l.mu.Unlock()
	return l.next.RoundTrip(r)
}

func (l *requestLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reqs)
}

// startSliceControllerManager runs kube-controller-manager with only the
// built-in EndpointSlice controller until the test ends, and registers
// node, so that pods bound to it are put in slices.
func startSliceControllerManager(t *testing.T, cs kubernetes.Interface, node string) {
	t.Helper()
	ctx := context.Background()
	_, err := cs.CoreV1().Nodes().Create(ctx, &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}, metav1.CreateOptions{})
	switch {
	case err == nil:
		t.Cleanup(func() { _ = cs.CoreV1().Nodes().Delete(context.Background(), node, metav1.DeleteOptions{}) })
	case !apierrors.IsAlreadyExists(err):
		t.Fatal(err)
	}
	logDir := t.TempDir()
	p, err := framework.StartProcess("kube-controller-manager-endpointslice", filepath.Join(cp.BinDir, "kube-controller-manager"),
		[]string{"--kubeconfig=" + cp.KubeconfigPath, "--controllers=endpointslice-controller", "--leader-elect=false", "--secure-port=0"},
		filepath.Join(logDir, "kcm.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			data, _ := os.ReadFile(p.LogPath())
			t.Logf("kube-controller-manager log tail:\n%s", lastLines(string(data), 30))
		}
	})
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// grantSliceRead gives deploy/'s ServiceAccount what --source=endpointslices
// needs on top of deploy/'s RBAC: list and watch of EndpointSlices.
func grantSliceRead(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	ctx := context.Background()
	name := "endpoints-controller-endpointslices-" + strings.ToLower(strings.ReplaceAll(t.Name(), "_", "-"))
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{discovery.GroupName}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"},
	}}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "endpoints-controller", Namespace: "endpoints-controller"}}}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.RbacV1().ClusterRoles().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.RbacV1().ClusterRoleBindings().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// TestSliceSource_FollowsSlices runs the controller with the EndpointSlice
// source beside the built-in EndpointSlice controller: Endpoints follow a
// Service's pods through scaling and a readiness flip, and the controller
// never asks the API server for a pod.
func TestSliceSource_FollowsSlices(t *testing.T) {
	e := newEnv(t)
	startSliceControllerManager(t, e.cs, "node-1")
	grantSliceRead(t, e.cs)

	// The controller's client: deploy/'s ServiceAccount, every request logged.
	log := &requestLog{}
	cfg := rest.CopyConfig(cp.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: controllerUser}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { log.next = rt; return log })
	client := framework.Clientset(cfg)
	e.runController(client, controller.NewInformers(client, e.ns, controller.Decoder(framework.PodDecoder())).WithEndpointSlices(client), controller.Options{})

	e.createService(service("web", port("http", 80, intstr.FromString("http"), v1.ProtocolTCP)))
	withPort := framework.WithContainerPort("http", 8080, v1.ProtocolTCP)
	var pods []*v1.Pod
	for i := range 3 {
		pods = append(pods, e.createPod(fmt.Sprintf("web-%d", i), map[string]string{"app": "web"}, []string{fmt.Sprintf("10.30.0.%d", i+1)}, true, withPort))
	}
	e.waitIPs("web", []string{"10.30.0.1", "10.30.0.2", "10.30.0.3"}, nil)

	// Scale up by two, down by one.
	for i := 3; i < 5; i++ {
		pods = append(pods, e.createPod(fmt.Sprintf("web-%d", i), map[string]string{"app": "web"}, []string{fmt.Sprintf("10.30.0.%d", i+1)}, true, withPort))
	}
	if err := e.cs.CoreV1().Pods(e.ns).Delete(e.ctx(), pods[0].Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitIPs("web", []string{"10.30.0.2", "10.30.0.3", "10.30.0.4", "10.30.0.5"}, nil)

	// A readiness flip and back; named port, node and pod reference as in
	// pods mode.
	e.setStatus(pods[1], []string{"10.30.0.2"}, false, v1.PodRunning)
	ep := e.waitIPs("web", []string{"10.30.0.3", "10.30.0.4", "10.30.0.5"}, []string{"10.30.0.2"})
	a := ep.Subsets[0].NotReadyAddresses[0]
	if ep.Subsets[0].Ports[0].Port != 8080 || a.TargetRef == nil || a.TargetRef.Name != "web-1" || a.NodeName == nil || *a.NodeName != "node-1" {
		t.Fatalf("unexpected Endpoints %+v", ep.Subsets)
	}
	if ep.Labels[endpoints.LabelManagedBy] != endpoints.DefaultManagedBy {
		t.Fatalf("labels %v", ep.Labels)
	}
	e.setStatus(pods[1], []string{"10.30.0.2"}, true, v1.PodRunning)
	e.waitIPs("web", []string{"10.30.0.2", "10.30.0.3", "10.30.0.4", "10.30.0.5"}, nil)

	// Deleting the Service deletes its Endpoints.
	if err := e.cs.CoreV1().Services(e.ns).Delete(e.ctx(), "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, 30*time.Second, func() error {
		if _, err := e.getEndpoints("web"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("Endpoints still there: %v", err)
		}
		return nil
	})

	var sliceReqs int
	for _, r := range log.all() {
		if strings.Contains(r, "/pods") {
			t.Errorf("the controller requested pods: %s", r)
		}
		if strings.Contains(r, "/endpointslices") {
			sliceReqs++
			if !strings.Contains(r, "labelSelector=endpointslice.kubernetes.io%2Fmanaged-by%3Dendpointslice-controller.k8s.io%2Ckubernetes.io%2Fservice-name") {
				t.Errorf("slices requested without the server-side selector: %s", r)
			}
		}
	}
	if sliceReqs == 0 {
		t.Errorf("no EndpointSlice request: %v", log.all())
	}
}

// TestSliceSource_Lag measures what the slice source adds to a readiness
// flip: the EndpointSlice controller's write before ours. Both sources
// run side by side, each in its own namespace over the same pods' shape;
// the figures go to the log (README "EndpointSlices as a source"). It
// asserts that every flip is followed in both.
func TestSliceSource_Lag(t *testing.T) {
	cs := framework.Clientset(cp.Config)
	startSliceControllerManager(t, cs, "node-1")
	grantSliceRead(t, cs)
	const flips = 20
	measure := func(t *testing.T, e *env) []time.Duration {
		e.createService(service("web", port("http", 80, intstr.FromInt32(8080), v1.ProtocolTCP)))
		pod := e.createPod("web-0", map[string]string{"app": "web"}, []string{"10.31.0.1"}, true)
		e.waitIPs("web", []string{"10.31.0.1"}, nil)
		// Timed by a watch, not by polling: the event that shows the flip.
		w, err := e.cs.CoreV1().Endpoints(e.ns).Watch(e.ctx(), metav1.ListOptions{FieldSelector: "metadata.name=web"})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		var lags []time.Duration
		for i := range flips {
			ready := i%2 == 1
			e.setStatus(pod, []string{"10.31.0.1"}, ready, v1.PodRunning)
			start := time.Now() // the status is written
			timeout := time.After(30 * time.Second)
		wait:
			for {
				select {
				case ev := <-w.ResultChan():
					ep, ok := ev.Object.(*v1.Endpoints)
					if !ok {
						continue
					}
					if r, nr := ips(ep); (ready && len(r) == 1 && len(nr) == 0) || (!ready && len(r) == 0 && len(nr) == 1) {
						break wait
					}
				case <-timeout:
					t.Fatalf("flip %d not followed within 30s", i)
				}
			}
			lags = append(lags, time.Since(start))
		}
		slices.Sort(lags)
		return lags
	}
	var podLags, sliceLags []time.Duration
	t.Run("pods", func(t *testing.T) {
		e := newEnv(t)
		e.startController(controller.Options{})
		podLags = measure(t, e)
	})
	t.Run("endpointslices", func(t *testing.T) {
		e := newEnv(t)
		e.runController(e.controllerCS, controller.NewInformers(e.controllerCS, e.ns, controller.Decoder(framework.PodDecoder())).WithEndpointSlices(e.controllerCS), controller.Options{})
		sliceLags = measure(t, e)
	})
	if len(podLags) == flips && len(sliceLags) == flips {
		t.Logf("pod status written to Endpoints event, %d flips: pods source p50 %v max %v; endpointslices source p50 %v max %v",
			flips, podLags[flips/2].Round(100*time.Microsecond), podLags[flips-1].Round(100*time.Microsecond),
			sliceLags[flips/2].Round(100*time.Microsecond), sliceLags[flips-1].Round(100*time.Microsecond))
	}
}
