package controller

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
	"github.com/endpoints-controller/endpoints-controller/pkg/lean"
)

// trim drops what the controller never reads before objects enter the
// caches: pods become the pod view (identity, labels, the fields an
// address and its ports are made of, readiness), a fifth of their size,
// whether the standard decoder read them as v1.Pod or the lean one
// straight into the view.
// Services keep only what Endpoints are computed from. Endpoints keep what
// updates write back (foreign annotations among it), see trimEndpoints.
func trim(obj any) (any, error) {
	switch o := obj.(type) {
	case *v1.Pod: // the standard decoder, or a client that is not a REST client
		return cachePod(endpoints.NewPod(o)), nil
	case *lean.Pod:
		return cachePod(&o.Pod), nil
	case *v1.Service:
		return trimService(o), nil
	case *v1.Endpoints, *lean.EncodedEndpoints:
		ep, err := trimmedEndpoints(o)
		if err != nil {
			return nil, err
		}
		return cacheEndpoints(ep, false), nil
	case cache.DeletedFinalStateUnknown:
		inner, err := trim(o.Obj)
		o.Obj = inner
		return o, err
	}
	return obj, nil
}

// trimEndpointsEvent is trim for the Endpoints cache, where the echo of a
// write of this controller's is not decoded in full (see echo), and
// canonical subsets are kept as their digest, except in shadow mode, which
// reports how they differ.
func (c *Controller) trimEndpointsEvent(obj any) (any, error) {
	var ep *v1.Endpoints
	switch o := obj.(type) {
	case *lean.EncodedEndpoints:
		ep = c.written.echo(o.Namespace+"/"+o.Name, o)
	case *v1.Endpoints: // trimmed below
	default:
		return trim(obj)
	}
	if ep == nil {
		var err error
		if ep, err = trimmedEndpoints(obj); err != nil {
			return nil, err
		}
	}
	return cacheEndpoints(ep, !c.opts.Shadow), nil
}

// trimmedEndpoints is obj, an Endpoints as either decoder reads it,
// decoded and trimmed.
func trimmedEndpoints(obj any) (*v1.Endpoints, error) {
	switch o := obj.(type) {
	case *v1.Endpoints:
		return trimEndpoints(o), nil
	case *lean.EncodedEndpoints:
		ep, err := o.Decode()
		if err != nil {
			return nil, err
		}
		return trimEndpoints(ep), nil
	}
	return nil, fmt.Errorf("not an Endpoints: %T", obj)
}

// trimService keeps the fields of a Service that its Endpoints are made
// of, and its identity: the rest (status, cluster IPs, annotations,
// managed fields…) would double the cache for nothing.
func trimService(s *v1.Service) *v1.Service {
	return &v1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: s.Namespace, Name: s.Name, UID: s.UID, ResourceVersion: s.ResourceVersion,
			Labels: endpoints.InternLabels(s.Labels), CreationTimestamp: s.CreationTimestamp, DeletionTimestamp: s.DeletionTimestamp,
		},
		Spec: v1.ServiceSpec{
			Type: s.Spec.Type, Selector: endpoints.InternLabels(s.Spec.Selector), Ports: s.Spec.Ports, ClusterIP: s.Spec.ClusterIP,
			IPFamilies: s.Spec.IPFamilies, PublishNotReadyAddresses: s.Spec.PublishNotReadyAddresses,
		},
	}
}

// trimEndpoints drops from a cached Endpoints what no write or comparison
// reads: managed fields, and the trigger-time annotation, which every write
// sets or removes afresh (one map and timestamp per Endpoints). Labels and
// the strings repeated across addresses are shared.
func trimEndpoints(ep *v1.Endpoints) *v1.Endpoints {
	ep.ManagedFields = nil
	ep.Annotations = dropTriggerTime(ep.Annotations)
	ep.Labels = endpoints.InternLabels(ep.Labels)
	for i := range ep.Subsets {
		internAddresses(ep.Subsets[i].Addresses)
		internAddresses(ep.Subsets[i].NotReadyAddresses)
	}
	return ep
}

// dropTriggerTime deletes the trigger-time annotation from annotations,
// returning nil when none are left.
func dropTriggerTime(annotations map[string]string) map[string]string {
	delete(annotations, v1.EndpointsLastChangeTriggerTime)
	if len(annotations) == 0 {
		return nil
	}
	return annotations
}

func internAddresses(addrs []v1.EndpointAddress) {
	for i := range addrs {
		a := &addrs[i]
		if a.NodeName != nil {
			*a.NodeName = endpoints.Intern(*a.NodeName)
		}
		if r := a.TargetRef; r != nil {
			r.Kind, r.Namespace = endpoints.Intern(r.Kind), endpoints.Intern(r.Namespace)
		}
	}
}
