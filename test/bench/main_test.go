// Package bench compares this controller with the built-in endpoints
// controller of kube-controller-manager, side by side on one real control
// plane: cold sync, readiness-flip latency, settle time, Endpoints writes,
// CPU and memory. TestBenchSmoke (a few seconds) runs in every `go test`;
// the full TestBench only with BENCH=1, as `make bench` does.
package bench

import (
	"os"
	"testing"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

var (
	cp        *framework.ControlPlane // shared by the package
	ourBinary string                  // built by TestMain
)

func TestMain(m *testing.M) {
	// The real binary, not the package: flags and wiring are under test too.
	os.Exit(framework.MainWithController(m, framework.Options{}, func(c *framework.ControlPlane, bin string) {
		cp, ourBinary = c, bin
	}))
}
