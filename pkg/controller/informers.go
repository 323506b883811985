package controller

import (
	"context"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Informers are the controller's caches of Services, pods and Endpoints:
// all namespaces, or those of a Scope. They are not shared informers: nothing
// else registers handlers here, so each calls the controller's handler
// inline as it applies a change to its cache instead of handing every
// event on to a listener goroutine and its buffer, and none keeps the
// namespace index a factory adds, which nothing here reads. Caches are
// trimmed to what the controller reads. With the lean decoder pods are
// read as protobuf straight into the pod view, and Endpoints as
// lean.EncodedEndpoints, so that the echoes of this controller's writes
// are not decoded again; with the standard one, as typed objects.
type Informers struct {
	// sets are the informers' list-watches: one set for all namespaces
	// (or all but the excluded ones), or one per included namespace.
	sets                   []informerSet
	podType, endpointsType runtime.Object
	decoder                Decoder
	scope                  Scope
	// slices: --source=endpointslices, each set has slices and no pods.
	slices bool

	controllers []cache.Controller
	running     sync.WaitGroup
}

// informerSet lists and watches the three kinds in one namespace ("":
// all, less any excluded).
type informerSet struct {
	namespace                 string
	services, pods, endpoints cache.ListerWatcher
	// slices replaces pods with --source=endpointslices (WithEndpointSlices).
	slices cache.ListerWatcher
}

// NewInformers prepares the informers; New wires them to a Controller,
// which writes with the same decoder ("" for the default).
func NewInformers(client kubernetes.Interface, namespace string, decoder Decoder) *Informers {
	var scope Scope
	if namespace != "" {
		scope.Namespaces = []string{namespace}
	}
	return NewScopedInformers(client, scope, decoder)
}

// NewScopedInformers prepares informers that list and watch only what
// scope holds, restricted by the API server: one set per included
// namespace, field selectors leaving out excluded namespaces, and the
// Service label selector on Services.
func NewScopedInformers(client kubernetes.Interface, scope Scope, decoder Decoder) *Informers {
	if decoder == "" {
		decoder = DefaultDecoder
	}
	i := &Informers{decoder: decoder, scope: scope}
	namespaces := scope.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	tweakServices, tweakOthers := scope.tweaks()
	for _, ns := range namespaces {
		set := informerSet{namespace: ns}
		set.services = withOptions(servicesListWatch(client, ns), tweakServices)
		set.pods, i.podType = podListWatch(client, ns, decoder)
		set.pods = withOptions(set.pods, tweakOthers)
		set.endpoints, i.endpointsType = endpointsListWatch(client, ns, decoder)
		set.endpoints = withOptions(set.endpoints, tweakOthers)
		i.sets = append(i.sets, set)
	}
	return i
}

func servicesListWatch(client kubernetes.Interface, namespace string) cache.ListerWatcher {
	core := client.CoreV1()
	return listWatch(client,
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return core.Services(namespace).List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return core.Services(namespace).Watch(ctx, o)
		})
}

// withOptions narrows every list and watch of lw with tweak (nil: lw as
// it is). It keeps what lw says of watch-list support, which the
// reflector asks the ListerWatcher it is given.
func withOptions(lw cache.ListerWatcher, tweak func(*metav1.ListOptions)) cache.ListerWatcher {
	if tweak == nil {
		return lw
	}
	inner := cache.ToListerWatcherWithContext(lw)
	return cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			tweak(&o)
			return inner.ListWithContext(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			tweak(&o)
			return inner.WatchWithContext(ctx, o)
		},
	}, lw)
}

// listWatch is what the informer factory would use: the typed client's
// List and Watch, with watch-list streaming where the client supports it.
func listWatch(client kubernetes.Interface, list cache.ListWithContextFunc, watchFn cache.WatchFuncWithContext) cache.ListerWatcher {
	return cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc:  list,
		WatchFuncWithContext: watchFn,
	}, client)
}

// add builds one informer whose events go to h and whose objects pass
// through transform; New calls it once per kind.
func (i *Informers) add(lw cache.ListerWatcher, objType runtime.Object, h cache.ResourceEventHandler, indexers cache.Indexers, transform cache.TransformFunc) (cache.Indexer, cache.InformerSynced) {
	if indexers == nil {
		indexers = cache.Indexers{} // an Indexer, which the listers need
	}
	store, ctrl := cache.NewInformerWithOptions(cache.InformerOptions{
		ListerWatcher: lw,
		ObjectType:    objType,
		Handler:       h,
		Indexers:      indexers,
		Transform:     transform,
	})
	i.controllers = append(i.controllers, ctrl)
	return store.(cache.Indexer), ctrl.HasSynced
}

// Start runs the informers New wired until stop is closed.
func (i *Informers) Start(stop <-chan struct{}) {
	for _, ctrl := range i.controllers {
		i.running.Go(func() { ctrl.Run(stop) })
	}
}

// Shutdown waits until the informers have stopped; close stop first.
func (i *Informers) Shutdown() { i.running.Wait() }
