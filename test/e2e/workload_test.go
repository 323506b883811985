package e2e

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// convergeTimeout bounds how long Endpoints may take to follow pods: kwok,
// the scheduler and the ReplicaSet controller all sit in between, on a
// loaded 2-core machine.
const convergeTimeout = 60 * time.Second

func clientset() kubernetes.Interface { return framework.Clientset(cluster.Config) }

// newNamespace is framework.NewNamespace plus deleting Deployments first, so
// that their ReplicaSets do not keep recreating pods during cleanup.
func newNamespace(t *testing.T) string {
	t.Helper()
	cs := clientset()
	ns := framework.NewNamespace(t, cs)
	t.Cleanup(func() { // runs before NewNamespace's cleanup
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		bg := metav1.DeletePropagationBackground
		err := cs.AppsV1().Deployments(ns).DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &bg}, metav1.ListOptions{})
		if err != nil {
			t.Logf("deleting Deployments in %s: %v", ns, err)
		}
		_ = cs.AppsV1().ReplicaSets(ns).DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &bg}, metav1.ListOptions{})
	})
	return ns
}

// createWeb creates a Deployment and a Service named name like
// deploy/examples/web: pods on the kwok nodes with named ports http (8080)
// and metrics (9090), which the Service targets by name.
func createWeb(t *testing.T, ns, name string, replicas int32) {
	t.Helper()
	ctx := t.Context()
	labels := map[string]string{"app": name}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: v1.PodSpec{
					NodeSelector: map[string]string{framework.KwokNodeLabel: framework.KwokNodeValue},
					// No kubelet runs pods down: let deletions go at once.
					TerminationGracePeriodSeconds: new(int64),
					Containers: []v1.Container{{
						Name: "web", Image: "registry.k8s.io/pause:3.10",
						Ports: []v1.ContainerPort{
							{Name: "http", ContainerPort: 8080, Protocol: v1.ProtocolTCP},
							{Name: "metrics", ContainerPort: 9090, Protocol: v1.ProtocolTCP},
						},
					}},
				},
			},
		},
	}
	if _, err := clientset().AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating Deployment %s/%s: %v", ns, name, err)
	}
	svc := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1.ServiceSpec{
			Selector: labels,
			Ports: []v1.ServicePort{
				{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: v1.ProtocolTCP},
				{Name: "metrics", Port: 9090, TargetPort: intstr.FromString("metrics"), Protocol: v1.ProtocolTCP},
			},
		},
	}
	if _, err := clientset().CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating Service %s/%s: %v", ns, name, err)
	}
}

func scale(t *testing.T, ns, name string, replicas int32) {
	t.Helper()
	// A patch: the Deployment controller updates the object all the time.
	patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas)
	_, err := clientset().AppsV1().Deployments(ns).Patch(t.Context(), name, types.MergePatchType, patch, metav1.PatchOptions{}, "scale")
	if err != nil {
		t.Fatalf("scaling %s/%s to %d: %v", ns, name, replicas, err)
	}
}

// podIPs returns the IPs of the Service's live pods (not being deleted,
// with an IP, not terminal), split by their Ready condition.
func podIPs(ctx context.Context, ns string, selector map[string]string) (ready, notReady []string, err error) {
	pods, err := clientset().CoreV1().Pods(ns).List(ctx, metav1.ListOptions{
		LabelSelector: metav1.FormatLabelSelector(&metav1.LabelSelector{MatchLabels: selector}),
	})
	if err != nil {
		return nil, nil, err
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || p.Status.PodIP == "" ||
			p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed {
			continue
		}
		if p.Status.Phase == v1.PodRunning && podReady(&p) {
			ready = append(ready, p.Status.PodIP)
		} else {
			notReady = append(notReady, p.Status.PodIP)
		}
	}
	sort.Strings(ready)
	sort.Strings(notReady)
	return ready, notReady, nil
}

func podReady(p *v1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == v1.PodReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}

// endpointIPs returns the addresses and notReadyAddresses of an Endpoints,
// checking on the way that every subset carries exactly wantPorts
// (name:port, sorted).
func endpointIPs(ep *v1.Endpoints, wantPorts []string) (ready, notReady []string, err error) {
	for _, ss := range ep.Subsets {
		var ports []string
		for _, p := range ss.Ports {
			ports = append(ports, fmt.Sprintf("%s:%d", p.Name, p.Port))
		}
		sort.Strings(ports)
		if !slices.Equal(ports, wantPorts) {
			return nil, nil, fmt.Errorf("subset ports %v, want %v", ports, wantPorts)
		}
	}
	ready, notReady = addressIPs(ep)
	return ready, notReady, nil
}

// addressIPs lists the ready and not-ready IPs of every subset, sorted.
func addressIPs(ep *v1.Endpoints) (ready, notReady []string) {
	for _, ss := range ep.Subsets {
		for _, a := range ss.Addresses {
			ready = append(ready, a.IP)
		}
		for _, a := range ss.NotReadyAddresses {
			notReady = append(notReady, a.IP)
		}
	}
	sort.Strings(ready)
	sort.Strings(notReady)
	return ready, notReady
}

var webPorts = []string{"http:8080", "metrics:9090"}

// waitEndpointsFollowPods waits until the web Service's Endpoints list
// exactly the pod IPs, ready and not ready as the pods are, with
// wantReady ready pods (so a rollout still under way does not count).
func waitEndpointsFollowPods(t *testing.T, ns, name string, wantReady, wantNotReady int) {
	t.Helper()
	start := time.Now()
	framework.Eventually(t, convergeTimeout, func() error {
		return endpointsFollowPods(t.Context(), ns, name, wantReady, wantNotReady)
	})
	t.Logf("%s/%s: Endpoints follow the pods (%d ready, %d not ready) after %s",
		ns, name, wantReady, wantNotReady, time.Since(start).Round(10*time.Millisecond))
}

func endpointsFollowPods(ctx context.Context, ns, name string, wantReady, wantNotReady int) error {
	ready, notReady, err := podIPs(ctx, ns, map[string]string{"app": name})
	if err != nil {
		return err
	}
	if len(ready) != wantReady || len(notReady) != wantNotReady {
		return fmt.Errorf("pods: %d ready %v, %d not ready %v; waiting for %d and %d",
			len(ready), ready, len(notReady), notReady, wantReady, wantNotReady)
	}
	ep, err := clientset().CoreV1().Endpoints(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	epReady, epNotReady, err := endpointIPs(ep, webPorts)
	if err != nil {
		return err
	}
	if !slices.Equal(epReady, ready) || !slices.Equal(epNotReady, notReady) {
		return fmt.Errorf("Endpoints: ready %v notReady %v; pods: ready %v notReady %v",
			epReady, epNotReady, ready, notReady)
	}
	return nil
}
