package controller

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
)

// Scope is the part of the cluster one controller instance serves, so that
// several instances with disjoint scopes can split the work. The zero
// Scope is every namespace and every Service.
type Scope struct {
	// Namespaces, if any, are the only namespaces served: each gets its
	// own informers, so nothing else is listed or watched.
	Namespaces []string
	// ExcludeNamespaces are left out by a field selector on every list
	// and watch; only without Namespaces.
	ExcludeNamespaces []string
	// ServiceSelector, if not nil or empty, restricts the Services served
	// by their labels. Pods and Endpoints of the served namespaces are
	// all watched: a Service selects pods whatever their labels, and its
	// Endpoints may carry any.
	ServiceSelector labels.Selector
}

// NewScope returns the Scope of the given lists and Service selector (""
// for every Service), normalised: lists sorted and deduplicated.
func NewScope(namespaces, exclude []string, serviceSelector string) (Scope, error) {
	s := Scope{Namespaces: normalise(namespaces), ExcludeNamespaces: normalise(exclude)}
	if serviceSelector != "" {
		sel, err := labels.Parse(serviceSelector)
		if err != nil {
			return Scope{}, err
		}
		if !sel.Empty() {
			s.ServiceSelector = sel
		}
	}
	return s, nil
}

func normalise(list []string) []string {
	if len(list) == 0 {
		return nil
	}
	out := slices.Clone(list)
	slices.Sort(out)
	return slices.Compact(out)
}

// IsZero reports whether s is the whole cluster.
func (s Scope) IsZero() bool {
	return len(s.Namespaces) == 0 && len(s.ExcludeNamespaces) == 0 && !s.selectsServices()
}

func (s Scope) selectsServices() bool { return s.ServiceSelector != nil && !s.ServiceSelector.Empty() }

// ContainsNamespace reports whether ns is served.
func (s Scope) ContainsNamespace(ns string) bool {
	if len(s.Namespaces) > 0 {
		_, found := slices.BinarySearch(s.Namespaces, ns)
		return found
	}
	_, excluded := slices.BinarySearch(s.ExcludeNamespaces, ns)
	return !excluded
}

// ContainsService reports whether a Service with these labels in ns is
// served.
func (s Scope) ContainsService(ns string, svcLabels map[string]string) bool {
	return s.ContainsNamespace(ns) && (!s.selectsServices() || s.ServiceSelector.Matches(labels.Set(svcLabels)))
}

// NamespacesLabel, ExcludeLabel and SelectorLabel are the scope's parts as
// flag values: comma lists and the selector in canonical form.
func (s Scope) NamespacesLabel() string { return strings.Join(s.Namespaces, ",") }
func (s Scope) ExcludeLabel() string    { return strings.Join(s.ExcludeNamespaces, ",") }
func (s Scope) SelectorLabel() string {
	if !s.selectsServices() {
		return ""
	}
	return s.ServiceSelector.String()
}

// String is the normalised scope: equal for equal scopes however the flags
// were spelled.
func (s Scope) String() string {
	return "namespaces=" + s.NamespacesLabel() + ";exclude-namespaces=" + s.ExcludeLabel() + ";service-selector=" + s.SelectorLabel()
}

// Hash is a short stable digest of String, e.g. for a Lease name.
func (s Scope) Hash() string {
	sum := sha256.Sum256([]byte(s.String()))
	return hex.EncodeToString(sum[:])[:10]
}

// excludeFieldSelector keeps the excluded namespaces out of a list or
// watch of any namespaced kind ("" when none are excluded): the API server
// supports metadata.namespace for every resource.
func (s Scope) excludeFieldSelector() string {
	if len(s.ExcludeNamespaces) == 0 {
		return ""
	}
	terms := make([]fields.Selector, len(s.ExcludeNamespaces))
	for i, ns := range s.ExcludeNamespaces {
		terms[i] = fields.OneTermNotEqualSelector("metadata.namespace", ns)
	}
	return fields.AndSelectors(terms...).String()
}

// tweaks returns how the lists and watches of Services and of the other
// kinds are narrowed; nil when they are not.
func (s Scope) tweaks() (services, others func(*metav1.ListOptions)) {
	field := s.excludeFieldSelector()
	if field != "" {
		others = func(o *metav1.ListOptions) { o.FieldSelector = field }
	}
	label := s.SelectorLabel()
	if field != "" || label != "" {
		services = func(o *metav1.ListOptions) {
			if field != "" {
				o.FieldSelector = field
			}
			if label != "" {
				o.LabelSelector = label
			}
		}
	}
	return services, others
}
