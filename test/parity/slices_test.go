package parity

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// With ENDPOINTS_CONTROLLER_TEST_SOURCE=endpointslices, TestParity runs ours
// with --source=endpointslices beside the built-in EndpointSlice controller,
// and compares with the built-in Endpoints controller over the same states.
// Where the two must differ by a rule listed in the README ("EndpointSlices
// as a source"), ours is compared with what the rule says instead, and
// counted under the rule's name.

// Rules of the slice source that the generated states exercise.
const rulePodOnMissingNode = "PodOnMissingNode"

// missingNode is a node no Node object exists for: the EndpointSlice
// controller skips the pods on it (TestSliceSource_PodOnMissingNode).
const missingNode = "node-gone"

// moveToMissingNode puts every 8th pod of w on missingNode, so that the
// slice mode exercises PodOnMissingNode in one world and compares the
// others identically. Both controllers run over the moved pods.
func moveToMissingNode(w *world) {
	for i, gp := range w.pods {
		if i%8 == 0 && gp.pod.Spec.NodeName != "" {
			gp.pod.Spec.NodeName = missingNode
		}
	}
}

// startSliceController registers the generator's nodes and starts
// kube-controller-manager with only the EndpointSlice controller, for the
// rest of the test.
func startSliceController(t *testing.T, cs kubernetes.Interface, logDir string) {
	t.Helper()
	ctx := context.Background()
	for _, n := range nodes {
		_, err := cs.CoreV1().Nodes().Create(ctx, &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cs.CoreV1().Nodes().Delete(context.Background(), n, metav1.DeleteOptions{}) })
	}
	startProc(t, logDir, "kube-controller-manager-endpointslice", filepath.Join(cp.BinDir, "kube-controller-manager"),
		append([]string{"--kubeconfig=" + cp.KubeconfigPath, "--controllers=endpointslice-controller",
			"--leader-elect=false", "--secure-port=0"}, clientFlags...)...)
}

// waitSlicesSettled waits until every served Service of the worlds has
// slices and no slice changed for settle.
func waitSlicesSettled(t *testing.T, cs kubernetes.Interface, worlds []*world) {
	t.Helper()
	start := time.Now()
	var last string
	stableSince := time.Now()
	framework.Eventually(t, convergeTimeout, func() error {
		var fp []string
		for _, w := range worlds {
			list, err := cs.DiscoveryV1().EndpointSlices(w.ns).List(context.Background(), metav1.ListOptions{LabelSelector: endpoints.SliceSelectorManagedBy})
			if err != nil {
				return err
			}
			has := map[string]bool{}
			for _, s := range list.Items {
				has[s.Labels[discovery.LabelServiceName]] = true
				fp = append(fp, s.Name+"@"+s.ResourceVersion)
			}
			for _, svc := range w.services {
				if served(svc) && !has[svc.Name] {
					last, stableSince = "", time.Now()
					return fmt.Errorf("no EndpointSlice for %s/%s yet", w.ns, svc.Name)
				}
			}
		}
		slices.Sort(fp)
		if cur := strings.Join(fp, ","); cur != last {
			last, stableSince = cur, time.Now()
		}
		if time.Since(stableSince) < settle {
			return fmt.Errorf("EndpointSlices still changing")
		}
		return nil
	})
	t.Logf("EndpointSlices settled in %s", time.Since(start).Round(100*time.Millisecond))
}

// ruleExpectations returns, per Endpoints whose Service the slice source
// must serve differently from the built-in, the rule and what ours must
// write under it: the built-in's object with the subsets computed (by
// pkg/endpoints, the code pods mode runs) from the pods the rule keeps.
func ruleExpectations(t *testing.T, cs kubernetes.Interface, worlds []*world, builtin map[string]*v1.Endpoints) (map[string]*v1.Endpoints, map[string]string) {
	t.Helper()
	ctx := context.Background()
	expected, rules := map[string]*v1.Endpoints{}, map[string]string{}
	for _, w := range worlds {
		svcs, err := cs.CoreV1().Services(w.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		podList, err := cs.CoreV1().Pods(w.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range svcs.Items {
			svc := &svcs.Items[i]
			key := w.ns + "/" + svc.Name
			be := builtin[key]
			if !served(svc) || be == nil {
				continue
			}
			var kept []*v1.Pod
			for j := range podList.Items {
				p := &podList.Items[j]
				if !selects(svc.Spec.Selector, p.Labels) {
					continue
				}
				// PodOnMissingNode: skipped unless published anyway.
				if !svc.Spec.PublishNotReadyAddresses && (p.Spec.NodeName == "" || p.Spec.NodeName == missingNode) {
					continue
				}
				kept = append(kept, p)
			}
			d := endpoints.Desire(svc, endpoints.Compute(svc, endpoints.Pods(kept)).Subsets, endpoints.DefaultManagedBy)
			want := be.DeepCopy()
			want.Subsets = d.Subsets
			delete(want.Annotations, v1.EndpointsOverCapacity)
			if d.Truncated {
				want.Annotations[v1.EndpointsOverCapacity] = "truncated"
			}
			if render(want) != render(be) {
				expected[key], rules[key] = want, rulePodOnMissingNode
			}
		}
	}
	return expected, rules
}

func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if l, ok := labels[k]; !ok || l != v {
			return false
		}
	}
	return true
}

// compareSliceSource compares ours with the built-in, or with a rule's
// expectation where one applies, and returns how many were identical,
// how many differed as a rule says (by rule), and every other difference.
func compareSliceSource(builtin, ours, expected map[string]*v1.Endpoints, rules map[string]string, relaxed map[string]bool) (identical int, documented map[string]int, unexplained []string) {
	want := maps.Clone(builtin)
	maps.Copy(want, expected)
	n, diffs := compareSnapshots(want, ours, relaxed)
	documented = map[string]int{}
	for k, rule := range rules {
		e, o := expected[k], ours[k]
		if relaxed[k] {
			e, o = withoutTriggerTime(e), withoutTriggerTime(o)
		}
		if render(e) == render(o) {
			documented[rule]++
		}
	}
	total := 0
	for _, c := range documented {
		total += c
	}
	return n - len(diffs) - total, documented, diffs
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
