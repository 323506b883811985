package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

var (
	started = time.Now()
	out     sync.Mutex // one line at a time from main and the watch
)

// demo applies the examples and shows their Endpoints as they change.
type demo struct {
	cluster *framework.Cluster
	root    string

	stop     chan struct{}
	stopOnce sync.Once
	factory  informers.SharedInformerFactory

	mu      sync.Mutex
	last    map[string]string // Endpoints name -> last line printed
	changed chan struct{}     // closed and replaced on every change
	ready   map[string]int    // Endpoints name -> ready addresses
	unready map[string]int    // Endpoints name -> notReady addresses
}

// watchEndpoints prints one line per change of an Endpoints in ns, as a
// watch (an informer) sees them.
func (d *demo) watchEndpoints(ns string) error {
	cfg := rest.CopyConfig(d.cluster.Config)
	cfg.WarningHandler = rest.NoWarnings{} // "v1 Endpoints is deprecated": known
	cs := framework.Clientset(cfg)
	d.stop, d.changed = make(chan struct{}), make(chan struct{})
	d.last, d.ready, d.unready = map[string]string{}, map[string]int{}, map[string]int{}
	d.factory = informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns))
	inf := d.factory.Core().V1().Endpoints().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { d.show(obj.(*v1.Endpoints), false) },
		UpdateFunc: func(_, obj any) { d.show(obj.(*v1.Endpoints), false) },
		DeleteFunc: func(obj any) {
			if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
				_, name, _ := strings.Cut(key, "/")
				d.show(&v1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: name}}, true)
			}
		},
	})
	if err != nil {
		return err
	}
	d.factory.Start(d.stop)
	return nil
}

func (d *demo) stopWatch() {
	d.stopOnce.Do(func() {
		close(d.stop)
		d.factory.Shutdown()
	})
}

// show prints e.g. "web: ready 10.244.0.3,10.244.0.5 notReady -" when
// that line differs from the last one printed for the same Endpoints.
func (d *demo) show(ep *v1.Endpoints, deleted bool) {
	var ready, notReady []string
	for _, ss := range ep.Subsets {
		for _, a := range ss.Addresses {
			ready = append(ready, a.IP)
		}
		for _, a := range ss.NotReadyAddresses {
			notReady = append(notReady, a.IP)
		}
	}
	slices.Sort(ready)
	slices.Sort(notReady)
	line := fmt.Sprintf("%s: ready %s notReady %s%s", ep.Name, list(ready), list(notReady), ports(ep))
	if deleted {
		line = ep.Name + ": deleted"
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.last[ep.Name] == line {
		return
	}
	d.last[ep.Name] = line
	d.ready[ep.Name], d.unready[ep.Name] = len(ready), len(notReady)
	close(d.changed)
	d.changed = make(chan struct{})
	say("    endpoints %s", line)
}

// ports lists the ports of the first subset, " (http:8080,metrics:9090)".
func ports(ep *v1.Endpoints) string {
	if len(ep.Subsets) == 0 {
		return ""
	}
	var ps []string
	for _, p := range ep.Subsets[0].Ports {
		ps = append(ps, fmt.Sprintf("%s:%d", p.Name, p.Port))
	}
	return " (" + strings.Join(ps, ",") + ")"
}

func list(ips []string) string {
	if len(ips) == 0 {
		return "-"
	}
	return strings.Join(ips, ",")
}

// script is the scripted part: apply the examples, scale web 3→5→2 and
// flip one pod's readiness, waiting each time until web's Endpoints show it.
func (d *demo) script(ctx context.Context) error {
	kubeconfig := d.cluster.KubeconfigPath
	say("==> the cluster is yours while this runs:")
	say("      export KUBECONFIG=%s PATH=%s:$PATH", kubeconfig, d.cluster.BinDir)
	say("      kubectl get nodes,pods,endpoints -A")

	if err := d.kubectl(ctx, "apply", "-f", filepath.Join(d.root, "deploy", "examples")+"/"); err != nil {
		return err
	}
	if err := d.waitAddresses(ctx, "web", 3, 0); err != nil {
		return err
	}
	for _, n := range []int{5, 2} {
		if err := d.kubectl(ctx, "-n", "demo", "scale", "deployment/web", fmt.Sprintf("--replicas=%d", n)); err != nil {
			return err
		}
		if err := d.waitAddresses(ctx, "web", n, 0); err != nil {
			return err
		}
	}
	return d.flipReadiness(ctx)
}

// flipReadiness turns one web pod's Ready condition False and back, as a
// kubelet does when a readiness probe fails and then passes again (the
// demo's kubelets are kwok fakes, which run no probes): its address moves
// to notReadyAddresses and back.
func (d *demo) flipReadiness(ctx context.Context) error {
	cs := framework.Clientset(d.cluster.Config)
	pods, err := cs.CoreV1().Pods("demo").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		return err
	}
	var pod *v1.Pod
	for i := range pods.Items {
		if p := &pods.Items[i]; p.DeletionTimestamp == nil && p.Status.PodIP != "" {
			pod = p
			break
		}
	}
	if pod == nil {
		return fmt.Errorf("no running web pod to flip")
	}
	for _, ready := range []bool{false, true} {
		say("==> pod %s (%s): %s", pod.Name, pod.Status.PodIP, map[bool]string{
			false: "its readiness probe fails (condition Ready=False)",
			true:  "its readiness probe passes again (Ready=True)"}[ready])
		if _, err := framework.SetPodStatus(ctx, cs, pod, []string{pod.Status.PodIP}, ready, v1.PodRunning); err != nil {
			return err
		}
		want := map[bool]int{false: 1, true: 0}[ready]
		if err := d.waitAddresses(ctx, "web", 2-want, want); err != nil {
			return err
		}
	}
	return nil
}

// waitAddresses waits until the Endpoints name show that many ready and
// notReady addresses.
func (d *demo) waitAddresses(ctx context.Context, name string, ready, notReady int) error {
	start := time.Now()
	timeout := time.After(2 * time.Minute)
	for {
		d.mu.Lock()
		gotReady, gotNotReady, changed := d.ready[name], d.unready[name], d.changed
		d.mu.Unlock()
		if gotReady == ready && gotNotReady == notReady {
			say("    %s has %d ready and %d notReady endpoints (%.1fs)", name, ready, notReady, time.Since(start).Seconds())
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout:
			return fmt.Errorf("Endpoints %s: %d ready and %d notReady addresses after 2m, want %d and %d",
				name, gotReady, gotNotReady, ready, notReady)
		}
	}
}

// kubectl runs the cluster's kubectl, echoing the command and its output.
func (d *demo) kubectl(ctx context.Context, args ...string) error {
	say("$ kubectl %s", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, filepath.Join(d.cluster.BinDir, "kubectl"),
		append([]string{"--kubeconfig=" + d.cluster.KubeconfigPath}, args...)...)
	// Streamed, so its lines interleave in order with the watch's.
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			// kubectl prints the API server's warnings with client-go's
			// default handler and has no flag to silence them; the
			// deprecation of v1 Endpoints is what this controller is about.
			if strings.HasPrefix(sc.Text(), "Warning: v1 Endpoints is deprecated") {
				continue
			}
			say("    %s", sc.Text())
		}
		io.Copy(io.Discard, pr)
	}()
	err := cmd.Run()
	pw.Close()
	<-printed
	if err != nil {
		return fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
	}
	return nil
}
