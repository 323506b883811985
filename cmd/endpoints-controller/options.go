package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	cliflag "k8s.io/component-base/cli/flag"
	componentbaseconfig "k8s.io/component-base/config"
	componentbaseoptions "k8s.io/component-base/config/options"
	logsapi "k8s.io/component-base/logs/api/v1"
	_ "k8s.io/component-base/logs/json/register" // --logging-format=json
	basemetrics "k8s.io/component-base/metrics"

	"github.com/endpoints-controller/endpoints-controller/pkg/controller"
	"github.com/endpoints-controller/endpoints-controller/pkg/server"
)

// DefaultSecurePort serves HTTPS like kube-controller-manager's 10257, on a
// port of its own so that both can run on one host.
const DefaultSecurePort = 10267

// options are the command-line flags, named, grouped and defaulted like
// kube-controller-manager's where the meaning is the same.
type options struct {
	kubeconfig      string
	kubeAPIQPS      float32
	kubeAPIBurst    int
	contentType     string
	podDecoder      string
	source          string
	compression     bool
	http2           bool
	deadConnTimeout time.Duration
	workers         int
	writes          int
	batchPeriod     time.Duration
	resyncPeriod    time.Duration
	timerSlack      time.Duration
	managedBy       string
	showVersion     bool
	help            bool
	profiling       bool
	contentionProf  bool
	shadow          bool
	leaderElection  componentbaseconfig.LeaderElectionConfiguration

	// The scope of a scoped instance (see scope.go); scope is built from
	// them by validate.
	namespaces        []string
	excludeNamespaces []string
	serviceSelector   string
	scope             controller.Scope

	secure *server.SecureOptions
	// Plain HTTP, only when asked for.
	metricsAddr string
	healthAddr  string

	metrics *basemetrics.Options
	logs    *logsapi.LoggingConfiguration

	fs *pflag.FlagSet // what was parsed, for Changed
}

// newOptions returns the defaults.
func newOptions() *options {
	o := &options{
		kubeAPIQPS:      20,
		kubeAPIBurst:    30,
		contentType:     "application/vnd.kubernetes.protobuf",
		podDecoder:      string(controller.DefaultDecoder),
		source:          string(controller.SourcePods),
		http2:           true,
		deadConnTimeout: 6 * time.Second,
		workers:         5,
		writes:          32,
		resyncPeriod:    5 * time.Minute,
		managedBy:       "endpoint-controller",
		leaderElection: componentbaseconfig.LeaderElectionConfiguration{
			LeaderElect:   true,
			LeaseDuration: metav1.Duration{Duration: 15 * time.Second},
			RenewDeadline: metav1.Duration{Duration: 10 * time.Second},
			RetryPeriod:   metav1.Duration{Duration: 2 * time.Second},
			ResourceLock:  resourcelock.LeasesResourceLock,
			ResourceName:  "endpoints-controller",
		},
		secure:      server.NewSecureOptions(DefaultSecurePort),
		metricsAddr: "0",
		healthAddr:  "0",
		metrics:     basemetrics.NewOptions(),
		logs:        logsapi.NewLoggingConfiguration(),
	}
	return o
}

