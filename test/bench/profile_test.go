package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// profileDir is $BENCH_PROFILE: when set, every variant of ours runs with
// --profiling and each run leaves pprof files there (a heap profile after the cold sync, a
// CPU profile of the churn), for `go tool pprof`.
func profileDir() string { return os.Getenv("BENCH_PROFILE") }

// profiler fetches profiles from one run of a variant of ours.
type profiler struct {
	addr, dir, prefix string
}

// newProfiler returns nil unless profiling is asked for; else the flags
// that make ours serve profiles on its metrics address, addr.
func newProfiler(sc scenario, k controllerKind, addr string) (*profiler, []string, error) {
	dir := profileDir()
	if dir == "" {
		return nil, nil, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	p := &profiler{addr: addr, dir: dir, prefix: sc.name + "-" + k.String() + "-"}
	return p, []string{"--profiling"}, nil
}

// freeLoopbackAddr returns a loopback address with a port free right now,
// for a controller of ours to serve /metrics on.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// save writes /debug/pprof/<profile> to <prefix><name>.pprof.
func (p *profiler) save(ctx context.Context, profile, name string) error {
	return p.fetch(ctx, "/debug/pprof/"+profile, name+".pprof")
}

// saveMetrics writes /metrics (the Go runtime's memory figures among them)
// to <prefix><name>.txt.
func (p *profiler) saveMetrics(ctx context.Context, name string) error {
	return p.fetch(ctx, "/metrics", name+".txt")
}

func (p *profiler) fetch(ctx context.Context, path, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", path, resp.Status)
	}
	f, err := os.Create(filepath.Join(p.dir, p.prefix+file))
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cpu profiles the next d in the background; wait for it with the
// returned function.
func (p *profiler) cpu(ctx context.Context, d time.Duration, name string) func() error {
	done := make(chan error, 1)
	go func() {
		done <- p.save(ctx, "profile?seconds="+strconv.Itoa(int(d.Seconds()+0.5)), name)
	}()
	return func() error { return <-done }
}
