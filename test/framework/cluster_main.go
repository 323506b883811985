package framework

import (
	"fmt"
	"os"
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

	defer stopOnSignal("the cluster", c.Stop)()

	if setup != nil {
		setup(c)
	}
	return m.Run()
}
