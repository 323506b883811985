package controller

import (
	"context"
	"fmt"

	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
)

// Source is where the controller learns which pods a Service has.
type Source string

const (
	// SourcePods watches pods and applies the Endpoints rules to them.
	SourcePods Source = "pods"
	// SourceEndpointSlices watches the EndpointSlices the built-in
	// EndpointSlice controller keeps (one per ≤100 pods and IP family)
	// instead: no pod is listed, watched or cached.
	SourceEndpointSlices Source = "endpointslices"
)

// ParseSource returns the Source named s.
func ParseSource(s string) (Source, error) {
	switch src := Source(s); src {
	case SourcePods, SourceEndpointSlices:
		return src, nil
	}
	return "", fmt.Errorf("unknown source %q: want %s or %s", s, SourcePods, SourceEndpointSlices)
}

// sliceSelector restricts the slice informer, server-side, to the slices
// of the EndpointSlice controller that name their Service: mirrored
// slices (selector-less Services) and other writers' are never listed.
var sliceSelector = endpoints.SliceSelectorManagedBy + "," + endpoints.SliceSelectorServiceName

// sliceByService indexes slices by namespace/Service name.
const sliceByService = "service"

// WithEndpointSlices makes the informers read the Services' pods from their
// EndpointSlices, in the same scope, instead of from pods: New then wires
// no pod informer. Slices are read with client-go's typed decoding, in the
// client's content type (protobuf by default), and trimmed in the cache to
// what ComputeFromSlices reads.
func (i *Informers) WithEndpointSlices(client kubernetes.Interface) *Informers {
	_, tweak := i.scope.tweaks() // excluded namespaces; Service labels do not apply
	i.slices, i.podType = true, nil
	for n := range i.sets {
		set := &i.sets[n]
		api := client.DiscoveryV1().EndpointSlices(set.namespace)
		set.pods = nil
		set.slices = withOptions(listWatch(client,
			func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				o.LabelSelector = sliceSelector
				return api.List(ctx, o)
			},
			func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				o.LabelSelector = sliceSelector
				return api.Watch(ctx, o)
			}), tweak)
	}
	return i
}

// sliceServiceIndex is the sliceByService index function.
func sliceServiceIndex(obj any) ([]string, error) {
	s, ok := obj.(*discovery.EndpointSlice)
	if !ok {
		return nil, nil
	}
	if name := s.Labels[discovery.LabelServiceName]; name != "" {
		return []string{s.Namespace + "/" + name}, nil
	}
	return nil, nil
}

// serviceSlices returns the cached slices of the Service key (ns/name).
func serviceSlices(idx cache.Indexer, key string) ([]*discovery.EndpointSlice, error) {
	objs, err := idx.ByIndex(sliceByService, key)
	if err != nil {
		return nil, err
	}
	out := make([]*discovery.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		if s, ok := o.(*discovery.EndpointSlice); ok {
			out = append(out, s)
		}
	}
	return out, nil
}

// trimSlice keeps what ComputeFromSlices and the trigger times read: the
// identity, the Service name label, the trigger-time annotation, the
// address type, the ports, and per endpoint its first address, ready and
// terminating conditions, hostname, node and pod reference. Zones, hints,
// serving, owner references and managed fields are dropped.
func trimSlice(obj any) (any, error) {
	switch o := obj.(type) {
	case *discovery.EndpointSlice:
		out := &discovery.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: endpoints.Intern(o.Namespace), Name: o.Name, ResourceVersion: o.ResourceVersion,
				Labels: endpoints.InternLabels(map[string]string{discovery.LabelServiceName: o.Labels[discovery.LabelServiceName]}),
			},
			AddressType: o.AddressType,
			Ports:       o.Ports,
			Endpoints:   make([]discovery.Endpoint, 0, len(o.Endpoints)),
		}
		if t, ok := o.Annotations[sliceTriggerAnnotation]; ok {
			out.Annotations = map[string]string{sliceTriggerAnnotation: t}
		}
		for _, e := range o.Endpoints {
			if len(e.Addresses) == 0 {
				continue
			}
			te := discovery.Endpoint{
				Addresses: e.Addresses[:1:1],
				Conditions: discovery.EndpointConditions{
					Ready: e.Conditions.Ready, Terminating: e.Conditions.Terminating,
				},
				Hostname: e.Hostname,
			}
			if e.NodeName != nil {
				n := endpoints.Intern(*e.NodeName)
				te.NodeName = &n
			}
			if r := e.TargetRef; r != nil {
				r.Kind, r.Namespace, r.APIVersion, r.ResourceVersion, r.FieldPath = endpoints.Intern(r.Kind), endpoints.Intern(r.Namespace), "", "", ""
				te.TargetRef = r
			}
			out.Endpoints = append(out.Endpoints, te)
		}
		return out, nil
	case cache.DeletedFinalStateUnknown:
		inner, err := trimSlice(o.Obj)
		o.Obj = inner
		return o, err
	}
	return obj, nil
}

// sliceHandler queues the Service of a changed slice. A slice change is a
// pod change as far as the latency metrics are concerned (trigger "pod"),
// and is batched like one.
func (c *Controller) sliceHandler() cache.ResourceEventHandler {
	enqueue := func(obj any) {
		if keys, _ := sliceServiceIndex(obj); len(keys) == 1 {
			c.enqueue(keys[0], byPod, c.opts.BatchPeriod)
		}
	}
	return cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, isInInitialList bool) {
			// Every Service is queued at start anyway.
			if !isInInitialList {
				enqueue(obj)
			}
		},
		UpdateFunc: func(old, cur any) {
			o, _ := old.(*discovery.EndpointSlice)
			n, _ := cur.(*discovery.EndpointSlice)
			if o != nil && n != nil && o.ResourceVersion == n.ResourceVersion {
				return // a resync: the Service resync covers these
			}
			enqueue(cur)
			if o != nil && n != nil && o.Labels[discovery.LabelServiceName] != n.Labels[discovery.LabelServiceName] {
				enqueue(old)
			}
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			enqueue(obj)
		},
	}
}
