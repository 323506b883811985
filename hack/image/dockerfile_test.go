package main

import (
	"bytes"
	"debug/buildinfo"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"golang.org/x/mod/modfile"
)

// TestDockerfileBuildsTheSame: for each platform make image built, the
// Dockerfile, given the same build args, runs the Makefile's go build (the
// one the image's binary came from) and makes the same files and config.
func TestDockerfileBuildsTheSame(t *testing.T) {
	l := loadLayout(t)
	stages := parseDockerfile(t)
	if len(stages) != 2 || stages[0].Name != "build" || stages[1].BaseName != "scratch" {
		t.Fatalf("want two stages, build and one FROM scratch; got %d", len(stages))
	}
	for _, p := range l.images {
		t.Run(p.platform.String(), func(t *testing.T) {
			lb := p.config.Config.Labels
			args := map[string]string{
				"VERSION":    lb["org.opencontainers.image.version"],
				"REVISION":   lb["org.opencontainers.image.revision"],
				"CREATED":    lb["org.opencontainers.image.created"],
				"TARGETOS":   p.platform.OS,
				"TARGETARCH": p.platform.Architecture,
			}
			docker := dockerGoBuild(t, stages[0], args)
			checkSameGoBuild(t, docker, makeGoBuild(t, args["VERSION"], args["REVISION"]))
			checkBinaryFrom(t, docker, stages[0], p)
			checkFinalStage(t, stages[1], args, docker.out, p)
		})
	}
}

// TestDockerignoreKeepsWhatTheDockerfileCopies: a COPY of an ignored path
// would fail, or silently copy less.
func TestDockerignoreKeepsWhatTheDockerfileCopies(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range parseDockerfile(t) {
		for _, c := range st.Commands {
			cp, ok := c.(*instructions.CopyCommand)
			if !ok || cp.From != "" {
				continue
			}
			for _, src := range cp.SourcePaths {
				err := filepath.WalkDir(filepath.Join(repoRoot, src), func(path string, d os.DirEntry, err error) error {
					if err != nil || d.IsDir() {
						return err
					}
					rel, _ := filepath.Rel(repoRoot, path)
					ignored, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel))
					if ignored {
						t.Errorf(".dockerignore drops %s, which COPY %s needs", rel, src)
					}
					return err
				})
				if err != nil {
					t.Error(err)
				}
			}
		}
	}
}

func parseDockerfile(t *testing.T) []instructions.Stage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	ast, err := parser.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	stages, _, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		t.Fatal(err)
	}
	return stages
}

// stageEnv follows a stage's ARGs as docker build does: a build arg when
// given, else the default.
type stageEnv struct {
	t    *testing.T
	args map[string]string
	env  []string
	lex  *shell.Lex
}

func newStageEnv(t *testing.T, args map[string]string) *stageEnv {
	return &stageEnv{t: t, args: args, lex: shell.NewLex('\\')}
}

func (e *stageEnv) declare(a *instructions.ArgCommand) {
	for _, kv := range a.Args {
		v, ok := e.args[kv.Key]
		if !ok {
			v = kv.ValueString()
		}
		e.env = append(e.env, kv.Key+"="+v)
	}
}

func (e *stageEnv) word(s string) string {
	e.t.Helper()
	w, _, err := e.lex.ProcessWord(s, shell.EnvsFromSlice(e.env))
	if err != nil {
		e.t.Fatal(err)
	}
	return w
}

func (e *stageEnv) words(s string) []string {
	e.t.Helper()
	w, err := e.lex.ProcessWords(s, shell.EnvsFromSlice(e.env))
	if err != nil {
		e.t.Fatal(err)
	}
	return w
}

// goBuild is one `[VAR=value...] go build [flags] package` command line.
type goBuild struct {
	env   map[string]string
	flags []string // in order, -o and its value left out
	out   string
	pkg   string
}

func parseGoBuild(words []string) (goBuild, bool) {
	g := goBuild{env: map[string]string{}}
	i := 0
	for ; i < len(words) && strings.Contains(words[i], "=") && !strings.HasPrefix(words[i], "-"); i++ {
		k, v, _ := strings.Cut(words[i], "=")
		g.env[k] = v
	}
	if len(words) < i+3 || words[i] != "go" || words[i+1] != "build" {
		return g, false
	}
	rest := words[i+2:]
	for j := 0; j < len(rest); j++ {
		switch w := rest[j]; {
		case w == "-o" && j+1 < len(rest):
			g.out = rest[j+1]
			j++
		case (w == "-ldflags" || w == "-gcflags" || w == "-tags") && j+1 < len(rest):
			g.flags = append(g.flags, w+"="+rest[j+1])
			j++
		case strings.HasPrefix(w, "-"):
			g.flags = append(g.flags, w)
		default:
			g.pkg = w
		}
	}
	return g, true
}

