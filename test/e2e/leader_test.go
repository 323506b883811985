package e2e

import (
	"context"
	"fmt"
	"regexp"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// Fast leader election; the flags' validation wants lease > renew > retry
// (and client-go renew > 1.2·retry).
//
// A standby retries every retryPeriod·(1 + 1.2·rand) (client-go's
// JitterFactor), so after a release it may wait up to 2.2·retryPeriod:
// with a 1s retry period a takeover after SIGTERM would take up to ~2.4s
// and the 2s bound below would fail now and then. 500ms bounds it at ~1.3s.
const (
	leaseName     = "e2e-leader-election"
	leaseDuration = 4 * time.Second
	retryPeriod   = 500 * time.Millisecond
	maxRetryWait  = retryPeriod * 22 / 10
)

var leaderArgs = []string{
	"--leader-elect=true",
	"--leader-elect-resource-namespace=kube-system",
	"--leader-elect-resource-name=" + leaseName,
	"--leader-elect-lease-duration=" + leaseDuration.String(),
	"--leader-elect-renew-deadline=3s",
	"--leader-elect-retry-period=" + retryPeriod.String(),
}

// TestLeaderElection: of two replicas only the Lease holder writes; after
// kill -9 of the leader the standby takes over once the Lease expires and
// catches up with what changed meanwhile; after SIGTERM the leader
// releases the Lease and a standby takes over at once.
func TestLeaderElection(t *testing.T) {
	a := startController(t, leaderArgs...)
	b := startController(t, leaderArgs...)
	leader := waitLeader(t, a, b)
	standby := a
	if leader == a {
		standby = b
	}
	standby.waitReady(t) // a warm standby: caches synced, not writing
	t.Logf("leader %s, standby %s", leader.Name, standby.Name)

	ns := newNamespace(t)
	createWeb(t, ns, "web", 2)
	waitEndpointsFollowPods(t, ns, "web", 2, 0)
	if w := leader.writes(t); w == 0 {
		t.Errorf("leader %s made no Endpoints writes", leader.Name)
	}
	if w := standby.writes(t); w != 0 {
		t.Errorf("standby %s made %v Endpoints writes", standby.Name, w)
	}

	// kill -9: nothing is released, the standby waits out the Lease.
	oldHolder := leaseHolder(t)
	killed := time.Now()
	if err := leader.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	scale(t, ns, "web", 4) // changes while nobody leads must not be lost
	limit := leaseDuration + maxRetryWait + 3*time.Second
	took := waitHolderChange(t, oldHolder, killed, limit)
	if got := waitLeader(t, standby); got != standby {
		t.Fatalf("leader after kill -9 is %s, want %s", got.Name, standby.Name)
	}
	t.Logf("kill -9 of %s: %s took over after %s (lease %s; limit %s)", leader.Name, standby.Name,
		took.Round(10*time.Millisecond), leaseDuration, limit)
	if err := leader.Wait(5 * time.Second); err == nil {
		t.Errorf("%s exited cleanly after SIGKILL?", leader.Name)
	}
	waitEndpointsFollowPods(t, ns, "web", 4, 0)
	if w := standby.writes(t); w == 0 {
		t.Errorf("new leader %s made no Endpoints writes", standby.Name)
	}

	// SIGTERM: the leader finishes, releases the Lease and exits 0.
	leader = standby
	standby = startController(t, leaderArgs...)
	standby.waitReady(t)
	waitGauge(t, standby, 0)
	oldHolder = leaseHolder(t)
	termed := time.Now()
	if err := leader.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	took = waitHolderChange(t, oldHolder, termed, 10*time.Second)
	if got := waitLeader(t, standby); got != standby {
		t.Fatalf("leader after SIGTERM is %s, want %s", got.Name, standby.Name)
	}
	t.Logf("SIGTERM of %s: %s took over after %s", leader.Name, standby.Name, took.Round(10*time.Millisecond))
	if took >= time.Second {
		t.Errorf("takeover after SIGTERM took %s, want < 1s (the standby watches the Lease)", took.Round(10*time.Millisecond))
	}
	if err := leader.Wait(10 * time.Second); err != nil {
		t.Errorf("%s after SIGTERM: %v, want exit 0", leader.Name, err)
	}
	scale(t, ns, "web", 1)
	waitEndpointsFollowPods(t, ns, "web", 1, 0)
	if w := standby.writes(t); w == 0 {
		t.Errorf("new leader %s made no Endpoints writes", standby.Name)
	}
}

func leaseHolder(t *testing.T) string {
	t.Helper()
	lease, err := clientset().CoordinationV1().Leases("kube-system").Get(t.Context(), leaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}

// waitHolderChange polls the Lease until another replica holds it and
// returns the time since from. The holder is "" in between after a release.
func waitHolderChange(t *testing.T, old string, from time.Time, limit time.Duration) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), limit+5*time.Second) // report the real time if late
	defer cancel()
	leases := clientset().CoordinationV1().Leases("kube-system")
	for {
		lease, err := leases.Get(ctx, leaseName, metav1.GetOptions{})
		if err == nil && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != "" && *lease.Spec.HolderIdentity != old {
			took := time.Since(from)
			if took > limit {
				t.Errorf("Lease changed holder after %s, want < %s", took.Round(10*time.Millisecond), limit)
			}
			return took
		}
		if ctx.Err() != nil {
			t.Fatalf("Lease still held by %q %s after the leader was stopped", old, time.Since(from).Round(time.Second))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var becameLeader = regexp.MustCompile(`"Became leader" identity="([^"]+)"`)

// waitLeader waits until one of cs holds the Lease, as the Lease says, as
// its log says (which ties the identity to the process) and as its
// endpoints_controller_leader gauge says, while the others' gauges say 0.
func waitLeader(t *testing.T, cs ...*controller) *controller {
	t.Helper()
	var leader *controller
	framework.Eventually(t, 30*time.Second, func() error {
		holder := leaseHolder(t)
		leader = nil
		for _, c := range cs {
			for _, m := range becameLeader.FindAllStringSubmatch(c.log(), -1) {
				if m[1] == holder {
					leader = c
				}
			}
		}
		if leader == nil {
			return fmt.Errorf("Lease holder %q is none of the replicas", holder)
		}
		for _, c := range cs {
			want := 0.0
			if c == leader {
				want = 1
			}
			if err := checkGauge(c, want); err != nil {
				return err
			}
		}
		return nil
	})
	return leader
}

func waitGauge(t *testing.T, c *controller, want float64) {
	t.Helper()
	framework.Eventually(t, 10*time.Second, func() error { return checkGauge(c, want) })
}

// checkGauge scrapes c's endpoints_controller_leader and compares it with want.
func checkGauge(c *controller, want float64) error {
	scrape, err := c.scrape()
	if err != nil {
		return err
	}
	if got := metric(scrape, "endpoints_controller_leader"); got != want {
		return fmt.Errorf("%s: endpoints_controller_leader %v, want %v", c.Name, got, want)
	}
	return nil
}
