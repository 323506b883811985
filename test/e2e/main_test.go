// Package e2e runs our endpoints-controller binary against a whole local
// cluster: etcd, kube-apiserver, kube-controller-manager (its own endpoints
// controller disabled), kube-scheduler and kwok, whose fake nodes and
// kubelets make Deployments really roll out. Each test starts the
// controller processes it needs and stops them at its end.
package e2e

import (
	"testing"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

var cluster *framework.Cluster

func TestMain(m *testing.M) {
	framework.RunClusterMain(m, framework.ClusterOptions{Nodes: 3}, func(c *framework.Cluster) { cluster = c })
}
