package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hostBusy returns the CPU time the whole host has spent busy and the
// time elapsed, summed over every CPU (from /proc/stat, in USER_HZ ticks).
func hostBusy() (busy, total int64, err error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("unexpected /proc/stat line %q", line)
	}
	for i, s := range f[1:8] { // user nice system idle iowait irq softirq
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total, nil
}

// Quiet host: under 5% of its CPUs busy over a second.
const (
	quietBusy   = 0.05
	quietWindow = time.Second
)

// waitHostQuiet waits until the host has been quiet for a window, at most
// timeout, and returns how busy the last window was. A controller started
// while the API server and etcd still work off seeding or a reset would be
// billed for the contention; in the runs so far the host was quiet within
// a second, so this is a guard, not a correction.
func waitHostQuiet(ctx context.Context, timeout time.Duration) (float64, error) {
	deadline := time.Now().Add(timeout)
	b0, t0, err := hostBusy()
	if err != nil {
		return 0, err
	}
	for {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(quietWindow):
		}
		b1, t1, err := hostBusy()
		if err != nil {
			return 0, err
		}
		frac := 0.0
		if t1 > t0 {
			frac = float64(b1-b0) / float64(t1-t0)
		}
		if frac < quietBusy {
			return frac, nil
		}
		if time.Now().After(deadline) {
			return frac, fmt.Errorf("host still %.0f%% busy after %s", 100*frac, timeout)
		}
		b0, t0 = b1, t1
	}
}

// waitHostQuiet waits up to a minute for a quiet host and logs the wait.
func (e *benchEnv) waitHostQuiet(ctx context.Context, scenario string, k controllerKind, when string) {
	start := time.Now()
	busy, err := waitHostQuiet(ctx, time.Minute)
	if err != nil {
		e.t.Logf("%s, %s: %s: %v", scenario, k, when, err)
		return
	}
	e.t.Logf("%s, %s: host quiet %s (%.1f%% busy) after %s", scenario, k, when, 100*busy, time.Since(start).Round(100*time.Millisecond))
}

func TestHostBusy(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the host's load is read from /proc/stat, which only Linux has")
	}
	b0, t0, err := hostBusy()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	b1, t1, err := hostBusy()
	if err != nil {
		t.Fatal(err)
	}
	if b1 < b0 || t1 < t0 || b1-b0 > t1-t0 {
		t.Errorf("busy %d→%d, total %d→%d", b0, b1, t0, t1)
	}
}
