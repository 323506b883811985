package lean

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A watch list ends its initial events with a bookmark carrying an
// annotation; the reflector must see it on the decoded objects.

// markInitialEventsEnd sets *end if the annotation encoded in entry is
// the one marking the bookmark that ends a watch list, and clears it if
// that annotation (repeated: the last counts) says otherwise.
func markInitialEventsEnd(entry []byte, end *bool) error {
	k, v, err := mapEntry(entry)
	if string(k) == metav1.InitialEventsAnnotationKey {
		*end = string(v) == "true"
	}
	return err
}

// withInitialEventsEnd adds to m the annotation of the bookmark ending a
// watch list if end, for the reflector to see.
func withInitialEventsEnd(m *metav1.ObjectMeta, end bool) *metav1.ObjectMeta {
	if end {
		m.Annotations = map[string]string{metav1.InitialEventsAnnotationKey: "true"}
	}
	return m
}
