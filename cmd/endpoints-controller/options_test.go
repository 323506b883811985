package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // "" for valid
	}{
		{nil, ""},
		{[]string{"--leader-elect=false", "--metrics-bind-address=0", "--health-probe-bind-address=0"}, ""},
		{[]string{"--concurrent-endpoint-syncs=0"}, "--concurrent-endpoint-syncs"},
		{[]string{"--concurrent-endpoint-writes=-1"}, "--concurrent-endpoint-writes"},
		{[]string{"--concurrent-endpoint-writes=0"}, ""},
		{[]string{"--kube-api-qps=-1"}, "--kube-api-qps"},
		{[]string{"--kube-api-burst=0"}, "--kube-api-burst"},
		{[]string{"--kube-api-content-type=text/xml"}, "--kube-api-content-type"},
		{[]string{"--pod-decoder=standard"}, ""},
		{[]string{"--pod-decoder=lean"}, ""},
		{[]string{"--pod-decoder=json"}, "--pod-decoder must be lean or standard"},
		{[]string{"--pod-decoder="}, "--pod-decoder"},
		{[]string{"--pod-decoder=Lean"}, "--pod-decoder"},
		{[]string{"--source=endpointslices"}, ""},
		{[]string{"--source=pods"}, ""},
		{[]string{"--source=slices"}, "--source must be pods or endpointslices"},
		{[]string{"--endpoint-updates-batch-period=-1s"}, "--endpoint-updates-batch-period"},
		{[]string{"--resync-period=10ms"}, "--resync-period"},
		{[]string{"--timer-slack=-1ms"}, "--timer-slack"},
		{[]string{"--timer-slack=1s"}, "--timer-slack"},
		{[]string{"--timer-slack=0"}, ""},
		{[]string{"--kube-api-dead-connection-timeout=0"}, "--kube-api-dead-connection-timeout"},
		{[]string{"--kube-api-dead-connection-timeout=500ms"}, "--kube-api-dead-connection-timeout"},
		{[]string{"--kube-api-dead-connection-timeout=10s"}, "--leader-elect-renew-deadline"},
		{[]string{"--leader-elect=false", "--kube-api-dead-connection-timeout=30s"}, ""},
		// Unless given, the timeout follows a short renew deadline.
		{[]string{"--leader-elect-lease-duration=4s", "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=500ms"}, ""},
		{[]string{"--leader-elect-renew-deadline=3s", "--leader-elect-lease-duration=4s", "--kube-api-dead-connection-timeout=3s"}, "--leader-elect-renew-deadline"},
		{[]string{"--kube-api-http2=false"}, ""},
		{[]string{"--managed-by= "}, "--managed-by"},
		{[]string{"--metrics-bind-address=8080"}, "--metrics-bind-address"},
		{[]string{"--leader-elect-lease-duration=10s"}, "--leader-elect-lease-duration"},
		{[]string{"--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=2600ms"}, "--leader-elect-renew-deadline"},
		{[]string{"--leader-elect=false", "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=2600ms"}, ""},
		{[]string{"--leader-elect-resource-lock=configmaps"}, "--leader-elect-resource-lock must be leases"},
		{[]string{"--secure-port=0"}, ""},
		{[]string{"--secure-port=70000"}, "--secure-port"},
		{[]string{"--tls-cert-file=/x.crt"}, "--tls-cert-file and --tls-private-key-file go together"},
		{[]string{"--contention-profiling"}, "--contention-profiling needs --profiling"},
		{[]string{"--profiling", "--contention-profiling", "--logging-format=json", "-v=4"}, ""},
		{[]string{"--logging-format=xml"}, "format"},
		{[]string{"--disabled-metrics=workqueue_depth", "--allow-metric-labels=workqueue_adds_total,name=endpoint"}, ""},
	} {
		checkValidate(t, tc.args, tc.want)
	}
}

