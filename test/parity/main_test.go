// Package parity is a differential test: the built-in endpoints controller of
// kube-controller-manager and ours run, one after the other, over the same
// randomized cluster state, and must write the same Endpoints.
package parity

import (
	"os"
	"testing"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

var (
	cp        *framework.ControlPlane // shared by the package
	ourBinary string                  // our controller, built by TestMain
)

func TestMain(m *testing.M) {
	// The real binary, not the package: flags and wiring are under test too.
	os.Exit(framework.MainWithController(m, framework.Options{}, func(c *framework.ControlPlane, bin string) {
		cp, ourBinary = c, bin
	}))
}
