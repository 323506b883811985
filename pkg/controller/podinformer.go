package controller

import (
	"context"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/endpoints-controller/endpoints-controller/pkg/lean"
)

const protobuf = "application/vnd.kubernetes.protobuf"

// podScheme decodes pods and pod lists into lean.Pod(List) instead of
// v1.Pod(List): straight from protobuf, skipping what the controller never
// reads (most of a pod), without building the full object first.
var podScheme = protoScheme(map[string]runtime.Object{"Pod": &lean.Pod{}, "PodList": &lean.PodList{}})

// endpointsScheme reads watched Endpoints as lean.EncodedEndpoints,
// which the cache decodes unless they echo a write (see trimEndpointsEvent).
var endpointsScheme = protoScheme(map[string]runtime.Object{"Endpoints": &lean.EncodedEndpoints{}, "EndpointsList": &v1.EndpointsList{}})

func protoScheme(kinds map[string]runtime.Object) *runtime.Scheme {
	s := runtime.NewScheme()
	for kind, obj := range kinds {
		s.AddKnownTypeWithName(v1.SchemeGroupVersion.WithKind(kind), obj)
	}
	metav1.AddToGroupVersion(s, v1.SchemeGroupVersion) // watch events, status errors
	return s
}

// podListWatch lists and watches pods with podScheme for the lean decoder.
// The standard decoder, and a client that is not a REST client (fakes in
// unit tests), get the typed client's v1.Pods, which trim converts.
func podListWatch(client kubernetes.Interface, namespace string, decoder Decoder) (cache.ListerWatcher, runtime.Object) {
	if decoder == Lean {
		if lw := protoListWatch(client, namespace, "pods", podScheme, func() runtime.Object { return &lean.PodList{} }); lw != nil {
			return lw, &lean.Pod{}
		}
	}
	pods := client.CoreV1().Pods(namespace)
	return listWatch(client,
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return pods.List(ctx, o) },
		pods.Watch), &v1.Pod{}
}

// endpointsListWatch lists and watches Endpoints with endpointsScheme for
// the lean decoder, else with the typed client.
func endpointsListWatch(client kubernetes.Interface, namespace string, decoder Decoder) (cache.ListerWatcher, runtime.Object) {
	if decoder == Lean {
		if lw := protoListWatch(client, namespace, "endpoints", endpointsScheme, func() runtime.Object { return &v1.EndpointsList{} }); lw != nil {
			return lw, &lean.EncodedEndpoints{}
		}
	}
	eps := client.CoreV1().Endpoints(namespace)
	return listWatch(client,
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return eps.List(ctx, o) },
		eps.Watch), &v1.Endpoints{}
}

// protoListWatch lists and watches resource as protobuf decoded with s,
// through the same HTTP client, server and rate limiter as client; nil if
// client is not a REST client.
func protoListWatch(client kubernetes.Interface, namespace, resource string, s *runtime.Scheme, newList func() runtime.Object) *cache.ListWatch {
	rc, ok := client.CoreV1().RESTClient().(*rest.RESTClient)
	if !ok || rc == nil {
		return nil
	}
	base := rc.Get().URL()
	base.Path = strings.TrimSuffix(base.Path, "/api/v1")
	codecs := serializer.NewCodecFactory(s).WithoutConversion()
	proto, err := rest.NewRESTClient(base, "/api/v1", rest.ClientContentConfig{
		// Protobuf only: a JSON answer would not decode into s's types.
		AcceptContentTypes: protobuf,
		ContentType:        protobuf,
		GroupVersion:       v1.SchemeGroupVersion,
		Negotiator:         runtime.NewClientNegotiator(codecs, v1.SchemeGroupVersion),
	}, rc.GetRateLimiter(), rc.Client)
	if err != nil {
		return nil
	}
	request := func(opts *metav1.ListOptions) *rest.Request {
		var timeout time.Duration
		if opts.TimeoutSeconds != nil {
			timeout = time.Duration(*opts.TimeoutSeconds) * time.Second
		}
		return proto.Get().Namespace(namespace).Resource(resource).
			VersionedParams(opts, metav1.ParameterCodec).Timeout(timeout)
	}
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			list := newList()
			if err := request(&opts).Do(ctx).Into(list); err != nil {
				return nil, err
			}
			return list, nil
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.Watch = true
			return request(&opts).Watch(ctx)
		},
	}
}
