// Command image builds the controller's container image without a Docker
// engine: an OCI image index for every platform, written as an OCI layout,
// from the binaries the Makefile cross-compiled and the files in rootfs/.
// `make image` runs it; the Dockerfile builds the same image with Docker.
//
// A separate module so that the product's go.mod never pulls in
// go-containerregistry or buildkit (the Dockerfile parser its tests use).
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	out := fs.String("o", "", "OCI layout directory to write (replaced)")
	ref := fs.String("ref", "", "image reference registry/name:tag (never latest)")
	version := fs.String("version", "", "version label")
	revision := fs.String("revision", "", "source revision label")
	created := fs.String("created", "", "creation time, RFC 3339 (the commit's, for reproducible images)")
	rootfs := fs.String("rootfs", "rootfs", "directory whose files form the base layer")
	binaries := fs.String("binaries", "", "directory with <os>_<arch>/"+binaryName)
	platforms := fs.String("platforms", "linux/amd64,linux/arm64", "comma-separated platforms")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := newSpec(*ref, *version, *revision, *created, *rootfs, *binaries, *platforms)
	if err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("-o is required")
	}
	if err := writeLayout(*out, s); err != nil {
		return err
	}
	fmt.Printf("image: %s (%s) in OCI layout %s\n", s.Ref, *platforms, *out)
	return nil
}

func newSpec(ref, version, revision, created, rootfs, binaries, platforms string) (spec, error) {
	s := spec{Version: version, Revision: revision, RootFS: rootfs, Binaries: binaries}
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return s, fmt.Errorf("-ref: %w", err)
	}
	if tag.TagStr() == "latest" {
		return s, fmt.Errorf("-ref %s: tag with the version, never latest", ref)
	}
	s.Ref = tag
	if version == "" || revision == "" || binaries == "" {
		return s, fmt.Errorf("-version, -revision and -binaries are required")
	}
	if s.Created, err = time.Parse(time.RFC3339, created); err != nil {
		return s, fmt.Errorf("-created: %w", err)
	}
	for _, p := range strings.Split(platforms, ",") {
		pl, err := v1.ParsePlatform(p)
		if err != nil {
			return s, err
		}
		s.Platforms = append(s.Platforms, *pl)
	}
	return s, nil
}
