package integration

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// TestHarnessServiceAndPods checks that the control plane does what the
// controller's tests rely on: Services get cluster IPs (dual-stack too), and
// pod status, written as a kubelet would, reads back unchanged.
func TestHarnessServiceAndPods(t *testing.T) {
	ctx := t.Context()
	cs := framework.Clientset(cp.Config)
	ns := framework.NewNamespace(t, cs)
	labels := map[string]string{"app": "web"}

	svc, err := cs.CoreV1().Services(ns).Create(ctx, &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: v1.ServiceSpec{
			Selector: labels,
			Ports:    []v1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating service: %v", err)
	}
	if got, err := cs.CoreV1().Services(ns).Get(ctx, svc.Name, metav1.GetOptions{}); err != nil {
		t.Fatalf("reading service: %v", err)
	} else {
		if !inCIDR(got.Spec.ClusterIP, framework.ServiceCIDRv4) {
			t.Errorf("service clusterIP %q not in %s", got.Spec.ClusterIP, framework.ServiceCIDRv4)
		}
		if len(got.Spec.Ports) != 1 || got.Spec.Ports[0].TargetPort.StrVal != "http" || got.Spec.Selector["app"] != "web" {
			t.Errorf("service spec not as created: %+v", got.Spec)
		}
	}

	pods := []struct {
		name  string
		ips   []string
		ready bool
	}{
		{"web-ready", []string{"10.244.0.11", "fd00:10:244::11"}, true},
		{"web-unready", []string{"10.244.0.12"}, false},
	}
	for _, p := range pods {
		pod := framework.MakePod(ns, p.name, labels,
			framework.WithContainerPort("http", 8080, v1.ProtocolTCP), framework.WithNodeName("node-1"))
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating pod %s: %v", p.name, err)
		}
		if _, err := framework.SetPodStatus(ctx, cs, pod, p.ips, p.ready, v1.PodRunning); err != nil {
			t.Fatalf("setting status of pod %s: %v", p.name, err)
		}
	}
	for _, p := range pods {
		got, err := cs.CoreV1().Pods(ns).Get(ctx, p.name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("reading pod %s: %v", p.name, err)
		}
		var ips []string
		for _, ip := range got.Status.PodIPs {
			ips = append(ips, ip.IP)
		}
		if got.Status.PodIP != p.ips[0] || !slices.Equal(ips, p.ips) || got.Status.Phase != v1.PodRunning {
			t.Errorf("pod %s: podIP %q, podIPs %v, phase %s; want %q, %v, Running",
				p.name, got.Status.PodIP, ips, got.Status.Phase, p.ips[0], p.ips)
		}
		want := map[bool]v1.ConditionStatus{true: v1.ConditionTrue, false: v1.ConditionFalse}[p.ready]
		i := slices.IndexFunc(got.Status.Conditions, func(c v1.PodCondition) bool { return c.Type == v1.PodReady })
		if i < 0 || got.Status.Conditions[i].Status != want || got.Status.Conditions[i].LastTransitionTime.IsZero() {
			t.Errorf("pod %s: conditions %+v, want Ready=%s with a transition time", p.name, got.Status.Conditions, want)
		}
	}
	list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(list.Items) != 2 {
		t.Errorf("listing pods by selector: %d pods, err %v; want 2", len(list.Items), err)
	}

	// Dual-stack, IPv6 first: needs both service CIDRs on the apiserver.
	policy := v1.IPFamilyPolicyPreferDualStack
	ds, err := cs.CoreV1().Services(ns).Create(ctx, &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web-dual"},
		Spec: v1.ServiceSpec{
			Selector:       labels,
			Ports:          []v1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
			IPFamilyPolicy: &policy,
			IPFamilies:     []v1.IPFamily{v1.IPv6Protocol, v1.IPv4Protocol},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating dual-stack service: %v", err)
	}
	if ips := ds.Spec.ClusterIPs; len(ips) != 2 || !inCIDR(ips[0], framework.ServiceCIDRv6) || !inCIDR(ips[1], framework.ServiceCIDRv4) {
		t.Errorf("dual-stack service clusterIPs %v, want one in %s then one in %s",
			ips, framework.ServiceCIDRv6, framework.ServiceCIDRv4)
	}

	// No namespace controller runs: NewNamespace's cleanup must still make
	// the namespace and its pods go away, or they would pile up.
	var inner string
	t.Run("namespace cleanup", func(t *testing.T) {
		inner = framework.NewNamespace(t, cs)
		if _, err := cs.CoreV1().Pods(inner).Create(ctx, framework.MakePod(inner, "p", labels), metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating pod: %v", err)
		}
	})
	if _, err := cs.CoreV1().Namespaces().Get(ctx, inner, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s still there after cleanup: %v", inner, err)
	}

	// The kubeconfig is what kubectl and the controller binary get.
	kubectl := filepath.Join(cp.BinDir, "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		t.Logf("kubectl not built in %s; not checking the kubeconfig with it", cp.BinDir)
		return
	}
	out, err := exec.CommandContext(ctx, kubectl, "--kubeconfig", cp.KubeconfigPath,
		"get", "services", "-n", ns, "-o", "name").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "service/web-dual") {
		t.Errorf("kubectl get services: %v\n%s", err, out)
	}
}

func inCIDR(ip, cidr string) bool {
	addr, err := netip.ParseAddr(ip)
	return err == nil && netip.MustParsePrefix(cidr).Contains(addr)
}
