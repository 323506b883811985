package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/klog/v2"

	"github.com/endpoints-controller/endpoints-controller/pkg/controller"
)

// options are the command-line flags, named like kube-controller-manager's
// where the meaning is the same.
type options struct {
	kubeconfig      string
	kubeAPIQPS      float64
	kubeAPIBurst    int
	contentType     string
	podDecoder      string
	compression     bool
	http2           bool
	deadConnTimeout time.Duration
	workers         int
	batchPeriod     time.Duration
	resyncPeriod    time.Duration
	timerSlack      time.Duration
	managedBy       string
	metricsAddr     string
	healthAddr      string
	showVersion     bool
	profiling       bool
	shadow          bool
	leaderElect     bool
	leaseDuration   time.Duration
	renewDeadline   time.Duration
	retryPeriod     time.Duration
	leaseName       string
	leaseNamespace  string
}

func newFlagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("endpoints-controller", flag.ContinueOnError)
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "Path to a kubeconfig file; in-cluster configuration when empty.")
	fs.Float64Var(&o.kubeAPIQPS, "kube-api-qps", 20, "QPS to use while talking with the API server.")
	fs.IntVar(&o.kubeAPIBurst, "kube-api-burst", 30, "Burst to use while talking with the API server.")
	fs.StringVar(&o.contentType, "kube-api-content-type", "application/vnd.kubernetes.protobuf", "Content type of requests sent to the API server for Services, events and leases, and with --pod-decoder=standard for pods and Endpoints too (with lean, those always travel as protobuf).")
	fs.StringVar(&o.podDecoder, "pod-decoder", string(controller.DefaultDecoder), "How pods and Endpoints are read and written: lean decodes protobuf straight into the few fields the controller keeps and does not decode again the Endpoints it wrote (less CPU and garbage, hand-written decoding fuzzed against the standard one); standard uses client-go's typed objects and trims them in the cache (the reference path, more CPU and garbage per pod event and write).")
	fs.BoolVar(&o.compression, "kube-api-compression", false, "Ask the API server for gzip-compressed responses: less traffic for large lists, more CPU on both ends (watch streams are compressed too).")
	fs.BoolVar(&o.http2, "kube-api-http2", true, "Talk HTTP/2 to the API server: one connection, health-checked by pings. false: HTTP/1.1, a connection per watch and per concurrent write, which cost the controller 3-25% less CPU in A/B runs; watches then restart every 5-10s so that a dead connection is noticed.")
	fs.DurationVar(&o.deadConnTimeout, "kube-api-dead-connection-timeout", 6*time.Second, "How long a connection to the API server may stay silent before it is taken for dead and replaced (HTTP/2: ping after half of it, answer within the other half; HTTP/1.1: response headers within it, watches ended by the client this long after the server should have ended them). At least 1s, and below --leader-elect-renew-deadline, since the lease is renewed over the same connections; unless given, at most 3/5 of it.")
	fs.IntVar(&o.workers, "concurrent-endpoint-syncs", 5, "Number of Services synced concurrently.")
	fs.DurationVar(&o.batchPeriod, "endpoint-updates-batch-period", 0, "Delay before syncing a Service after a pod change, to batch changes.")
	fs.DurationVar(&o.resyncPeriod, "resync-period", 5*time.Minute, "How often every Service is re-checked (writes happen only when something differs).")
	fs.DurationVar(&o.timerSlack, "timer-slack", 0, "Timer slack of the process's threads (Linux), e.g. 5ms: how late the kernel may wake a sleeping thread, so that it can batch wakeups; cuts the CPU the Go runtime's monitor thread costs by 5-10% under churn. Setting it for the threads the runtime already started needs CAP_SYS_NICE; without it only the main thread's slack changes. 0 (default): the kernel's default (50µs).")
	fs.StringVar(&o.managedBy, "managed-by", "endpoint-controller", "Value of the endpoints.kubernetes.io/managed-by label (the built-in's by default, so switching causes no writes).")
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", `Address to serve /metrics on; "0" disables it.`)
	fs.StringVar(&o.healthAddr, "health-probe-bind-address", ":8081", `Address to serve /healthz and /readyz on; "0" disables it.`)
	fs.BoolVar(&o.showVersion, "version", false, "Print the version and exit.")
	fs.BoolVar(&o.profiling, "profiling", false, "Serve Go profiles under /debug/pprof/ on the metrics address (unauthenticated: keep that address private).")
	fs.BoolVar(&o.shadow, "shadow", false, "Shadow mode: compute every Endpoints but never write; compare with the live objects and export endpoints_controller_shadow_* metrics. Needs read access only.")
	fs.BoolVar(&o.leaderElect, "leader-elect", true, "Take a Lease before working, so that only one replica writes.")
	fs.DurationVar(&o.leaseDuration, "leader-elect-lease-duration", 15*time.Second, "How long non-leaders wait after the last renewal before taking over.")
	fs.DurationVar(&o.renewDeadline, "leader-elect-renew-deadline", 10*time.Second, "How long the leader keeps trying to renew before it stops.")
	fs.DurationVar(&o.retryPeriod, "leader-elect-retry-period", 2*time.Second, "How often acquiring and renewing are tried.")
	fs.StringVar(&o.leaseName, "leader-elect-resource-name", "endpoints-controller", "Name of the Lease used for leader election.")
	fs.StringVar(&o.leaseNamespace, "leader-elect-resource-namespace", "", "Namespace of the Lease; default: the pod's namespace (POD_NAMESPACE or the service account's), else kube-system.")
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	klogFlags.VisitAll(func(f *flag.Flag) { fs.Var(f.Value, f.Name, f.Usage) })
	return fs
}

