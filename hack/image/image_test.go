package main

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var requiredLabels = []string{
	"org.opencontainers.image.source",
	"org.opencontainers.image.revision",
	"org.opencontainers.image.version",
	"org.opencontainers.image.licenses",
	"org.opencontainers.image.title",
	"org.opencontainers.image.created",
}

func TestIndexHasBothPlatformsUnderTheReference(t *testing.T) {
	b, l := builtImage(t), loadLayout(t)
	if l.top.MediaType != types.OCIImageIndex {
		t.Errorf("index.json entry is %s, want an OCI image index", l.top.MediaType)
	}
	for _, k := range []string{refNameAnnotation, containerdAnnotation} {
		if got := l.top.Annotations[k]; got != b.ref {
			t.Errorf("index.json annotation %s = %q, want %q", k, got, b.ref)
		}
	}
	tag, err := name.NewTag(b.ref, name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	if tag.TagStr() == "latest" || tag.TagStr() != b.version {
		t.Errorf("reference %s: tag must be the version %s, never latest", b.ref, b.version)
	}
	var platforms []string
	for _, p := range l.images {
		platforms = append(platforms, p.platform.String())
		if p.manifest.MediaType != types.OCIManifestSchema1 || p.manifest.Config.MediaType != types.OCIConfigJSON {
			t.Errorf("%s: manifest %s, config %s: want OCI media types", p.platform, p.manifest.MediaType, p.manifest.Config.MediaType)
		}
	}
	slices.Sort(platforms)
	if want := []string{"linux/amd64", "linux/arm64"}; !slices.Equal(platforms, want) {
		t.Errorf("platforms %v, want %v", platforms, want)
	}
}

func TestConfigRunsTheControllerAsNonRoot(t *testing.T) {
	b, l := builtImage(t), loadLayout(t)
	for _, p := range l.images {
		t.Run(p.platform.String(), func(t *testing.T) {
			cf := p.config
			if cf.OS != p.platform.OS || cf.Architecture != p.platform.Architecture {
				t.Errorf("config is for %s/%s", cf.OS, cf.Architecture)
			}
			uid, gid, ok := strings.Cut(cf.Config.User, ":")
			if n, err := strconv.Atoi(uid); err != nil || n == 0 || !ok {
				t.Errorf("User %q: want numeric uid:gid, uid not 0", cf.Config.User)
			}
			passwd := string(p.files()["etc/passwd"].data)
			if !strings.Contains(passwd, ":x:"+uid+":"+gid+":") {
				t.Errorf("User %s is not in /etc/passwd:\n%s", cf.Config.User, passwd)
			}
			if want := []string{entrypoint}; !slices.Equal(cf.Config.Entrypoint, want) || len(cf.Config.Cmd) != 0 {
				t.Errorf("Entrypoint %q Cmd %q, want %q and no Cmd", cf.Config.Entrypoint, cf.Config.Cmd, want)
			}
			if want := map[string]struct{}{"10267/tcp": {}}; !reflect.DeepEqual(cf.Config.ExposedPorts, want) {
				t.Errorf("ExposedPorts %v, want %v", cf.Config.ExposedPorts, want)
			}
			for _, k := range requiredLabels {
				if cf.Config.Labels[k] == "" {
					t.Errorf("label %s is empty", k)
				}
			}
			for k, want := range map[string]string{
				"org.opencontainers.image.revision": b.revision,
				"org.opencontainers.image.version":  b.version,
				"org.opencontainers.image.created":  b.created,
			} {
				if got := cf.Config.Labels[k]; got != want {
					t.Errorf("label %s = %q, want %q", k, got, want)
				}
			}
			if got := cf.Created.UTC().Format(time.RFC3339); got != b.created {
				t.Errorf("created %s, want the commit's %s", got, b.created)
			}
		})
	}
	im, err := l.index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(l.images) > 0 && !reflect.DeepEqual(im.Annotations, l.images[0].config.Config.Labels) {
		t.Errorf("index annotations %v, want the labels %v", im.Annotations, l.images[0].config.Config.Labels)
	}
}

// TestFilesAreRootFSAndTheBinary: the base layer is rootfs/ as committed (the
// Dockerfile COPYs the same directory), shared by every platform; the second
// layer is the binary alone.
func TestFilesAreRootFSAndTheBinary(t *testing.T) {
	l := loadLayout(t)
	want := map[string]string{} // path in the layer -> content ("" for a directory)
	err := filepath.WalkDir("rootfs", func(path string, d os.DirEntry, err error) error {
		if err != nil || path == "rootfs" {
			return err
		}
		rel, _ := filepath.Rel("rootfs", path)
		if d.IsDir() {
			want[filepath.ToSlash(rel)+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(path)
		want[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var baseDigests []string
	for _, p := range l.images {
		if len(p.layers) != 2 {
			t.Fatalf("%s: %d layers, want base and binary", p.platform, len(p.layers))
		}
		got := map[string]string{}
		for _, f := range p.layers[0] {
			got[f.hdr.Name] = string(f.data)
			checkOwnerMode(t, f, map[bool]int64{true: 0o755, false: 0o644}[f.hdr.Typeflag == '5'])
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: base layer %v, want rootfs/ %v", p.platform, got, want)
		}
		baseDigests = append(baseDigests, p.manifest.Layers[0].Digest.String())
		bin := p.layers[1]
		if len(bin) != 1 || bin[0].hdr.Name != strings.TrimPrefix(entrypoint, "/") {
			t.Fatalf("%s: binary layer holds %d files, want only %s", p.platform, len(bin), entrypoint)
		}
		checkOwnerMode(t, bin[0], 0o755)
	}
	if u := slices.Compact(slices.Clone(baseDigests)); len(u) != 1 {
		t.Errorf("base layers differ between platforms: %v", baseDigests)
	}
}

func checkOwnerMode(t *testing.T, f tarFile, mode int64) {
	t.Helper()
	if f.hdr.Uid != 0 || f.hdr.Gid != 0 || f.hdr.Mode != mode {
		t.Errorf("%s: uid %d gid %d mode %o, want root-owned %o", f.hdr.Name, f.hdr.Uid, f.hdr.Gid, f.hdr.Mode, mode)
	}
}

// elfMachine is the ELF machine of each Go architecture the image has.
var elfMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// TestBinariesAreStaticAndSayTheirVersion runs the binary for this host's
// platform with --version, and checks every platform's binary is a static
// ELF for its architecture, built with the version and revision labelled.
func TestBinariesAreStaticAndSayTheirVersion(t *testing.T) {
	b, l := builtImage(t), loadLayout(t)
	ran := false
	for _, p := range l.images {
		t.Run(p.platform.String(), func(t *testing.T) {
			data := p.files()[strings.TrimPrefix(entrypoint, "/")].data
			f, err := elf.NewFile(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("not an ELF: %v", err)
			}
			if want := elfMachine[p.platform.Architecture]; f.Machine != want {
				t.Errorf("ELF machine %s, want %s", f.Machine, want)
			}
			for _, prog := range f.Progs {
				if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
					t.Errorf("dynamically linked (%s): scratch has no libc", prog.Type)
				}
			}
			info, err := buildinfo.Read(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			settings := buildSettings(info)
			for k, want := range map[string]string{"GOOS": p.platform.OS, "GOARCH": p.platform.Architecture, "CGO_ENABLED": "0", "-trimpath": "true"} {
				if settings[k] != want {
					t.Errorf("built with %s=%q, want %q", k, settings[k], want)
				}
			}
			for k := range settings {
				if strings.HasPrefix(k, "vcs") {
					t.Errorf("VCS data stamped (%s): the Docker build has no .git, so its binary would differ", k)
				}
			}
			// go build -trimpath records no -ldflags; check what they did.
			if f.Section(".symtab") != nil || f.Section(".debug_info") != nil {
				t.Errorf("symbols or DWARF left in: want -ldflags -s -w")
			}
			for _, x := range []string{b.version, b.revision} {
				if !bytes.Contains(data, []byte(x)) {
					t.Errorf("binary lacks %q: want -ldflags -X …/pkg/version.{Version,Revision}", x)
				}
			}
			if runtime.GOOS != "linux" || runtime.GOARCH != p.platform.Architecture {
				return
			}
			ran = true
			want := "endpoints-controller " + b.version + " (revision " + b.revision + ", " + info.GoVersion + " linux/" + runtime.GOARCH + ")"
			if got := runVersion(t, data); got != want {
				t.Errorf("--version printed %q, want %q", got, want)
			}
		})
	}
	if !ran {
		if runtime.GOOS != "linux" {
			t.Skipf("the image's binaries are for Linux, this host is %s: --version not run", runtime.GOOS)
		}
		t.Errorf("no binary in the image for this host (linux/%s) to run with --version", runtime.GOARCH)
	}
}

func buildSettings(info *buildinfo.BuildInfo) map[string]string {
	m := map[string]string{}
	for _, s := range info.Settings {
		m[s.Key] = s.Value
	}
	return m
}

// runVersion runs the binary taken out of the layer with --version.
func runVersion(t *testing.T, data []byte) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "endpoints-controller")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", bin, err, out)
	}
	return strings.TrimSpace(string(out))
}
