package controller

import (
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
)

// trim drops what the controller never reads before objects enter the
// caches: pods become endpoints.Pod (identity, labels, the fields an
// address and its ports are made of, readiness), a fifth of their size.
// Services keep only what Endpoints are computed from. Endpoints keep their
// annotations, since updates write them back.
func trim(obj any) (any, error) {
	switch o := obj.(type) {
	case *v1.Pod: // from a client that is not a REST client
		return endpoints.NewPod(o), nil
	case *v1.Service:
		return trimService(o), nil
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

// trimService keeps the fields of a Service that its Endpoints are made
// of, and its identity: the rest (status, cluster IPs, annotations,
// managed fields…) would double the cache for nothing.
func trimService(s *v1.Service) *v1.Service {
	return &v1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: s.Namespace, Name: s.Name, UID: s.UID, ResourceVersion: s.ResourceVersion,
			Labels: s.Labels, CreationTimestamp: s.CreationTimestamp, DeletionTimestamp: s.DeletionTimestamp,
		},
		Spec: v1.ServiceSpec{
			Type: s.Spec.Type, Selector: s.Spec.Selector, Ports: s.Spec.Ports, ClusterIP: s.Spec.ClusterIP,
			IPFamilies: s.Spec.IPFamilies, PublishNotReadyAddresses: s.Spec.PublishNotReadyAddresses,
		},
	}
}
