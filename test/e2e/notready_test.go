package e2e

import (
	"slices"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// TestPodTurnsNotReady: a Running pod whose Ready condition turns False
// moves to notReadyAddresses, and back when it turns True again.
//
// The test writes the condition itself, as a kubelet whose readiness probe
// fails would. kwok leaves it alone: its pod-ready stage only matches pods
// in phase Pending, and the pod stays Running.
func TestPodTurnsNotReady(t *testing.T) {
	startController(t, "--leader-elect=false")
	ns := newNamespace(t)
	createWeb(t, ns, "web", 2)
	waitEndpointsFollowPods(t, ns, "web", 2, 0)

	cs := clientset()
	pods, err := cs.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(pods.Items) != 2 {
		t.Fatalf("listing pods: %v (%d)", err, len(pods.Items))
	}
	pod := &pods.Items[0]
	ips := []string{pod.Status.PodIP}
	if _, err := framework.SetPodStatus(t.Context(), cs, pod, ips, false, v1.PodRunning); err != nil {
		t.Fatal(err)
	}
	waitEndpointsFollowPods(t, ns, "web", 1, 1)
	ep, err := cs.CoreV1().Endpoints(ns).Get(t.Context(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, notReady, _ := endpointIPs(ep, webPorts); !slices.Equal(notReady, ips) {
		t.Fatalf("notReadyAddresses %v, want %v", notReady, ips)
	}

	// Nothing (kwok, the ReplicaSet controller) flips it back behind our back.
	time.Sleep(3 * time.Second)
	if err := endpointsFollowPods(t.Context(), ns, "web", 1, 1); err != nil {
		t.Fatalf("3s later: %v", err)
	}

	if _, err := framework.SetPodStatus(t.Context(), cs, pod, ips, true, v1.PodRunning); err != nil {
		t.Fatal(err)
	}
	waitEndpointsFollowPods(t, ns, "web", 2, 0)
}
