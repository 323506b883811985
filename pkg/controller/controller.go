// Package controller runs the informers, queue and workers that keep every
// Service's Endpoints equal to what package endpoints computes.
package controller

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
	"github.com/endpoints-controller/endpoints-controller/pkg/metrics"
)

// ControllerName is the event source, the same as the built-in's.
const ControllerName = "endpoint-controller"

// retriesBeforeError is how many failed syncs of one Service are logged
// quietly; after that every failure is an error log. The key is never
// dropped: a Service whose Endpoints cannot be written stays in the queue.
const retriesBeforeError = 15

// Options tune a Controller; zero values take the defaults.
type Options struct {
	// Workers is the number of concurrent syncs (default 5).
	Workers int
	// Writes, if positive, bounds the writes in flight, and a worker no
	// longer waits on its sync's write (see handoff.go). Zero: each worker
	// writes in turn, as the built-in's do.
	Writes int
	// BatchPeriod delays syncs caused by pod changes, so that bursts of
	// changes to one Service's pods coalesce into one write.
	BatchPeriod time.Duration
	// ResyncPeriod re-checks every Service this often (default 5m), so that
	// nothing stays wrong after a missed event; an unchanged Service costs a
	// comparison and no write.
	ResyncPeriod time.Duration
	// ManagedBy is the endpoints.kubernetes.io/managed-by label value.
	ManagedBy string
	// Shadow computes and compares but never writes: the live Endpoints
	// (written by another controller) are checked against what this one
	// would write, and differences are logged and exported.
	Shadow bool
	// Metrics, if set, receives sync, latency and workqueue metrics.
	Metrics *metrics.Metrics
	// MaxRetryDelay caps the per-Service backoff after failed syncs
	// (default 60s).
	MaxRetryDelay time.Duration
	// WriteLimiter, if set, paces writes: a sync that has something to
	// write waits for a token here, then computes again. The client given
	// to New must then not rate-limit itself; share one limiter with the
	// informers' client so that the total stays within --kube-api-qps.
	WriteLimiter flowcontrol.RateLimiter
	// Clock drives the batch period, retry backoff, resync, the trust in
	// written objects and the latency metrics (default the real clock);
	// tests pass a fake one.
	Clock clock.WithTicker
}

