package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// seedConcurrency is how many API calls seeding and resets keep in flight.
const seedConcurrency = 64

// parallel calls fn(i) for i in [0, n) on up to conc goroutines and returns
// the first error; after one, no new calls start.
func parallel(ctx context.Context, n, conc int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && err != context.Canceled {
		return err
	}
	return nil
}

// seed creates w's namespaces, Services and pods, and writes every pod's
// status (IP, Running, Ready) as a kubelet would.
func seed(ctx context.Context, cs kubernetes.Interface, w *world) error {
	for _, ns := range w.namespaces {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("creating namespace %s: %w", ns, err)
		}
	}
	err := parallel(ctx, len(w.services), seedConcurrency, func(ctx context.Context, i int) error {
		s := w.services[i]
		svc := &v1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: s.name, Labels: map[string]string{"bench": w.name}},
			Spec: v1.ServiceSpec{
				Selector: s.selector,
				Ports:    []v1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: v1.ProtocolTCP}},
			},
		}
		_, err := cs.CoreV1().Services(s.ns).Create(ctx, svc, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("creating services: %w", err)
	}
	w.objs = make([]*v1.Pod, len(w.pods))
	err = parallel(ctx, len(w.pods), seedConcurrency, func(ctx context.Context, i int) error {
		p := w.pods[i]
		pod := podManifest(p)
		if w.richPods {
			scalePodShape(pod)
		}
		created, err := cs.CoreV1().Pods(p.ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		created.Status = kubeletStatus(p, metav1.Now())
		if w.richPods {
			scalePodStatus(&created.Status, p)
		}
		updated, err := cs.CoreV1().Pods(p.ns).UpdateStatus(ctx, created, metav1.UpdateOptions{})
		if err != nil {
			return err
		}
		w.objs[i] = updated
		return nil
	})
	if err != nil {
		return fmt.Errorf("creating pods: %w", err)
	}
	return nil
}

// setPodReady writes pod i's Ready condition, from the copy last written
// (only the test writes pods), re-reading it on a conflict.
func setPodReady(ctx context.Context, cs kubernetes.Interface, w *world, i int, ready bool) error {
	cur := w.objs[i]
	for attempt := 0; ; attempt++ {
		pod := cur.DeepCopy()
		setReadiness(&pod.Status, ready, metav1.Now())
		updated, err := cs.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		if err == nil {
			w.objs[i] = updated
			return nil
		}
		if !apierrors.IsConflict(err) || attempt == 5 {
			return err
		}
		if cur, err = cs.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{}); err != nil {
			return err
		}
	}
}

// podReady reads pod i's readiness from the API server.
func podReady(ctx context.Context, cs kubernetes.Interface, w *world, i int) (bool, error) {
	pod, err := cs.CoreV1().Pods(w.pods[i].ns).Get(ctx, w.pods[i].name, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	w.objs[i] = pod
	for _, c := range pod.Status.Conditions {
		if c.Type == v1.PodReady {
			return c.Status == v1.ConditionTrue, nil
		}
	}
	return false, nil
}

// deleteEndpoints deletes every Endpoints of w's namespaces.
func deleteEndpoints(ctx context.Context, cs kubernetes.Interface, w *world) error {
	return parallel(ctx, len(w.namespaces), len(w.namespaces), func(ctx context.Context, i int) error {
		ns := w.namespaces[i]
		if err := cs.CoreV1().Endpoints(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
			return fmt.Errorf("deleting endpoints of %s: %w", ns, err)
		}
		return nil
	})
}

// deleteWorld removes w from the cluster. No namespace controller runs, so
// it deletes the contents and then finalizes each namespace itself.
func deleteWorld(ctx context.Context, cs kubernetes.Interface, w *world) error {
	now := metav1.DeleteOptions{GracePeriodSeconds: new(int64)} // no kubelet to wait for
	// kube-apiserver deletes a collection one object at a time, within one
	// request's 60s: 20k pods of one namespace do not fit. Delete them one
	// by one, many at a time.
	err := parallel(ctx, len(w.pods), seedConcurrency, func(ctx context.Context, i int) error {
		p := w.pods[i]
		err := cs.CoreV1().Pods(p.ns).Delete(ctx, p.name, now)
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting pod %s/%s: %w", p.ns, p.name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Services have no DeleteCollection.
	err = parallel(ctx, len(w.services), seedConcurrency, func(ctx context.Context, i int) error {
		s := w.services[i]
		err := cs.CoreV1().Services(s.ns).Delete(ctx, s.name, metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("deleting services: %w", err)
	}
	if err := deleteEndpoints(ctx, cs, w); err != nil {
		return err
	}
	for _, name := range w.namespaces {
		if err := cs.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		ns, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		} else if err != nil {
			return err
		}
		ns.Spec.Finalizers = nil
		if _, err := cs.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// writeCounts are kube-apiserver's counts of requests writing Endpoints.
type writeCounts struct {
	writes    float64 // create, update, patch, delete (not deletecollection: the test's)
	conflicts float64 // of which answered 409 Conflict
}

var labelRE = regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)

// endpointsWrites reads apiserver_request_total from kube-apiserver's
// /metrics and sums the writes of Endpoints.
func endpointsWrites(ctx context.Context, cs kubernetes.Interface) (writeCounts, error) {
	body, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return writeCounts{}, fmt.Errorf("reading kube-apiserver /metrics: %w", err)
	}
	return parseEndpointsWrites(body)
}

func parseEndpointsWrites(body []byte) (writeCounts, error) {
	var wc writeCounts
	found := false
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "apiserver_request_total{")
		if !ok {
			continue
		}
		found = true
		end := strings.LastIndexByte(rest, '}')
		if end < 0 {
			continue
		}
		labels := map[string]string{}
		for _, m := range labelRE.FindAllStringSubmatch(rest[:end], -1) {
			labels[m[1]] = m[2]
		}
		if labels["resource"] != "endpoints" || labels["group"] != "" || labels["subresource"] != "" {
			continue
		}
		switch strings.ToUpper(labels["verb"]) {
		case "POST", "CREATE", "PUT", "UPDATE", "PATCH", "APPLY", "DELETE":
		default:
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest[end+1:]), 64)
		if err != nil {
			return wc, fmt.Errorf("parsing %q: %w", line, err)
		}
		wc.writes += v
		if labels["code"] == "409" {
			wc.conflicts += v
		}
	}
	if err := sc.Err(); err != nil {
		return wc, err
	}
	if !found {
		return wc, fmt.Errorf("no apiserver_request_total in /metrics")
	}
	return wc, nil
}
