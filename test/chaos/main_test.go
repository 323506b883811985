// Package chaos proves the controller converges to the truth after faults:
// delayed and cut watches, failed writes, reset connections, connections
// that go silent, and restarts of kube-apiserver and etcd, all while pods
// flip readiness.
package chaos

import (
	"os"
	"testing"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

var (
	cp               *framework.ControlPlane
	controllerBinary string // our binary, for the tests that need the real process
)

func TestMain(m *testing.M) {
	os.Exit(framework.MainWithController(m, framework.Options{}, func(c *framework.ControlPlane, bin string) {
		cp, controllerBinary = c, bin
	}))
}
