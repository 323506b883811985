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
)

// runWithLeaderElection runs work only while holding the Lease. Losing the
// Lease ends the process rather than risk two writers; on ctx's end the Lease
// is released so that a standby takes over at once.
func runWithLeaderElection(ctx context.Context, o *options, client kubernetes.Interface, work func(context.Context) error) error {
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

	workErr := make(chan error, 1)
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   o.leaseDuration,
		RenewDeadline:   o.renewDeadline,
		RetryPeriod:     o.retryPeriod,
		ReleaseOnCancel: true,
		Name:            o.leaseName,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				klog.InfoS("Became leader", "identity", id)
				workErr <- work(ctx)
			},
			OnStoppedLeading: func() {
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
	select {
	case err := <-workErr:
		return err
	default:
		return nil
	}
}
