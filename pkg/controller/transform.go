package controller

import (
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// NewInformerFactory returns the informer factory the controller expects:
// caches trimmed to what the controller reads, for all namespaces or for
// one (tests).
func NewInformerFactory(client kubernetes.Interface, namespace string) informers.SharedInformerFactory {
	opts := []informers.SharedInformerOption{informers.WithTransform(trim)}
	if namespace != "" {
		opts = append(opts, informers.WithNamespace(namespace))
	}
	return informers.NewSharedInformerFactoryWithOptions(client, 0, opts...)
}

// trim drops what the controller never reads before objects enter the
// caches: pods keep only identity, labels, the fields an address and its
// ports are made of, and the Ready condition. Most of a pod's size
// (managed fields, annotations, env, volumes, container statuses) goes.
// Endpoints keep their annotations, since updates write them back.
func trim(obj any) (any, error) {
	switch o := obj.(type) {
	case *v1.Pod:
		return trimPod(o), nil
	case *v1.Service:
		o.ManagedFields = nil
		o.Annotations = nil
		return o, nil
	case *v1.Endpoints:
		o.ManagedFields = nil
		return o, nil
	case cache.DeletedFinalStateUnknown:
		inner, err := trim(o.Obj)
		o.Obj = inner
		return o, err
	}
	return obj, nil
}

func trimPod(p *v1.Pod) *v1.Pod {
	out := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:              p.Name,
			Namespace:         p.Namespace,
			UID:               p.UID,
			ResourceVersion:   p.ResourceVersion,
			Labels:            p.Labels,
			DeletionTimestamp: p.DeletionTimestamp,
		},
		Spec: v1.PodSpec{
			NodeName:  p.Spec.NodeName,
			Hostname:  p.Spec.Hostname,
			Subdomain: p.Spec.Subdomain,
		},
		Status: v1.PodStatus{
			Phase:  p.Status.Phase,
			PodIP:  p.Status.PodIP,
			PodIPs: p.Status.PodIPs,
		},
	}
	out.Spec.Containers = trimContainers(p.Spec.Containers, false)
	out.Spec.InitContainers = trimContainers(p.Spec.InitContainers, true)
	for _, c := range p.Status.Conditions {
		if c.Type == v1.PodReady {
			out.Status.Conditions = []v1.PodCondition{{Type: c.Type, Status: c.Status, LastTransitionTime: c.LastTransitionTime}}
			break
		}
	}
	return out
}

// trimContainers keeps the ports of containers that can serve: all regular
// containers, and init containers running as sidecars (restartPolicy
// Always), which named target ports may point at.
func trimContainers(cs []v1.Container, sidecarsOnly bool) []v1.Container {
	var out []v1.Container
	for _, c := range cs {
		if len(c.Ports) == 0 {
			continue
		}
		if sidecarsOnly && (c.RestartPolicy == nil || *c.RestartPolicy != v1.ContainerRestartPolicyAlways) {
			continue
		}
		out = append(out, v1.Container{Name: c.Name, Ports: c.Ports, RestartPolicy: c.RestartPolicy})
	}
	return out
}