// complete fills in defaults that depend on other flags: unless given, the
// dead-connection timeout is kept to 3/5 of a renew deadline shorter than
// the default, so that a lease renewal stuck on a dead connection is
// retried on a new one in time.
func (o *options) complete(fs *flag.FlagSet) {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "kube-api-dead-connection-timeout" })
	if !set && o.leaderElect {
		o.deadConnTimeout = max(time.Second, min(o.deadConnTimeout, o.renewDeadline*3/5))
	}
}

// validate returns every problem with the options at once.
func (o *options) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if o.kubeAPIQPS <= 0 {
		bad("--kube-api-qps must be > 0, got %v", o.kubeAPIQPS)
	}
	if o.kubeAPIBurst <= 0 {
		bad("--kube-api-burst must be > 0, got %d", o.kubeAPIBurst)
	}
	if _, err := controller.ParseDecoder(o.podDecoder); err != nil {
		bad("--pod-decoder must be lean or standard, got %q", o.podDecoder)
	}
	switch o.contentType {
	case "application/vnd.kubernetes.protobuf", "application/json":
	default:
		bad("--kube-api-content-type must be application/vnd.kubernetes.protobuf or application/json, got %q", o.contentType)
	}
	if o.workers < 1 {
		bad("--concurrent-endpoint-syncs must be >= 1, got %d", o.workers)
	}
	if o.batchPeriod < 0 {
		bad("--endpoint-updates-batch-period must be >= 0, got %v", o.batchPeriod)
	}
	if o.timerSlack < 0 || o.timerSlack > 100*time.Millisecond {
		bad("--timer-slack must be between 0 and 100ms, got %v", o.timerSlack)
	}
	if o.deadConnTimeout < time.Second {
		bad("--kube-api-dead-connection-timeout must be at least 1s, got %v", o.deadConnTimeout)
	}
	if o.resyncPeriod < time.Second {
		bad("--resync-period must be >= 1s, got %v", o.resyncPeriod)
	}
	if strings.TrimSpace(o.managedBy) == "" {
		bad("--managed-by must not be empty")
	}
	if o.profiling && o.metricsAddr == "0" {
		bad("--profiling needs --metrics-bind-address")
	}
	for name, addr := range map[string]string{"--metrics-bind-address": o.metricsAddr, "--health-probe-bind-address": o.healthAddr} {
		if addr == "0" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad("%s must be host:port or 0, got %q", name, addr)
		}
	}
	if o.leaderElect {
		if o.leaseDuration <= o.renewDeadline {
			bad("--leader-elect-lease-duration (%v) must be greater than --leader-elect-renew-deadline (%v)", o.leaseDuration, o.renewDeadline)
		}
		// client-go's own rule: retries are jittered by up to 1.2 periods.
		if float64(o.renewDeadline) <= leaderelection.JitterFactor*float64(o.retryPeriod) {
			bad("--leader-elect-renew-deadline (%v) must be greater than %v × --leader-elect-retry-period (%v)",
				o.renewDeadline, leaderelection.JitterFactor, o.retryPeriod)
		}
		if o.retryPeriod <= 0 {
			bad("--leader-elect-retry-period must be > 0")
		}
		if o.deadConnTimeout >= o.renewDeadline {
			bad("--kube-api-dead-connection-timeout (%v) must be shorter than --leader-elect-renew-deadline (%v): the lease is renewed over the same connections", o.deadConnTimeout, o.renewDeadline)
		}
		if o.leaseName == "" {
			bad("--leader-elect-resource-name must not be empty")
		}
	}
	return errors.Join(errs...)
}

// leaseNamespaceOrDefault is the pod's own namespace when known.
func (o *options) leaseNamespaceOrDefault() string {
	if o.leaseNamespace != "" {
		return o.leaseNamespace
	}
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil && len(b) > 0 {
		return strings.TrimSpace(string(b))
	}
	return "kube-system"
}
