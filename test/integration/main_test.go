// Package integration runs the controller's tests against a real etcd and
// kube-apiserver started once per package by test/framework.
package integration

import (
	"testing"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// cp is the package's control plane, set by TestMain before any test runs.
var cp *framework.ControlPlane

func TestMain(m *testing.M) {
	framework.RunMain(m, framework.Options{}, func(c *framework.ControlPlane) { cp = c })
}
