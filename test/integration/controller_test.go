package integration

import (
	"fmt"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/endpoints-controller/endpoints-controller/pkg/controller"
	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

var app = func(name string) map[string]string { return map[string]string{"app": name} }

// Rules 1, 6, 9, 10: ready and not-ready pods, labels, trigger time; pod
// changes follow; an annotation-only pod update writes nothing.
func TestReadyAndNotReadyPods(t *testing.T) {
	e := newEnv(t)
	e.startController(controller.Options{})
	e.createService(service("web", port("http", 80, intstr.FromInt32(8080), v1.ProtocolTCP)))
	a := e.createPod("a", app("web"), []string{"10.0.0.1"}, true, framework.WithNodeName("n1"))
	e.createPod("b", app("web"), []string{"10.0.0.2"}, false)
	e.createPod("other", app("db"), []string{"10.0.0.3"}, true)

	ep := e.waitIPs("web", []string{"10.0.0.1"}, []string{"10.0.0.2"})
	if got := ep.Labels; got["team"] != "x" || got[endpoints.LabelManagedBy] != "endpoint-controller" || len(got) != 2 {
		t.Errorf("labels = %v", got)
	}
	if _, ok := ep.Annotations[v1.EndpointsLastChangeTriggerTime]; !ok {
		t.Errorf("no trigger-time annotation: %v", ep.Annotations)
	}
	addr := ep.Subsets[0].Addresses[0]
	if addr.NodeName == nil || *addr.NodeName != "n1" || addr.TargetRef == nil ||
		addr.TargetRef.Kind != "Pod" || addr.TargetRef.Name != "a" || addr.TargetRef.UID != a.UID {
		t.Errorf("address = %+v", addr)
	}
	if p := ep.Subsets[0].Ports; len(p) != 1 || p[0].Port != 8080 || p[0].Name != "http" || p[0].Protocol != v1.ProtocolTCP {
		t.Errorf("ports = %+v", p)
	}

	// An update the controller does not read: no write.
	a.Annotations = map[string]string{"touched": "yes"}
	if _, err := e.cs.CoreV1().Pods(e.ns).Update(e.ctx(), a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.expectNoWrite("web", 2*time.Second)

	// Relabelled away, and a not-ready pod turning ready.
	a, _ = e.cs.CoreV1().Pods(e.ns).Get(e.ctx(), "a", metav1.GetOptions{})
	a.Labels = app("elsewhere")
	if _, err := e.cs.CoreV1().Pods(e.ns).Update(e.ctx(), a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	b, _ := e.cs.CoreV1().Pods(e.ns).Get(e.ctx(), "b", metav1.GetOptions{})
	e.setStatus(b, []string{"10.0.0.2"}, true, v1.PodRunning)
	e.waitIPs("web", []string{"10.0.0.2"}, nil)
}

// Rule 2: deleted Service → Endpoints deleted; ExternalName and selector-less
// Services get nothing, and manual Endpoints are never touched.
func TestServiceKinds(t *testing.T) {
	e := newEnv(t)
	e.startController(controller.Options{})
	e.createPod("p", app("web"), []string{"10.0.0.1"}, true)

	e.createService(service("web", port("", 80, intstr.FromInt32(80), v1.ProtocolTCP)))
	e.waitIPs("web", []string{"10.0.0.1"}, nil)
	if err := e.cs.CoreV1().Services(e.ns).Delete(e.ctx(), "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, 30*time.Second, func() error {
		if _, err := e.getEndpoints("web"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("endpoints still there: %v", err)
		}
		return nil
	})

	ext := service("ext")
	ext.Spec = v1.ServiceSpec{Type: v1.ServiceTypeExternalName, ExternalName: "db.example.com", Selector: app("web")}
	e.createService(ext)

	manual := service("mysql", port("mysql", 3306, intstr.FromInt32(3306), v1.ProtocolTCP))
	manual.Spec.Selector = nil
	e.createService(manual)
	want := &v1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "mysql"},
		Subsets: []v1.EndpointSubset{{
			Addresses: []v1.EndpointAddress{{IP: "192.0.2.10"}},
			Ports:     []v1.EndpointPort{{Name: "mysql", Port: 3306, Protocol: v1.ProtocolTCP}},
		}},
	}
	created, err := e.cs.CoreV1().Endpoints(e.ns).Create(e.ctx(), want, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.expectNoWrite("mysql", 2*time.Second)
	if got, _ := e.getEndpoints("mysql"); got.ResourceVersion != created.ResourceVersion {
		t.Errorf("manual endpoints were modified")
	}
	if _, err := e.getEndpoints("ext"); !apierrors.IsNotFound(err) {
		t.Errorf("ExternalName service got endpoints: %v", err)
	}
}

// Rules 3 and 6: which pods count, with and without publishNotReadyAddresses.
func TestWhichPodsCount(t *testing.T) {
	e := newEnv(t)
	e.startController(controller.Options{})
	e.createService(service("web", port("", 80, intstr.FromInt32(80), v1.ProtocolTCP)))
	pub := service("pub", port("", 80, intstr.FromInt32(80), v1.ProtocolTCP))
	pub.Spec.Selector = app("web")
	pub.Spec.PublishNotReadyAddresses = true
	e.createService(pub)

	e.createPod("noip", app("web"), nil, false)
	e.createPod("ready", app("web"), []string{"10.0.0.1"}, true)
	e.createPod("notready", app("web"), []string{"10.0.0.2"}, false)
	done := e.createPod("done", app("web"), []string{"10.0.0.3"}, true)
	e.setStatus(done, []string{"10.0.0.3"}, false, v1.PodSucceeded)
	failed := e.createPod("failed", app("web"), []string{"10.0.0.4"}, true, func(p *v1.Pod) { p.Spec.RestartPolicy = v1.RestartPolicyNever })
	e.setStatus(failed, []string{"10.0.0.4"}, false, v1.PodFailed)
	e.createPod("terminating", app("web"), []string{"10.0.0.5"}, true, func(p *v1.Pod) { p.Finalizers = []string{"example.com/keep"} })
	t.Cleanup(func() { removeFinalizers(e, "terminating") })
	if err := e.cs.CoreV1().Pods(e.ns).Delete(e.ctx(), "terminating", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	e.waitIPs("web", []string{"10.0.0.1"}, []string{"10.0.0.2"})
	e.waitIPs("pub", []string{"10.0.0.1", "10.0.0.2", "10.0.0.5"}, nil)
}

func removeFinalizers(e *env, name string) {
	p, err := e.cs.CoreV1().Pods(e.ns).Get(e.ctx(), name, metav1.GetOptions{})
	if err != nil {
		return
	}
	p.Finalizers = nil
	_, _ = e.cs.CoreV1().Pods(e.ns).Update(e.ctx(), p, metav1.UpdateOptions{})
}

// Rule 4: the primary family's IP, hostname for the matching subdomain.
func TestAddressFamiliesAndHostname(t *testing.T) {
	e := newEnv(t)
	e.startController(controller.Options{})
	single := v1.IPFamilyPolicySingleStack
	prefer := v1.IPFamilyPolicyPreferDualStack
	v6 := service("v6", port("", 80, intstr.FromInt32(80), v1.ProtocolTCP))
	v6.Spec.Selector = app("web")
	v6.Spec.IPFamilyPolicy, v6.Spec.IPFamilies = &single, []v1.IPFamily{v1.IPv6Protocol}
	e.createService(v6)
	dual := service("dual", port("", 80, intstr.FromInt32(80), v1.ProtocolTCP))
	dual.Spec.Selector = app("web")
	dual.Spec.IPFamilyPolicy, dual.Spec.IPFamilies = &prefer, []v1.IPFamily{v1.IPv6Protocol, v1.IPv4Protocol}
	e.createService(dual)
	e.createService(service("web", port("", 80, intstr.FromInt32(80), v1.ProtocolTCP)))

	e.createPod("v4only", app("web"), []string{"10.0.0.1"}, true)
	e.createPod("both", app("web"), []string{"10.0.0.2", "fd00::2"}, true,
		func(p *v1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "host-a", "web" })
	e.createPod("v6only", app("web"), []string{"fd00::3"}, true)

	ep := e.waitIPs("web", []string{"10.0.0.1", "10.0.0.2"}, nil)
	for _, a := range ep.Subsets[0].Addresses {
		if want := map[string]string{"10.0.0.2": "host-a"}[a.IP]; a.Hostname != want {
			t.Errorf("%s hostname = %q, want %q", a.IP, a.Hostname, want)
		}
	}
	e.waitIPs("v6", []string{"fd00::2", "fd00::3"}, nil)
	ep = e.waitIPs("dual", []string{"fd00::2", "fd00::3"}, nil)
	for _, a := range ep.Subsets[0].Addresses {
		if a.Hostname != "" {
			t.Errorf("hostname %q set for a subdomain of another service", a.Hostname)
		}
	}
}

// Rule 5: target ports by number, by name and protocol, missing names;
// protocols and appProtocol; headless without ports.
func TestPorts(t *testing.T) {
	e := newEnv(t)
	e.startController(controller.Options{})
	h2c := "kubernetes.io/h2c"
	svc := service("web",
		port("http", 80, intstr.FromString("http"), v1.ProtocolTCP),
		port("dns", 53, intstr.FromString("dns"), v1.ProtocolUDP),
		port("sctp", 9000, intstr.FromInt32(9001), v1.ProtocolSCTP),
	)
	svc.Spec.Ports[0].AppProtocol = &h2c
	e.createService(svc)
	headless := service("headless")
	headless.Spec.Selector = app("web")
	headless.Spec.ClusterIP = v1.ClusterIPNone
	e.createService(headless)

	e.createPod("a", app("web"), []string{"10.0.0.1"}, true,
		framework.WithContainerPort("http", 8080, v1.ProtocolTCP), framework.WithContainerPort("dns", 5353, v1.ProtocolUDP))
	e.createPod("b", app("web"), []string{"10.0.0.2"}, true,
		framework.WithContainerPort("http", 8081, v1.ProtocolTCP), framework.WithContainerPort("dns", 5353, v1.ProtocolTCP))

	ep := e.waitIPs("web", []string{"10.0.0.1", "10.0.0.2"}, nil)
	// a: http 8080, dns 5353/UDP, sctp 9001; b: http 8081, sctp 9001 (its
	// dns port is TCP, so it is left out of dns only).
	got := map[string][]string{}
	for _, s := range ep.Subsets {
		for _, p := range s.Ports {
			for _, a := range s.Addresses {
				got[fmt.Sprintf("%s/%d/%s", p.Name, p.Port, p.Protocol)] = append(got[fmt.Sprintf("%s/%d/%s", p.Name, p.Port, p.Protocol)], a.IP)
			}
			if p.Name == "http" && (p.AppProtocol == nil || *p.AppProtocol != h2c) {
				t.Errorf("appProtocol of %v not copied", p)
			}
		}
	}
	want := map[string][]string{
		"http/8080/TCP": {"10.0.0.1"}, "http/8081/TCP": {"10.0.0.2"},
		"dns/5353/UDP": {"10.0.0.1"}, "sctp/9001/SCTP": {"10.0.0.1", "10.0.0.2"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ports → addresses = %v, want %v", got, want)
	}

	ep = e.waitIPs("headless", []string{"10.0.0.1", "10.0.0.2"}, nil)
	if len(ep.Subsets) != 1 || len(ep.Subsets[0].Ports) != 0 {
		t.Errorf("headless without ports: subsets = %+v", ep.Subsets)
	}
	if _, ok := ep.Labels[v1.IsHeadlessService]; !ok {
		t.Errorf("headless label missing: %v", ep.Labels)
	}
}

// Rule 14: Endpoints without a Service are deleted at start, except
// leader-election records; Rule 12's update path re-creates a deleted one.
func TestLeftoversAndRecreate(t *testing.T) {
	e := newEnv(t)
	for name, ann := range map[string]map[string]string{
		"orphan": nil,
		"leader": {"control-plane.alpha.kubernetes.io/leader": `{"holderIdentity":"x"}`},
	} {
		ep := &v1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: ann}}
		if _, err := e.cs.CoreV1().Endpoints(e.ns).Create(e.ctx(), ep, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e.createService(service("web", port("", 80, intstr.FromInt32(80), v1.ProtocolTCP)))
	e.createPod("p", app("web"), []string{"10.0.0.1"}, true)
	e.startController(controller.Options{})

	framework.Eventually(t, 30*time.Second, func() error {
		if _, err := e.getEndpoints("orphan"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("orphan still there: %v", err)
		}
		return nil
	})
	if _, err := e.getEndpoints("leader"); err != nil {
		t.Errorf("leader-election record: %v", err)
	}
	e.waitIPs("web", []string{"10.0.0.1"}, nil)
	if err := e.cs.CoreV1().Endpoints(e.ns).Delete(e.ctx(), "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitIPs("web", []string{"10.0.0.1"}, nil)
}

// A hand edit of managed Endpoints is reverted, and a Service relabel is
// carried over.
func TestRevertsEditsAndFollowsLabels(t *testing.T) {
	e := newEnv(t)
	e.startController(controller.Options{})
	svc := e.createService(service("web", port("", 80, intstr.FromInt32(80), v1.ProtocolTCP)))
	e.createPod("p", app("web"), []string{"10.0.0.1"}, true)
	ep := e.waitIPs("web", []string{"10.0.0.1"}, nil)

	ep.Subsets[0].Addresses[0].IP = "10.9.9.9"
	if _, err := e.cs.CoreV1().Endpoints(e.ns).Update(e.ctx(), ep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitIPs("web", []string{"10.0.0.1"}, nil)

	svc.Labels = map[string]string{"team": "y", "tier": "front"}
	if _, err := e.cs.CoreV1().Services(e.ns).Update(e.ctx(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitEndpoints("web", func(ep *v1.Endpoints) error {
		if ep.Labels["team"] != "y" || ep.Labels["tier"] != "front" || len(ep.Labels) != 3 {
			return fmt.Errorf("labels %v", ep.Labels)
		}
		return nil
	})
	e.expectNoWrite("web", 2*time.Second)
}
