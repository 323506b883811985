package controller

import (
	"k8s.io/client-go/tools/cache"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
)

// byLabel indexes pods by namespace and each label pair, so that a sync
// looks at the pods carrying the selector's rarest pair instead of every
// pod of the namespace (the built-in lists the whole namespace per sync).
const byLabel = "namespace/label"

func labelIndexKey(ns, k, v string) string { return ns + "/" + k + "=" + v }

func podLabelIndex(obj any) ([]string, error) {
	pod, ok := obj.(*cachedPod)
	if !ok {
		return nil, nil
	}
	keys := make([]string, 0, len(pod.Labels))
	for k, v := range pod.Labels {
		keys = append(keys, labelIndexKey(pod.Namespace, k, v))
	}
	return keys, nil
}

// selectedPods returns the pods of ns that selector (non-empty) selects.
func selectedPods(idx cache.Indexer, ns string, selector map[string]string) ([]*endpoints.Pod, error) {
	if idx == nil {
		return nil, nil // no cache holds ns: out of scope
	}
	var smallest []string
	first := true
	for k, v := range selector {
		keys, err := idx.IndexKeys(byLabel, labelIndexKey(ns, k, v))
		if err != nil {
			return nil, err
		}
		if first || len(keys) < len(smallest) {
			smallest, first = keys, false
		}
		if len(smallest) == 0 {
			return nil, nil
		}
	}
	pods := make([]*endpoints.Pod, 0, len(smallest))
	for _, key := range smallest {
		obj, exists, err := idx.GetByKey(key)
		if err != nil {
			return nil, err
		}
		if pod, ok := obj.(*cachedPod); exists && ok && selects(selector, pod.Labels) {
			pods = append(pods, pod.pod())
		}
	}
	return pods, nil
}
