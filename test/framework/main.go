package framework

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var shared atomic.Pointer[ControlPlane]

// Shared returns the control plane started by Main, or nil outside it.
func Shared() *ControlPlane { return shared.Load() }

// Main starts one control plane for a test package, hands it to setup (which
// may be nil; Shared() returns it too), runs the tests and stops the control
// plane again, also on SIGINT/SIGTERM. It returns the exit code for os.Exit.
// A control plane that cannot start fails the package; it is never skipped.
func Main(m *testing.M, opts Options, setup func(*ControlPlane)) int {
	start := time.Now()
	cp, err := StartControlPlane(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: starting the test control plane: %v\n", err)
		return 1
	}
	defer cp.Stop()
	fmt.Fprintf(os.Stderr, "framework: control plane ready in %s at %s (files in %s)\n",
		time.Since(start).Round(100*time.Millisecond), cp.URL, cp.Dir)

	defer stopOnSignal("the control plane", cp.Stop)()

	shared.Store(cp)
	defer shared.Store(nil)
	if setup != nil {
		setup(cp)
	}
	return m.Run()
}

// stopOnSignal runs stop and exits on SIGINT or SIGTERM until the returned
// func is called. The children are in their own process groups, so a Ctrl-C
// reaches only the test process: it must stop them before exiting. (A crash
// is covered by Pdeathsig.)
func stopOnSignal(what string, stop func()) (undo func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig, ok := <-sigs
		if !ok {
			return
		}
		fmt.Fprintf(os.Stderr, "framework: %v: stopping %s\n", sig, what)
		stop()
		os.Exit(1)
	}()
	return func() { signal.Stop(sigs); close(sigs) }
}

// MainWithController is Main for packages that run our real binary: it is
// built first into a temporary folder, and setup gets its path.
func MainWithController(m *testing.M, opts Options, setup func(cp *ControlPlane, binary string)) int {
	dir, err := os.MkdirTemp("", "endpoints-controller-bin-*")
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin, err := BuildController(context.Background(), filepath.Join(dir, "endpoints-controller"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: building the controller: %v\n", err)
		return 1
	}
	return Main(m, opts, func(cp *ControlPlane) { setup(cp, bin) })
}

// RunMain is Main followed by os.Exit, for a one-line TestMain. The deferred
// Stop in Main runs before the exit.
func RunMain(m *testing.M, opts Options, setup func(*ControlPlane)) {
	os.Exit(Main(m, opts, setup))
}
