package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// fakeReviews answers TokenReviews (token "reader" is user reader, "admin"
// is in system:masters, anything else is rejected) and SubjectAccessReviews
// (reader may get /metrics), counting the reviews.
func fakeReviews() (*fake.Clientset, *int, *int) {
	cs := fake.NewClientset()
	var tokenReviews, accessReviews int
	cs.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		tokenReviews++
		tr := a.(k8stesting.CreateAction).GetObject().(*authnv1.TokenReview).DeepCopy()
		switch tr.Spec.Token {
		case "reader":
			tr.Status = authnv1.TokenReviewStatus{Authenticated: true, User: authnv1.UserInfo{Username: "reader"}}
		case "admin":
			tr.Status = authnv1.TokenReviewStatus{Authenticated: true, User: authnv1.UserInfo{Username: "admin", Groups: []string{"system:masters"}}}
		default:
			tr.Status = authnv1.TokenReviewStatus{Error: "invalid bearer token"}
		}
		return true, tr, nil
	})
	cs.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		accessReviews++
		sar := a.(k8stesting.CreateAction).GetObject().(*authzv1.SubjectAccessReview).DeepCopy()
		nr := sar.Spec.NonResourceAttributes
		sar.Status.Allowed = sar.Spec.User == "reader" && nr != nil && nr.Path == "/metrics" && nr.Verb == "get"
		return true, sar, nil
	})
	return cs, &tokenReviews, &accessReviews
}

// The chain answers as kube-controller-manager's: probes for anyone,
// /metrics for whoever the API server allows, 403 for anonymous requests
// and users without the permission, 401 for a rejected token; answers are
// cached.
func TestDelegatedAuth(t *testing.T) {
	cs, tokenReviews, accessReviews := fakeReviews()
	o := NewSecureOptions(0)
	authz, err := o.newAuthorizer(cs)
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Error("the token reached the handler")
		}
		w.WriteHeader(http.StatusOK)
	})
	h := filters(ok, newAuthenticator(cs, nil, time.Minute), authz)
	get := func(path, token string) int {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/healthz", "", 200}, {"/readyz", "", 200}, {"/livez", "", 200},
		{"/metrics", "", 403},
		{"/metrics", "reader", 200},
		{"/metrics", "reader", 200}, // cached: no new review
		{"/debug/pprof/", "reader", 403},
		{"/metrics", "admin", 200}, // system:masters: no review
		{"/metrics", "forged", 401},
	} {
		if got := get(tc.path, tc.token); got != tc.want {
			t.Errorf("GET %s with token %q: %d, want %d", tc.path, tc.token, got, tc.want)
		}
	}
	// reader, admin, forged: one TokenReview each (reader's second request
	// hit the cache); SubjectAccessReviews for anonymous /metrics, reader
	// /metrics (once) and reader /debug/pprof/.
	if *tokenReviews != 3 || *accessReviews != 3 {
		t.Errorf("%d TokenReviews and %d SubjectAccessReviews, want 3 and 3", *tokenReviews, *accessReviews)
	}
}

// Without a client to review with, only the always-allowed paths are open.
func TestNoDelegation(t *testing.T) {
	o := NewSecureOptions(0)
	authz, err := o.newAuthorizer(nil)
	if err != nil {
		t.Fatal(err)
	}
	h := filters(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}), newAuthenticator(nil, nil, time.Minute), authz)
	for path, want := range map[string]int{"/healthz": 200, "/metrics": 403} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: %d, want %d", path, rec.Code, want)
		}
	}
}