// flags returns the flags in kube-controller-manager's sections.
func (o *options) flags() cliflag.NamedFlagSets {
	var fss cliflag.NamedFlagSets
	fs := fss.FlagSet("generic")
	fs.Float32Var(&o.kubeAPIQPS, "kube-api-qps", o.kubeAPIQPS, "QPS to use while talking with kubernetes apiserver.")
	fs.IntVar(&o.kubeAPIBurst, "kube-api-burst", o.kubeAPIBurst, "Burst to use while talking with kubernetes apiserver.")
	fs.StringVar(&o.contentType, "kube-api-content-type", o.contentType, "Content type of requests sent to apiserver for Services, events and leases, and with --pod-decoder=standard for pods and Endpoints too (with lean, those always travel as protobuf).")
	fs.BoolVar(&o.profiling, "profiling", o.profiling, "Enable profiling via web interface host:port/debug/pprof/ on the secure port (authorized like /metrics). Off by default, unlike kube-controller-manager.")
	fs.BoolVar(&o.contentionProf, "contention-profiling", o.contentionProf, "Enable block profiling, if profiling is enabled.")
	componentbaseoptions.BindLeaderElectionFlags(&o.leaderElection, fs)
	fs.StringVar(&o.podDecoder, "pod-decoder", o.podDecoder, "How pods and Endpoints are read and written: lean decodes protobuf straight into the few fields the controller keeps and does not decode again the Endpoints it wrote (less CPU and garbage, hand-written decoding fuzzed against the standard one); standard uses client-go's typed objects and trims them in the cache (the reference path, more CPU and garbage per pod event and write).")
	fs.StringVar(&o.source, "source", o.source, "Where a Service's pods are read from: pods (watch every pod and apply the Endpoints rules) or endpointslices (derive the Endpoints from the EndpointSlices the built-in EndpointSlice controller keeps, labelled endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io: no pod is listed, watched or cached; needs list/watch on discovery.k8s.io endpointslices and the EndpointSlice controller running; see the README for what differs).")
	fs.BoolVar(&o.compression, "kube-api-compression", o.compression, "Ask the API server for gzip-compressed responses: less traffic for large lists, more CPU on both ends (watch streams are compressed too).")
	fs.BoolVar(&o.http2, "kube-api-http2", o.http2, "Talk HTTP/2 to the API server: one connection, health-checked by pings. false: HTTP/1.1, a connection per watch and per concurrent write, which cost the controller 3-25% less CPU in A/B runs; watches then restart every 5-10s so that a dead connection is noticed.")
	fs.DurationVar(&o.deadConnTimeout, "kube-api-dead-connection-timeout", o.deadConnTimeout, "How long a connection to the API server may stay silent before it is taken for dead and replaced (HTTP/2: ping after half of it, answer within the other half; HTTP/1.1: response headers within it, watches ended by the client this long after the server should have ended them). At least 1s, and below --leader-elect-renew-deadline, since the lease is renewed over the same connections; unless given, at most 3/5 of it.")
	fs.DurationVar(&o.resyncPeriod, "resync-period", o.resyncPeriod, "How often every Service is re-checked (writes happen only when something differs).")
	fs.DurationVar(&o.timerSlack, "timer-slack", o.timerSlack, "Timer slack of the process's threads (Linux), e.g. 5ms: how late the kernel may wake a sleeping thread, so that it can batch wakeups; cuts the CPU the Go runtime's monitor thread costs by 5-10% under churn. Setting it for the threads the runtime already started needs CAP_SYS_NICE; without it only the main thread's slack changes. 0 (default): the kernel's default (50µs).")
	fs.StringVar(&o.managedBy, "managed-by", o.managedBy, "Value of the endpoints.kubernetes.io/managed-by label (the built-in's by default, so switching causes no writes).")
	fs.BoolVar(&o.shadow, "shadow", o.shadow, "Shadow mode: compute every Endpoints but never write; compare with the live objects and export endpoints_controller_shadow_* metrics. Needs read access only.")

	fs = fss.FlagSet("endpoint controller")
	fs.IntVar(&o.workers, "concurrent-endpoint-syncs", o.workers, "The number of endpoint syncing operations that will be done concurrently. Larger number = faster endpoint updating, but more CPU (and network) load.")
	fs.IntVar(&o.writes, "concurrent-endpoint-writes", o.writes, "How many Endpoints writes may be in flight at once. A sync that has something to write hands the write over and its worker takes the next Service, so that --concurrent-endpoint-syncs bounds the computing and this the waiting on the API server (--kube-api-qps still bounds the requests). 0: each sync waits on its own write, as the built-in controller's do.")
	fs.DurationVar(&o.batchPeriod, "endpoint-updates-batch-period", o.batchPeriod, "The length of endpoint updates batching period. Processing of pod changes will be delayed by this duration to join them with potential upcoming updates and reduce the overall number of endpoints updates. Larger number = higher endpoint programming latency, but lower number of endpoints revision generated")
	addScopeFlags(fs, o)

	o.secure.AddFlags(&fss)

	fs = fss.FlagSet("insecure serving")
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", o.metricsAddr, `Opt-in: also serve /metrics (and /debug/pprof/ with --profiling) over plain HTTP, unauthenticated, on this host:port; "0" (default) disables it.`)
	fs.StringVar(&o.healthAddr, "health-probe-bind-address", o.healthAddr, `Opt-in: also serve /healthz, /readyz and /livez over plain HTTP on this host:port; "0" (default) disables it.`)

	// component-base's metric flags but --show-hidden-metrics-for-version,
	// which speaks of Kubernetes releases, not of this controller's.
	metricFlags := pflag.NewFlagSet("", pflag.ContinueOnError)
	o.metrics.AddFlags(metricFlags)
	fs = fss.FlagSet("metrics")
	metricFlags.VisitAll(func(f *pflag.Flag) {
		if f.Name != "show-hidden-metrics-for-version" {
			fs.AddFlag(f)
		}
	})
	logsapi.AddFlags(o.logs, fss.FlagSet("logs"))

	fs = fss.FlagSet("misc")
	fs.StringVar(&o.kubeconfig, "kubeconfig", o.kubeconfig, "Path to kubeconfig file with authorization and master location information; in-cluster configuration when empty. Also used for delegated authentication and authorization unless --authentication-kubeconfig or --authorization-kubeconfig is given.")

	fs = fss.FlagSet("global")
	fs.BoolVar(&o.showVersion, "version", false, "Print version information and quit.")
	fs.BoolVarP(&o.help, "help", "h", false, "help for endpoints-controller")
	return fss
}

