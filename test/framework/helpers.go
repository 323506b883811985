package framework

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
)

// Clientset returns a clientset for cfg. It panics on an invalid config,
// which is a bug in the test, not a condition to handle.
func Clientset(cfg *rest.Config) *kubernetes.Clientset {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		panic(fmt.Sprintf("framework: clientset: %v", err))
	}
	return cs
}

// Eventually calls fn every 50ms until it returns nil, and fails the test
// with fn's last error if that does not happen within timeout.
func Eventually(t testing.TB, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var nonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// NewNamespace creates a namespace named after the test plus a random
// suffix, and deletes it when the test ends. No namespace controller runs,
// so cleanup deletes the objects tests create and then finalizes the
// namespace itself; otherwise it would stay Terminating with its contents.
func NewNamespace(t testing.TB, cs kubernetes.Interface) string {
	t.Helper()
	prefix := strings.Trim(nonDNS.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(prefix) > 40 {
		prefix = strings.TrimRight(prefix[:40], "-")
	}
	name := fmt.Sprintf("%s-%06x", prefix, rand.IntN(1<<24))
	ns := &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := cs.CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() { deleteNamespace(t, cs, name) })
	return name
}

func deleteNamespace(t testing.TB, cs kubernetes.Interface, name string) {
	// t.Context() is already cancelled when cleanups run.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	all := metav1.ListOptions{}
	now := metav1.DeleteOptions{GracePeriodSeconds: new(int64)} // no kubelet to wait for
	var errs []error
	// Services have no DeleteCollection.
	if svcs, err := cs.CoreV1().Services(name).List(ctx, all); err == nil {
		for _, svc := range svcs.Items {
			errs = append(errs, cs.CoreV1().Services(name).Delete(ctx, svc.Name, metav1.DeleteOptions{}))
		}
	}
	errs = append(errs,
		cs.CoreV1().Pods(name).DeleteCollection(ctx, now, all),
		cs.CoreV1().Endpoints(name).DeleteCollection(ctx, metav1.DeleteOptions{}, all),
		cs.DiscoveryV1().EndpointSlices(name).DeleteCollection(ctx, metav1.DeleteOptions{}, all),
		cs.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}),
	)
	if ns, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{}); err == nil {
		ns.Spec.Finalizers = nil
		_, err = cs.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{})
		errs = append(errs, err)
	}
	for _, err := range errs {
		if err != nil {
			t.Logf("cleaning up namespace %s: %v", name, err)
		}
	}
}

// MakePod returns (does not create) a pod with one pause container.
func MakePod(ns, name string, labels map[string]string, mutators ...func(*v1.Pod)) *v1.Pod {
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: v1.PodSpec{
			Containers: []v1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}},
		},
	}
	for _, m := range mutators {
		m(pod)
	}
	return pod
}

// WithContainerPort adds a named port to the pod's first container, so
// Services can target it by name.
func WithContainerPort(name string, port int32, proto v1.Protocol) func(*v1.Pod) {
	return func(p *v1.Pod) {
		c := &p.Spec.Containers[0]
		c.Ports = append(c.Ports, v1.ContainerPort{Name: name, ContainerPort: port, Protocol: proto})
	}
}

// WithNodeName binds the pod to a node (none needs to exist).
func WithNodeName(node string) func(*v1.Pod) {
	return func(p *v1.Pod) { p.Spec.NodeName = node }
}

// SetPodStatus plays the kubelet: it writes podIP/podIPs, phase and the Ready
// condition (LastTransitionTime now) through the status subresource. It works
// on the latest version of the pod, retrying on conflicts, and returns it.
func SetPodStatus(ctx context.Context, cs kubernetes.Interface, pod *v1.Pod, ips []string, ready bool, phase v1.PodPhase) (*v1.Pod, error) {
	var updated *v1.Pod
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := cs.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Status.Phase = phase
		cur.Status.PodIP, cur.Status.PodIPs = "", nil
		for _, ip := range ips {
			cur.Status.PodIPs = append(cur.Status.PodIPs, v1.PodIP{IP: ip})
		}
		if len(ips) > 0 {
			cur.Status.PodIP = ips[0]
		}
		cond := v1.PodCondition{Type: v1.PodReady, Status: v1.ConditionFalse, LastTransitionTime: metav1.Now()}
		if ready {
			cond.Status = v1.ConditionTrue
		}
		conds := []v1.PodCondition{cond}
		for _, c := range cur.Status.Conditions {
			if c.Type != v1.PodReady {
				conds = append(conds, c)
			}
		}
		cur.Status.Conditions = conds
		updated, err = cs.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	return updated, err
}

// KubeconfigVia writes a copy of the kubeconfig at path whose server is
// server (a proxy in front of the API server, say) into a temporary folder
// of t's. The API server's certificate is valid for any 127.0.0.1 port,
// so the same CA and client certificate work.
func KubeconfigVia(t testing.TB, path, server string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Clusters {
		c.Server = server
	}
	out := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, out); err != nil {
		t.Fatal(err)
	}
	return out
}
