package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/endpoints-controller/endpoints-controller/pkg/controller"
	"github.com/endpoints-controller/endpoints-controller/pkg/metrics"
	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// Inputs that give no addresses still give an Endpoints object, as the
// built-in does: a selector matching nothing, a named port no pod has, pods
// of the other IP family only.
func TestInputsWithoutAddresses(t *testing.T) {
	e := newEnv(t)
	e.startController(controller.Options{})
	e.createService(service("nothing", port("", 80, intstr.FromInt32(80), v1.ProtocolTCP)))
	noName := service("noname", port("http", 80, intstr.FromString("no-such-port"), v1.ProtocolTCP))
	noName.Spec.Selector = app("web")
	e.createService(noName)
	single := v1.IPFamilyPolicySingleStack
	v6 := service("v6", port("", 80, intstr.FromInt32(80), v1.ProtocolTCP))
	v6.Spec.Selector = app("web")
	v6.Spec.IPFamilyPolicy, v6.Spec.IPFamilies = &single, []v1.IPFamily{v1.IPv6Protocol}
	e.createService(v6)
	e.createPod("a", app("web"), []string{"10.0.0.1"}, true)

	for _, name := range []string{"nothing", "noname", "v6"} {
		e.waitEndpoints(name, func(ep *v1.Endpoints) error {
			if len(ep.Subsets) != 0 {
				return fmt.Errorf("%s: subsets %+v, want none", name, ep.Subsets)
			}
			return nil
		})
	}
}

// Irregular pod IPs: the API server may refuse them; whatever it accepts
// comes out in canonical form.
func TestIrregularPodIPs(t *testing.T) {
	e := newEnv(t)
	e.startController(controller.Options{})
	e.createService(service("web", port("", 80, intstr.FromInt32(80), v1.ProtocolTCP)))
	want := []string{"10.0.0.2"}
	e.createPod("plain", app("web"), []string{"10.0.0.2"}, true)
	for i, ip := range []string{"010.000.000.001", "::ffff:10.0.0.3"} {
		pod, err := e.cs.CoreV1().Pods(e.ns).Create(e.ctx(), framework.MakePod(e.ns, fmt.Sprintf("odd%d", i), app("web"), framework.WithNodeName("node-1")), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := framework.SetPodStatus(e.ctx(), e.cs, pod, []string{ip}, true, v1.PodRunning); err != nil {
			t.Logf("API server refuses pod IP %q: %v", ip, err)
			continue
		}
		want = append(want, map[string]string{"010.000.000.001": "10.0.0.1", "::ffff:10.0.0.3": "10.0.0.3"}[ip])
	}
	e.waitIPs("web", want, nil)
}

// RBAC without the update verb: a Warning event and an error log, retries
// with capped backoff past the built-in's limit (15, after which it drops
// the Service until its next change), no crash; granting the verb heals it.
// The controller's fake clock is stepped over each backoff.
func TestDivergence_RetriesForever(t *testing.T) {
	e := newEnv(t)
	admin := e.cs
	user := "system:serviceaccount:" + e.ns + ":limited"
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: e.ns + "-limited"},
		Rules: []rbacv1.PolicyRule{
			// deploy/'s ClusterRole without update on endpoints.
			{APIGroups: []string{""}, Resources: []string{"pods", "services"}, Verbs: []string{"list", "watch"}},
			{APIGroups: []string{""}, Resources: []string{"endpoints"}, Verbs: []string{"list", "watch", "create", "delete"}},
			{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
		},
	}
	ctx := context.Background()
	if _, err := admin.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.RbacV1().ClusterRoles().Delete(ctx, role.Name, metav1.DeleteOptions{}) })
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "limited"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "limited", Namespace: e.ns}},
	}
	if _, err := admin.RbacV1().RoleBindings(e.ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	cfg := rest.CopyConfig(cp.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	e.controllerCS = framework.Clientset(cfg)
	clk := clocktesting.NewFakeClock(time.Now())
	m := metrics.New()
	const maxDelay = 2 * time.Second
	e.startController(controller.Options{MaxRetryDelay: maxDelay, Clock: clk, Metrics: m})
	p := e.createPod("a", app("web"), []string{"10.0.0.1"}, true)
	e.createService(service("web", port("", 80, intstr.FromInt32(80), v1.ProtocolTCP)))
	e.waitIPs("web", []string{"10.0.0.1"}, nil) // create is allowed
	e.setStatus(p, []string{"10.0.0.1"}, false, v1.PodRunning)

	const builtinMaxRetries = 15
	failed := func() float64 {
		return metricSum(t, m, "endpoints_controller_syncs_total", map[string]string{"result": "error"})
	}
	framework.Eventually(t, time.Minute, func() error {
		if n := failed(); n <= builtinMaxRetries+1 {
			clk.Step(maxDelay) // the longest backoff: the next retry is due
			return fmt.Errorf("%v failed updates", n)
		}
		return nil
	})

	framework.Eventually(t, 30*time.Second, func() error {
		evs, err := admin.CoreV1().Events(e.ns).List(ctx, metav1.ListOptions{FieldSelector: "reason=FailedToUpdateEndpoint"})
		if err != nil || len(evs.Items) == 0 {
			return fmt.Errorf("no FailedToUpdateEndpoint event yet (%v)", err)
		}
		return nil
	})
	role.Rules[1].Verbs = append(role.Rules[1].Verbs, "update")
	if _, err := admin.RbacV1().ClusterRoles().Update(ctx, role, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Still retrying: the next retry after the grant writes.
	framework.Eventually(t, 30*time.Second, func() error {
		ep, err := e.getEndpoints("web")
		if err != nil {
			return err
		}
		if ready, notReady := ips(ep); len(ready) != 0 || len(notReady) != 1 {
			clk.Step(maxDelay)
			return fmt.Errorf("ready %v notReady %v", ready, notReady)
		}
		return nil
	})
}
