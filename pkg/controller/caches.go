package controller

import (
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
)

// caches are the caches of one kind: a single informer's (all namespaces,
// or all but the excluded ones), or one per included namespace, looked up
// by namespace. client-go has no multi-namespace cache, and one informer
// over several namespaces would have to list and watch all of them.
type caches struct {
	one  cache.Indexer            // the only informer's, or nil
	byNS map[string]cache.Indexer // one per included namespace
}

// add records the cache of the informer of namespace ns; single tells
// that it is the only one.
func (s *caches) add(ns string, idx cache.Indexer, single bool) {
	if single {
		s.one = idx
		return
	}
	if s.byNS == nil {
		s.byNS = map[string]cache.Indexer{}
	}
	s.byNS[ns] = idx
}

// of is the cache holding namespace ns, nil if none does.
func (s *caches) of(ns string) cache.Indexer {
	if s.one != nil {
		return s.one
	}
	return s.byNS[ns]
}

// each calls f with every cache.
func (s *caches) each(f func(cache.Indexer)) {
	if s.one != nil {
		f(s.one)
	}
	for _, idx := range s.byNS {
		f(idx)
	}
}

// listKeys returns the keys of every cached object.
func (s *caches) listKeys() []string {
	if s.one != nil {
		return s.one.ListKeys()
	}
	var keys []string
	s.each(func(idx cache.Indexer) { keys = append(keys, idx.ListKeys()...) })
	return keys
}

// get returns the cached object ns/name of resource, or a NotFound error
// as a lister's Get does.
func get[T any](s *caches, resource, ns, name string) (T, error) {
	var zero T
	if idx := s.of(ns); idx != nil {
		obj, exists, err := idx.GetByKey(ns + "/" + name)
		if err != nil {
			return zero, err
		}
		if t, ok := obj.(T); exists && ok {
			return t, nil
		}
	}
	return zero, apierrors.NewNotFound(v1.Resource(resource), name)
}

// cachedService is the cached Service ns/name, or a NotFound error.
func (c *Controller) cachedService(ns, name string) (*v1.Service, error) {
	return get[*v1.Service](&c.svcs, "service", ns, name)
}

// cachedEndpoints is the cached Endpoints ns/name, or a NotFound error.
func (c *Controller) cachedEndpoints(ns, name string) (*cachedEndpoints, error) {
	return get[*cachedEndpoints](&c.eps, "endpoints", ns, name)
}
