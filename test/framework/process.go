package framework

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// stopGrace is how long a child gets to exit after SIGTERM before SIGKILL.
const stopGrace = 10 * time.Second

// process is one child (etcd, kube-apiserver, ...) that can be stopped and
// started again with the same arguments: a Process per run, all appending
// to logPath so the logs of earlier runs survive a restart.
type process struct {
	name    string
	path    string
	args    []string
	logPath string

	mu  sync.Mutex
	cur *Process // nil when stopped
}

// start launches the child; see StartProcess.
func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil {
		return fmt.Errorf("%s is already running", p.name)
	}
	cur, err := StartProcess(p.name, p.path, p.args, p.logPath)
	if err != nil {
		return err
	}
	p.cur = cur
	return nil
}

// exited reports whether the child is gone (or was never started).
func (p *process) exited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur == nil || p.cur.Exited()
}

// stop stops the child as Process.Stop does.
func (p *process) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil {
		p.cur.Stop()
		p.cur = nil
	}
}

// logTail returns the last n lines of the child's log, for error messages.
func (p *process) logTail(n int) string { return logTail(p.logPath, n) }

// logTail returns the last n lines of the log at path.
func logTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	const max = 64 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > max {
		f.Seek(fi.Size()-max, io.SeekStart)
	}
	data, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return fmt.Sprintf("--- last lines of %s ---\n%s", path, strings.Join(lines, "\n"))
}
