// Package bench compares this controller with the built-in endpoints
// controller of kube-controller-manager, side by side on one real control
// plane: cold sync, readiness-flip latency, settle time, Endpoints writes,
// CPU and memory. TestBenchSmoke (a few seconds) runs in every `go test`;
// the full TestBench only with BENCH=1, as `make bench` does.
package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

var (
	cp        *framework.ControlPlane // shared by the package
	ourBinary string                  // built by TestMain
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "bench-bin-*")
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// The real binary, not the package: its flags and wiring count too.
	ourBinary, err = framework.BuildController(context.Background(), filepath.Join(dir, "endpoints-controller"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		return 1
	}
	return framework.Main(m, framework.Options{}, func(c *framework.ControlPlane) { cp = c })
}
