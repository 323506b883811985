package parity

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// podParallelism bounds concurrent pod writes while creating a world.
const podParallelism = 32

// create stores w: Services, pods with their status (then deleted if
// terminating), and the pre-existing Endpoints. It returns the resource
// versions of the Endpoints no controller may touch.
func (w *world) create(t *testing.T, cs kubernetes.Interface) map[string]string {
	t.Helper()
	ctx := context.Background()
	// Registered after the namespace's cleanup, so it runs first: pods
	// held by the finalizer would keep the namespace from going away.
	t.Cleanup(func() { releasePods(t, cs, w.ns) })
	for _, svc := range w.services {
		if _, err := cs.CoreV1().Services(w.ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatalf("seed %d: creating service %s: %v", w.seed, svc.Name, err)
		}
	}

	var mu sync.Mutex
	var errs []error
	sem := make(chan struct{}, podParallelism)
	var wg sync.WaitGroup
	for _, gp := range w.pods {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := createPod(ctx, cs, gp); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("pod %s: %w", gp.pod.Name, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("seed %d: creating %d pods failed, first: %v", w.seed, len(errs), errs[0])
	}

	untouched := map[string]string{}
	for _, ep := range slices.Concat(w.manual, w.orphans, w.existing) {
		out, err := cs.CoreV1().Endpoints(w.ns).Create(ctx, ep, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("seed %d: creating endpoints %s: %v", w.seed, ep.Name, err)
		}
		if slices.Contains(w.manual, ep) {
			untouched[w.ns+"/"+ep.Name] = out.ResourceVersion
		}
	}
	return untouched
}

// createPod creates the pod and writes its status as a kubelet would: any
// phase, pod IPs and a Ready condition (or none).
func createPod(ctx context.Context, cs kubernetes.Interface, gp *genPod) error {
	pods := cs.CoreV1().Pods(gp.pod.Namespace)
	pod, err := pods.Create(ctx, gp.pod, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod.Status.Phase = gp.phase
		pod.Status.PodIP, pod.Status.PodIPs = "", nil
		for _, ip := range gp.ips {
			pod.Status.PodIPs = append(pod.Status.PodIPs, v1.PodIP{IP: ip})
		}
		if len(gp.ips) > 0 {
			pod.Status.PodIP = gp.ips[0]
		}
		pod.Status.Conditions = nil
		if gp.ready != nil {
			status := v1.ConditionFalse
			if *gp.ready {
				status = v1.ConditionTrue
			}
			pod.Status.Conditions = []v1.PodCondition{{Type: v1.PodReady, Status: status, LastTransitionTime: metav1.Now()}}
		}
		_, err := pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			cur, getErr := pods.Get(ctx, pod.Name, metav1.GetOptions{})
			if getErr != nil {
				return getErr
			}
			pod = cur
		}
		return err
	})
	if err != nil || !gp.terminating {
		return err
	}
	return pods.Delete(ctx, pod.Name, metav1.DeleteOptions{})
}

// releasePods removes the finalizer from the pods that carry it.
func releasePods(t *testing.T, cs kubernetes.Interface, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Logf("listing pods of %s: %v", ns, err)
		return
	}
	patch := []byte(`{"metadata":{"finalizers":null}}`)
	for _, p := range list.Items {
		if len(p.Finalizers) == 0 {
			continue
		}
		if _, err := cs.CoreV1().Pods(ns).Patch(ctx, p.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Logf("releasing pod %s/%s: %v", ns, p.Name, err)
		}
	}
}

