package bench

import (
	"context"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"strconv"
	"time"

	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// seedOf is the churn's seed for sc, the same for every controller.
func seedOf(sc scenario) uint64 {
	h := fnv.New64a()
	h.Write([]byte(sc.name))
	return h.Sum64()
}

// createNodes registers node-0…node-(n-1), the names the bench pods are
// bound to: the EndpointSlice controller leaves out pods on unknown nodes.
func createNodes(ctx context.Context, cs kubernetes.Interface, n int) error {
	for i := range n {
		node := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-%d", i)}}
		if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return nil
}

func deleteNodes(ctx context.Context, cs kubernetes.Interface, n int) error {
	for i := range n {
		if err := cs.CoreV1().Nodes().Delete(ctx, fmt.Sprintf("node-%d", i), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// deleteSlices deletes the EndpointSlices of w's namespaces: no namespace
// controller runs, so they would outlive the namespaces and be listed by
// the next point's ours-slices.
func deleteSlices(ctx context.Context, cs kubernetes.Interface, w *world) error {
	return parallel(ctx, len(w.namespaces), 8, func(ctx context.Context, i int) error {
		err := cs.DiscoveryV1().EndpointSlices(w.namespaces[i]).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("deleting the EndpointSlices of %s: %w", w.namespaces[i], err)
		}
		return nil
	})
}

// sliceCost is what the built-in EndpointSlice controller cost while
// ours-slices ran beside it; it is not ours' cost, and reported apart.
type sliceCost struct {
	p        *framework.Process
	syncTook time.Duration // from its start until every Service's slices were right
	syncCPU  float64       // CPU seconds until then
	runCPU   float64       // CPU seconds while ours ran (cold sync, churn, settle)
	peakRSS  int64
	cpu0     float64
}

func (c *sliceCost) markRunStart() { c.cpu0 = c.p.CPUSeconds() }
func (c *sliceCost) markRunEnd() {
	c.runCPU = c.p.CPUSeconds() - c.cpu0
	c.peakRSS = c.p.PeakRSSBytes()
}
func (c *sliceCost) stop() { c.p.Stop() }

// startSliceController starts kube-controller-manager with only the
// EndpointSlice controller, at the scenario's QPS, straight to the API
// server (its requests are not ours), and waits until the slices of every
// Service of w list all its pods, ready: in a cluster it runs long before
// ours starts.
func (s *scaleEnv) startSliceController(ctx context.Context, sc scenario, w *world) (*sliceCost, error) {
	args := []string{"--kubeconfig=" + cp.KubeconfigPath, "--controllers=endpointslice-controller",
		"--leader-elect=false", "--secure-port=0",
		"--concurrent-service-endpoint-syncs=" + strconv.Itoa(workers),
		"--kube-api-qps=" + strconv.Itoa(sc.qps), "--kube-api-burst=" + strconv.Itoa(sc.burst)}
	s.waitHostQuiet(ctx, sc.name, oursSlices, "before the EndpointSlice controller")
	start := time.Now()
	p, err := framework.StartProcess("kube-controller-manager-endpointslice", filepath.Join(cp.BinDir, "kube-controller-manager"),
		args, filepath.Join(s.logDir, sc.name+"-endpointslice-controller.log"))
	if err != nil {
		return nil, err
	}
	c := &sliceCost{p: p}
	deadline := time.Now().Add(sc.coldTimeout)
	for {
		missing, err := slicesBehind(ctx, s.cs, w)
		if err == nil && missing == 0 {
			break
		}
		if p.Exited() {
			return nil, fmt.Errorf("the EndpointSlice controller exited: %v\n%s", p.Wait(), p.LogTail(20))
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, fmt.Errorf("EndpointSlices not right after %s: %d Services behind (%v)", sc.coldTimeout, missing, err)
		}
		time.Sleep(time.Second)
	}
	c.syncTook, c.syncCPU = time.Since(start), p.CPUSeconds()
	s.t.Logf("%s: EndpointSlices right %s after the EndpointSlice controller's start (%.1f CPU s)", sc.name, c.syncTook.Round(100*time.Millisecond), c.syncCPU)
	return c, nil
}

// slicesBehind counts the Services of w whose managed EndpointSlices do
// not list exactly their pods, all ready (the state after a reset).
func slicesBehind(ctx context.Context, cs kubernetes.Interface, w *world) (int, error) {
	type count struct{ all, ready int }
	got := map[string]count{}
	for _, ns := range w.namespaces {
		list, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: endpoints.SliceSelectorManagedBy})
		if err != nil {
			return len(w.services), err
		}
		for _, sl := range list.Items {
			key := ns + "/" + sl.Labels[discovery.LabelServiceName]
			c := got[key]
			for _, ep := range sl.Endpoints {
				c.all++
				if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
					c.ready++
				}
			}
			got[key] = c
		}
	}
	behind := 0
	for i, svc := range w.services {
		if c := got[w.key(i)]; c.all != len(svc.pods) || c.ready != len(svc.pods) {
			behind++
		}
	}
	return behind, nil
}
