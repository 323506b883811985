// Command endpoints-controller keeps the Endpoints of every Service with a
// selector equal to its ready and not-ready pods, as the built-in endpoints
// controller of kube-controller-manager does.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/util/flowcontrol"
	cliflag "k8s.io/component-base/cli/flag"
	logsapi "k8s.io/component-base/logs/api/v1"
	"k8s.io/component-base/term"
	"k8s.io/klog/v2"

	"github.com/endpoints-controller/endpoints-controller/pkg/apitransport"
	"github.com/endpoints-controller/endpoints-controller/pkg/controller"
	"github.com/endpoints-controller/endpoints-controller/pkg/metrics"
	"github.com/endpoints-controller/endpoints-controller/pkg/server"
	"github.com/endpoints-controller/endpoints-controller/pkg/version"
)

func main() {
	o := newOptions()
	fss, err := o.parse(os.Args[1:])
	if o.help {
		printUsage(os.Stdout, fss)
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "endpoints-controller: %v\nRun endpoints-controller --help for the flags.\n", err)
		os.Exit(2)
	}
	if o.showVersion {
		fmt.Println(version.String())
		return
	}
	o.complete()
	if err := o.validate(); err != nil {
		fmt.Fprintf(os.Stderr, "endpoints-controller: invalid flags:\n%v\n", err)
		os.Exit(2)
	}
	// As early as possible: the format and verbosity of every log line.
	if err := logsapi.ValidateAndApply(o.logs, nil); err != nil {
		fmt.Fprintf(os.Stderr, "endpoints-controller: %v\n", err)
		os.Exit(2)
	}
	cliflag.PrintFlags(o.fs)
	o.metrics.Apply()

	if o.timerSlack > 0 {
		applyTimerSlack(o.timerSlack)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, o); err != nil {
		klog.ErrorS(err, "endpoints-controller failed")
		klog.FlushAndExit(klog.ExitFlushTimeout, 1)
	}
	klog.Flush()
}

// printUsage prints the flags by section, as kube-controller-manager does.
func printUsage(w io.Writer, fss cliflag.NamedFlagSets) {
	fmt.Fprintf(w, "endpoints-controller keeps the Endpoints of every Service with a selector\nequal to its ready and not-ready pods, as kube-controller-manager's endpoints\ncontroller does.\n\nUsage:\n  endpoints-controller [flags]\n")
	cols, _, _ := term.TerminalSize(w)
	cliflag.PrintSections(w, fss, cols)
}

func restConfig(o *options) (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	if o.kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	} else {
		cfg, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("loading client configuration: %w", err)
	}
	cfg.QPS = float32(o.kubeAPIQPS)
	cfg.Burst = o.kubeAPIBurst
	cfg.ContentType = o.contentType
	cfg.AcceptContentTypes = o.contentType
	if o.contentType != "application/json" {
		cfg.AcceptContentTypes += ",application/json"
	}
	// The controller runs next to the API server: compressing every watch
	// event costs both ends more than the bytes it saves.
	cfg.DisableCompression = !o.compression
	if err := apitransport.Configure(cfg, apitransport.Options{HTTP2: o.http2, DeadAfter: o.deadConnTimeout}); err != nil {
		return nil, fmt.Errorf("configuring the transport: %w", err)
	}
	cfg.UserAgent = "endpoints-controller/" + version.Version
	// v1 Endpoints answer every request with a deprecation warning: once is
	// enough.
	cfg.WarningHandler = rest.NewWarningWriter(os.Stderr, rest.WarningWriterOptions{Deduplicate: true})
	return cfg, nil
}

