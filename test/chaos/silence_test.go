package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// recoverWithin is the bound on how long after its connections go silent
// the controller has Endpoints right again.
const recoverWithin = 30 * time.Second

// TestRecoversFromSilentConnections: our binary, with its default flags but
// the transport, talks to the API server through a proxy that, while pod
// readiness flips, silences every connection open at that moment (no reset,
// no FIN: the socket stays open and nothing flows). The controller must
// notice, reconnect and have every Endpoints right within recoverWithin of
// the silence, keeping its lease, for every transport the flags allow.
func TestRecoversFromSilentConnections(t *testing.T) {
	for _, http2 := range []bool{true, false} {
		t.Run("http2="+strconv.FormatBool(http2), func(t *testing.T) {
			recovered := silenceDuringChurn(t, "--kube-api-http2="+strconv.FormatBool(http2))
			summary := fmt.Sprintf("silent connections, --kube-api-http2=%v: every Endpoints right %v after the silence (bound %v)",
				http2, recovered.Round(100*time.Millisecond), recoverWithin)
			fmt.Println(summary)
			t.Log(summary)
		})
	}
}

// silenceDuringChurn runs the scenario with the controller's extra args and
// returns how long after the silence every Endpoints was right.
func silenceDuringChurn(t *testing.T, args ...string) time.Duration {
	const (
		services, podsPerService = 10, 5
		flipsPerSecond           = 20
		churnBefore, churnAfter  = 12 * time.Second, 5 * time.Second
	)
	ctx := context.Background()
	admin := framework.Clientset(cp.Config)
	ns := framework.NewNamespace(t, admin)
	pods := seedServices(t, admin, ns, services, podsPerService)

	proxy, err := startSilencingProxy(cp.URL[len("https://"):])
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	kubeconfig := framework.KubeconfigVia(t, cp.KubeconfigPath, "https://"+proxy.Addr)
	ctrl, err := framework.StartProcess("endpoints-controller", controllerBinary, append([]string{
		"--kubeconfig=" + kubeconfig,
		"--leader-elect-resource-namespace=" + ns,
		"--secure-port=0",
		"--endpoint-updates-batch-period=0",
	}, args...), filepath.Join(t.TempDir(), "controller.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("controller log:\n%s", ctrl.LogTail(60))
		}
		ctrl.Stop()
	}()
	framework.Eventually(t, 60*time.Second, func() error { return check(ctx, admin, ns) })

	churnCtx, endChurn := context.WithCancel(ctx)
	churned := make(chan struct{})
	go func() {
		defer close(churned)
		steadyChurn(churnCtx, admin, pods, flipsPerSecond)
	}()
	time.Sleep(churnBefore)
	silenced := time.Now()
	t.Logf("silenced %d connections", proxy.silence())
	time.Sleep(churnAfter)
	endChurn()
	<-churned

	framework.Eventually(t, recoverWithin-churnAfter, func() error {
		if ctrl.Exited() {
			return fmt.Errorf("the controller exited: %v", ctrl.Wait())
		}
		return check(ctx, admin, ns)
	})
	recovered := time.Since(silenced)
	if ctrl.Exited() {
		t.Fatalf("the controller exited (lost its lease?): %v", ctrl.Wait())
	}
	return recovered
}

// steadyChurn flips the readiness of a random pod perSecond times a
// second until ctx ends.
func steadyChurn(ctx context.Context, cs kubernetes.Interface, pods []*v1.Pod, perSecond int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	tick := time.NewTicker(time.Second / time.Duration(perSecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			setReady(ctx, cs, pods[rng.IntN(len(pods))], rng.IntN(2) == 0)
		}
	}
}
