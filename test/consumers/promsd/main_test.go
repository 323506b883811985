// Package promsd runs Prometheus' Kubernetes service discovery (role
// endpoints) as a library against the test cluster, over the same scenario
// twice: once with the built-in endpoints controller writing the Endpoints,
// once with ours. The target groups it discovers must follow the pods, and
// be the same both times.
package promsd

import (
	"testing"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

var cluster *framework.Cluster

func TestMain(m *testing.M) {
	framework.RunClusterMain(m, framework.ClusterOptions{Nodes: 2}, func(c *framework.Cluster) { cluster = c })
}
