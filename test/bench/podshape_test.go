package bench

import (
	"crypto/sha256"
	"fmt"
	"maps"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The bench pods look like what `kubectl create deployment` and a kubelet
// leave in a cluster: an owner reference and pod-template-hash label, one
// container, and a kubelet's full status (five conditions, a container
// status). Both controllers receive whole pods, so their size is part of
// the workload.

const benchImage = "registry.k8s.io/e2e-test-images/agnhost:2.53"

// hash is a stable hex string derived from s, n characters long (n ≤ 64).
func hash(s string, n int) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(s)))[:n] }

// uid is a stable UUID-shaped UID derived from s.
func uid(s string) types.UID {
	h := hash(s, 32)
	return types.UID(h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:])
}

// podManifest is pod p as its ReplicaSet would create it.
func podManifest(p podSpec) *v1.Pod {
	owner := p.ns + "/" + p.owner()
	template := hash(owner, 10)
	rs := p.owner() + "-" + template
	labels := map[string]string{"pod-template-hash": template}
	maps.Copy(labels, p.labels)
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: p.ns, Name: p.name, GenerateName: rs + "-", Labels: labels,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs, UID: uid(owner),
				Controller: new(true), BlockOwnerDeletion: new(true),
			}},
		},
		Spec: v1.PodSpec{
			NodeName: p.node,
			Containers: []v1.Container{{
				Name: "app", Image: benchImage,
				Ports: []v1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: v1.ProtocolTCP}},
			}},
		},
	}
}

// owner is the name of the Deployment pod p belongs to: its app label, or
// one made from its pod label (onens).
func (p podSpec) owner() string {
	if v, ok := p.labels["app"]; ok {
		return v
	}
	if v, ok := p.labels["pod"]; ok {
		return "app-" + v
	}
	return "app"
}

// kubeletStatus is the status a kubelet writes for a running pod.
func kubeletStatus(p podSpec, now metav1.Time) v1.PodStatus {
	hostIP := nodeIP(p.node)
	cond := func(t v1.PodConditionType) v1.PodCondition {
		return v1.PodCondition{Type: t, Status: v1.ConditionTrue, LastTransitionTime: now}
	}
	return v1.PodStatus{
		Phase: v1.PodRunning,
		Conditions: []v1.PodCondition{
			cond(v1.PodReadyToStartContainers), cond(v1.PodInitialized), cond(v1.PodReady),
			cond(v1.ContainersReady), cond(v1.PodScheduled),
		},
		HostIP: hostIP, HostIPs: []v1.HostIP{{IP: hostIP}},
		PodIP: p.ip, PodIPs: []v1.PodIP{{IP: p.ip}},
		StartTime: &now,
		ContainerStatuses: []v1.ContainerStatus{{
			Name: "app", Image: benchImage, ImageID: benchImage + "@sha256:" + hash(benchImage, 64),
			ContainerID:  "containerd://" + hash(p.ns+"/"+p.name, 64),
			State:        v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: now}},
			Ready:        true,
			Started:      new(true),
			RestartCount: 0,
		}},
	}
}

// setReadiness flips a kubelet-written status the way a kubelet does when
// a readiness probe changes its mind.
func setReadiness(st *v1.PodStatus, ready bool, now metav1.Time) {
	status, reason, msg := v1.ConditionTrue, "", ""
	if !ready {
		status, reason, msg = v1.ConditionFalse, "ContainersNotReady", "containers with unready status: [app]"
	}
	for j := range st.Conditions {
		if c := &st.Conditions[j]; c.Type == v1.PodReady || c.Type == v1.ContainersReady {
			c.Status, c.Reason, c.Message, c.LastTransitionTime = status, reason, msg, now
		}
	}
	for j := range st.ContainerStatuses {
		st.ContainerStatuses[j].Ready = ready
	}
}

// nodeIP is the InternalIP of a bench node name.
func nodeIP(node string) string {
	var n int
	fmt.Sscanf(node, "node-%d", &n)
	return fmt.Sprintf("10.250.%d.%d", n/250, n%250+1)
}
