package main

import (
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestImagePushServesTheSameIndex runs make image-push against an
// in-memory registry on 127.0.0.1 and pulls the tag back.
func TestImagePushServesTheSameIndex(t *testing.T) {
	b, l := builtImage(t), loadLayout(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ref := u.Host + "/endpoints-controller/endpoints-controller:" + b.version
	out, err := makeCmd("image-push", "IMG="+ref, "IMAGE_DIR="+b.layout).CombinedOutput()
	if err != nil {
		t.Fatalf("make image-push: %v\n%s", err, out)
	}
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(tag)
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != l.top.Digest {
		t.Errorf("registry serves %s at %s, the layout's index is %s", desc.Digest, ref, l.top.Digest)
	}
}