func (o *Options) defaults() {
	if o.Workers <= 0 {
		o.Workers = 5
	}
	if o.ResyncPeriod == 0 {
		o.ResyncPeriod = 5 * time.Minute
	}
	if o.ManagedBy == "" {
		o.ManagedBy = endpoints.DefaultManagedBy
	}
	if o.MaxRetryDelay <= 0 {
		o.MaxRetryDelay = time.Minute
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
}

// Controller keeps Endpoints in step with Services and their Pods.
type Controller struct {
	opts   Options
	client kubernetes.Interface
	// rest is client's core/v1 REST client, for writes whose answer is
	// decoded lean (see send); nil with the standard decoder and for
	// clients that are not REST clients.
	rest *rest.RESTClient

	// The informers' caches, by namespace (see caches), and what they
	// hold.
	svcs, pods, eps caches
	scope           Scope
	synced          []cache.InformerSynced

	// slices and sliceTriggers replace pods and triggerTimes with the
	// EndpointSlice source.
	slices        caches
	sliceTriggers *sliceTriggerTimes

	queue        workqueue.TypedRateLimitingInterface[string]
	selectors    *selectorIndex
	labelIdx     *labelIndexes // the pod caches' indexes by selector key
	written      *writtenTracker
	triggerTimes *triggerTimes
	// failedWrites carries a failed write's trigger time to its retry.
	failedWrites *failedWrites
	// states times, per Service, changes from their observation to the
	// write that reflects them, and the waits in the queue.
	states *syncStates
	// live is set once this replica runs (it leads): only changes observed
	// from then on are timed. On a standby nothing would take them.
	live atomic.Bool

	shadow shadowState

	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder

	// started is closed once the caches have synced and leftover
	// Endpoints have been queued.
	started chan struct{}

	// writeSlots holds a token per write in flight (Options.Writes); nil:
	// workers write themselves. handoffs tracks the handed-over syncs.
	writeSlots chan struct{}
	handoffs   sync.WaitGroup
}

// New wires a Controller to inf. Start inf after New, before or after Run.
func New(client kubernetes.Interface, inf *Informers, opts Options) (*Controller, error) {
	opts.defaults()
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		opts:   opts,
		client: client,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedMaxOfRateLimiter(
				workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, opts.MaxRetryDelay),
				&workqueue.TypedBucketRateLimiter[string]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
			),
			// Metrics go to the process-wide provider, component-base's
			// (pkg/metrics): workqueue_*{name="endpoint"}, as in
			// kube-controller-manager.
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "endpoint", Clock: opts.Clock},
		),
		selectors:    newSelectorIndex(),
		labelIdx:     newLabelIndexes(),
		written:      newWrittenTracker(opts.Clock),
		triggerTimes: newTriggerTimes(),
		failedWrites: newFailedWrites(),
		states:       newSyncStates(opts.Clock),
		broadcaster:  broadcaster,
		recorder:     broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: ControllerName}),
		started:      make(chan struct{}),
		writeSlots:   writeSlots(opts.Writes),
		shadow:       shadowState{mismatched: map[string]string{}},
	}
	opts.Metrics.SetServiceStates(c.states)

	if rc, ok := client.CoreV1().RESTClient().(*rest.RESTClient); ok && rc != nil && inf.decoder == Lean {
		c.rest = rc
	}

	c.scope = inf.scope
	single := len(inf.sets) == 1
	for _, set := range inf.sets {
		svcs, svcsSynced := inf.add(set.services, &v1.Service{}, c.serviceHandler(), nil, trim)
		c.svcs.add(set.namespace, svcs, single)
		if set.slices != nil {
			slices, slicesSynced := inf.add(set.slices, &discovery.EndpointSlice{}, c.sliceHandler(), cache.Indexers{sliceByService: sliceServiceIndex}, trimSlice)
			c.slices.add(set.namespace, slices, single)
			c.synced = append(c.synced, slicesSynced)
		} else {
			pods, podsSynced := inf.add(set.pods, inf.podType, c.podHandler(), nil, trim)
			c.pods.add(set.namespace, pods, single)
			c.synced = append(c.synced, podsSynced)
		}
		eps, epsSynced := inf.add(set.endpoints, inf.endpointsType, c.endpointsHandler(), nil, c.trimEndpointsEvent)
		c.eps.add(set.namespace, eps, single)
		c.synced = append(c.synced, svcsSynced, epsSynced)
	}
	if inf.slices {
		c.sliceTriggers = newSliceTriggerTimes()
	}
	return c, nil
}

// CachesSynced reports whether the informer caches have synced; they fill
// on standby replicas too, so that a takeover starts warm.
func (c *Controller) CachesSynced() bool {
	for _, synced := range c.synced {
		if !synced() {
			return false
		}
	}
	return true
}

// HasSynced reports whether the caches have synced and work has started.
func (c *Controller) HasSynced() bool {
	select {
	case <-c.started:
		return true
	default:
		return false
	}
}

// Run syncs Services until ctx is done, then lets in-flight syncs finish.
func (c *Controller) Run(ctx context.Context) {
	defer utilruntime.HandleCrash()
	logger := klog.FromContext(ctx)

	c.broadcaster.StartStructuredLogging(3)
	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.broadcaster.Shutdown()

	logger.Info("Starting endpoints controller", "workers", c.opts.Workers)
	defer logger.Info("Shutting down endpoints controller")
	defer c.queue.ShutDown()

	c.live.Store(true)
	if !cache.WaitForNamedCacheSyncWithContext(ctx, c.synced...) {
		return
	}
	c.queueLeftoverEndpoints(logger)
	close(c.started)

	var wg sync.WaitGroup
	for range c.opts.Workers {
		wg.Go(func() { wait.UntilWithContext(ctx, c.worker, time.Second) })
	}
	wg.Go(func() { c.resyncLoop(ctx) })
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
	c.handoffs.Wait()
}

