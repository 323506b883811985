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
}

// watchEndpoints prints one line per change of an Endpoints in ns, as a
// watch (an informer) sees them.
func (d *demo) watchEndpoints(ns string) error {
	cfg := rest.CopyConfig(d.cluster.Config)
	cfg.WarningHandler = rest.NoWarnings{} // "v1 Endpoints is deprecated": known
	cs := framework.Clientset(cfg)
	d.stop, d.changed = make(chan struct{}), make(chan struct{})
	d.last, d.ready = map[string]string{}, map[string]int{}
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
	d.ready[ep.Name] = len(ready)
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

// script is the scripted part: apply the examples, then scale web 3→5→2
// and wait each time until its Endpoints show that many ready pods.
func (d *demo) script(ctx context.Context) error {
	kubeconfig := d.cluster.KubeconfigPath
	say("==> the cluster is yours while this runs:")
	say("      export KUBECONFIG=%s PATH=%s:$PATH", kubeconfig, d.cluster.BinDir)
	say("      kubectl get nodes,pods,endpoints -A")

	if err := d.kubectl(ctx, "apply", "-f", filepath.Join(d.root, "deploy", "examples")+"/"); err != nil {
		return err
	}
	if err := d.waitReady(ctx, "web", 3); err != nil {
		return err
	}
	for _, n := range []int{5, 2} {
		if err := d.kubectl(ctx, "-n", "demo", "scale", "deployment/web", fmt.Sprintf("--replicas=%d", n)); err != nil {
			return err
		}
		if err := d.waitReady(ctx, "web", n); err != nil {
			return err
		}
	}
	return nil
}

// waitReady waits until the Endpoints name show n ready addresses.
func (d *demo) waitReady(ctx context.Context, name string, n int) error {
	start := time.Now()
	timeout := time.After(2 * time.Minute)
	for {
		d.mu.Lock()
		got, changed := d.ready[name], d.changed
		d.mu.Unlock()
		if got == n {
			say("    %s has %d ready endpoints (%.1fs)", name, n, time.Since(start).Seconds())
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout:
			return fmt.Errorf("Endpoints %s: %d ready addresses after 2m, want %d", name, got, n)
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
