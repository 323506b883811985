package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const kustomization = "deploy/base/kustomization.yaml"

// kustomizeImages is the part of a Kustomization this test reads.
type kustomizeImages struct {
	Images []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	} `json:"images"`
}

func readImages(t *testing.T, path string) kustomizeImages {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var k kustomizeImages
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	if len(k.Images) != 1 || k.Images[0].Name != "endpoints-controller" {
		t.Fatalf("%s: images %+v, want the one entry for endpoints-controller", path, k.Images)
	}
	return k
}

// releaseTag is what a committed manifest may point at: a version tag,
// not latest and not a development build's commit hash.
var releaseTag = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+$`)

// TestDeployPointsAtAReleaseOfTheMakefilesImage: deploy/base names the
// image make image builds by default (REGISTRY, IMG), at a release tag.
func TestDeployPointsAtAReleaseOfTheMakefilesImage(t *testing.T) {
	img := readImages(t, filepath.Join(repoRoot, kustomization)).Images[0]
	if !releaseTag.MatchString(img.NewTag) {
		t.Errorf("%s: newTag %q, want a release vX.Y.Z (never latest)", kustomization, img.NewTag)
	}
	ref := defaultImageRef(t, "VERSION="+img.NewTag)
	if got := img.NewName + ":" + img.NewTag; got != ref {
		t.Errorf("%s points at %s; the Makefile's IMG for that version is %s (make set-image VERSION=%s)", kustomization, got, ref, img.NewTag)
	}
}

// TestSetImageRewritesOnlyTheReference runs make set-image on a copy.
func TestSetImageRewritesOnlyTheReference(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join(repoRoot, kustomization))
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "kustomization.yaml")
	if err := os.WriteFile(cp, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := makeCmd("set-image", "KUSTOMIZATION="+cp, "REGISTRY=registry.example:5000/team", "VERSION=v9.8.7").CombinedOutput()
	if err != nil {
		t.Fatalf("make set-image: %v\n%s", err, out)
	}
	img := readImages(t, cp).Images[0]
	if img.NewName != "registry.example:5000/team/endpoints-controller" || img.NewTag != "v9.8.7" {
		t.Errorf("after make set-image: %s:%s", img.NewName, img.NewTag)
	}
	got, _ := os.ReadFile(cp)
	if changed := diffLines(string(orig), string(got)); len(changed) != 2 {
		t.Errorf("make set-image changed %d lines, want newName and newTag: %q", len(changed), changed)
	}
}

// defaultImageRef is the Makefile's IMG with its own defaults: nothing from
// this environment or a calling make (MAKEFLAGS carries command-line
// variables) may override REGISTRY or IMG.
func defaultImageRef(t *testing.T, vars ...string) string {
	t.Helper()
	out, err := makeCmd(append([]string{"-s", "image-env"}, vars...)...).Output()
	if err != nil {
		t.Fatalf("make image-env: %v", err)
	}
	for _, kv := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(kv, "IMAGE_REF="); ok {
			return v
		}
	}
	t.Fatalf("make image-env printed no IMAGE_REF: %s", out)
	return ""
}

func makeCmd(args ...string) *exec.Cmd {
	cmd := exec.Command("make", append([]string{"-C", repoRoot, "--no-print-directory"}, args...)...)
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "REGISTRY", "IMG", "VERSION", "KUSTOMIZATION", "MAKEFLAGS", "MFLAGS", "MAKELEVEL":
		default:
			cmd.Env = append(cmd.Env, kv)
		}
	}
	return cmd
}

func diffLines(a, b string) []string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(al) != len(bl) {
		return []string{"line count differs"}
	}
	var d []string
	for i := range al {
		if al[i] != bl[i] {
			d = append(d, bl[i])
		}
	}
	return d
}
