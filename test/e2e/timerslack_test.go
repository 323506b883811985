package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// TestStartsOnce: the binary is executed once and never executes itself
// again (strace counts execve), on a default start and with --timer-slack,
// whatever ENDPOINTS_CONTROLLER_TIMER_SLACK_NS holds (an older version
// re-executed itself with it set, and looped when it was preset). With
// --timer-slack every thread, the Go runtime's own included, has the
// slack; without it, none was changed.
func TestStartsOnce(t *testing.T) {
	bin, err := cluster.ControllerBinary()
	if err != nil {
		t.Fatal(err)
	}
	inherited := readSlack(t, "/proc/self/timerslack_ns")
	for _, tc := range []struct {
		name, env, flag, wantSlack string
	}{
		{"default", "", "", inherited},
		{"timer slack", "", "--timer-slack=5ms", "5000000"},
		{"preset env", "5000000", "", inherited},
		{"preset env, timer slack", "1000000", "--timer-slack=2ms", "2000000"},
		{"bad env", "not-a-number", "", inherited},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("ENDPOINTS_CONTROLLER_TIMER_SLACK_NS", tc.env)
			}
			dir := t.TempDir()
			trace := filepath.Join(dir, "strace.out")
			args := []string{"-f", "--seccomp-bpf", "-e", "trace=execve", "-o", trace, bin,
				"--kubeconfig=" + cluster.KubeconfigPath, "--leader-elect=false",
				"--secure-port=0"}
			if tc.flag != "" {
				args = append(args, tc.flag)
			}
			strace, err := framework.StartProcess("strace", "strace", args, filepath.Join(dir, "controller.log"))
			if err != nil {
				t.Fatalf("%v (make test needs strace, a Debian package)", err)
			}
			defer strace.Stop()
			// The controller is strace's only child; once it has logged
			// its start, any re-exec would have happened.
			var pid int
			framework.Eventually(t, 30*time.Second, func() error {
				if strace.Exited() {
					return fmt.Errorf("exited: %v\n%s", strace.Wait(), strace.LogTail(20))
				}
				if !strings.Contains(strace.LogTail(50), `"Starting"`) {
					return fmt.Errorf("not started yet:\n%s", strace.LogTail(20))
				}
				children, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", strace.PID(), strace.PID()))
				if err != nil {
					return err
				}
				pid, err = strconv.Atoi(strings.TrimSpace(string(children)))
				return err
			})
			tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
			if err != nil || len(tasks) < 2 {
				t.Fatalf("threads of pid %d: %v %v", pid, tasks, err)
			}
			for _, task := range tasks {
				// Per thread, the file is under /proc/TID only.
				if got := readSlack(t, filepath.Join("/proc", task.Name(), "timerslack_ns")); got != tc.wantSlack {
					t.Errorf("thread %s: timer slack %s, want %s", task.Name(), got, tc.wantSlack)
				}
			}
			// Our own grandchild, just found among strace's children.
			if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-strace.Done():
			case <-time.After(30 * time.Second):
				t.Fatalf("the controller did not exit on SIGTERM:\n%s", strace.LogTail(20))
			}
			if err := strace.Wait(); err != nil {
				t.Fatalf("controller under strace: %v\n%s", err, strace.LogTail(20))
			}
			out, err := os.ReadFile(trace)
			if err != nil {
				t.Fatal(err)
			}
			var execs []string
			for line := range strings.Lines(string(out)) {
				if strings.Contains(line, "execve(") {
					execs = append(execs, strings.TrimSpace(line))
				}
			}
			if len(execs) != 1 {
				t.Errorf("%d execve calls, want 1:\n%s", len(execs), strings.Join(execs, "\n"))
			}
		})
	}
}

func readSlack(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
