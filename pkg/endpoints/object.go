package endpoints

import (
	"maps"
	"time"

	v1 "k8s.io/api/core/v1"
)

const (
	// LabelManagedBy marks Endpoints written by an endpoints controller.
	LabelManagedBy = "endpoints.kubernetes.io/managed-by"
	// DefaultManagedBy is the built-in's value, so that a cluster can switch
	// between the two controllers without rewriting every Endpoints.
	DefaultManagedBy = "endpoint-controller"
	// overCapacityTruncated is the value of v1.EndpointsOverCapacity.
	overCapacityTruncated = "truncated"
)

// Desired is everything this controller owns in a Service's Endpoints.
type Desired struct {
	Subsets   []v1.EndpointSubset // canonical, truncated
	Full      []v1.EndpointSubset // canonical, before truncation
	Truncated bool
	Labels    map[string]string
}

// Desire computes the Endpoints content for svc from its computed subsets.
func Desire(svc *v1.Service, subsets []v1.EndpointSubset, managedBy string) Desired {
	d := Desired{Full: subsets, Labels: Labels(svc, managedBy)}
	d.Subsets, d.Truncated = Truncate(subsets)
	return d
}

// Labels returns the Endpoints labels for svc: the Service's own, the
// headless marker when it has no cluster IP, and the managed-by label.
func Labels(svc *v1.Service, managedBy string) map[string]string {
	l := make(map[string]string, len(svc.Labels)+2)
	maps.Copy(l, svc.Labels)
	if ip := svc.Spec.ClusterIP; ip == "" || ip == v1.ClusterIPNone {
		l[v1.IsHeadlessService] = ""
	} else {
		delete(l, v1.IsHeadlessService)
	}
	l[LabelManagedBy] = managedBy
	return l
}

// UpToDate reports whether cur already holds d, so that no write is needed.
// The trigger-time annotation and targetRef resource versions are ignored.
// The built-in stores the same subsets in the same order; subsets stored in
// another order or grouping (say, by another writer) are repacked before
// comparing, as the built-in does, so that they cause no write either.
func UpToDate(cur *v1.Endpoints, d Desired) bool { return upToDate(cur, d, false) }

// UpToDateCanonical is UpToDate for a cur whose subsets are known to be in
// canonical form (say, this controller wrote them): canonical forms are
// unique, so unequal subsets need no repacking to tell they differ.
func UpToDateCanonical(cur *v1.Endpoints, d Desired) bool { return upToDate(cur, d, true) }

func upToDate(cur *v1.Endpoints, d Desired, canonical bool) bool {
	if !maps.Equal(cur.Labels, d.Labels) {
		return false
	}
	if v, ok := cur.Annotations[v1.EndpointsOverCapacity]; ok != d.Truncated || (ok && v != overCapacityTruncated) {
		return false
	}
	if SubsetsEqual(cur.Subsets, d.Subsets) {
		return true
	}
	if d.Truncated {
		// Which addresses survive truncation depends on subset order; any
		// cut with the same total per port group is as good.
		return truncatedEquivalent(cur.Subsets, d.Subsets, d.Full)
	}
	return !canonical && SubsetsEqual(Repack(cur.Subsets), d.Subsets)
}

// Apply returns a copy of cur (or a new object when cur is nil) holding d
// and the trigger time (zero: the annotation is removed). Everything else on
// cur, such as foreign annotations, is kept. The result shares d's subsets
// and labels.
func Apply(cur *v1.Endpoints, svc *v1.Service, d Desired, triggerTime time.Time) *v1.Endpoints {
	ep := &v1.Endpoints{}
	if cur != nil {
		// The subsets are replaced: copying them would be wasted.
		ep.TypeMeta = cur.TypeMeta
		cur.ObjectMeta.DeepCopyInto(&ep.ObjectMeta)
	} else {
		ep.Name, ep.Namespace = svc.Name, svc.Namespace
	}
	ep.Subsets = d.Subsets
	ep.Labels = d.Labels
	if ep.Annotations == nil {
		ep.Annotations = map[string]string{}
	}
	if triggerTime.IsZero() {
		delete(ep.Annotations, v1.EndpointsLastChangeTriggerTime)
	} else {
		ep.Annotations[v1.EndpointsLastChangeTriggerTime] = triggerTime.UTC().Format(time.RFC3339Nano)
	}
	if d.Truncated {
		ep.Annotations[v1.EndpointsOverCapacity] = overCapacityTruncated
	} else {
		delete(ep.Annotations, v1.EndpointsOverCapacity)
	}
	return ep
}