func writeSlots(n int) chan struct{} {
	if n <= 0 {
		return nil
	}
	return make(chan struct{}, n)
}

// resyncLoop runs resync now and then every ResyncPeriod after the last run
// ended, as wait.UntilWithContext does, on the controller's clock.
func (c *Controller) resyncLoop(ctx context.Context) {
	for ctx.Err() == nil {
		c.resync(ctx)
		t := c.opts.Clock.NewTimer(c.opts.ResyncPeriod)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C():
		}
	}
}

// resync queues every Service, so that nothing stays wrong after a missed
// event. Its first run, at start, repeats the informers' initial adds.
func (c *Controller) resync(ctx context.Context) {
	if !c.HasSynced() {
		return
	}
	for _, key := range c.svcs.listKeys() {
		c.enqueue(key, noTrigger, 0)
	}
}

// enqueue queues key, after delay, because of a change of kind by
// (noTrigger: no observed change). The change is noted first, so that the
// sync the add leads to takes it.
func (c *Controller) enqueue(key string, by trigger, delay time.Duration) {
	if c.live.Load() {
		c.states.queue(key, by)
	}
	c.queue.AddAfter(key, delay)
}

// syncTimeout bounds one sync, which outlives ctx on shutdown.
const syncTimeout = time.Minute

// worker syncs queued Services until ctx ends. A sync in progress then
// finishes (its API calls are not cancelled), so that no write is cut off
// half-way before the lease is released.
func (c *Controller) worker(ctx context.Context) {
	for ctx.Err() == nil && c.processNext(ctx) {
	}
}

func (c *Controller) processNext(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	if c.writeSlots != nil {
		c.processHandingOff(ctx, key)
	} else {
		c.process(ctx, key)
	}
	return true
}

// process syncs key, taken from the queue, and records how it went.
func (c *Controller) process(ctx context.Context, key string) {
	defer c.queue.Done(key)
	syncCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), syncTimeout)
	defer cancel()
	if wait, ok := c.states.begin(key); ok {
		c.opts.Metrics.ObserveQueueWait(wait)
	}
	start := time.Now()
	res, err := c.syncService(syncCtx, key)
	c.opts.Metrics.ObserveSync(time.Since(start), err)
	c.finishSync(key, res, err)
	c.handleErr(ctx, key, err)
}

// finishSync counts a sync of key by its result and, if it wrote, times
// the write from the earliest change it reflects.
func (c *Controller) finishSync(key string, res syncResult, err error) {
	result := res.result
	switch {
	case apierrors.IsConflict(err):
		result = metrics.ResultConflict
	case err != nil:
		result = metrics.ResultError
	}
	c.opts.Metrics.CountSync(result)
	if d, by, ok := c.states.finish(key, err != nil, res.ack, res.gone); ok {
		c.opts.Metrics.ObserveEventToWrite(by.String(), d)
	}
}

// handleErr retries failed syncs with capped exponential backoff, forever:
// dropping a key would leave its Endpoints wrong until the next change.
func (c *Controller) handleErr(ctx context.Context, key string, err error) {
	if err == nil {
		c.queue.Forget(key)
		return
	}
	logger := klog.FromContext(ctx)
	n := c.queue.NumRequeues(key)
	if n < retriesBeforeError {
		logger.V(2).Info("Error syncing endpoints, retrying", "service", key, "err", err)
	} else {
		logger.Error(err, "Error syncing endpoints, still retrying", "service", key, "retries", n)
	}
	if c.live.Load() {
		c.states.queue(key, noTrigger)
	}
	c.queue.AddRateLimited(key)
}