// checkValidate fails t unless args validate (want "") or fail with an
// error mentioning want.
func checkValidate(t *testing.T, args []string, want string) {
	t.Helper()
	o := newOptions()
	if _, err := o.parse(args); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	o.complete()
	err := o.validate()
	switch {
	case want == "" && err != nil:
		t.Errorf("%v: unexpected error %v", args, err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("%v: error %v, want one about %s", args, err, want)
	}
}

// The defaults are the robust ones: HTTP/2 with a dead-connection bound
// below the renew deadline, and no timer slack.
func TestRobustDefaults(t *testing.T) {
	o := newOptions()
	if _, err := o.parse(nil); err != nil {
		t.Fatal(err)
	}
	o.complete()
	renew := o.leaderElection.RenewDeadline.Duration
	if !o.http2 || o.deadConnTimeout <= 0 || o.deadConnTimeout >= renew || o.timerSlack != 0 {
		t.Errorf("defaults: http2 %v, dead-connection timeout %v (renew deadline %v), timer slack %v",
			o.http2, o.deadConnTimeout, renew, o.timerSlack)
	}
	// Served as kube-controller-manager serves: HTTPS only, pprof off.
	if o.secure.BindPort != DefaultSecurePort || o.metricsAddr != "0" || o.healthAddr != "0" || o.profiling {
		t.Errorf("serving defaults: secure port %d, plain metrics %q, plain probes %q, profiling %v",
			o.secure.BindPort, o.metricsAddr, o.healthAddr, o.profiling)
	}
}

// Bad flags exit with code 2 and one clear message, before any connection.
func TestBadFlagsExit2(t *testing.T) {
	if os.Getenv("EC_MAIN") == "1" {
		os.Args = append([]string{"endpoints-controller"}, strings.Fields(os.Getenv("EC_ARGS"))...)
		main()
		return
	}
	bad := []string{"--concurrent-endpoint-syncs=0", "--concurrent-endpoint-writes=-1", "--no-such-flag", "--kube-api-qps=abc", "extra-arg", "--timer-slack=-5ms", "--timer-slack=fast", "--pod-decoder=fast", "-leader-elect=false", "--logging-format=xml", "--secure-port=-1"}
	// Scope flags: validated after parsing, each with the same clear
	// message.
	scope := []string{"--namespaces=", "--namespaces=,", "--namespaces=a --exclude-namespaces=a", "--exclude-namespaces=A", "--service-label-selector=a=(b"}
	for i, args := range append(bad, scope...) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestBadFlagsExit2$")
		cmd.Env = append(os.Environ(), "EC_MAIN=1", "EC_ARGS="+args)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Errorf("%s: exit %v, want 2\n%s", args, err, out)
		}
		if len(out) == 0 || i >= len(bad) && !strings.Contains(string(out), "invalid flags") {
			t.Errorf("%s: no clear message: %s", args, out)
		}
	}
}

// Scope flags: every bad input is one clear message (exit 2, below); a
// flag given empty is not the flag left out.
func TestScopeFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // "" for valid
	}{
		{[]string{"--namespaces=a,b"}, ""},
		{[]string{"--namespaces", "b", "--namespaces", "a,a"}, ""},
		{[]string{"--exclude-namespaces=kube-system,team-b"}, ""},
		{[]string{"--service-label-selector=team=a"}, ""},
		{[]string{"--service-label-selector=tier in (web,api),!legacy"}, ""},
		{[]string{"--namespaces=a", "--service-label-selector=team!=b"}, ""},
		{[]string{"--namespaces="}, "--namespaces is given but empty"},
		{[]string{"--namespaces=,"}, "--namespaces is given but empty"},
		{[]string{"--exclude-namespaces="}, "--exclude-namespaces is given but empty"},
		{[]string{"--namespaces=a,,b"}, "--namespaces has an empty entry"},
		{[]string{"--namespaces=Team-A"}, `"Team-A" is not a valid namespace name`},
		{[]string{"--namespaces=a.b"}, `"a.b" is not a valid namespace name`},
		{[]string{"--exclude-namespaces=-x"}, `"-x" is not a valid namespace name`},
		{[]string{"--namespaces=a,b", "--exclude-namespaces=b"}, `namespace "b" is both in --namespaces and in --exclude-namespaces`},
		{[]string{"--namespaces=a", "--exclude-namespaces=b"}, "--exclude-namespaces only applies without --namespaces"},
		{[]string{"--service-label-selector=team==a==b"}, "--service-label-selector"},
		{[]string{"--service-label-selector=tier in (web"}, "is not a valid label selector"},
		{[]string{"--service-label-selector="}, "--service-label-selector is given but empty"},
	} {
		checkValidate(t, tc.args, tc.want)
	}
}

// The Lease is named after the scope unless given: unscoped instances keep
// "endpoints-controller"; equal scopes, however spelled, share a name;
// different scopes do not.
func TestLeaseNameFollowsScope(t *testing.T) {
	name := func(args ...string) string {
		t.Helper()
		o := newOptions()
		if _, err := o.parse(args); err != nil {
			t.Fatal(err)
		}
		o.complete()
		if err := o.validate(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return o.leaderElection.ResourceName
	}
	if got := name(); got != "endpoints-controller" {
		t.Errorf("unscoped: Lease %q", got)
	}
	a := name("--namespaces=a,b")
	if !strings.HasPrefix(a, "endpoints-controller-") || len(a) != len("endpoints-controller-")+10 {
		t.Errorf("scoped: Lease %q", a)
	}
	if b := name("--namespaces", "b", "--namespaces=a,b"); b != a {
		t.Errorf("same scope spelled differently: %q, %q", a, b)
	}
	others := map[string]bool{a: true}
	for _, args := range [][]string{
		{"--namespaces=a"},
		{"--exclude-namespaces=a,b"},
		{"--namespaces=a,b", "--service-label-selector=team=a"},
		{"--service-label-selector=team=a"},
		{"--service-label-selector=team!=a"},
	} {
		n := name(args...)
		if others[n] {
			t.Errorf("%v: Lease %q shared with another scope", args, n)
		}
		others[n] = true
	}
	if sel1, sel2 := name("--service-label-selector=b=2,a=1"), name("--service-label-selector=a=1, b=2"); sel1 != sel2 {
		t.Errorf("one selector, two Leases: %q, %q", sel1, sel2)
	}
	if got := name("--namespaces=a", "--leader-elect-resource-name=mine"); got != "mine" {
		t.Errorf("given name: Lease %q", got)
	}
}
