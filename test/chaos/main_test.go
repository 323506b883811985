// Package chaos proves the controller converges to the truth after faults:
// delayed and cut watches, failed writes, reset connections, and restarts of
// kube-apiserver and etcd, all while pods flip readiness.
package chaos

import (
	"testing"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

var cp *framework.ControlPlane

func TestMain(m *testing.M) {
	framework.RunMain(m, framework.Options{}, func(c *framework.ControlPlane) { cp = c })
}
