package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/endpoints-controller/endpoints-controller/pkg/controller"
	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

const (
	services       = 20
	podsPerService = 5
	phase          = 6 * time.Second // churn before, between and after restarts
	settleWithin   = 90 * time.Second
	seed           = 20261125
)

func TestConvergesAfterFaults(t *testing.T) {
	ctx := context.Background()
	admin := framework.Clientset(cp.Config)
	ns := framework.NewNamespace(t, admin)

	proxy, err := startFaultProxy(cp.Config, seed)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: proxy.URL, QPS: 200, Burst: 400})
	if err != nil {
		t.Fatal(err)
	}
	inf := controller.NewInformers(cs, ns, "")
	c, err := controller.New(cs, inf, controller.Options{MaxRetryDelay: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	inf.Start(runCtx.Done())
	go func() { defer close(done); c.Run(runCtx) }()
	defer func() { stop(); <-done; inf.Shutdown() }()

	pods := seedServices(t, admin, ns, services, podsPerService)
	framework.Eventually(t, 60*time.Second, func() error { return check(ctx, admin, ns) })

	// Churn with faults on, restarting the API server and then etcd in the
	// middle of it.
	proxy.enabled.Store(true)
	churnCtx, endChurn := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			churn(churnCtx, admin, pods[w*len(pods)/4:(w+1)*len(pods)/4], rand.New(rand.NewPCG(seed, uint64(w)+2)))
		})
	}
	restarts := 0
	for i, restart := range []func() error{cp.RestartAPIServer, cp.RestartEtcd} {
		time.Sleep(phase)
		if err := restart(); err != nil {
			t.Fatalf("restart %d: %v", i, err)
		}
		restarts++
	}
	time.Sleep(phase)
	endChurn()
	wg.Wait()
	proxy.enabled.Store(false)

	start := time.Now()
	framework.Eventually(t, settleWithin, func() error { return check(ctx, admin, ns) })
	wrong := 0
	if err := check(ctx, admin, ns); err != nil {
		wrong = 1
	}
	summary := fmt.Sprintf("faults injected %d, services checked %d, wrong after settle %d (restarts %d, settled in %v)",
		proxy.faults.Load()+int64(restarts), services, wrong, restarts, time.Since(start).Round(100*time.Millisecond))
	fmt.Println(summary)
	t.Log(summary)
}

// seedServices creates n Services and perService ready pods for each; it
// returns the pods.
func seedServices(t *testing.T, cs kubernetes.Interface, ns string, n, perService int) []*v1.Pod {
	ctx := context.Background()
	var pods []*v1.Pod
	for s := range n {
		name := fmt.Sprintf("svc-%02d", s)
		svc := &v1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1.ServiceSpec{Selector: map[string]string{"app": name},
				Ports: []v1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: v1.ProtocolTCP}}},
		}
		if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for p := range perService {
			pod := framework.MakePod(ns, fmt.Sprintf("%s-%d", name, p), map[string]string{"app": name}, framework.WithNodeName("node-1"))
			created, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ip := fmt.Sprintf("10.%d.%d.%d", 10+s/200, s%200, p+1)
			if created, err = framework.SetPodStatus(ctx, cs, created, []string{ip}, true, v1.PodRunning); err != nil {
				t.Fatal(err)
			}
			pods = append(pods, created)
		}
	}
	return pods
}

// churn flips readiness of random pods until ctx ends, sometimes the same
// pod several times within milliseconds. Errors (during restarts) are
// expected and ignored: the final state is read back from the API.
func churn(ctx context.Context, cs kubernetes.Interface, pods []*v1.Pod, rng *rand.Rand) {
	for ctx.Err() == nil {
		pod := pods[rng.IntN(len(pods))]
		for range 1 + rng.IntN(3) {
			setReady(ctx, cs, pod, rng.IntN(2) == 0)
		}
		time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
	}
}

func setReady(ctx context.Context, cs kubernetes.Interface, pod *v1.Pod, ready bool) {
	cur, err := cs.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		return
	}
	status := v1.ConditionFalse
	if ready {
		status = v1.ConditionTrue
	}
	cur.Status.Conditions = []v1.PodCondition{{Type: v1.PodReady, Status: status, LastTransitionTime: metav1.Now()}}
	_, _ = cs.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
}

// check compares every Service's Endpoints with its pods as the API server
// has them now: ready pods' IPs in addresses, the others in
// notReadyAddresses.
func check(ctx context.Context, cs kubernetes.Interface, ns string) error {
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	want := map[string][2][]string{}
	for _, p := range pods.Items {
		w := want[p.Labels["app"]]
		i := 1
		for _, c := range p.Status.Conditions {
			if c.Type == v1.PodReady && c.Status == v1.ConditionTrue {
				i = 0
			}
		}
		w[i] = append(w[i], p.Status.PodIP)
		want[p.Labels["app"]] = w
	}
	eps, err := cs.CoreV1().Endpoints(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	got := map[string][2][]string{}
	for _, ep := range eps.Items {
		var g [2][]string
		for _, s := range ep.Subsets {
			for _, a := range s.Addresses {
				g[0] = append(g[0], a.IP)
			}
			for _, a := range s.NotReadyAddresses {
				g[1] = append(g[1], a.IP)
			}
		}
		got[ep.Name] = g
	}
	var wrong []string
	for name, w := range want {
		g := got[name]
		for i := range 2 {
			slices.Sort(w[i])
			slices.Sort(g[i])
		}
		if !slices.Equal(w[0], g[0]) || !slices.Equal(w[1], g[1]) {
			wrong = append(wrong, fmt.Sprintf("%s: ready %v notReady %v, want %v %v", name, g[0], g[1], w[0], w[1]))
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("%d of %d services wrong, e.g. %s", len(wrong), len(want), wrong[0])
	}
	return nil
}
