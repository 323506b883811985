// Command run-local is the demo behind `make run`: a local cluster (etcd,
// kube-apiserver, kube-controller-manager without its endpoints controller,
// kube-scheduler, kwok with fake nodes), our controller, the examples of
// deploy/examples, and the Endpoints printed live as the web Deployment
// scales. Ctrl-C (or -exit-after) tears down everything it started.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

func main() {
	exitAfter := flag.Duration("exit-after", envDuration("DEMO_EXIT_AFTER"),
		"stop on its own this long after starting, as if Ctrl-C was pressed (env DEMO_EXIT_AFTER; 0: run until Ctrl-C)")
	nodes := flag.Int("nodes", 3, "fake kwok nodes")
	binary := flag.String("controller", "", "endpoints-controller binary to run (default: go build ./cmd/endpoints-controller)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go secondSignalExits()
	if *exitAfter > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *exitAfter)
		defer cancel()
	}
	if err := run(ctx, *nodes, *binary); err != nil {
		say("error: %v", err)
		os.Exit(1)
	}
}

// secondSignalExits exits at once on a second Ctrl-C, e.g. while start-up
// cannot be interrupted; the kernel then kills the children (Pdeathsig) and
// the next run sweeps their files.
func secondSignalExits() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	<-sigs
	say("interrupted: tearing down (Ctrl-C again to exit at once)")
	<-sigs
	os.Exit(130)
}

func run(ctx context.Context, nodes int, binary string) error {
	root, err := framework.RepoRoot()
	if err != nil {
		return err
	}
	if binary != "" && !filepath.IsAbs(binary) {
		binary = filepath.Join(root, binary)
	}
	say("==> starting a local cluster on 127.0.0.1")
	cluster, err := framework.StartCluster(framework.ClusterOptions{
		Nodes:            nodes,
		ControllerBinary: binary,
		Progress:         func(format string, args ...any) { say("    "+format, args...) },
	})
	if err != nil {
		return err
	}
	defer func() {
		say("==> stopping the controller, kwok, kube-scheduler, kube-controller-manager, kube-apiserver and etcd")
		cluster.Stop()
		say("    done: nothing left running")
	}()
	if ctx.Err() != nil {
		return nil // interrupted during start-up
	}

	ctrl, err := startController(cluster)
	if err != nil {
		return err
	}
	if err := ctrl.waitLeader(ctx); err != nil {
		return err
	}

	d := &demo{cluster: cluster, root: root}
	if err := d.watchEndpoints("demo"); err != nil {
		return err
	}
	defer d.stopWatch() // before the cluster stops, so no watch errors show
	if err := d.script(ctx); err != nil {
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			return fmt.Errorf("-exit-after ran out before the demo finished: %w", err)
		case ctx.Err() != nil:
			return nil // Ctrl-C
		}
		return err
	}

	say("==> watching Endpoints in namespace demo; try another shell with the export above, e.g.")
	say("      kubectl -n demo scale deployment/web --replicas=4")
	say("      kubectl -n demo delete pod -l app=web --wait=false")
	say("    Ctrl-C stops everything")
	select {
	case <-ctx.Done():
	case <-ctrl.Done():
		return fmt.Errorf("the controller exited (code %d); see %s", ctrl.ExitCode(), ctrl.LogPath)
	}
	return nil
}

// say prints one progress line, stamped with the time since start.
func say(format string, args ...any) {
	out.Lock()
	defer out.Unlock()
	fmt.Printf("[%6.1fs] %s\n", time.Since(started).Seconds(), fmt.Sprintf(format, args...))
}

func envDuration(name string) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s=%q: %v\n", name, v, err)
		os.Exit(2)
	}
	return d
}
