package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// repoRoot is the main module, two directories up.
var repoRoot = filepath.Join("..", "..")

// imageOnce makes sure the image under test exists: `make image-test`
// builds it and passes IMAGE_LAYOUT and the values it was built with; a
// plain `go test` here runs `make image` the first time a test needs the
// image and asks make for the same values, so either way what is tested is
// what make image built.
var (
	imageOnce sync.Once
	imageErr  error
)

func makeImage() error {
	build := exec.Command("make", "-C", repoRoot, "--no-print-directory", "image")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return err
	}
	out, err := exec.Command("make", "-C", repoRoot, "-s", "--no-print-directory", "image-env").Output()
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Split(bufio.ScanWords)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			return fmt.Errorf("make image-env: %q is not KEY=VALUE", sc.Text())
		}
		os.Setenv(k, v)
	}
	return nil
}

// built is what make image was asked to build.
type built struct {
	layout, ref, version, revision, created string
}

func builtImage(t *testing.T) built {
	t.Helper()
	imageOnce.Do(func() {
		if os.Getenv("IMAGE_LAYOUT") == "" {
			imageErr = makeImage()
		}
	})
	if imageErr != nil {
		t.Fatalf("make image: %v", imageErr)
	}
	b := built{
		layout:   os.Getenv("IMAGE_LAYOUT"),
		ref:      os.Getenv("IMAGE_REF"),
		version:  os.Getenv("IMAGE_VERSION"),
		revision: os.Getenv("IMAGE_REVISION"),
		created:  os.Getenv("IMAGE_CREATED"),
	}
	for k, v := range map[string]string{"IMAGE_LAYOUT": b.layout, "IMAGE_REF": b.ref, "IMAGE_VERSION": b.version, "IMAGE_REVISION": b.revision, "IMAGE_CREATED": b.created} {
		if v == "" {
			t.Fatalf("%s is empty (make image-env sets it)", k)
		}
	}
	return b
}
