package main

import (
	"context"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	"github.com/endpoints-controller/endpoints-controller/pkg/metrics"
)

// runWithLeaderElection runs work only while holding the Lease. Losing the
// Lease ends the process rather than risk two writers; when ctx ends, work
// finishes its in-flight syncs and then the Lease is released, so that a
// standby takes over at once.
func runWithLeaderElection(ctx context.Context, o *options, client kubernetes.Interface,
	watchdog *leaderelection.HealthzAdaptor, m *metrics.Metrics, work func(context.Context)) error {
	host, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("getting hostname for the leader identity: %w", err)
	}
	id := host + "_" + string(uuid.NewUUID())
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, o.leaseNamespaceOrDefault(), o.leaseName,
		client.CoreV1(), client.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: id})
	if err != nil {
		return fmt.Errorf("creating the leader election lock: %w", err)
	}
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   o.leaseDuration,
		RenewDeadline:   o.renewDeadline,
		RetryPeriod:     o.retryPeriod,
		ReleaseOnCancel: true,
		WatchDog:        watchdog,
		Name:            o.leaseName,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				klog.InfoS("Became leader", "identity", id)
				m.SetLeader(true)
				work(ctx)
			},
			OnStoppedLeading: func() {
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
	})
	if err != nil {
		return fmt.Errorf("configuring leader election: %w", err)
	}
	if watchdog != nil {
		watchdog.SetLeaderElection(le)
	}
	le.Run(ctx)
	return nil
}