func dockerGoBuild(t *testing.T, st instructions.Stage, args map[string]string) goBuild {
	t.Helper()
	e := newStageEnv(t, args)
	var found []goBuild
	for _, c := range st.Commands {
		switch c := c.(type) {
		case *instructions.ArgCommand:
			e.declare(c)
		case *instructions.RunCommand:
			if g, ok := parseGoBuild(e.words(strings.Join(c.CmdLine, " "))); ok {
				found = append(found, g)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("stage %s: %d go build commands, want 1", st.Name, len(found))
	}
	return found[0]
}

// makeGoBuild is the Makefile's GO_BUILD, as make build runs it.
func makeGoBuild(t *testing.T, version, revision string) goBuild {
	t.Helper()
	out, err := exec.Command("make", "-C", repoRoot, "-n", "-s", "--no-print-directory", "build",
		"VERSION="+version, "REVISION="+revision).Output()
	if err != nil {
		t.Fatalf("make -n build: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		words, err := shell.NewLex('\\').ProcessWords(line, shell.EnvsFromSlice(nil))
		if err != nil {
			t.Fatal(err)
		}
		if g, ok := parseGoBuild(words); ok {
			return g
		}
	}
	t.Fatalf("make -n build ran no go build:\n%s", out)
	return goBuild{}
}

func checkSameGoBuild(t *testing.T, docker, mk goBuild) {
	t.Helper()
	dockerEnv := map[string]string{}
	for k, v := range docker.env {
		if k != "GOOS" && k != "GOARCH" { // make image sets them per platform
			dockerEnv[k] = v
		}
	}
	if !maps.Equal(dockerEnv, mk.env) || !slices.Equal(docker.flags, mk.flags) || docker.pkg != mk.pkg {
		t.Errorf("the Dockerfile's go build differs from the Makefile's GO_BUILD:\n docker: %v %q %s\n   make: %v %q %s",
			docker.env, docker.flags, docker.pkg, mk.env, mk.flags, mk.pkg)
	}
}

// checkBinaryFrom: what the image's binary records of its build agrees with
// the Dockerfile's go build and Go image.
func checkBinaryFrom(t *testing.T, docker goBuild, st instructions.Stage, p platformImage) {
	t.Helper()
	info, err := buildinfo.Read(bytes.NewReader(p.files()[strings.TrimPrefix(entrypoint, "/")].data))
	if err != nil {
		t.Fatal(err)
	}
	settings := buildSettings(info)
	for _, k := range []string{"CGO_ENABLED", "GOOS", "GOARCH"} {
		if settings[k] != docker.env[k] {
			t.Errorf("binary built with %s=%q, the Dockerfile's with %q", k, settings[k], docker.env[k])
		}
	}
	if (settings["-trimpath"] == "true") != slices.Contains(docker.flags, "-trimpath") {
		t.Errorf("-trimpath: binary %q, Dockerfile flags %q", settings["-trimpath"], docker.flags)
	}
	if want := mainModule(t) + strings.TrimPrefix(docker.pkg, "."); info.Path != want {
		t.Errorf("binary is %s, the Dockerfile builds %s", info.Path, want)
	}
	// FROM golang:1.26 builds with the newest 1.26.x; make with the host's.
	_, tag, _ := strings.Cut(st.BaseName, "golang:")
	if !strings.HasPrefix(info.GoVersion+".", "go"+tag+".") {
		t.Errorf("binary built with %s, the Dockerfile with %s", info.GoVersion, st.BaseName)
	}
}

func checkFinalStage(t *testing.T, st instructions.Stage, args map[string]string, builtOut string, p platformImage) {
	t.Helper()
	e := newStageEnv(t, args)
	var copies [][3]string // from, source, destination
	var user string
	var entry []string
	ports := map[string]struct{}{}
	labels := map[string]string{}
	for _, c := range st.Commands {
		switch c := c.(type) {
		case *instructions.ArgCommand:
			e.declare(c)
		case *instructions.CopyCommand:
			for _, src := range c.SourcePaths {
				copies = append(copies, [3]string{c.From, e.word(src), e.word(c.DestPath)})
			}
		case *instructions.UserCommand:
			user = e.word(c.User)
		case *instructions.ExposeCommand:
			for _, port := range c.Ports {
				port = e.word(port)
				if !strings.Contains(port, "/") {
					port += "/tcp"
				}
				ports[port] = struct{}{}
			}
		case *instructions.EntrypointCommand:
			if c.PrependShell {
				t.Errorf("ENTRYPOINT in shell form: scratch has no shell")
			}
			entry = c.CmdLine
		case *instructions.LabelCommand:
			for _, kv := range c.Labels {
				labels[e.word(kv.Key)] = e.word(kv.Value)
			}
		default:
			t.Errorf("final stage: %s is not in the Go-built image", c.Name())
		}
	}
	want := [][3]string{{"", "hack/image/rootfs/", "/"}, {"build", builtOut, entrypoint}}
	if !slices.Equal(copies, want) {
		t.Errorf("final stage copies %q, want the rootfs layer then the binary %q", copies, want)
	}
	cf := p.config.Config
	if user != cf.User {
		t.Errorf("USER %q, image %q", user, cf.User)
	}
	if !slices.Equal(entry, cf.Entrypoint) {
		t.Errorf("ENTRYPOINT %q, image %q", entry, cf.Entrypoint)
	}
	if !maps.Equal(ports, cf.ExposedPorts) {
		t.Errorf("EXPOSE %v, image %v", ports, cf.ExposedPorts)
	}
	if !maps.Equal(labels, cf.Labels) {
		t.Errorf("LABEL\n %v\nimage\n %v", labels, cf.Labels)
	}
}

func mainModule(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	return modfile.ModulePath(b)
}
