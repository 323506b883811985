package controller

import (
	"context"
	"fmt"
	"net/http"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
	"github.com/endpoints-controller/endpoints-controller/pkg/lean"
	"github.com/endpoints-controller/endpoints-controller/pkg/metrics"
)

// recheckLagging is how soon a Service is looked at again when its sync
// found nothing to write but the cache had not yet caught up with this
// controller's last write.
const recheckLagging = time.Second

// syncResult is what a sync that did not fail did.
type syncResult struct {
	result string // metrics.ResultCreated, ResultUpdated, ResultDeleted or ResultNoop
	ack    mono   // when the API server acknowledged the write; 0: no write
	gone   bool   // the Service does not exist (as plan found it)
}

var (
	noop     = syncResult{result: metrics.ResultNoop}
	goneNoop = syncResult{result: metrics.ResultNoop, gone: true}
)

// syncService makes the Endpoints of one Service what its pods say.
func (c *Controller) syncService(ctx context.Context, key string) (syncResult, error) {
	logger := klog.FromContext(ctx)
	start := time.Now()
	defer func() {
		logger.V(4).Info("Finished syncing service endpoints", "service", key, "duration", time.Since(start))
	}()
	// A failed write's trigger time is kept until a write succeeds or a
	// sync finds nothing to write, so that the retry's write carries it.
	failed := c.failedWrites.get(key)
	res, keep, err := c.reconcile(ctx, key, failed)
	if err == nil {
		keep = time.Time{}
	}
	if !keep.Equal(failed) {
		c.failedWrites.set(key, keep)
	}
	return res, err
}

// reconcile is syncService's work. carried is the trigger time of the
// Service's last failed write (zero: none); on error, keep is the trigger
// time the retry's write must carry.
func (c *Controller) reconcile(ctx context.Context, key string, carried time.Time) (res syncResult, keep time.Time, err error) {
	w, err := c.plan(ctx, key, carried)
	if err != nil {
		return noop, carried, err
	}
	if w == nil {
		return noop, time.Time{}, nil
	}
	if w.gone {
		return goneNoop, time.Time{}, nil
	}
	if l := c.opts.WriteLimiter; l != nil && !l.TryAccept() {
		// Rate-limited: compute again once allowed to write, so that the
		// write carries every change made while it waited instead of
		// leaving them to another write.
		if err := l.Wait(ctx); err != nil {
			return noop, w.trigger, err
		}
		// The changes observed meanwhile are in the cache already: the
		// write reflects them too.
		c.states.retake(key)
		next, err := c.plan(ctx, key, w.trigger)
		if err != nil {
			return noop, w.trigger, err
		}
		if next == nil {
			return noop, time.Time{}, nil
		}
		if next.gone {
			return goneNoop, time.Time{}, nil
		}
		w = next
	}
	if w.delete {
		// The Service is gone: a Service made again under its name starts
		// afresh, with nothing carried.
		res, err := c.deleteEndpoints(ctx, key, w.ns, w.name)
		return res, time.Time{}, err
	}
	klog.FromContext(ctx).V(4).Info("Writing endpoints", "service", key, "ready", w.ready, "notReady", w.notReady, "create", w.create)
	res, err = c.write(ctx, key, w.svc, w.create, w.ep)
	return res, w.trigger, err
}

// pendingWrite is what a sync has to write.
type pendingWrite struct {
	gone     bool // nothing to write and nothing to keep: no such Service
	delete   bool // the Service is gone: delete ns/name
	ns, name string
	create   bool
	svc      *v1.Service
	ep       *v1.Endpoints
	trigger  time.Time
	// ready and notReady count the addresses, for the log.
	ready, notReady int
}

