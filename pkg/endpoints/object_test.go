package endpoints

import (
	"fmt"
	"maps"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestLabels(t *testing.T) {
	const headless, managed = v1.IsHeadlessService, LabelManagedBy
	for _, tc := range []struct {
		name      string
		clusterIP string
		labels    map[string]string
		managedBy string
		want      map[string]string
	}{
		{"cluster IP", "10.96.0.10", map[string]string{"app": "web", "tier": "1"}, DefaultManagedBy,
			map[string]string{"app": "web", "tier": "1", managed: "endpoint-controller"}},
		{"headless", v1.ClusterIPNone, map[string]string{"app": "web"}, DefaultManagedBy,
			map[string]string{"app": "web", headless: "", managed: "endpoint-controller"}},
		{"empty cluster IP counts as headless", "", map[string]string{"app": "web"}, "mine",
			map[string]string{"app": "web", headless: "", managed: "mine"}},
		{"no Service labels", "10.96.0.10", nil, "mine", map[string]string{managed: "mine"}},
		{"headless label on a Service with a cluster IP removed", "10.96.0.10", map[string]string{"app": "web", headless: ""}, "mine",
			map[string]string{"app": "web", managed: "mine"}},
		{"headless label value reset", v1.ClusterIPNone, map[string]string{headless: "yes"}, "mine",
			map[string]string{headless: "", managed: "mine"}},
		{"managed-by of the Service overridden", "10.96.0.10", map[string]string{managed: "someone"}, "mine",
			map[string]string{managed: "mine"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := mkSvc(clusterIP(tc.clusterIP), svcLabels(tc.labels))
			before := maps.Clone(tc.labels)
			if got := Labels(svc, tc.managedBy); !maps.Equal(got, tc.want) {
				t.Errorf("Labels = %v, want %v", got, tc.want)
			}
			if !maps.Equal(svc.Labels, before) {
				t.Errorf("Labels modified the Service's labels: %v", svc.Labels)
			}
		})
	}
}

type objState struct {
	svc *v1.Service
	d   Desired
	cur *v1.Endpoints // as Apply writes it, with a resourceVersion
}

func newObjState(t testing.TB, svc *v1.Service, pods []*v1.Pod) objState {
	d := Desire(svc, Compute(svc, Pods(pods)).Subsets, DefaultManagedBy)
	cur := Apply(nil, svc, d, time.Time{}).DeepCopy() // Apply shares d's slices
	cur.ResourceVersion = "5"
	if !UpToDate(cur, d) {
		t.Fatalf("Apply's output is not up to date:\n%s", dump(cur.Subsets))
	}
	return objState{svc, d, cur}
}

// smallState: subsets [dns] {a, c; b, d not ready} and [http] {a; b not
// ready}, a with a hostname.
func smallState(t testing.TB) objState {
	svc := mkSvc(ports(sp("http", 80, intstr.FromString("web"), TCP), sp("dns", 53, intstr.FromInt32(5353), UDP)))
	web := cports(cp("web", 8080, TCP))
	return newObjState(t, svc, []*v1.Pod{mkPod("a", "10.0.0.1", web, host("a", "svc")), mkPod("b", "10.0.0.2", web, notReady),
		mkPod("c", "10.0.0.3"), mkPod("d", "10.0.0.4", notReady)})
}

// truncState: 1200 pods in two port groups, 8080 (500 ready, 200 not) and
// 9090 (300 ready, 200 not); not-ready cut to 100 + 100.
func truncState(t testing.TB) objState {
	svc := mkSvc(ports(sp("http", 80, intstr.FromString("web"), TCP)))
	var pods []*v1.Pod
	for i := range 1200 {
		opts := []podOpt{cports(cp("web", 8080, TCP))}
		if i >= 700 {
			opts[0] = cports(cp("web", 9090, TCP))
		}
		if i >= 500 && i < 700 || i >= 1000 {
			opts = append(opts, notReady)
		}
		pods = append(pods, mkPod(fmt.Sprintf("p%d", i), fmt.Sprintf("10.0.%d.%d", i/250, i%250), opts...))
	}
	s := newObjState(t, svc, pods)
	if s.cur.Annotations[v1.EndpointsOverCapacity] != "truncated" || len(s.d.Full) != 2 ||
		len(s.cur.Subsets[0].NotReadyAddresses) != 100 || len(s.cur.Subsets[1].NotReadyAddresses) != 100 {
		t.Fatalf("unexpected truncated state: %v", s.cur.Annotations)
	}
	return s
}

// readyCutState: 1100 ready and 50 not-ready pods; 1000 ready kept.
func readyCutState(t testing.TB) objState {
	var pods []*v1.Pod
	for i := range 1150 {
		var opts []podOpt
		if i >= 1100 {
			opts = append(opts, notReady)
		}
		pods = append(pods, mkPod(fmt.Sprintf("p%d", i), fmt.Sprintf("10.0.%d.%d", i/250, i%250), opts...))
	}
	return newObjState(t, mkSvc(), pods)
}

func TestUpToDate(t *testing.T) {
	small, trunc, readyCut := smallState(t), truncState(t), readyCutState(t)
	full := trunc.d.Full
	for _, tc := range []struct {
		name  string
		state objState
		mut   func(e *v1.Endpoints)
		want  bool
	}{
		{"as applied", small, func(*v1.Endpoints) {}, true},
		{"targetRef resourceVersion differs", small, func(e *v1.Endpoints) {
			e.Subsets[0].Addresses[1].TargetRef.ResourceVersion = "77"
			e.Subsets[1].NotReadyAddresses[0].TargetRef.ResourceVersion = "78"
		}, true},
		{"trigger time annotation", small, func(e *v1.Endpoints) {
			e.Annotations[v1.EndpointsLastChangeTriggerTime] = "2020-01-01T00:00:00Z"
		}, true},
		{"foreign annotation", small, func(e *v1.Endpoints) { e.Annotations["x"] = "y" }, true},
		{"stored in another order", small, func(e *v1.Endpoints) { e.Subsets = reversed(e.Subsets) }, true},
		{"stored non-canonically (single-address subsets)", small, func(e *v1.Endpoints) {
			e.Subsets = builtinExpand(small.svc, []*v1.Pod{mkPod("a", "10.0.0.1", cports(cp("web", 8080, TCP)), host("a", "svc")),
				mkPod("b", "10.0.0.2", cports(cp("web", 8080, TCP)), notReady), mkPod("c", "10.0.0.3"), mkPod("d", "10.0.0.4", notReady)})
		}, true},
		{"empty lists instead of nil", small, func(e *v1.Endpoints) {
			for i := range e.Subsets {
				e.Subsets[i].Addresses = append(addrs{}, e.Subsets[i].Addresses...)
				e.Subsets[i].NotReadyAddresses = append(addrs{}, e.Subsets[i].NotReadyAddresses...)
			}
		}, true},
		{"label missing", small, func(e *v1.Endpoints) { delete(e.Labels, "app") }, false},
		{"managed-by missing", small, func(e *v1.Endpoints) { delete(e.Labels, LabelManagedBy) }, false},
		{"managed-by of another controller", small, func(e *v1.Endpoints) { e.Labels[LabelManagedBy] = "other" }, false},
		{"extra label", small, func(e *v1.Endpoints) { e.Labels["extra"] = "" }, false},
		{"label value differs", small, func(e *v1.Endpoints) { e.Labels["app"] = "db" }, false},
		{"headless label on a Service with a cluster IP", small, func(e *v1.Endpoints) { e.Labels[v1.IsHeadlessService] = "" }, false},
		{"over-capacity annotation while not truncated", small, func(e *v1.Endpoints) {
			e.Annotations[v1.EndpointsOverCapacity] = "truncated"
		}, false},
		{"address IP differs", small, func(e *v1.Endpoints) { e.Subsets[0].Addresses[1].IP = "10.0.0.9" }, false},
		{"nodeName differs", small, func(e *v1.Endpoints) { e.Subsets[1].Addresses[0].NodeName = new(string) }, false},
		{"nodeName nil", small, func(e *v1.Endpoints) { e.Subsets[1].Addresses[0].NodeName = nil }, false},
		{"hostname missing", small, func(e *v1.Endpoints) { e.Subsets[1].Addresses[0].Hostname = "" }, false},
		{"targetRef name differs", small, func(e *v1.Endpoints) { e.Subsets[0].Addresses[0].TargetRef.Name = "z" }, false},
		{"targetRef missing", small, func(e *v1.Endpoints) { e.Subsets[0].Addresses[0].TargetRef = nil }, false},
		{"ready address stored as not ready", small, func(e *v1.Endpoints) {
			s := &e.Subsets[0]
			s.NotReadyAddresses, s.Addresses = append(s.NotReadyAddresses, s.Addresses...), nil
		}, false},
		{"port number differs", small, func(e *v1.Endpoints) { e.Subsets[0].Ports[0].Port = 8081 }, false},
		{"appProtocol added", small, func(e *v1.Endpoints) { e.Subsets[0].Ports[0].AppProtocol = new(string) }, false},
		{"subset missing", small, func(e *v1.Endpoints) { e.Subsets = e.Subsets[:1] }, false},
		{"address missing", small, func(e *v1.Endpoints) { e.Subsets[0].Addresses = e.Subsets[0].Addresses[:1] }, false},
		{"extra address", small, func(e *v1.Endpoints) {
			e.Subsets[0].Addresses = append(e.Subsets[0].Addresses, podAddr("z", "10.0.0.26"))
		}, false},
		{"no subsets", small, func(e *v1.Endpoints) { e.Subsets = nil }, false},

		{"truncated: as applied", trunc, func(*v1.Endpoints) {}, true},
		{"truncated: stored in another order", trunc, func(e *v1.Endpoints) { e.Subsets = reversed(e.Subsets) }, true},
		{"truncated: another valid split", trunc, func(e *v1.Endpoints) {
			e.Subsets[0].NotReadyAddresses = e.Subsets[0].NotReadyAddresses[:90]
			e.Subsets[1].NotReadyAddresses = append(e.Subsets[1].NotReadyAddresses, full[1].NotReadyAddresses[150:160]...)
		}, true},
		{"truncated: other not-ready addresses of the same group", trunc, func(e *v1.Endpoints) {
			e.Subsets[0].NotReadyAddresses = full[0].NotReadyAddresses[100:]
		}, true},
		{"truncated: stale ready address", trunc, func(e *v1.Endpoints) { e.Subsets[0].Addresses[3] = podAddr("gone", "10.9.9.8") }, false},
		{"truncated: stale address", trunc, func(e *v1.Endpoints) { e.Subsets[1].NotReadyAddresses[0] = podAddr("gone", "10.9.9.9") }, false},
		{"truncated: address of the other port group", trunc, func(e *v1.Endpoints) {
			e.Subsets[0].NotReadyAddresses[0] = full[1].NotReadyAddresses[150]
		}, false},
		{"truncated: stale nodeName", trunc, func(e *v1.Endpoints) { e.Subsets[0].NotReadyAddresses[5].NodeName = new(string) }, false},
		{"truncated: ready address missing", trunc, func(e *v1.Endpoints) {
			e.Subsets[0].Addresses = e.Subsets[0].Addresses[1:]
			e.Subsets[0].NotReadyAddresses = append(e.Subsets[0].NotReadyAddresses, full[0].NotReadyAddresses[150])
		}, false},
		{"truncated: not-ready address stored as ready", trunc, func(e *v1.Endpoints) {
			s := &e.Subsets[0]
			s.Addresses, s.NotReadyAddresses = append(s.Addresses, s.NotReadyAddresses[0]), s.NotReadyAddresses[1:]
		}, false},
		{"truncated: one not-ready address short", trunc, func(e *v1.Endpoints) {
			e.Subsets[1].NotReadyAddresses = e.Subsets[1].NotReadyAddresses[1:]
		}, false},
		{"truncated: subset missing", trunc, func(e *v1.Endpoints) { e.Subsets = e.Subsets[1:] }, false},
		{"truncated: annotation missing", trunc, func(e *v1.Endpoints) { delete(e.Annotations, v1.EndpointsOverCapacity) }, false},
		{"truncated: not truncated", trunc, func(e *v1.Endpoints) { e.Subsets = cloneSubsets(full) }, false},
		{"truncated: label missing", trunc, func(e *v1.Endpoints) { delete(e.Labels, "app") }, false},

		{"ready cut: as applied", readyCut, func(*v1.Endpoints) {}, true},
		{"ready cut: other ready addresses", readyCut, func(e *v1.Endpoints) {
			e.Subsets[0].Addresses = readyCut.d.Full[0].Addresses[100:]
		}, true},
		{"ready cut: stale ready address", readyCut, func(e *v1.Endpoints) { e.Subsets[0].Addresses[0] = podAddr("gone", "10.9.9.8") }, false},
		{"ready cut: not-ready addresses kept", readyCut, func(e *v1.Endpoints) {
			e.Subsets[0].Addresses = e.Subsets[0].Addresses[10:]
			e.Subsets[0].NotReadyAddresses = readyCut.d.Full[0].NotReadyAddresses[:10]
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cur := tc.state.cur.DeepCopy()
			tc.mut(cur)
			before := cur.DeepCopy()
			if got := UpToDate(cur, tc.state.d); got != tc.want {
				t.Errorf("UpToDate = %v, want %v", got, tc.want)
			}
			if !apiequality.Semantic.DeepEqual(cur, before) {
				t.Error("UpToDate modified the Endpoints")
			}
			if fields, summary := Diff(cur, tc.state.d); (len(fields) == 0) != tc.want {
				t.Errorf("Diff = %v %q, disagrees with UpToDate", fields, summary)
			}
			// Whatever is stored, Apply makes it up to date.
			if !UpToDate(Apply(cur, tc.state.svc, tc.state.d, time.Now()), tc.state.d) {
				t.Error("Apply's output is not up to date")
			}
		})
	}
}

func TestUpToDateNoEndpoints(t *testing.T) {
	s := newObjState(t, mkSvc(), nil)
	for _, subsets := range [][]v1.EndpointSubset{nil, {}} {
		cur := s.cur.DeepCopy()
		cur.Subsets = subsets
		if !UpToDate(cur, s.d) {
			t.Errorf("UpToDate(%#v) = false", subsets)
		}
	}
}

func TestApply(t *testing.T) {
	small, trunc := smallState(t), truncState(t)
	at := time.Date(2026, 3, 4, 5, 6, 7, 890, time.FixedZone("CET", 3600))
	const atStr = "2026-03-04T04:06:07.00000089Z"
	existing := func(annotations map[string]string) *v1.Endpoints {
		e := small.cur.DeepCopy()
		e.Labels = map[string]string{"stale": "y"}
		e.Annotations = annotations
		e.Finalizers = []string{"keep/me"}
		e.Subsets = nil
		return e
	}
	for _, tc := range []struct {
		name      string
		cur       *v1.Endpoints
		state     objState
		at        time.Time
		wantAnnot map[string]string
	}{
		{"create", nil, small, time.Time{}, map[string]string{}},
		{"create with trigger time", nil, small, at, map[string]string{v1.EndpointsLastChangeTriggerTime: atStr}},
		{"create truncated", nil, trunc, time.Time{}, map[string]string{v1.EndpointsOverCapacity: "truncated"}},
		{"update, nil annotations", existing(nil), small, time.Time{}, map[string]string{}},
		{"update keeps foreign annotations, sets trigger time", existing(map[string]string{"x": "y", v1.EndpointsLastChangeTriggerTime: "old"}),
			small, at, map[string]string{"x": "y", v1.EndpointsLastChangeTriggerTime: atStr}},
		{"zero trigger time removes the annotation", existing(map[string]string{"x": "y", v1.EndpointsLastChangeTriggerTime: "old"}),
			small, time.Time{}, map[string]string{"x": "y"}},
		{"whole seconds", existing(nil), small, time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC),
			map[string]string{v1.EndpointsLastChangeTriggerTime: "2026-03-04T05:06:07Z"}},
		{"over-capacity removed when not truncated", existing(map[string]string{v1.EndpointsOverCapacity: "truncated"}),
			small, time.Time{}, map[string]string{}},
		{"over-capacity value corrected", existing(map[string]string{v1.EndpointsOverCapacity: "warning"}),
			trunc, time.Time{}, map[string]string{v1.EndpointsOverCapacity: "truncated"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before *v1.Endpoints
			if tc.cur != nil {
				before = tc.cur.DeepCopy()
			}
			svcBefore, dBefore := tc.state.svc.DeepCopy(), dump(tc.state.d.Subsets)
			got := Apply(tc.cur, tc.state.svc, tc.state.d, tc.at)

			if !maps.Equal(got.Annotations, tc.wantAnnot) {
				t.Errorf("annotations = %v, want %v", got.Annotations, tc.wantAnnot)
			}
			if !maps.Equal(got.Labels, tc.state.d.Labels) {
				t.Errorf("labels = %v, want %v", got.Labels, tc.state.d.Labels)
			}
			assertSubsets(t, got.Subsets, tc.state.d.Subsets)
			if got.Name != "svc" || got.Namespace != testNS {
				t.Errorf("object %s/%s", got.Namespace, got.Name)
			}
			if tc.cur != nil {
				if got.ResourceVersion != "5" || len(got.Finalizers) != 1 {
					t.Errorf("Apply lost metadata: rv=%q finalizers=%v", got.ResourceVersion, got.Finalizers)
				}
				if !apiequality.Semantic.DeepEqual(tc.cur, before) {
					t.Error("Apply modified the current Endpoints")
				}
			}
			if !apiequality.Semantic.DeepEqual(tc.state.svc, svcBefore) || dump(tc.state.d.Subsets) != dBefore {
				t.Error("Apply modified the Service or the desired subsets")
			}
			if !UpToDate(got, tc.state.d) {
				t.Error("Apply's output is not up to date")
			}
		})
	}
}

func TestDesire(t *testing.T) {
	s := truncState(t)
	if !s.d.Truncated || len(s.d.Full) != 2 || len(s.d.Subsets) != 2 {
		t.Fatalf("Desire: truncated=%v", s.d.Truncated)
	}
	if r, nr := CountAddresses(s.d.Subsets); r != 800 || nr != 200 {
		t.Errorf("Desire kept %d ready, %d not ready; want 800, 200", r, nr)
	}
	if r, nr := CountAddresses(s.d.Full); r != 800 || nr != 400 {
		t.Errorf("Desire.Full has %d ready, %d not ready; want 800, 400", r, nr)
	}
	small := smallState(t)
	if small.d.Truncated || dump(small.d.Subsets) != dump(small.d.Full) || !maps.Equal(small.d.Labels, Labels(small.svc, DefaultManagedBy)) {
		t.Errorf("Desire of a small Service: %+v", small.d)
	}
}
