package promsd

import (
	"context"
	"fmt"
	"slices"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// The scenario's objects. Pods are bare and have fixed names and nodes, so
// that the two runs can be compared with pod names as identities; kwok plays
// their kubelet (Running, Ready, an IP).
const (
	app      = "web"
	svcName  = "web"          // ClusterIP, ports http and metrics by name
	headless = "web-headless" // clusterIP None, publishNotReadyAddresses
)

// step changes the cluster; SD must then follow.
type step struct {
	name string
	do   func(ctx context.Context, cs kubernetes.Interface, ns string) error
}

var scenario = []step{
	{"two pods", func(ctx context.Context, cs kubernetes.Interface, ns string) error {
		for _, svc := range []*v1.Service{webService(ns), headlessService(ns)} {
			if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
				return err
			}
		}
		return createPods(ctx, cs, webPod(ns, "web-0", 0, 8080, true), webPod(ns, "web-1", 1, 8080, true))
	}},
	// web-3 serves http on another port number and has no metrics port:
	// the named targetPort resolves per pod.
	{"scale up to four", func(ctx context.Context, cs kubernetes.Interface, ns string) error {
		return createPods(ctx, cs, webPod(ns, "web-2", 0, 8080, true), webPod(ns, "web-3", 1, 8081, false))
	}},
	{"web-1 not ready", func(ctx context.Context, cs kubernetes.Interface, ns string) error {
		return setReady(ctx, cs, ns, "web-1", false)
	}},
	{"web-1 ready again", func(ctx context.Context, cs kubernetes.Interface, ns string) error {
		return setReady(ctx, cs, ns, "web-1", true)
	}},
	{"scale down to two", func(ctx context.Context, cs kubernetes.Interface, ns string) error {
		for _, name := range []string{"web-0", "web-2"} {
			// No kubelet runs pods down: gone at once.
			if err := cs.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
				return err
			}
		}
		return nil
	}},
	{"headless Service deleted", func(ctx context.Context, cs kubernetes.Interface, ns string) error {
		return cs.CoreV1().Services(ns).Delete(ctx, headless, metav1.DeleteOptions{})
	}},
}

func webService(ns string) *v1.Service {
	return &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svcName, Labels: map[string]string{"tier": "frontend"}},
		Spec: v1.ServiceSpec{
			Selector: map[string]string{"app": app},
			Ports: []v1.ServicePort{
				{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: v1.ProtocolTCP},
				{Name: "metrics", Port: 9090, TargetPort: intstr.FromString("metrics"), Protocol: v1.ProtocolTCP},
			},
		},
	}
}

func headlessService(ns string) *v1.Service {
	return &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: headless},
		Spec: v1.ServiceSpec{
			ClusterIP:                v1.ClusterIPNone,
			Selector:                 map[string]string{"app": app},
			PublishNotReadyAddresses: true,
			Ports:                    []v1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstr.FromString("http"), Protocol: v1.ProtocolTCP}},
		},
	}
}

// webPod is a pod on fake node nodeIndex with a named http port and,
// withMetrics, a metrics port; hostname and subdomain give it a hostname in
// the headless Service's Endpoints.
func webPod(ns, name string, nodeIndex int, httpPort int32, withMetrics bool) *v1.Pod {
	mutators := []func(*v1.Pod){
		framework.WithNodeName(cluster.Nodes[nodeIndex]),
		framework.WithContainerPort("http", httpPort, v1.ProtocolTCP),
		func(p *v1.Pod) {
			p.Spec.Hostname, p.Spec.Subdomain = name, headless
			p.Spec.TerminationGracePeriodSeconds = new(int64)
		},
	}
	if withMetrics {
		mutators = append(mutators, framework.WithContainerPort("metrics", 9090, v1.ProtocolTCP))
	}
	return framework.MakePod(ns, name, map[string]string{"app": app}, mutators...)
}

func createPods(ctx context.Context, cs kubernetes.Interface, pods ...*v1.Pod) error {
	for _, p := range pods {
		if _, err := cs.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// setReady writes the pod's Ready condition as a kubelet whose readiness
// probe flips would; kwok leaves Running pods' conditions alone.
func setReady(ctx context.Context, cs kubernetes.Interface, ns, name string, ready bool) error {
	pod, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	_, err = framework.SetPodStatus(ctx, cs, pod, []string{pod.Status.PodIP}, ready, pod.Status.Phase)
	return err
}

// expectedTargets is what SD must show for the pods and Services as they
// are now, as targetKeys: one per Service port and pod that backs it (the
// port resolved by name in the pod, ready unless the pod is not Ready and
// the Service does not publish not-ready addresses; every targetPort in
// the scenario is a name), plus one per
// container port of such a pod that no Service port covers, which
// Prometheus adds too.
func expectedTargets(ctx context.Context, cs kubernetes.Interface, ns string) ([]string, error) {
	svcs, err := cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, svc := range svcs.Items {
		if len(svc.Spec.Selector) == 0 { // no controller writes its Endpoints
			continue
		}
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		for _, pod := range pods.Items {
			if !sel.Matches(labels.Set(pod.Labels)) || pod.Status.PodIP == "" || pod.DeletionTimestamp != nil {
				continue
			}
			ready := podReady(&pod) || svc.Spec.PublishNotReadyAddresses
			var covered []int32
			for _, sp := range svc.Spec.Ports {
				if port, ok := containerPort(&pod, sp.TargetPort.StrVal); ok {
					keys = append(keys, endpointKey(svc.Name, pod.Name, sp.Name, ready))
					covered = append(covered, port)
				}
			}
			if len(covered) == 0 {
				continue
			}
			for _, c := range pod.Spec.Containers {
				for _, cp := range c.Ports {
					if !slices.Contains(covered, cp.ContainerPort) {
						keys = append(keys, containerKey(svc.Name, pod.Name, cp.Name))
					}
				}
			}
		}
	}
	slices.Sort(keys)
	return keys, nil
}

func containerPort(pod *v1.Pod, name string) (int32, bool) {
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return p.ContainerPort, true
			}
		}
	}
	return 0, false
}

func podReady(pod *v1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == v1.PodReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}

// A target key names a target by Service, pod and port, with its readiness.
func endpointKey(svc, pod, port string, ready bool) string {
	return fmt.Sprintf("%s %s %s ready=%t", svc, pod, port, ready)
}

func containerKey(svc, pod, port string) string {
	return fmt.Sprintf("%s %s container-port %s", svc, pod, port)
}
