package bench

import (
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// make bench-scale's pods add to podManifest what pods of big, old clusters
// carry: the recommended app.kubernetes.io labels, a sidecar (a second
// container, with its own status) and a 512-byte annotation. Both
// controllers (and the EndpointSlice controller) receive whole pods, so
// this is what they decode and, unless they trim it, keep.

const (
	sidecarImage    = "registry.k8s.io/e2e-test-images/agnhost:2.53-sidecar"
	annotationBytes = 512
)

// scalePodShape adds the labels, the sidecar and the annotation to pod.
func scalePodShape(pod *v1.Pod) {
	app := pod.Labels["app"]
	for k, v := range map[string]string{
		"app.kubernetes.io/name":       app,
		"app.kubernetes.io/instance":   app + "-prod",
		"app.kubernetes.io/component":  "server",
		"app.kubernetes.io/part-of":    "bench-scale",
		"app.kubernetes.io/version":    "1.4.2",
		"app.kubernetes.io/managed-by": "helm",
		"tier":                         "backend",
	} {
		pod.Labels[k] = v
	}
	// Opaque, as a config checksum or a last-applied copy would be.
	ann := strings.Repeat(hash(pod.Namespace+"/"+pod.Name, 64), annotationBytes/64)
	pod.Annotations = map[string]string{"bench.example.com/config": ann}
	pod.Spec.Containers = append(pod.Spec.Containers, v1.Container{
		Name: "sidecar", Image: sidecarImage,
		Ports: []v1.ContainerPort{{Name: "metrics", ContainerPort: 15090, Protocol: v1.ProtocolTCP}},
		Resources: v1.ResourceRequirements{Requests: v1.ResourceList{
			v1.ResourceCPU: resource.MustParse("10m"), v1.ResourceMemory: resource.MustParse("40Mi"),
		}},
	})
}

// scalePodStatus adds the sidecar's status, as the kubelet reports it.
func scalePodStatus(st *v1.PodStatus, p podSpec) {
	now := st.StartTime
	if now == nil {
		now = &metav1.Time{}
	}
	st.ContainerStatuses = append(st.ContainerStatuses, v1.ContainerStatus{
		Name: "sidecar", Image: sidecarImage, ImageID: sidecarImage + "@sha256:" + hash(sidecarImage, 64),
		ContainerID: "containerd://" + hash(p.ns+"/"+p.name+"/sidecar", 64),
		State:       v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: *now}},
		Ready:       true,
		Started:     new(true),
	})
}
