package lean

import (
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
)

// BenchmarkDecodePod compares reading a pod as the pod informer does
// (lean) with decoding a v1.Pod and converting it (what a transform on the
// standard informer costs).
func BenchmarkDecodePod(b *testing.B) {
	data, err := busyPod().Marshal()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("lean", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var p Pod
			if err := p.Unmarshal(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("v1.Pod+NewPod", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var p v1.Pod
			if err := p.Unmarshal(data); err != nil {
				b.Fatal(err)
			}
			_ = endpoints.NewPod(&p)
		}
	})
}