// parse parses args into o and returns the flag sections, for --help.
func (o *options) parse(args []string) (cliflag.NamedFlagSets, error) {
	fss := o.flags()
	o.fs = pflag.NewFlagSet("endpoints-controller", pflag.ContinueOnError)
	o.fs.SortFlags = false
	for _, name := range fss.Order {
		o.fs.AddFlagSet(fss.FlagSets[name])
	}
	o.fs.Usage = func() {} // main prints the sections
	if err := o.fs.Parse(args); err != nil {
		return fss, err
	}
	if o.fs.NArg() > 0 {
		return fss, fmt.Errorf("unexpected arguments: %v", o.fs.Args())
	}
	return fss, nil
}

// complete fills in defaults that depend on other flags.
func (o *options) complete() {
	// Unless given, the dead-connection timeout is kept to 3/5 of a renew
	// deadline shorter than the default, so that a lease renewal stuck on a
	// dead connection is retried on a new one in time.
	if !o.fs.Changed("kube-api-dead-connection-timeout") && o.leaderElection.LeaderElect {
		o.deadConnTimeout = max(time.Second, min(o.deadConnTimeout, o.leaderElection.RenewDeadline.Duration*3/5))
	}
	// Out of a cluster the in-cluster configuration is missing: delegate
	// to the API server the controller talks to.
	if o.secure.AuthenticationKubeconfig == "" {
		o.secure.AuthenticationKubeconfig = o.kubeconfig
	}
	if o.secure.AuthorizationKubeconfig == "" {
		o.secure.AuthorizationKubeconfig = o.kubeconfig
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
	if _, err := controller.ParseSource(o.source); err != nil {
		bad("--source must be pods or endpointslices, got %q", o.source)
	}
	switch o.contentType {
	case "application/vnd.kubernetes.protobuf", "application/json":
	default:
		bad("--kube-api-content-type must be application/vnd.kubernetes.protobuf or application/json, got %q", o.contentType)
	}
	if o.workers < 1 {
		bad("--concurrent-endpoint-syncs must be >= 1, got %d", o.workers)
	}
	if o.writes < 0 {
		bad("--concurrent-endpoint-writes must be >= 0, got %d", o.writes)
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
	if o.contentionProf && !o.profiling {
		bad("--contention-profiling needs --profiling")
	}
	for name, addr := range map[string]string{"--metrics-bind-address": o.metricsAddr, "--health-probe-bind-address": o.healthAddr} {
		if addr == "0" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad("%s must be host:port or 0, got %q", name, addr)
		}
	}
	if le := o.leaderElection; le.LeaderElect {
		lease, renew, retry := le.LeaseDuration.Duration, le.RenewDeadline.Duration, le.RetryPeriod.Duration
		if lease <= renew {
			bad("--leader-elect-lease-duration (%v) must be greater than --leader-elect-renew-deadline (%v)", lease, renew)
		}
		// client-go's own rule: retries are jittered by up to 1.2 periods.
		if float64(renew) <= leaderelection.JitterFactor*float64(retry) {
			bad("--leader-elect-renew-deadline (%v) must be greater than %v × --leader-elect-retry-period (%v)",
				renew, leaderelection.JitterFactor, retry)
		}
		if retry <= 0 {
			bad("--leader-elect-retry-period must be > 0")
		}
		if o.deadConnTimeout >= renew {
			bad("--kube-api-dead-connection-timeout (%v) must be shorter than --leader-elect-renew-deadline (%v): the lease is renewed over the same connections", o.deadConnTimeout, renew)
		}
		if le.ResourceName == "" {
			bad("--leader-elect-resource-name must not be empty")
		}
		if le.ResourceLock != resourcelock.LeasesResourceLock {
			bad("--leader-elect-resource-lock must be %s, got %q", resourcelock.LeasesResourceLock, le.ResourceLock)
		}
	}
	errs = append(errs, o.validateScope()...)
	errs = append(errs, o.secure.Validate()...)
	errs = append(errs, o.metrics.Validate()...)
	if err := logsapi.Validate(o.logs, nil, nil).ToAggregate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// leaseNamespaceOrDefault is the pod's own namespace when known.
func (o *options) leaseNamespaceOrDefault() string {
	if ns := o.leaderElection.ResourceNamespace; ns != "" {
		return ns
	}
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil && len(b) > 0 {
		return strings.TrimSpace(string(b))
	}
	return "kube-system"
}
