package parity

import (
	"fmt"
	"strconv"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// big adds n pods in four shards and Services over them. Addresses count
// once per subset, and pods lacking the named port form a second port
// group; readiness is fixed per shard (shard 3 mostly not ready) so that,
// with n = 1400, every truncation path is taken: big-all has over 1000
// ready addresses (ready ones cut, not-ready dropped), big-upper (shards
// 2-3) fewer than 1000 ready but over 1000 in all (not-ready ones cut),
// big-headless publishes all as ready; big-shard is not cut.
func (g *gen) big(n int) {
	for i := range n {
		shard := i % 4
		labels := map[string]string{"app": "big", "shard": strconv.Itoa(shard)}
		if shard >= 2 {
			labels["upper"] = "yes"
		}
		pod := &v1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("big-%d", i), Namespace: g.w.ns, Labels: labels},
			Spec: v1.PodSpec{
				NodeName:   pick(g, nodes),
				Containers: []v1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}},
			},
		}
		if i%10 != 0 {
			pod.Spec.Containers[0].Ports = []v1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: v1.ProtocolTCP}}
		}
		ready := i%40 != 1
		if shard == 3 {
			ready = i%20 == 3
		}
		g.w.pods = append(g.w.pods, &genPod{pod: pod, ips: []string{g.ipv4()}, phase: v1.PodRunning, ready: &ready})
	}
	mk := func(name string, sel map[string]string, mut func(*v1.ServiceSpec)) {
		svc := &v1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: g.w.ns, Labels: map[string]string{"size": "big"}},
			Spec: v1.ServiceSpec{Selector: sel}}
		mut(&svc.Spec)
		g.w.services = append(g.w.services, svc)
	}
	twoPorts := func(s *v1.ServiceSpec) {
		s.Ports = []v1.ServicePort{
			{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: v1.ProtocolTCP},
			{Name: "raw", Port: 9000, Protocol: v1.ProtocolTCP},
		}
	}
	mk("big-all", map[string]string{"app": "big"}, twoPorts)
	mk("big-upper", map[string]string{"app": "big", "upper": "yes"}, twoPorts)
	mk("big-headless", map[string]string{"app": "big"}, func(s *v1.ServiceSpec) {
		s.ClusterIP, s.PublishNotReadyAddresses = v1.ClusterIPNone, true
	})
	mk("big-shard", map[string]string{"app": "big", "shard": "0"}, func(s *v1.ServiceSpec) {
		s.Ports = []v1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: v1.ProtocolTCP}}
	})
}
