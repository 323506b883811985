package e2e

import (
	"syscall"
	"testing"
	"time"
)

// TestHandoverUnderASecond: five rolling-update handovers in a row with the
// default leader election timing (2s retry period): each time the leader
// gets SIGTERM, finishes, releases the Lease, and the standby, watching the
// Lease, holds it within a second — not at its next retry, up to 4.4s later.
func TestHandoverUnderASecond(t *testing.T) {
	args := []string{"--leader-elect=true", "--leader-elect-resource-namespace=kube-system", "--leader-elect-resource-name=" + leaseName}
	a := startController(t, args...)
	b := startController(t, args...)
	leader := waitLeader(t, a, b)
	standby := a
	if leader == a {
		standby = b
	}
	var took []time.Duration
	for i := 1; i <= 5; i++ {
		standby.waitReady(t)
		waitGauge(t, standby, 0)
		old := leaseHolder(t)
		termed := time.Now()
		if err := leader.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		d := waitHolderChange(t, old, termed, time.Second)
		if got := waitLeader(t, standby); got != standby {
			t.Fatalf("handover %d: leader is %s, want %s", i, got.Name, standby.Name)
		}
		if err := leader.Wait(10 * time.Second); err != nil {
			t.Errorf("handover %d: %s after SIGTERM: %v, want exit 0", i, leader.Name, err)
		}
		took = append(took, d.Round(10*time.Millisecond))
		leader, standby = standby, startController(t, args...)
	}
	t.Logf("handovers after SIGTERM: %v", took)
}
