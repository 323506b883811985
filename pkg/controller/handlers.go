package controller

import (
	"maps"
	"slices"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
)

// observed is the trigger of an event: by, or none for the initial list,
// which is the state at start, not a change.
func observed(by trigger, isInInitialList bool) trigger {
	if isInInitialList {
		return noTrigger
	}
	return by
}

func (c *Controller) serviceHandler() cache.ResourceEventHandler {
	// The index is updated before the Service is queued, so that a sync of
	// it sees every pod event that came after.
	changed := func(obj any, by trigger) {
		svc, ok := obj.(*v1.Service)
		if !ok {
			return
		}
		key := svc.Namespace + "/" + svc.Name
		c.selectors.set(key, svc.Namespace, svc.Spec.Selector)
		c.enqueue(key, by, 0)
	}
	return cache.ResourceEventHandlerDetailedFuncs{
		AddFunc:    func(obj any, isInInitialList bool) { changed(obj, observed(byService, isInInitialList)) },
		UpdateFunc: func(_, cur any) { changed(cur, byService) },
		DeleteFunc: func(obj any) {
			if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
				c.selectors.remove(key)
				c.enqueue(key, byService, 0)
			}
		},
	}
}

func (c *Controller) podHandler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, isInInitialList bool) {
			// Every Service is queued at start anyway (its own initial add
			// and the first resync): matching each initially listed pod
			// against every Service would only delay the start.
			if !isInInitialList {
				c.onPod(nil, asPod(obj))
			}
		},
		UpdateFunc: func(old, cur any) { c.onPod(asPod(old), asPod(cur)) },
		DeleteFunc: func(obj any) { c.onPod(asPod(obj), nil) },
	}
}

// endpointsHandler re-checks a Service whose Endpoints someone else changed
// or deleted; echoes of this controller's own writes are ignored.
func (c *Controller) endpointsHandler() cache.ResourceEventHandler {
	changed := func(obj any, by trigger) {
		ep := asEndpoints(obj)
		if ep == nil {
			return
		}
		key := ep.Namespace + "/" + ep.Name
		if c.written.caughtUp(key, ep.ResourceVersion) {
			return
		}
		// Only Endpoints of a Service: orphans are left to the start-up
		// sweep, as an Endpoints may be created just before its Service.
		if _, err := c.cachedService(ep.Namespace, ep.Name); err == nil {
			c.enqueue(key, by, 0)
		}
	}
	return cache.ResourceEventHandlerDetailedFuncs{
		AddFunc:    func(obj any, isInInitialList bool) { changed(obj, observed(byEndpoints, isInInitialList)) },
		UpdateFunc: func(_, cur any) { changed(cur, byEndpoints) },
		DeleteFunc: func(obj any) {
			if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
				c.written.forget(key)
				if c.scope.selectsServices() {
					// Only a cached Service's: another one's sync would
					// cost a read of the API server and write nothing.
					if ns, name, err := cache.SplitMetaNamespaceKey(key); err != nil || !c.hasCachedService(ns, name) {
						return
					}
				}
				c.enqueue(key, byEndpoints, 0)
			}
		},
	}
}

func (c *Controller) hasCachedService(ns, name string) bool {
	_, err := c.cachedService(ns, name)
	return err == nil
}

// queueLeftoverEndpoints queues every existing Endpoints once at start, so
// that those whose Service was deleted while no controller ran are removed.
// Leader-election records are Endpoints without a Service and stay.
func (c *Controller) queueLeftoverEndpoints(logger klog.Logger) {
	n := 0
	c.eps.each(func(idx cache.Indexer) {
		for _, obj := range idx.List() {
			ep := asEndpoints(obj)
			if ep == nil {
				continue
			}
			if _, ok := ep.Annotations[resourcelock.LeaderElectionRecordAnnotationKey]; ok {
				continue
			}
			if !c.scope.ContainsNamespace(ep.Namespace) {
				continue // never listed; a guard against a wider cache
			}
			// With a Service selector, an Endpoints carries its
			// Service's labels: one the selector does not match was
			// written for a Service of another scope (or by hand), and
			// is left to the instance whose selector matches it. Those
			// it matches are confirmed against the API server before a
			// deletion (see plan).
			if c.scope.selectsServices() && !c.scope.ServiceSelector.Matches(labels.Set(ep.Labels)) {
				if _, err := c.cachedService(ep.Namespace, ep.Name); err != nil {
					continue
				}
			}
			c.enqueue(ep.Namespace+"/"+ep.Name, noTrigger, 0)
			n++
		}
	})
	logger.V(2).Info("Queued existing Endpoints for the start-up sweep", "count", n)
}

func asPod(obj any) *endpoints.Pod {
	switch o := obj.(type) {
	case *cachedPod:
		return o.pod()
	case cache.DeletedFinalStateUnknown:
		if p, ok := o.Obj.(*cachedPod); ok {
			return p.pod()
		}
	}
	return nil
}

// onPod queues the Services a pod change can affect: those selecting the
// pod before or after. A change of labels alone affects only the Services
// that select it on one side; any other relevant change affects all.
func (c *Controller) onPod(old, cur *endpoints.Pod) {
	var pod *endpoints.Pod
	var oldLabels map[string]string
	var labelsOnly bool
	switch {
	case old == nil && cur == nil:
		return
	case old == nil:
		pod = cur
	case cur == nil:
		pod = old
	default:
		if old.ResourceVersion == cur.ResourceVersion {
			return // a resync: the Service resync covers these
		}
		changed := podEndpointsChanged(old, cur)
		labelsChanged := !maps.Equal(old.Labels, cur.Labels)
		if !changed && !labelsChanged {
			return
		}
		pod = cur
		if labelsChanged {
			oldLabels = old.Labels
			labelsOnly = !changed
		}
	}

	enqueue := func(key string) { c.enqueue(key, byPod, c.opts.BatchPeriod) }
	c.selectors.candidates(pod.Namespace, pod.Labels, func(key string, selector map[string]string) {
		if !selects(selector, pod.Labels) {
			return
		}
		if labelsOnly && selects(selector, oldLabels) {
			return // still selected, and nothing else it reads changed
		}
		enqueue(key)
	})
	if oldLabels != nil {
		// Services that selected the pod and no longer do.
		c.selectors.candidates(pod.Namespace, oldLabels, func(key string, selector map[string]string) {
			if selects(selector, oldLabels) && !selects(selector, pod.Labels) {
				enqueue(key)
			}
		})
	}
}

// selects reports whether a Service selector matches pod labels.
func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	return true
}

// podEndpointsChanged reports whether anything an address is made of
// changed, besides labels. Unlike the built-in it also watches the phase
// (a pod turning terminal leaves the Endpoints even if still marked
// ready) and the node name.
func podEndpointsChanged(old, cur *endpoints.Pod) bool {
	return !old.DeletionTimestamp.Equal(cur.DeletionTimestamp) ||
		old.Ready != cur.Ready ||
		old.Terminal() != cur.Terminal() ||
		old.PodIP != cur.PodIP ||
		!slices.Equal(old.PodIPs, cur.PodIPs) ||
		old.NodeName != cur.NodeName ||
		old.Hostname != cur.Hostname ||
		old.Subdomain != cur.Subdomain
}
