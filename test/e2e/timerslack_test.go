package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestTimerSlack: every thread of the running controller, the Go runtime's
// own included, has the --timer-slack it asked for, and the process that
// re-executed itself to get it is the one that was started (same PID,
// serving).
func TestTimerSlack(t *testing.T) {
	for _, tc := range []struct {
		flag, want string
	}{
		{"--timer-slack=1ms", "1000000"},
		{"(no flag)", "5000000"}, // the default
	} {
		args := []string{"--leader-elect=false"}
		if strings.HasPrefix(tc.flag, "--") {
			args = append(args, tc.flag)
		}
		c := startController(t, args...)
		c.waitReady(t)
		tasks, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(c.PID), "task"))
		if err != nil || len(tasks) < 2 {
			t.Fatalf("%s: threads of pid %d: %v %v", tc.flag, c.PID, tasks, err)
		}
		for _, task := range tasks {
			// Per thread, the file is under /proc/TID only.
			f := filepath.Join("/proc", task.Name(), "timerslack_ns")
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(string(b)); got != tc.want {
				t.Errorf("%s: %s = %s, want %s", tc.flag, f, got, tc.want)
			}
		}
		env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(c.PID), "environ"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(env), "ENDPOINTS_CONTROLLER_TIMER_SLACK_NS=") {
			t.Errorf("%s: pid %d was not re-executed", tc.flag, c.PID)
		}
		c.Stop()
	}
}