// listEndpoints returns all Endpoints of the worlds, keyed namespace/name.
func listEndpoints(ctx context.Context, cs kubernetes.Interface, worlds []*world) (map[string]*v1.Endpoints, error) {
	out := map[string]*v1.Endpoints{}
	for _, w := range worlds {
		list, err := cs.CoreV1().Endpoints(w.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		for i := range list.Items {
			out[w.ns+"/"+list.Items[i].Name] = &list.Items[i]
		}
	}
	return out, nil
}

// converged tells whether a controller is done with the worlds: every
// Service it serves has Endpoints it wrote, and the orphans are gone. It
// returns a fingerprint of all Endpoints versions, to see them settle.
func converged(ctx context.Context, cs kubernetes.Interface, worlds []*world) (fingerprint string, why string, err error) {
	eps, err := listEndpoints(ctx, cs, worlds)
	if err != nil {
		return "", "", err
	}
	var keys []string
	for k, ep := range eps {
		keys = append(keys, k+"@"+ep.ResourceVersion)
	}
	slices.Sort(keys)
	fingerprint = strings.Join(keys, ",")
	for _, w := range worlds {
		for _, svc := range w.services {
			if !served(svc) {
				continue
			}
			if ep := eps[w.ns+"/"+svc.Name]; ep == nil || ep.Labels[managedByLabel] == "" {
				return fingerprint, fmt.Sprintf("no controller-written Endpoints for %s/%s yet", w.ns, svc.Name), nil
			}
		}
		for _, o := range w.orphans {
			if eps[w.ns+"/"+o.Name] != nil {
				return fingerprint, fmt.Sprintf("orphan %s/%s not deleted yet", w.ns, o.Name), nil
			}
		}
	}
	return fingerprint, "", nil
}

// served tells whether endpoints controllers write svc's Endpoints.
func served(svc *v1.Service) bool {
	return svc.Spec.Type != v1.ServiceTypeExternalName && len(svc.Spec.Selector) > 0
}

// waitConverged waits until converged holds and no Endpoints changed for
// settle, failing early if the controller process exits.
func waitConverged(t *testing.T, cs kubernetes.Interface, worlds []*world, p *proc, settle, timeout time.Duration) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	var last, why string
	stableSince := time.Now()
	for {
		if p.Exited() {
			t.Fatalf("%s exited before converging\n%s", p.Name(), p.LogTail(40))
		}
		fp, notYet, err := converged(ctx, cs, worlds)
		switch {
		case err != nil:
			why = err.Error()
		case notYet != "":
			why = notYet
		case fp != last:
			why = "Endpoints still changing"
		case time.Since(stableSince) >= settle:
			return
		}
		if err != nil || notYet != "" || fp != last {
			last, stableSince = fp, time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not converge within %s: %s\n%s", p.Name(), timeout, why, p.LogTail(40))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// checkUntouched fails if a manual or leader-election Endpoints changed.
func checkUntouched(t *testing.T, cs kubernetes.Interface, worlds []*world, want map[string]string, after string) {
	t.Helper()
	eps, err := listEndpoints(context.Background(), cs, worlds)
	if err != nil {
		t.Fatal(err)
	}
	for key, rv := range want {
		if ep := eps[key]; ep == nil {
			t.Errorf("after %s: Endpoints %s (no controller's) were deleted", after, key)
		} else if ep.ResourceVersion != rv {
			t.Errorf("after %s: Endpoints %s (no controller's) were written: rv %s -> %s", after, key, rv, ep.ResourceVersion)
		}
	}
}

// reset undoes the first controller's work: Endpoints it wrote are deleted,
// and the orphans and pre-existing Endpoints are re-created as generated.
func reset(t *testing.T, cs kubernetes.Interface, worlds []*world) {
	t.Helper()
	ctx := context.Background()
	for _, w := range worlds {
		api := cs.CoreV1().Endpoints(w.ns)
		list, err := api.List(ctx, metav1.ListOptions{LabelSelector: managedByLabel})
		if err != nil {
			t.Fatal(err)
		}
		for _, ep := range list.Items {
			if err := api.Delete(ctx, ep.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				t.Fatalf("deleting endpoints %s/%s: %v", w.ns, ep.Name, err)
			}
		}
		for _, ep := range slices.Concat(w.orphans, w.existing) {
			if err := api.Delete(ctx, ep.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				t.Fatalf("deleting endpoints %s/%s: %v", w.ns, ep.Name, err)
			}
			if _, err := api.Create(ctx, ep, metav1.CreateOptions{}); err != nil {
				t.Fatalf("re-creating endpoints %s/%s: %v", w.ns, ep.Name, err)
			}
		}
	}
}
