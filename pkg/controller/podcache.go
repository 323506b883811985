package controller

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/endpoints-controller/endpoints-controller/pkg/endpoints"
)

// cachedPod is the pod view as the pod cache holds it, whichever decoder
// filled it: the cache keys and indexes it by its metadata, which the pure
// endpoints.Pod does not offer. Converting between the two costs nothing.
type cachedPod endpoints.Pod

func cachePod(p *endpoints.Pod) *cachedPod { return (*cachedPod)(p) }

func (p *cachedPod) pod() *endpoints.Pod { return (*endpoints.Pod)(p) }

// GetObjectMeta gives the cache the pod's key; it is called a few times
// per pod event and allocates.
func (p *cachedPod) GetObjectMeta() metav1.Object {
	return &metav1.ObjectMeta{
		Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion,
		Labels: p.Labels, DeletionTimestamp: p.DeletionTimestamp,
	}
}
