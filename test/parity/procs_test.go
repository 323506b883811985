package parity

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is a controller process started by the test, logging to a file.
type proc struct {
	name, logPath string
	pid           int
	done          chan struct{} // closed once the child has been reaped
	stopOnce      sync.Once
}

// startProc starts path in its own process group; the test's cleanup stops
// it, so it never outlives a failed test.
func startProc(t *testing.T, logDir, name, path string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &proc{name: name, logPath: logPath, pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the child's group, then SIGKILL after 10s, and
// waits until it is gone. Only a child not yet reaped is signalled, so a
// recycled PID is never hit.
func (p *proc) stop() {
	p.stopOnce.Do(func() {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
			if p.exited() {
				return
			}
			if err := syscall.Kill(-p.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
				return
			}
			select {
			case <-p.done:
				return
			case <-time.After(10 * time.Second):
			}
		}
		<-p.done
	})
}

// logTail returns the last n lines of the child's log.
func (p *proc) logTail(n int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "--- last lines of " + p.logPath + " ---\n" + strings.Join(lines, "\n")
}
