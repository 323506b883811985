package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRefMustCarryAVersionTag(t *testing.T) {
	for ref, wantErr := range map[string]string{
		"ghcr.io/endpoints-controller/endpoints-controller:latest": "never latest",
		"ghcr.io/endpoints-controller/endpoints-controller":        "-ref",
		"ghcr.io/endpoints-controller/endpoints-controller:v0.1.0": "",
	} {
		_, err := newSpec(ref, "v0.1.0", "abc", "2026-01-02T03:04:05Z", "rootfs", "bin", "linux/amd64")
		if (err == nil) != (wantErr == "") || err != nil && !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s: error %v, want %q", ref, err, wantErr)
		}
	}
}

// TestSameInputsSameDigest: the image depends only on its inputs (no
// build-time clock, no file times or owners from the checkout), so a
// commit's image can be rebuilt and verified.
func TestSameInputsSameDigest(t *testing.T) {
	bins := t.TempDir()
	for _, p := range []string{"linux_amd64", "linux_arm64"} {
		if err := os.MkdirAll(filepath.Join(bins, p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bins, p, binaryName), []byte("binary for "+p), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	s, err := newSpec("example.test/ec:v1.2.3", "v1.2.3", "abc", "2026-01-02T03:04:05Z", "rootfs", bins, "linux/amd64,linux/arm64")
	if err != nil {
		t.Fatal(err)
	}
	var digests []string
	for range 2 {
		dir := filepath.Join(t.TempDir(), "layout")
		if err := writeLayout(dir, s); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "index.json"))
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, string(b))
		// Touching the inputs' times and modes changes nothing.
		bin := filepath.Join(bins, "linux_amd64", binaryName)
		if err := os.Chmod(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(bin, time.Now(), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds of the same inputs differ:\n%s\n%s", digests[0], digests[1])
	}
}
