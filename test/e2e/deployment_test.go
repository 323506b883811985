package e2e

import "testing"

// TestDeploymentScaling: a Deployment scaled 3→5→0; each time the Endpoints
// list exactly the Running and Ready pods, on both named ports.
func TestDeploymentScaling(t *testing.T) {
	startController(t, "--leader-elect=false")
	ns := newNamespace(t)
	createWeb(t, ns, "web", 3)
	waitEndpointsFollowPods(t, ns, "web", 3, 0)
	scale(t, ns, "web", 5)
	waitEndpointsFollowPods(t, ns, "web", 5, 0)
	scale(t, ns, "web", 0)
	waitEndpointsFollowPods(t, ns, "web", 0, 0)
}
