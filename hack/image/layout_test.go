package main

import (
	"archive/tar"
	"fmt"
	"io"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// loaded is the image make image wrote, read back with ggcr's layout
// package: what a registry or containerd would be handed.
type loaded struct {
	top    v1.Descriptor // index.json's one entry
	index  v1.ImageIndex
	images []platformImage
}

type platformImage struct {
	platform v1.Platform
	manifest *v1.Manifest
	config   *v1.ConfigFile
	layers   [][]tarFile // per layer, in order
}

type tarFile struct {
	hdr  *tar.Header
	data []byte
}

// files is every file of the image's layers by path (later layers win).
func (p platformImage) files() map[string]tarFile {
	m := map[string]tarFile{}
	for _, l := range p.layers {
		for _, f := range l {
			m[f.hdr.Name] = f
		}
	}
	return m
}

var (
	loadOnce  sync.Once
	loadedImg loaded
	loadErr   error
)

// loadLayout reads the layout once: the layers are ~70 MB uncompressed.
func loadLayout(t *testing.T) loaded {
	t.Helper()
	b := builtImage(t)
	loadOnce.Do(func() { loadedImg, loadErr = readLayout(b.layout) })
	if loadErr != nil {
		t.Fatalf("reading OCI layout %s: %v", b.layout, loadErr)
	}
	return loadedImg
}

func readLayout(dir string) (loaded, error) {
	var l loaded
	root, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return l, err
	}
	im, err := root.IndexManifest()
	if err != nil {
		return l, err
	}
	if len(im.Manifests) != 1 {
		return l, fmt.Errorf("index.json has %d entries, want the one image index", len(im.Manifests))
	}
	l.top = im.Manifests[0]
	if l.index, err = root.ImageIndex(l.top.Digest); err != nil {
		return l, err
	}
	idx, err := l.index.IndexManifest()
	if err != nil {
		return l, err
	}
	for _, d := range idx.Manifests {
		if d.Platform == nil {
			return l, fmt.Errorf("manifest %s has no platform", d.Digest)
		}
		img, err := l.index.Image(d.Digest)
		if err != nil {
			return l, err
		}
		p := platformImage{platform: *d.Platform}
		if p.manifest, err = img.Manifest(); err != nil {
			return l, err
		}
		if p.config, err = img.ConfigFile(); err != nil {
			return l, err
		}
		layers, err := img.Layers()
		if err != nil {
			return l, err
		}
		for _, layer := range layers {
			files, err := readLayer(layer)
			if err != nil {
				return l, err
			}
			p.layers = append(p.layers, files)
		}
		l.images = append(l.images, p)
	}
	return l, nil
}

func readLayer(layer v1.Layer) ([]tarFile, error) {
	rc, err := layer.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var files []tarFile
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		files = append(files, tarFile{hdr: h, data: b})
	}
}
