package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/endpoints-controller/endpoints-controller/pkg/controller"
)

// defaultLeaseName is the Lease of an unscoped instance, as before scopes
// existed, so that existing deployments keep theirs.
const defaultLeaseName = "endpoints-controller"

// addScopeFlags adds the flags that restrict an instance to part of the
// cluster.
func addScopeFlags(fs *pflag.FlagSet, o *options) {
	fs.StringSliceVar(&o.namespaces, "namespaces", nil, "Comma-separated namespaces this instance serves, and the only ones it lists, watches and writes in (one set of informers each); all namespaces when not given. The default Lease name then depends on the scope (see --leader-elect-resource-name).")
	fs.StringSliceVar(&o.excludeNamespaces, "exclude-namespaces", nil, "Comma-separated namespaces this instance leaves alone: every list and watch excludes them with a field selector. Only without --namespaces.")
	fs.StringVar(&o.serviceSelector, "service-label-selector", "", "Label selector (e.g. team=a or 'tier in (web,api)'): only Services it selects are served, and only they are listed and watched. Endpoints whose Service it does not select are never written or deleted, even after the Service's labels change.")
}

// validateScope checks the scope flags and builds o.scope; unless
// --leader-elect-resource-name is given, it also names the Lease after the
// scope, so that instances with different scopes do not share one.
func (o *options) validateScope() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	include, exclude := o.fs.Changed("namespaces"), o.fs.Changed("exclude-namespaces")
	checkList := func(flag string, list []string, given bool) {
		if !given {
			return
		}
		if len(strings.Join(list, "")) == 0 {
			bad("--%s is given but empty: name at least one namespace, or leave the flag out", flag)
			return
		}
		for _, ns := range list {
			if ns == "" {
				bad("--%s has an empty entry: %q", flag, strings.Join(list, ","))
				continue
			}
			for _, msg := range validation.IsDNS1123Label(ns) {
				bad("--%s: %q is not a valid namespace name: %s", flag, ns, msg)
			}
		}
	}
	checkList("namespaces", o.namespaces, include)
	checkList("exclude-namespaces", o.excludeNamespaces, exclude)
	if include && exclude {
		for _, ns := range o.excludeNamespaces {
			for _, in := range o.namespaces {
				if ns != "" && ns == in {
					bad("namespace %q is both in --namespaces and in --exclude-namespaces", ns)
				}
			}
		}
		bad("--exclude-namespaces only applies without --namespaces (--namespaces already leaves out every other namespace)")
	}
	if o.fs.Changed("service-label-selector") && strings.TrimSpace(o.serviceSelector) == "" {
		bad("--service-label-selector is given but empty: leave the flag out to serve every Service")
	}
	scope, err := controller.NewScope(o.namespaces, o.excludeNamespaces, o.serviceSelector)
	if err != nil {
		bad("--service-label-selector %q is not a valid label selector: %v", o.serviceSelector, err)
	}
	if len(errs) > 0 {
		return errs
	}
	o.scope = scope
	if !o.fs.Changed("leader-elect-resource-name") {
		o.leaderElection.ResourceName = leaseNameFor(scope)
	}
	return nil
}

// leaseNameFor is the default Lease name of an instance serving scope:
// unchanged when unscoped, else suffixed with a digest of the normalised
// scope, the same however the flags are spelled or ordered.
func leaseNameFor(scope controller.Scope) string {
	if scope.IsZero() {
		return defaultLeaseName
	}
	return defaultLeaseName + "-" + scope.Hash()
}
