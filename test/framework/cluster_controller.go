package framework

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Controller is one endpoints-controller process started by
// StartController. Unlike the cluster's own processes it is never
// restarted: tests kill it and start a new one.
type Controller struct {
	Name    string // endpoints-controller-<n>
	LogPath string
	PID     int

	proc     *os.Process
	done     chan struct{} // closed once the process has been reaped
	exitErr  error         // set before done is closed
	stopOnce sync.Once
}

// StartController runs our endpoints-controller with
// --kubeconfig=<the cluster's> followed by args; a later --kubeconfig in
// args wins (Go flags keep the last value). Output goes to LogPath in Dir.
// Cluster.Stop stops it if the caller has not.
func (c *Cluster) StartController(args ...string) (*Controller, error) {
	bin, err := c.controllerBinary()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.nextID++
	name := fmt.Sprintf("endpoints-controller-%d", c.nextID)
	c.mu.Unlock()

	ctrl := &Controller{Name: name, LogPath: filepath.Join(c.Dir, name+".log"), done: make(chan struct{})}
	log, err := os.Create(ctrl.LogPath)
	if err != nil {
		return nil, err
	}
	args = append([]string{"--kubeconfig=" + c.KubeconfigPath}, args...)
	fmt.Fprintf(log, "=== %s: %s %s\n", time.Now().Format(time.RFC3339Nano), bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	ctrl.proc, ctrl.PID = cmd.Process, cmd.Process.Pid
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(log, "=== %s: exited: %v\n", time.Now().Format(time.RFC3339Nano), err)
		log.Close()
		ctrl.exitErr = err
		close(ctrl.done)
	}()
	c.mu.Lock()
	c.controllers = append(c.controllers, ctrl)
	c.mu.Unlock()
	return ctrl, nil
}

// Signal sends sig to the process. os.Process uses a pidfd on Linux, so a
// reaped child's recycled PID is never hit; signalling a gone process is not
// an error.
func (ctrl *Controller) Signal(sig syscall.Signal) error {
	if err := ctrl.proc.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signalling %s (pid %d): %w", ctrl.Name, ctrl.PID, err)
	}
	return nil
}

// Done is closed once the process has exited and been reaped.
func (ctrl *Controller) Done() <-chan struct{} { return ctrl.done }

// Exited reports whether the process is gone.
func (ctrl *Controller) Exited() bool {
	select {
	case <-ctrl.done:
		return true
	default:
		return false
	}
}

// Wait waits up to timeout for the process to exit and returns its exit
// error (nil for exit code 0), or an error saying it is still running.
func (ctrl *Controller) Wait(timeout time.Duration) error {
	select {
	case <-ctrl.done:
		return ctrl.exitErr
	case <-time.After(timeout):
		return fmt.Errorf("%s (pid %d) still running after %s", ctrl.Name, ctrl.PID, timeout)
	}
}

// ExitCode is the exit code once exited: -1 if killed by a signal or
// still running.
func (ctrl *Controller) ExitCode() int {
	if !ctrl.Exited() {
		return -1
	}
	var ee *exec.ExitError
	if errors.As(ctrl.exitErr, &ee) {
		return ee.ExitCode()
	}
	if ctrl.exitErr != nil {
		return -1
	}
	return 0
}

// Stop sends SIGTERM, then SIGKILL after stopGrace, and waits until the
// process is gone.
func (ctrl *Controller) Stop() {
	ctrl.stopOnce.Do(func() {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
			if ctrl.Signal(sig) != nil {
				break
			}
			select {
			case <-ctrl.done:
				return
			case <-time.After(stopGrace):
			}
		}
		<-ctrl.done
	})
}

// LogTail returns the last n lines of the log.
func (ctrl *Controller) LogTail(n int) string {
	return (&process{logPath: ctrl.LogPath}).logTail(n)
}

// controllerBinary returns our binary, building it on first use.
func (c *Cluster) controllerBinary() (string, error) {
	c.startBuild()
	<-c.buildDone
	return c.binary, c.buildErr
}

// startBuild builds ./cmd/endpoints-controller into Dir in the background,
// once. A fresh build per cluster means tests never run a stale binary;
// the Go build cache makes it quick after the first time.
func (c *Cluster) startBuild() {
	c.build.Do(func() {
		if c.binary != "" { // ClusterOptions.ControllerBinary
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		c.buildCancel = cancel
		go func() {
			defer close(c.buildDone)
			c.binary, c.buildErr = goBuild(ctx, filepath.Join(c.Dir, "endpoints-controller"))
		}()
	})
}

func goBuild(ctx context.Context, out string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	// go test and go run put their own go first in PATH.
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/endpoints-controller")
	cmd.Dir = root
	var output strings.Builder
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/endpoints-controller: %w\n%s", err, output.String())
	}
	return out, nil
}
