package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	"github.com/endpoints-controller/endpoints-controller/pkg/metrics"
)

// runWithLeaderElection runs work only while holding the Lease. Losing the
// Lease ends the process rather than risk two writers. When ctx ends, work
// stops taking Services and finishes the syncs in flight; only then is the
// Lease released, so that a standby takes over at once without overlap.
func runWithLeaderElection(ctx context.Context, o *options, client kubernetes.Interface,
	watchdog *leaderelection.HealthzAdaptor, m *metrics.Metrics, work func(context.Context)) error {
	host, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("getting hostname for the leader identity: %w", err)
	}
	id := host + "_" + string(uuid.NewUUID())
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, o.leaseNamespaceOrDefault(), o.leaderElection.ResourceName,
		client.CoreV1(), client.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: id})
	if err != nil {
		return fmt.Errorf("creating the leader election lock: %w", err)
	}

	// The election outlives ctx until work has stopped.
	electionCtx, endElection := context.WithCancel(context.WithoutCancel(ctx))
	defer endElection()
	workDone := make(chan struct{})
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   o.leaderElection.LeaseDuration.Duration,
		RenewDeadline:   o.leaderElection.RenewDeadline.Duration,
		RetryPeriod:     o.leaderElection.RetryPeriod.Duration,
		ReleaseOnCancel: true,
		WatchDog:        watchdog,
		// leader_election_master_status{name}: kube-controller-manager's
		// series is named after its lease too.
		Name: o.leaderElection.ResourceName,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(leading context.Context) {
				defer close(workDone)
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
	elected := make(chan struct{})
	go func() { defer close(elected); le.Run(electionCtx) }()

	<-ctx.Done()
	if le.IsLeader() {
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
