package main

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	"github.com/endpoints-controller/endpoints-controller/pkg/metrics"
)

// runWithLeaderElection runs work only while holding the Lease. Losing the
// Lease ends the process rather than risk two writers. When ctx ends, work
// stops taking Services and finishes the syncs in flight; only then is the
// Lease released, so that a standby takes over at once without overlap.
//
// A standby watches the Lease: when the leader releases it (a rolling
// update's SIGTERM), the standby tries at once instead of at its next
// retry, up to --leader-elect-retry-period later. client-go's elector has
// no "try now", so the standby's elector is replaced by a new one, whose
// first attempt is immediate.
func runWithLeaderElection(ctx context.Context, o *options, client kubernetes.Interface,
	watchdog *leaderelection.HealthzAdaptor, m *metrics.Metrics, work func(context.Context)) error {
	host, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("getting hostname for the leader identity: %w", err)
	}
	id := host + "_" + string(uuid.NewUUID())
	ns, name := o.leaseNamespaceOrDefault(), o.leaderElection.ResourceName
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, ns, name,
		client.CoreV1(), client.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: id})
	if err != nil {
		return fmt.Errorf("creating the leader election lock: %w", err)
	}

	// The election outlives ctx until work has stopped.
	electionCtx, endElection := context.WithCancel(context.WithoutCancel(ctx))
	defer endElection()
	released := watchReleases(electionCtx, client, ns, name)

	workDone := make(chan struct{})
	var led atomic.Bool // this process has led: Run returning then means the lease is gone
	config := leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   o.leaderElection.LeaseDuration.Duration,
		RenewDeadline:   o.leaderElection.RenewDeadline.Duration,
		RetryPeriod:     o.leaderElection.RetryPeriod.Duration,
		ReleaseOnCancel: true,
		WatchDog:        watchdog,
		// leader_election_master_status{name}: kube-controller-manager's
		// series is named after its lease too.
		Name: name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(leading context.Context) {
				defer close(workDone)
				led.Store(true)
				klog.InfoS("Became leader", "identity", id)
				m.SetLeader(true)
				workCtx, stop := context.WithCancel(leading)
				defer stop()
				go func() {
					select {
					case <-ctx.Done():
						stop()
					case <-workCtx.Done():
					}
				}()
				work(workCtx)
			},
			OnStoppedLeading: func() {
				if !led.Load() {
					return // a standby's elector replaced, or shutdown before leading
				}
				m.SetLeader(false)
				if ctx.Err() != nil {
					klog.InfoS("Released the lease on shutdown", "identity", id)
					return
				}
				// Another replica may be writing already: stop now.
				klog.ErrorS(nil, "Lost the lease, exiting", "identity", id)
				klog.FlushAndExit(klog.ExitFlushTimeout, 1)
			},
			OnNewLeader: func(identity string) {
				if identity != id {
					klog.InfoS("New leader elected", "identity", identity)
				}
			},
		},
	}
	elected := make(chan struct{})
	var current atomic.Pointer[leaderelection.LeaderElector]
	go func() {
		defer close(elected)
		for electionCtx.Err() == nil {
			le, err := leaderelection.NewLeaderElector(config)
			if err != nil {
				klog.ErrorS(err, "Configuring leader election")
				return
			}
			current.Store(le)
			if watchdog != nil {
				watchdog.SetLeaderElection(le)
			}
			runCtx, stop := context.WithCancel(electionCtx)
			go func() {
				for {
					select {
					case <-runCtx.Done():
						return
					case <-released:
						if !le.IsLeader() {
							klog.V(2).InfoS("Lease released: trying to take it now")
							stop()
							return
						}
					}
				}
			}()
			le.Run(runCtx)
			stop()
			if led.Load() {
				return // led and stopped: shutdown (or exited above)
			}
		}
	}()

	<-ctx.Done()
	if le := current.Load(); le != nil && le.IsLeader() {
		select {
		case <-workDone:
		case <-time.After(o.leaderElection.RenewDeadline.Duration):
			klog.InfoS("In-flight syncs still running at the renew deadline; releasing the lease anyway")
		}
	}
	endElection()
	<-elected
	return nil
}

// watchReleases watches the one Lease and signals (without blocking, one
// pending signal at most) each time it is released: no holder, or gone.
func watchReleases(ctx context.Context, client kubernetes.Interface, ns, name string) <-chan struct{} {
	released := make(chan struct{}, 1)
	signal := func(obj any) {
		if l, ok := obj.(*coordinationv1.Lease); ok && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "" {
			return
		}
		select {
		case released <- struct{}{}:
		default:
		}
	}
	lw := cache.NewListWatchFromClient(client.CoordinationV1().RESTClient(), "leases", ns, fields.OneTermEqualSelector("metadata.name", name))
	inf := cache.NewSharedIndexInformer(lw, &coordinationv1.Lease{}, 0, cache.Indexers{})
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) { signal(obj) },
		DeleteFunc: signal,
	})
	go inf.Run(ctx.Done())
	return released
}
