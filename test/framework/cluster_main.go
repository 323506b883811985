package framework

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
)

// RunClusterMain is RunMain for a Cluster: it starts one for the test
// package, hands it to setup, runs the tests, stops everything (also on
// SIGINT/SIGTERM) and exits. A cluster that cannot start fails the package.
func RunClusterMain(m *testing.M, opts ClusterOptions, setup func(*Cluster)) {
	os.Exit(clusterMain(m, opts, setup))
}

func clusterMain(m *testing.M, opts ClusterOptions, setup func(*Cluster)) int {
	if opts.Progress == nil {
		opts.Progress = func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "framework: "+format+"\n", args...)
		}
	}
	c, err := StartCluster(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: starting the test cluster: %v\n", err)
		return 1
	}
	defer c.Stop()

	// Children have process groups of their own, so a Ctrl-C reaches only
	// us: stop them before exiting.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		sig := <-sigs
		fmt.Fprintf(os.Stderr, "framework: %v: stopping the cluster\n", sig)
		c.Stop()
		os.Exit(1)
	}()

	if setup != nil {
		setup(c)
	}
	return m.Run()
}
