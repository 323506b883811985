package controller

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/klog/v2"
)

// serviceState is what the API server says of a Service missing from the
// cache of a Service-selecting instance.
type serviceState int

const (
	serviceGone       serviceState = iota // no such Service
	serviceOutOfScope                     // it exists, and the selector leaves it out
	serviceInScope                        // it exists and is selected: the cache lags
)

// liveService asks the API server about the Service ns/name, which the
// Service cache lacks. With a Service selector the cache cannot tell a
// deleted Service from one outside the scope: the filtered watch reports
// a Service relabelled out of the scope as deleted, and never lists those
// of other scopes, whose Endpoints are not this instance's to delete.
// The read is a list of the one name rather than a get, so that it needs
// no permission beyond the informers' list and watch.
func (c *Controller) liveService(ctx context.Context, ns, name string) (serviceState, error) {
	list, err := c.client.CoreV1().Services(ns).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(),
	})
	if err != nil {
		return serviceGone, fmt.Errorf("checking whether Service %s/%s exists: %w", ns, name, err)
	}
	for i := range list.Items {
		if svc := &list.Items[i]; svc.Name == name {
			if c.scope.ContainsService(ns, svc.Labels) {
				return serviceInScope, nil
			}
			return serviceOutOfScope, nil
		}
	}
	return serviceGone, nil
}

// outOfScope records a sync that left key alone because it is outside
// the scope, for reason (metrics.OutOfScopeNamespace or
// metrics.OutOfScopeService).
func (c *Controller) outOfScope(ctx context.Context, key, reason string) {
	klog.FromContext(ctx).V(2).Info("Leaving Endpoints outside this instance's scope alone", "service", key, "reason", reason, "scope", c.scope.String())
	c.opts.Metrics.CountOutOfScope(reason)
}
