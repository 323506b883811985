package endpoints

import (
	"fmt"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// benchInput returns a Service with two ports (http -> named "web", metrics
// -> 9090) and n pods, one in ten not ready. With variety > 1 the pods'
// "web" ports take variety numbers and every seventh pod has none, which
// makes several subsets.
func benchInput(n, variety int) (*v1.Service, []*v1.Pod) {
	svc := mkSvc(ports(sp("http", 80, intstr.FromString("web"), TCP), sp("metrics", 9090, intstr.FromInt32(9090), TCP)))
	pods := make([]*v1.Pod, n)
	for i := range pods {
		ip := fmt.Sprintf("10.%d.%d.%d", 1+i>>16, i>>8&255, i&255)
		var opts []podOpt
		if variety <= 1 || i%7 != 0 {
			opts = append(opts, cports(cp("web", int32(8080+i%max(variety, 1)), TCP)))
		}
		if i%10 == 9 {
			opts = append(opts, notReady)
		}
		pods[i] = mkPod(fmt.Sprintf("pod-%d", i), ip, opts...)
	}
	return svc, pods
}

func BenchmarkCompute(b *testing.B) {
	for _, n := range []int{10, 1000, 5000} {
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			svc, pods := benchInput(n, 1)
			b.ReportAllocs()
			for b.Loop() {
				Compute(svc, Pods(pods))
			}
		})
	}
	// Several subsets: their order costs a hash of each whole subset.
	b.Run("pods=1000,subsets=4", func(b *testing.B) {
		svc, pods := benchInput(1000, 3)
		b.ReportAllocs()
		for b.Loop() {
			Compute(svc, Pods(pods))
		}
	})
}

// BenchmarkUpToDate is the no-op sync of an unchanged 1000-pod Service.
func BenchmarkUpToDate(b *testing.B) {
	svc, pods := benchInput(1000, 1)
	d := Desire(svc, Compute(svc, Pods(pods)).Subsets, DefaultManagedBy)
	cur := Apply(nil, svc, d, time.Time{})
	builtinOrder := cur.DeepCopy()
	builtinOrder.Subsets = reversed(cur.Subsets)
	for _, bc := range []struct {
		name string
		run  func() bool
	}{
		{"same-order", func() bool { return UpToDate(cur, d) }},
		{"stored-in-other-order", func() bool { return UpToDate(builtinOrder, d) }},
		{"Compute+Desire+UpToDate", func() bool {
			return UpToDate(cur, Desire(svc, Compute(svc, Pods(pods)).Subsets, DefaultManagedBy))
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !bc.run() {
					b.Fatal("not up to date")
				}
			}
		})
	}
}

// BenchmarkRepack repacks 1000 addresses with two ports, in canonical form
// and as the built-in's 2000 single-address subsets.
func BenchmarkRepack(b *testing.B) {
	svc, pods := benchInput(1000, 1)
	for _, bc := range []struct {
		name string
		in   []v1.EndpointSubset
	}{
		{"canonical", Compute(svc, Pods(pods)).Subsets},
		{"single-address", builtinExpand(svc, pods)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Repack(bc.in)
			}
		})
	}
}