// plan works out what to write for one Service: nil when nothing. carried
// is the trigger time of an earlier plan of the same sync that was not
// written (zero: none): the write reflects that change too, so its trigger
// time is the earlier of the two.
func (c *Controller) plan(ctx context.Context, key string, carried time.Time) (*pendingWrite, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		klog.FromContext(ctx).Error(err, "Dropping malformed key", "key", key)
		return &pendingWrite{gone: true}, nil
	}

	if !c.scope.ContainsNamespace(ns) {
		// Never listed, so never queued by the informers: a guard.
		c.outOfScope(ctx, key, metrics.OutOfScopeNamespace)
		return &pendingWrite{gone: true}, nil
	}
	svc, err := c.cachedService(ns, name)
	if apierrors.IsNotFound(err) {
		c.triggerTimes.forget(key)
		if c.sliceTriggers != nil {
			c.sliceTriggers.forget(key)
		}
		if c.opts.Shadow {
			c.shadowForget(key)
			return &pendingWrite{gone: true}, nil
		}
		if c.scope.selectsServices() {
			switch state, err := c.liveService(ctx, ns, name); {
			case err != nil:
				return nil, err
			case state == serviceOutOfScope:
				c.written.forget(key)
				c.outOfScope(ctx, key, metrics.OutOfScopeService)
				return &pendingWrite{gone: true}, nil
			case state == serviceInScope:
				// Selected, and not cached yet: its add event comes.
				c.enqueue(key, noTrigger, recheckLagging)
				return nil, nil
			}
		}
		return &pendingWrite{delete: true, ns: ns, name: name}, nil
	} else if err != nil {
		return nil, err
	}
	if svc.Spec.Type == v1.ServiceTypeExternalName || len(svc.Spec.Selector) == 0 {
		// No endpoints from this controller: selector-less Services get
		// theirs from users (an empty selector reaches clients as none).
		c.shadowForget(key)
		return nil, nil
	}

	res, triggerTime, err := c.compute(key, ns, svc)
	if err != nil {
		return nil, err
	}
	triggerTime = earliest(carried, triggerTime)
	desired := endpoints.Desire(svc, res.Subsets, c.opts.ManagedBy)

	var cached *v1.Endpoints
	held, err := c.cachedEndpoints(ns, name)
	switch {
	case err == nil:
		cached = &held.Endpoints
	case !apierrors.IsNotFound(err):
		return nil, err
	}
	if c.opts.Shadow {
		c.shadowCompare(klog.FromContext(ctx), key, cached, desired)
		return nil, nil
	}
	cur, lagging := c.written.current(key, cached)
	if lagging {
		held = nil // cur is the written copy, with its subsets
	}
	if cur != nil && upToDate(cur, held, c.written.isCanonical(key, cur), desired) {
		if lagging {
			// Nothing to write as far as we know; look again once the cache
			// has caught up, in case the object changed meanwhile. No change
			// was observed: someone else's would come as an Endpoints event.
			c.enqueue(key, noTrigger, recheckLagging)
		}
		return nil, nil
	}
	return &pendingWrite{
		ns: ns, name: name, create: cur == nil, svc: svc,
		ep:      endpoints.Apply(cur, svc, desired, triggerTime),
		trigger: triggerTime,
		ready:   res.Ready, notReady: res.NotReady,
	}, nil
}

// compute returns svc's subsets and the trigger time to write, from its
// pods or, with the EndpointSlice source, from its slices. The trigger
// time is computed on every sync, no-op or not, so the tracker stays
// current.
func (c *Controller) compute(key, ns string, svc *v1.Service) (endpoints.Result, time.Time, error) {
	if c.sliceTriggers != nil {
		slices, err := serviceSlices(c.slices.of(ns), key)
		if err != nil {
			return endpoints.Result{}, time.Time{}, err
		}
		return endpoints.ComputeFromSlices(svc, slices), c.sliceTriggers.compute(key, svc, slices), nil
	}
	pods, err := c.labelIdx.selectedPods(c.pods.of(ns), ns, svc.Spec.Selector)
	if err != nil {
		return endpoints.Result{}, time.Time{}, err
	}
	return endpoints.Compute(svc, pods), c.triggerTimes.compute(key, svc, pods), nil
}

