package framework

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ClusterOptions tunes StartCluster; the zero value is fine.
type ClusterOptions struct {
	Options     // the control plane's
	Nodes   int // fake kwok nodes; default 2

	// Appended last to the default flags, so they win.
	ExtraControllerManagerArgs, ExtraSchedulerArgs, ExtraKwokArgs []string

	// Progress gets one line per start-up step, for humans; nil: quiet.
	Progress func(format string, args ...any)
	// ControllerBinary is what StartController runs; default: a go build
	// of ./cmd/endpoints-controller into Dir, started during start-up.
	ControllerBinary string
}

// Cluster is a control plane plus what makes Deployments work without
// kubelets: kube-controller-manager (without its own endpoints controller,
// which ours replaces), kube-scheduler and kwok, which plays the kubelet of
// fake nodes, so pods get scheduled, turn Running and Ready and get IPs.
type Cluster struct {
	*ControlPlane
	Nodes   []string // names of the fake nodes, all Ready
	KwokURL string   // kwok's own server (http://127.0.0.1:<port>, /healthz)

	kcm, scheduler, kwok *process
	progress             func(string, ...any)

	build       sync.Once // our binary, built once per cluster
	buildDone   chan struct{}
	binary      string
	buildErr    error
	buildCancel context.CancelFunc

	mu          sync.Mutex
	controllers []*Controller
	nextID      int
	stopOnce    sync.Once
}

// StartCluster starts etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok on loopback, creates opts.Nodes fake nodes and
// waits until a pod can be scheduled on them and turns Running.
func StartCluster(opts ClusterOptions) (_ *Cluster, err error) {
	c := &Cluster{progress: opts.Progress, buildDone: make(chan struct{})}
	if c.progress == nil {
		c.progress = func(string, ...any) {}
	}
	if opts.Nodes == 0 {
		opts.Nodes = 2
	}
	start := time.Now()
	c.progress("starting etcd and kube-apiserver")
	if c.ControlPlane, err = StartControlPlane(opts.Options); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	c.progress("etcd ready at %s", c.EtcdURL)
	c.progress("kube-apiserver ready at %s (%s)", c.URL, since(start))

	// Our binary compiles while the rest starts: both take seconds.
	if opts.ControllerBinary != "" {
		c.binary = opts.ControllerBinary
		close(c.buildDone)
	} else {
		c.startBuild()
	}

	// Ours replaces the built-in endpoints controller, switched off
	// exactly as deploy/recipes tells users to.
	controllers, err := BuiltinOffControllers()
	if err != nil {
		return nil, err
	}
	c.kcm = c.newProcess("kube-controller-manager", append([]string{
		"--kubeconfig=" + c.KubeconfigPath,
		"--controllers=" + controllers,
		"--leader-elect=false",
		"--secure-port=0", // serve nothing: no port to collide on, nothing off loopback
		"--service-account-private-key-file=" + c.pkiFile("sa.key"),
		"--root-ca-file=" + c.pkiFile("ca.crt"),
		"--kube-api-qps=200", "--kube-api-burst=400", // Deployments react at once
	}, opts.ExtraControllerManagerArgs...))
	c.scheduler = c.newProcess("kube-scheduler", append([]string{
		"--kubeconfig=" + c.KubeconfigPath,
		"--leader-elect=false",
		"--secure-port=0",
	}, opts.ExtraSchedulerArgs...))
	for _, p := range []*process{c.kcm, c.scheduler} {
		c.progress("starting %s", p.name)
		if err := p.start(); err != nil {
			return nil, err
		}
	}
	c.progress("starting kwok")
	if err := c.startKwok(opts.ExtraKwokArgs); err != nil {
		return nil, err
	}
	c.progress("kwok serving at %s", c.KwokURL)

	c.progress("creating %d fake nodes", opts.Nodes)
	if err := c.createNodes(opts.Nodes); err != nil {
		return nil, err
	}
	if err := c.waitNodesReady(); err != nil {
		return nil, err
	}
	c.progress("nodes Ready: %v", c.Nodes)
	if err := c.waitPodsRun(); err != nil {
		return nil, err
	}
	c.progress("cluster ready in %s: a pod was scheduled and turned Running (files in %s)", since(start), c.Dir)
	return c, nil
}

// Stop stops every process the cluster started (our controllers first,
// the control plane last) and removes Dir. Safe to call more than once.
func (c *Cluster) Stop() {
	c.stopOnce.Do(func() {
		c.mu.Lock()
		ctrls := c.controllers
		c.mu.Unlock()
		for _, ctrl := range ctrls {
			ctrl.Stop()
		}
		if c.buildCancel != nil {
			c.buildCancel()
			<-c.buildDone
		}
		for _, p := range []*process{c.kwok, c.scheduler, c.kcm} {
			if p != nil {
				p.stop()
			}
		}
		if c.ControlPlane != nil {
			c.ControlPlane.Stop()
		}
	})
}

// startKwok starts kwok serving on a free loopback port, retrying with
// another port if someone grabbed it in between.
func (c *Cluster) startKwok(extra []string) error {
	for attempt := 1; ; attempt++ {
		port, err := FreePort()
		if err != nil {
			return err
		}
		c.KwokURL = "http://127.0.0.1:" + strconv.Itoa(port)
		c.kwok = c.newProcess("kwok", append([]string{
			"--kubeconfig=" + c.KubeconfigPath,
			// kwok v0.8 has no stages built in: without these it exits with
			// "no stages found". They make nodes Ready, pods Running with IPs.
			"--config=" + filepath.Join(c.BinDir, "kwok-stages.yaml"),
			"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
			"--cidr=10.244.0.0/16",
			"--node-ip=127.0.0.1",
			// Without it kwok serves nothing at all; with it, on loopback
			// only, it has a /healthz to wait for.
			"--server-address=127.0.0.1:" + strconv.Itoa(port),
			// Renewed node Leases keep the node-lifecycle controller from
			// marking nodes NotReady between kwok's 20-45s status heartbeats.
			"--node-lease-duration-seconds=40",
		}, extra...))
		if err := c.kwok.start(); err != nil {
			return err
		}
		err = c.waitKwokHealthy()
		if err == nil || attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			return err
		}
		c.kwok.stop()
	}
}

func (c *Cluster) newProcess(name string, args []string) *process {
	return &process{name: name, path: filepath.Join(c.BinDir, name), args: args,
		logPath: filepath.Join(c.Dir, name+".log")}
}

// pkiFile is the path of a file StartControlPlane wrote into Dir/pki.
func (c *Cluster) pkiFile(name string) string { return filepath.Join(c.Dir, "pki", name) }

// checkRunning returns an error carrying the log tail of the first of the
// cluster's own processes that exited, for error messages during waits.
func (c *Cluster) checkRunning() error {
	for _, p := range []*process{c.kcm, c.scheduler, c.kwok} {
		if p.exited() {
			return fmt.Errorf("%s exited\n%s", p.name, p.logTail(40))
		}
	}
	return nil
}

// FreePort returns a loopback port that was free a moment ago, for flags
// such as --metrics-bind-address=127.0.0.1:PORT.
func FreePort() (int, error) {
	ports, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// FreePorts returns n distinct loopback ports that were free a moment ago.
func FreePorts(n int) ([]int, error) { return freePorts(n) }

// PortFree reports whether addr (host:port) can be listened on now.
func PortFree(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }
