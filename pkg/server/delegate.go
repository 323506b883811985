package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilcache "k8s.io/apimachinery/pkg/util/cache"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/anonymous"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/apiserver/pkg/authentication/request/union"
	"k8s.io/apiserver/pkg/authentication/request/x509"
	tokencache "k8s.io/apiserver/pkg/authentication/token/cache"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/path"
	authzunion "k8s.io/apiserver/pkg/authorization/union"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
)

// reviewTimeout bounds one TokenReview or SubjectAccessReview.
const reviewTimeout = 10 * time.Second

// authenticator is what k8s.io/apiserver's delegating authenticator builds:
// client certificates (against clientCA), bearer tokens (TokenReview,
// cached), then system:anonymous for requests with neither.
func (o *SecureOptions) authenticator(ctx context.Context) (authenticator.Request, dynamiccertificates.CAContentProvider, error) {
	client, err := delegateClient(o.AuthenticationKubeconfig, "authentication")
	if err != nil {
		return nil, nil, err
	}
	ca, err := o.clientCA(ctx, client)
	if err != nil {
		return nil, nil, err
	}
	return newAuthenticator(client, ca, o.TokenCacheTTL), ca, nil
}

// newAuthenticator authenticates with client certificates signed by ca and
// tokens client reviews (either may be nil), else as system:anonymous.
func newAuthenticator(client kubernetes.Interface, ca dynamiccertificates.CAContentProvider, cacheTTL time.Duration) authenticator.Request {
	var chain []authenticator.Request
	if ca != nil {
		chain = append(chain, x509.NewDynamic(ca.VerifyOptions, x509.CommonNameUserConversion))
	}
	if client != nil {
		cached := tokencache.New(tokenReviewer{client}, false, cacheTTL, cacheTTL)
		chain = append(chain, bearertoken.New(cached))
	}
	anon := anonymous.NewAuthenticator(nil)
	if len(chain) == 0 {
		return anon
	}
	return union.NewFailOnError(group.NewAuthenticatedGroupAdder(union.New(chain...)), anon)
}

// authorizer allows the always-allowed paths and groups, then asks the API
// server (SubjectAccessReview, answers cached).
func (o *SecureOptions) authorizer() (authorizer.Authorizer, error) {
	client, err := delegateClient(o.AuthorizationKubeconfig, "authorization")
	if err != nil {
		return nil, err
	}
	return o.newAuthorizer(client)
}

// newAuthorizer is authorizer with client for the reviews (nil: none).
func (o *SecureOptions) newAuthorizer(client kubernetes.Interface) (authorizer.Authorizer, error) {
	paths, err := path.NewAuthorizer(o.AlwaysAllowPaths)
	if err != nil {
		return nil, err
	}
	chain := []authzunion.NamedAuthorizer{
		{AuthorizerName: "always-allow-paths", Authorizer: paths},
		{AuthorizerName: "always-allow-groups", Authorizer: unconditional{groupAuthorizer(sets.New(o.AlwaysAllowGroups...))}},
	}
	if client != nil {
		chain = append(chain, authzunion.NamedAuthorizer{AuthorizerName: "subjectaccessreview", Authorizer: unconditional{&reviewAuthorizer{
			client: client, cache: utilcache.NewLRUExpireCache(8192), allowTTL: o.AllowCacheTTL, denyTTL: o.DenyCacheTTL,
		}}})
	}
	return authzunion.New(chain...)
}

// unconditional completes an authorizer that knows no conditions the way
// the authorizer interface prescribes for such.
type unconditional struct {
	authorizer.UnconditionalAuthorizer
}

func (u unconditional) ConditionsAwareAuthorize(ctx context.Context, a authorizer.Attributes) authorizer.ConditionsAwareDecision {
	return authorizer.ConditionsAwareDecisionFromParts(u.Authorize(ctx, a))
}

func (unconditional) EvaluateConditions(context.Context, authorizer.ConditionsAwareDecision, authorizer.ConditionsData) (authorizer.Decision, string, error) {
	return authorizer.DecisionDeny, "", authorizer.ErrorConditionEvaluationNotSupported
}

// tokenReviewer authenticates a bearer token with a TokenReview.
type tokenReviewer struct{ client kubernetes.Interface }

func (r tokenReviewer) AuthenticateToken(ctx context.Context, token string) (*authenticator.Response, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, reviewTimeout)
	defer cancel()
	review, err := r.client.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil {
		return nil, false, fmt.Errorf("TokenReview: %w", err)
	}
	st := review.Status
	if !st.Authenticated {
		if st.Error != "" {
			return nil, false, fmt.Errorf("token rejected: %s", st.Error)
		}
		return nil, false, nil
	}
	extra := map[string][]string{}
	for k, v := range st.User.Extra {
		extra[k] = v
	}
	return &authenticator.Response{User: &user.DefaultInfo{Name: st.User.Username, UID: st.User.UID, Groups: st.User.Groups, Extra: extra}}, true, nil
}

// groupAuthorizer allows members of the groups without a review.
type groupAuthorizer sets.Set[string]

func (g groupAuthorizer) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	if u := a.GetUser(); u != nil && sets.Set[string](g).HasAny(u.GetGroups()...) {
		return authorizer.DecisionAllow, "always allowed group", nil
	}
	return authorizer.DecisionNoOpinion, "", nil
}

// reviewAuthorizer asks the API server with a SubjectAccessReview and
// caches each answer for allowTTL or denyTTL.
type reviewAuthorizer struct {
	client            kubernetes.Interface
	cache             *utilcache.LRUExpireCache
	allowTTL, denyTTL time.Duration
}

func (r *reviewAuthorizer) Authorize(ctx context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	spec := authzv1.SubjectAccessReviewSpec{}
	if u := a.GetUser(); u != nil {
		spec.User, spec.UID, spec.Groups = u.GetName(), u.GetUID(), u.GetGroups()
		if extra := u.GetExtra(); len(extra) > 0 {
			spec.Extra = map[string]authzv1.ExtraValue{}
			for k, v := range extra {
				spec.Extra[k] = v
			}
		}
	}
	if a.IsResourceRequest() {
		spec.ResourceAttributes = &authzv1.ResourceAttributes{Namespace: a.GetNamespace(), Verb: a.GetVerb(), Group: a.GetAPIGroup(),
			Version: a.GetAPIVersion(), Resource: a.GetResource(), Subresource: a.GetSubresource(), Name: a.GetName()}
	} else {
		spec.NonResourceAttributes = &authzv1.NonResourceAttributes{Path: a.GetPath(), Verb: a.GetVerb()}
	}
	key, err := json.Marshal(spec)
	if err != nil {
		return authorizer.DecisionNoOpinion, "", err
	}
	if st, ok := r.cache.Get(string(key)); ok {
		return decision(st.(authzv1.SubjectAccessReviewStatus))
	}
	ctx, cancel := context.WithTimeout(ctx, reviewTimeout)
	defer cancel()
	review, err := r.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		return authorizer.DecisionNoOpinion, "", fmt.Errorf("SubjectAccessReview: %w", err)
	}
	ttl := r.denyTTL
	if review.Status.Allowed {
		ttl = r.allowTTL
	}
	r.cache.Add(string(key), review.Status, ttl)
	return decision(review.Status)
}

func decision(st authzv1.SubjectAccessReviewStatus) (authorizer.Decision, string, error) {
	switch {
	case st.Allowed:
		return authorizer.DecisionAllow, st.Reason, nil
	case st.Denied:
		return authorizer.DecisionDeny, st.Reason, nil
	}
	return authorizer.DecisionNoOpinion, st.Reason, nil
}

// The filters kube-controller-manager's handler chain applies, in its
// order: request info, authentication, authorization.

// filters wraps h in them.
func filters(h http.Handler, authn authenticator.Request, authz authorizer.Authorizer) http.Handler {
	return withRequestInfo(withAuthentication(withAuthorization(h, authz), authn))
}

var requestInfos = &request.RequestInfoFactory{APIPrefixes: sets.NewString("api", "apis"), GrouplessAPIPrefixes: sets.NewString("api")}

func withRequestInfo(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		info, err := requestInfos.NewRequestInfo(req)
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		h.ServeHTTP(w, req.WithContext(request.WithRequestInfo(req.Context(), info)))
	})
}

// withAuthentication answers 401 to credentials that fail (a rejected
// token); requests without any are system:anonymous.
func withAuthentication(h http.Handler, authn authenticator.Request) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		resp, ok, err := authn.AuthenticateRequest(req)
		if err != nil || !ok {
			if err != nil {
				klog.V(2).InfoS("Unable to authenticate the request", "err", err)
			}
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		req.Header.Del("Authorization") // handlers need no credentials
		h.ServeHTTP(w, req.WithContext(request.WithUser(req.Context(), resp.User)))
	})
}

// withAuthorization answers 403 unless the authorizer allows the request.
func withAuthorization(h http.Handler, authz authorizer.Authorizer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ctx := req.Context()
		u, _ := request.UserFrom(ctx)
		info, _ := request.RequestInfoFrom(ctx)
		attrs := authorizer.AttributesRecord{User: u, Path: req.URL.Path}
		if info != nil {
			attrs.Verb, attrs.ResourceRequest, attrs.Namespace = info.Verb, info.IsResourceRequest, info.Namespace
			attrs.APIGroup, attrs.APIVersion, attrs.Resource, attrs.Subresource, attrs.Name = info.APIGroup, info.APIVersion, info.Resource, info.Subresource, info.Name
		}
		d, reason, err := authz.Authorize(ctx, attrs)
		if d == authorizer.DecisionAllow {
			h.ServeHTTP(w, req)
			return
		}
		if err != nil {
			klog.ErrorS(err, "Authorization error", "user", userName(u), "verb", attrs.Verb, "path", attrs.Path)
		}
		msg := fmt.Sprintf("forbidden: User %q cannot %s path %q", userName(u), attrs.Verb, attrs.Path)
		if reason != "" {
			msg += ": " + reason
		}
		http.Error(w, msg, http.StatusForbidden)
	})
}

func userName(u user.Info) string {
	if u == nil {
		return ""
	}
	return u.GetName()
}
