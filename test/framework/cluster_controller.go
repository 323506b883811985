package framework

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Controller is one endpoints-controller process started by
// StartController. Unlike the cluster's own processes it is never
// restarted: tests kill it and start a new one.
type Controller struct {
	*Process
	Name    string // endpoints-controller-<n>
	LogPath string
	PID     int
}

// StartController runs our endpoints-controller with
// --kubeconfig=<the cluster's>, --secure-port=0 (so that several can run)
// and PodDecoderArgs followed by args; a later --kubeconfig or
// --secure-port in args wins (flags keep the last value). Output goes to LogPath in Dir.
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

	args = append(append([]string{"--kubeconfig=" + c.KubeconfigPath, "--secure-port=0"}, PodDecoderArgs()...), args...)
	p, err := StartProcess(name, bin, args, filepath.Join(c.Dir, name+".log"))
	if err != nil {
		return nil, err
	}
	ctrl := &Controller{Process: p, Name: name, LogPath: p.LogPath(), PID: p.PID()}
	c.mu.Lock()
	c.controllers = append(c.controllers, ctrl)
	c.mu.Unlock()
	return ctrl, nil
}

// Signal sends sig to the process. os.Process uses a pidfd on Linux, so a
// reaped child's recycled PID is never hit; signalling a gone process is not
// an error.
func (ctrl *Controller) Signal(sig syscall.Signal) error {
	if err := ctrl.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signalling %s (pid %d): %w", ctrl.Name, ctrl.PID, err)
	}
	return nil
}

// Wait waits up to timeout for the process to exit and returns its exit
// error (nil for exit code 0), or an error saying it is still running.
func (ctrl *Controller) Wait(timeout time.Duration) error {
	select {
	case <-ctrl.Done():
		return ctrl.waitErr
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
	if errors.As(ctrl.waitErr, &ee) {
		return ee.ExitCode()
	}
	if ctrl.waitErr != nil {
		return -1
	}
	return 0
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
			c.binary, c.buildErr = BuildController(ctx, filepath.Join(c.Dir, "endpoints-controller"))
		}()
	})
}

// BuildController builds ./cmd/endpoints-controller into out and returns
// out: tests run the real binary, so flags and wiring are under test too.
func BuildController(ctx context.Context, out string) (string, error) {
	return buildController(ctx, out)
}

// BuildControllerVersion is BuildController with pkg/version.Version set to
// version, as the Makefile sets it: builds that tell apart, for upgrades.
func BuildControllerVersion(ctx context.Context, out, version string) (string, error) {
	return buildController(ctx, out, "-ldflags=-X github.com/endpoints-controller/endpoints-controller/pkg/version.Version="+version)
}

func buildController(ctx context.Context, out string, flags ...string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	// go test and go run put their own go first in PATH.
	args := append(append([]string{"build", "-o", out}, flags...), "./cmd/endpoints-controller")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	var output strings.Builder
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/endpoints-controller: %w\n%s", err, output.String())
	}
	return out, nil
}

// ControllerBinary returns the path of our binary as StartController runs
// it, for tests that start it some other way (under strace, say).
func (c *Cluster) ControllerBinary() (string, error) { return c.controllerBinary() }
