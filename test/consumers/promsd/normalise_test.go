package promsd

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/discovery/targetgroup"
)

// Labels Prometheus' endpoints role sets, as its discovery/kubernetes
// package names them (unexported there).
const (
	meta             = model.MetaLabelPrefix + "kubernetes_"
	labelNamespace   = meta + "namespace"
	labelServiceName = meta + "service_name"
	labelReady       = meta + "endpoint_ready"
	labelPortName    = meta + "endpoint_port_name"
	labelTargetName  = meta + "endpoint_address_target_name"
	labelPodName     = meta + "pod_name"
	labelPodIP       = meta + "pod_ip"
	labelPodReady    = meta + "pod_ready"
	labelPodUID      = meta + "pod_uid"
	labelCPortName   = meta + "pod_container_port_name"
	labelTriggerTime = meta + "endpoints_annotation_endpoints_kubernetes_io_last_change_trigger_time"
	labelTriggerSet  = meta + "endpoints_annotationpresent_endpoints_kubernetes_io_last_change_trigger_time"
	sourcePrefix     = "endpoints/"
	normalNamespace  = "NS"
)

// sdKeys turns what SD shows into targetKeys, to compare with
// expectedTargets. Groups of deleted Endpoints have no targets.
func sdKeys(groups []*targetgroup.Group) []string {
	var keys []string
	for _, tg := range groups {
		svc := string(tg.Labels[labelServiceName])
		if svc == "" { // no Service (yet): the name of the Endpoints
			svc = tg.Source[strings.LastIndex(tg.Source, "/")+1:]
		}
		for _, t := range tg.Targets {
			if ready, ok := t[labelReady]; ok {
				keys = append(keys, endpointKey(svc, string(t[labelTargetName]), string(t[labelPortName]), ready == "true"))
			} else {
				keys = append(keys, containerKey(svc, string(t[labelPodName]), string(t[labelCPortName])))
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// normalise renders groups as a snapshot that is the same across the two
// runs when the Endpoints read the same: one line per group label and one
// per target, sorted. What differs between runs by construction is
// replaced or dropped: the namespace name, pod IPs (by the pod's name: pod names are
// the identities) and UIDs. Two more depend on timing, so they are
// dropped too:
//   - the last-change-trigger-time annotation: when the built-in syncs
//     again before its informer has seen its own previous write, it gives
//     up ("endpoints informer cache is out of date") and its retry writes
//     no trigger time; ours trusts what it wrote and keeps it (see the
//     README on the built-in's stale-cache bugs). Which steps hit that is
//     timing; test/parity compares the annotation;
//   - pod_ready: Prometheus rebuilds a group only when its Endpoints or a
//     pod's phase change, so it shows whatever its pod informer held then;
//     endpoint_ready is what the writer decides.
func normalise(groups []*targetgroup.Group, ns string) snapshot {
	podIPs := map[model.LabelValue]model.LabelValue{}
	for _, tg := range groups {
		for _, t := range tg.Targets {
			if ip, name := t[labelPodIP], t[labelPodName]; ip != "" && name != "" {
				podIPs[ip] = name
			}
		}
	}
	value := func(name model.LabelName, v model.LabelValue) (model.LabelValue, bool) {
		switch name {
		case labelPodUID, labelPodReady, labelTriggerTime, labelTriggerSet:
			return "", false
		case labelNamespace:
			return normalNamespace, true
		case model.AddressLabel:
			if host, port, err := net.SplitHostPort(string(v)); err == nil {
				if pod, ok := podIPs[model.LabelValue(host)]; ok {
					return model.LabelValue(net.JoinHostPort(string(pod), port)), true
				}
			}
		}
		if pod, ok := podIPs[v]; ok {
			return pod, true
		}
		return v, true
	}
	render := func(ls model.LabelSet) []string {
		var out []string
		for name, v := range ls {
			if v, ok := value(name, v); ok {
				out = append(out, fmt.Sprintf("%s=%q", name, v))
			}
		}
		slices.Sort(out)
		return out
	}

	snap := snapshot{}
	for _, tg := range groups {
		source := strings.Replace(tg.Source, sourcePrefix+ns+"/", sourcePrefix+normalNamespace+"/", 1)
		lines := render(tg.Labels)
		var targets []string
		for _, t := range tg.Targets {
			targets = append(targets, "target {"+strings.Join(render(t), ", ")+"}")
		}
		slices.Sort(targets)
		snap[source] = append(lines, targets...)
	}
	return snap
}

// snapshot is SD's view normalised: per group Source, its labels and then
// its targets, one line each.
type snapshot map[string][]string

func (s snapshot) String() string {
	var b strings.Builder
	for _, source := range slices.Sorted(maps.Keys(s)) {
		fmt.Fprintf(&b, "group %s\n", source)
		for _, l := range s[source] {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	return b.String()
}

// diff lists per group the lines only in a ("- ") and only in b ("+ ");
// empty when they are the same.
func diff(a, b snapshot) string {
	var out []string
	sources := slices.Sorted(maps.Keys(a))
	for source := range b {
		if _, ok := a[source]; !ok {
			sources = append(sources, source)
		}
	}
	for _, source := range sources {
		la, oka := a[source]
		lb, okb := b[source]
		switch {
		case !okb:
			out = append(out, "- group "+source)
		case !oka:
			out = append(out, "+ group "+source)
		}
		for _, l := range la {
			if !slices.Contains(lb, l) {
				out = append(out, fmt.Sprintf("- %s: %s", source, l))
			}
		}
		for _, l := range lb {
			if !slices.Contains(la, l) {
				out = append(out, fmt.Sprintf("+ %s: %s", source, l))
			}
		}
	}
	return strings.Join(out, "\n")
}
