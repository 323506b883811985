package framework

import (
	"fmt"
	"os"
	"os/signal"
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

	// The children are in their own process groups, so a Ctrl-C reaches only
	// us: stop them before exiting. (A crash is covered by Pdeathsig.)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		sig := <-sigs
		fmt.Fprintf(os.Stderr, "framework: %v: stopping the control plane\n", sig)
		cp.Stop()
		os.Exit(1)
	}()

	shared.Store(cp)
	defer shared.Store(nil)
	if setup != nil {
		setup(cp)
	}
	return m.Run()
}

// RunMain is Main followed by os.Exit, for a one-line TestMain. The deferred
// Stop in Main runs before the exit.
func RunMain(m *testing.M, opts Options, setup func(*ControlPlane)) {
	os.Exit(Main(m, opts, setup))
}