// earliest is the earlier of two trigger times, zero meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// write creates or updates ep and records the result.
func (c *Controller) write(ctx context.Context, key string, svc *v1.Service, create bool, ep *v1.Endpoints) (syncResult, error) {
	defer beginWrite(ctx)()
	var out *v1.Endpoints
	var canonical bool
	var err error
	res := syncResult{result: metrics.ResultUpdated}
	if !create {
		out, canonical, err = c.send(ctx, key, http.MethodPut, ep)
		if apierrors.IsNotFound(err) {
			// Deleted behind the cache's back: create it afresh.
			create = true
			ep = ep.DeepCopy()
			ep.ResourceVersion, ep.UID = "", ""
		}
	}
	if create {
		out, canonical, err = c.send(ctx, key, http.MethodPost, ep)
		res.result = metrics.ResultCreated
	}
	if err == nil {
		res.ack = c.states.now()
		// Computed subsets are canonical (truncated ones need not be), and
		// so is what the API server stored if it kept them as sent.
		_, truncated := ep.Annotations[v1.EndpointsOverCapacity]
		c.written.record(key, out, !truncated && canonical)
		return res, nil
	}

	c.written.forget(key) // whatever we based this on is not the truth
	if create && apierrors.HasStatusCause(err, v1.NamespaceTerminatingCause) {
		// Creates fail until the namespace is gone; nothing to retry.
		klog.FromContext(ctx).V(5).Info("Namespace terminating, not creating endpoints", "service", key)
		return noop, nil
	}
	if create {
		c.recorder.Eventf(ep, v1.EventTypeWarning, "FailedToCreateEndpoint",
			"Failed to create endpoint for service %v/%v: %v", svc.Namespace, svc.Name, err)
	} else {
		c.recorder.Eventf(ep, v1.EventTypeWarning, "FailedToUpdateEndpoint",
			"Failed to update endpoint %v/%v: %v", svc.Namespace, svc.Name, err)
	}
	return noop, fmt.Errorf("writing endpoints %s: %w", key, err)
}

// send creates (POST) or updates (PUT) ep and returns what the API server
// stored; same tells that it stored ep's subsets as sent. With the lean
// decoder, writes are protobuf whatever the client's content type, and a
// protobuf answer is decoded without its subsets when they are the ones
// sent; the standard decoder writes through the typed client.
func (c *Controller) send(ctx context.Context, key, method string, ep *v1.Endpoints) (out *v1.Endpoints, same bool, err error) {
	if c.rest == nil { // the standard decoder, or a fake client in unit tests
		api := c.client.CoreV1().Endpoints(ep.Namespace)
		if method == http.MethodPut {
			out, err = api.Update(ctx, ep, metav1.UpdateOptions{})
		} else {
			out, err = api.Create(ctx, ep, metav1.CreateOptions{})
		}
		if err != nil {
			return nil, false, err
		}
		return out, endpoints.SubsetsEqual(out.Subsets, ep.Subsets), nil
	}
	sent, err := lean.EncodeEndpoints(ep)
	if err != nil {
		return nil, false, err
	}
	c.written.send(key, sent)
	req := c.rest.Post()
	if method == http.MethodPut {
		req = c.rest.Put().Name(ep.Name)
	}
	raw, err := req.Namespace(ep.Namespace).Resource("endpoints").
		SetHeader("Content-Type", protobuf).Body(sent.Data).Do(ctx).Raw()
	if err != nil {
		return nil, false, err
	}
	if lean.IsProtobuf(raw) {
		return lean.DecodeWritten(raw, sent)
	}
	out = &v1.Endpoints{}
	if err := runtime.DecodeInto(scheme.Codecs.UniversalDecoder(v1.SchemeGroupVersion), raw, out); err != nil {
		return nil, false, fmt.Errorf("decoding the written endpoints: %w", err)
	}
	out.ManagedFields = nil
	return out, endpoints.SubsetsEqual(out.Subsets, ep.Subsets), nil
}

// deleteEndpoints removes the Endpoints of a deleted Service.
func (c *Controller) deleteEndpoints(ctx context.Context, key, ns, name string) (syncResult, error) {
	defer beginWrite(ctx)()
	err := c.client.CoreV1().Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{})
	res := syncResult{result: metrics.ResultDeleted, ack: c.states.now(), gone: true}
	if apierrors.IsNotFound(err) {
		res, err = goneNoop, nil // already gone: the usual case, nothing written
	}
	if err != nil {
		return noop, fmt.Errorf("deleting endpoints %s: %w", key, err)
	}
	c.written.forget(key)
	return res, nil
}
