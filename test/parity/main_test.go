// Package parity is a differential test: the built-in endpoints controller of
// kube-controller-manager and ours run, one after the other, over the same
// randomized cluster state, and must write the same Endpoints.
package parity

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
	ourBinary string                  // our controller, built by TestMain
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "parity-bin-*")
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// The real binary, not the package: flags and wiring are under test too.
	if ourBinary, err = framework.BuildController(context.Background(), filepath.Join(dir, "endpoints-controller")); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: building the controller: %v\n", err)
		return 1
	}
	return framework.Main(m, framework.Options{}, func(c *framework.ControlPlane) { cp = c })
}
