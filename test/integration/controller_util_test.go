package integration

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/endpoints-controller/endpoints-controller/pkg/controller"
	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// env is one test's namespace with a controller watching only it, so tests
// run in isolation against the shared API server.
type env struct {
	t  *testing.T
	cs kubernetes.Interface // admin, for the test's own requests
	// controllerCS is the controller's client: deploy/'s ServiceAccount
	// unless a test says otherwise.
	controllerCS kubernetes.Interface
	ns           string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	cs := framework.Clientset(cp.Config)
	return &env{t: t, cs: cs, controllerCS: controllerClient, ns: framework.NewNamespace(t, cs)}
}

// startController runs the controller on e's namespace until the test ends.
func (e *env) startController(opts controller.Options) {
	e.t.Helper()
	e.runController(e.controllerCS, controller.NewInformers(e.controllerCS, e.ns, controller.Decoder(framework.PodDecoder())), opts)
}

// runController runs a controller over inf, writing with client, until the
// test ends, and waits until its caches have synced.
func (e *env) runController(client kubernetes.Interface, inf *controller.Informers, opts controller.Options) {
	e.t.Helper()
	c, err := controller.New(client, inf, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	inf.Start(ctx.Done())
	go func() { defer close(done); c.Run(ctx) }()
	e.t.Cleanup(func() { cancel(); <-done; inf.Shutdown() })
	framework.Eventually(e.t, 30*time.Second, func() error {
		if !c.HasSynced() {
			return fmt.Errorf("controller not synced")
		}
		return nil
	})
}

func (e *env) ctx() context.Context { return context.Background() }

func (e *env) createService(svc *v1.Service) *v1.Service {
	e.t.Helper()
	svc.Namespace = e.ns
	out, err := e.cs.CoreV1().Services(e.ns).Create(e.ctx(), svc, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("creating service %s: %v", svc.Name, err)
	}
	return out
}

// createPod creates a pod bound to node-1 (or as mut says) and gives it a
// status as a kubelet would.
func (e *env) createPod(name string, labels map[string]string, ips []string, ready bool, mut ...func(*v1.Pod)) *v1.Pod {
	e.t.Helper()
	mut = append([]func(*v1.Pod){framework.WithNodeName("node-1")}, mut...)
	pod, err := e.cs.CoreV1().Pods(e.ns).Create(e.ctx(), framework.MakePod(e.ns, name, labels, mut...), metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("creating pod %s: %v", name, err)
	}
	if len(ips) == 0 && !ready {
		return pod
	}
	pod, err = framework.SetPodStatus(e.ctx(), e.cs, pod, ips, ready, v1.PodRunning)
	if err != nil {
		e.t.Fatalf("setting status of pod %s: %v", name, err)
	}
	return pod
}

// createManyPods creates n pods p0000… with IPs 10.<net>.x.y, 32 at a
// time; ready(i) says which are ready.
func (e *env) createManyPods(n int, labels map[string]string, net int, ready func(int) bool) {
	e.t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ip := fmt.Sprintf("10.%d.%d.%d", net, i/250, i%250+1)
			e.createPod(fmt.Sprintf("p%04d", i), labels, []string{ip}, ready(i))
		})
	}
	wg.Wait()
}

func (e *env) setStatus(pod *v1.Pod, ips []string, ready bool, phase v1.PodPhase) *v1.Pod {
	e.t.Helper()
	pod, err := framework.SetPodStatus(e.ctx(), e.cs, pod, ips, ready, phase)
	if err != nil {
		e.t.Fatalf("setting status of pod %s: %v", pod.Name, err)
	}
	return pod
}

func (e *env) getEndpoints(name string) (*v1.Endpoints, error) {
	return e.cs.CoreV1().Endpoints(e.ns).Get(e.ctx(), name, metav1.GetOptions{})
}

// waitEndpoints waits until the Endpoints named name satisfy check.
func (e *env) waitEndpoints(name string, check func(*v1.Endpoints) error) *v1.Endpoints {
	e.t.Helper()
	var ep *v1.Endpoints
	framework.Eventually(e.t, 30*time.Second, func() error {
		var err error
		if ep, err = e.getEndpoints(name); err != nil {
			return err
		}
		return check(ep)
	})
	return ep
}

// waitIPs waits until the Endpoints list exactly these ready and not-ready
// IPs (in any subset), and returns them.
func (e *env) waitIPs(name string, ready, notReady []string) *v1.Endpoints {
	e.t.Helper()
	return e.waitEndpoints(name, func(ep *v1.Endpoints) error {
		gotReady, gotNotReady := ips(ep)
		if !slices.Equal(gotReady, sorted(ready)) || !slices.Equal(gotNotReady, sorted(notReady)) {
			return fmt.Errorf("ready %v notReady %v, want %v and %v", gotReady, gotNotReady, ready, notReady)
		}
		return nil
	})
}

// ips returns the distinct ready and not-ready IPs, sorted.
func ips(ep *v1.Endpoints) (ready, notReady []string) {
	for _, s := range ep.Subsets {
		for _, a := range s.Addresses {
			ready = append(ready, a.IP)
		}
		for _, a := range s.NotReadyAddresses {
			notReady = append(notReady, a.IP)
		}
	}
	return slices.Compact(sorted(ready)), slices.Compact(sorted(notReady))
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	if s == nil {
		return []string{}
	}
	return s
}

// service returns a ClusterIP Service selecting app=name with the ports.
func service(name string, ports ...v1.ServicePort) *v1.Service {
	return &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"team": "x"}},
		Spec:       v1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: ports},
	}
}

func port(name string, p int32, target intstr.IntOrString, proto v1.Protocol) v1.ServicePort {
	return v1.ServicePort{Name: name, Port: p, TargetPort: target, Protocol: proto}
}

// expectNoWrite fails if the Endpoints change within d.
func (e *env) expectNoWrite(name string, d time.Duration) {
	e.t.Helper()
	before, err := e.getEndpoints(name)
	if err != nil {
		e.t.Fatal(err)
	}
	time.Sleep(d)
	after, err := e.getEndpoints(name)
	if err != nil {
		e.t.Fatal(err)
	}
	if before.ResourceVersion != after.ResourceVersion {
		e.t.Fatalf("Endpoints %s were written (rv %s -> %s) though nothing they hold changed", name, before.ResourceVersion, after.ResourceVersion)
	}
}