// run wires the controller and runs it, under leader election if asked,
// until ctx ends. Informers run on every replica so that /readyz means
// "caches synced" everywhere and a standby takes over warm; only the leader
// syncs and writes.
func run(ctx context.Context, o *options) error {
	// Whatever ends run also stops the informers and servers, so that an
	// error is reported instead of hanging in inf.Shutdown.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m := metrics.New()
	cfg, err := restConfig(o)
	if err != nil {
		return err
	}
	// One token bucket for everything: the informers' and leader
	// election's client takes from it per request; Endpoints writes go
	// through an unlimited client and take their token before computing
	// what to write (see controller.Options.WriteLimiter).
	limiter := flowcontrol.NewTokenBucketRateLimiter(cfg.QPS, cfg.Burst)
	cfg.RateLimiter = limiter
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	writeCfg := rest.CopyConfig(cfg)
	writeCfg.RateLimiter = flowcontrol.NewFakeAlwaysRateLimiter()
	writeClient, err := kubernetes.NewForConfig(writeCfg)
	if err != nil {
		return err
	}
	klog.InfoS("Starting", "version", version.Version, "gomaxprocs", runtime.GOMAXPROCS(0), "revision", version.Revision, "leaderElect", o.leaderElection.LeaderElect, "http2", o.http2, "deadConnectionTimeout", o.deadConnTimeout, "shadow", o.shadow, "source", o.source)

	m.SetScope(o.scope.NamespacesLabel(), o.scope.ExcludeLabel(), o.scope.SelectorLabel())
	if !o.scope.IsZero() {
		klog.InfoS("Serving a scope", "namespaces", o.scope.NamespacesLabel(), "excludeNamespaces", o.scope.ExcludeLabel(),
			"serviceSelector", o.scope.SelectorLabel(), "lease", o.leaderElection.ResourceName)
	}
	inf := controller.NewScopedInformers(client, o.scope, controller.Decoder(o.podDecoder))
	if controller.Source(o.source) == controller.SourceEndpointSlices {
		inf.WithEndpointSlices(client)
	}
	c, err := controller.New(writeClient, inf, controller.Options{
		Workers:      o.workers,
		Writes:       o.writes,
		BatchPeriod:  o.batchPeriod,
		ResyncPeriod: o.resyncPeriod,
		ManagedBy:    o.managedBy,
		Shadow:       o.shadow,
		Metrics:      m,
		WriteLimiter: limiter,
	})
	if err != nil {
		return err
	}

	var watchdog *leaderelection.HealthzAdaptor
	if o.leaderElection.LeaderElect {
		watchdog = leaderelection.NewLeaderHealthzAdaptor(o.leaderElection.RenewDeadline.Duration)
	}
	if err := serve(ctx, o, m, c, watchdog); err != nil {
		return err
	}

	inf.Start(ctx.Done())
	defer inf.Shutdown()
	if !o.leaderElection.LeaderElect {
		m.SetLeader(true)
		c.Run(ctx)
		return nil
	}
	return runWithLeaderElection(ctx, o, client, watchdog, m, c.Run)
}

// serve starts the HTTPS server, and the plain HTTP ones that are asked for.
func serve(ctx context.Context, o *options, m *metrics.Metrics, c *controller.Controller, watchdog *leaderelection.HealthzAdaptor) error {
	notSynced := "informer caches not synced"
	if !o.scope.IsZero() {
		notSynced += " (scope " + o.scope.String() + ")"
	}
	checks := &server.Checks{
		Healthz: []healthz.HealthChecker{healthz.PingHealthz},
		Readyz: []healthz.HealthChecker{healthz.PingHealthz, healthz.NamedCheck("informer-sync", func(*http.Request) error {
			if !c.CachesSynced() {
				return errors.New(notSynced)
			}
			return nil
		})},
	}
	if watchdog != nil {
		checks.Healthz = append(checks.Healthz, watchdog)
	}
	if o.contentionProf {
		runtime.SetBlockProfileRate(1)
	}
	if o.secure.BindPort != 0 {
		h := server.Handler(server.Parts{Checks: checks, Metrics: m.Gatherer(), Profiling: o.profiling})
		if err := o.secure.ServeSecure(ctx, h); err != nil {
			return err
		}
	}
	if o.metricsAddr != "0" {
		if err := server.Serve(ctx, o.metricsAddr, server.Handler(server.Parts{Metrics: m.Gatherer(), Profiling: o.profiling})); err != nil {
			return err
		}
	}
	if o.healthAddr != "0" {
		return server.Serve(ctx, o.healthAddr, server.Handler(server.Parts{Checks: checks}))
	}
	return nil
}
