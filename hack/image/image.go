package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// What every platform's image runs. The Dockerfile's final stage says the
// same (dockerfile_test.go compares them).
const (
	binaryName = "endpoints-controller"
	entrypoint = "/" + binaryName
	// nonroot in rootfs/etc/passwd, as in distroless' :nonroot images.
	user = "65532:65532"
	// HTTPS: /metrics (authorized), /healthz /readyz /livez.
	exposedPort = "10267/tcp"
)

// Static OCI labels; version, revision and created come from the build.
var staticLabels = map[string]string{
	"org.opencontainers.image.title":  "endpoints-controller",
	"org.opencontainers.image.source": "https://github.com/endpoints-controller/endpoints-controller",
	// The repository has no LICENSE file yet: claim nothing.
	"org.opencontainers.image.licenses": "NOASSERTION",
}

// Annotation keys on index.json's descriptor: the OCI one, and the one
// containerd (ctr import, kind load image-archive) names the image by.
const (
	refNameAnnotation    = "org.opencontainers.image.ref.name"
	containerdAnnotation = "io.containerd.image.name"
)

// spec is one image build.
type spec struct {
	Ref       name.Tag // registry/name:tag
	Version   string
	Revision  string
	Created   time.Time // commit time: the same commit builds the same bytes
	RootFS    string    // directory: the base layer
	Binaries  string    // directory with <os>_<arch>/endpoints-controller
	Platforms []v1.Platform
}

func (s spec) labels() map[string]string {
	l := map[string]string{
		"org.opencontainers.image.version":  s.Version,
		"org.opencontainers.image.revision": s.Revision,
		"org.opencontainers.image.created":  s.Created.UTC().Format(time.RFC3339),
	}
	for k, v := range staticLabels {
		l[k] = v
	}
	return l
}

// binaryPath is where the Makefile put the binary for p.
func (s spec) binaryPath(p v1.Platform) string {
	return filepath.Join(s.Binaries, p.OS+"_"+p.Architecture, binaryName)
}

// writeLayout writes the image index for every platform into an OCI layout
// at dir, replacing what was there.
func writeLayout(dir string, s spec) error {
	idx, err := buildIndex(s)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		refNameAnnotation:    s.Ref.String(),
		containerdAnnotation: s.Ref.String(),
	}))
}

func buildIndex(s spec) (v1.ImageIndex, error) {
	base, err := rootfsLayer(s.RootFS, s.Created)
	if err != nil {
		return nil, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range s.Platforms {
		img, err := buildImage(s, p, base)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		pl := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &pl},
		})
	}
	// Registries show the index's annotations for a multi-arch tag.
	return mutate.Annotations(idx, s.labels()).(v1.ImageIndex), nil
}

// buildImage is two layers: the base (shared by every platform, so stored
// once) and the binary.
func buildImage(s spec, p v1.Platform, base v1.Layer) (v1.Image, error) {
	bin, err := binaryLayer(s.binaryPath(p), s.Created)
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: s.Created}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: created, CreatedBy: "COPY hack/image/rootfs/ / # hack/image"}},
		mutate.Addendum{Layer: bin, History: v1.History{Created: created, CreatedBy: "COPY " + binaryName + " " + entrypoint + " # hack/image"}},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = created
	cf.Config.User = user
	cf.Config.Entrypoint = []string{entrypoint}
	cf.Config.ExposedPorts = map[string]struct{}{exposedPort: {}}
	cf.Config.Labels = s.labels()
	return mutate.ConfigFile(img, cf)
}

// rootfsLayer tars dir as /: directories 0755, files 0644, owned by root,
// dated t, so the layer depends on the files' content only (not on the
// checkout's umask or times); the Dockerfile COPYs the same directory.
func rootfsLayer(dir string, t time.Time) (v1.Layer, error) {
	var entries []tarEntry
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			entries = append(entries, tarEntry{name: rel + "/", mode: 0o755, dir: true})
		case d.Type().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			entries = append(entries, tarEntry{name: rel, mode: 0o644, data: b})
		default:
			return fmt.Errorf("%s: only directories and regular files belong in the base layer", path)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return newLayer(entries, t)
}

func binaryLayer(path string, t time.Time) (v1.Layer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return newLayer([]tarEntry{{name: strings.TrimPrefix(entrypoint, "/"), mode: 0o755, data: b}}, t)
}

type tarEntry struct {
	name string
	mode int64
	dir  bool
	data []byte
}

// newLayer writes entries with archive/tar: ggcr builds layers from a tar
// stream but has no helper that makes one from files with fixed owners,
// modes and times.
func newLayer(entries []tarEntry, t time.Time) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, ModTime: t.UTC(), Typeflag: tar.TypeReg, Size: int64(len(e.data))}
		if e.dir {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(gzip.DefaultCompression),
		// Digest, size and the written blob: compress once, not three times.
		tarball.WithCompressedCaching)
}
