// Package version holds the build's provenance: the version and revision
// set with -ldflags -X (Makefile, Dockerfile), else what the Go toolchain
// stamped into the binary.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is set at build time (Makefile: git describe).
var Version = "v0.0.0-dev"

// Revision is the source commit, set at build time; when unset, the
// toolchain's vcs.revision stamp (go build in a git checkout) is used.
var Revision = ""

// GoVersion is the Go release the binary was built with.
var GoVersion = runtime.Version()

func init() {
	if Revision != "" {
		return
	}
	Revision = "unknown"
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		Revision = rev
		if modified == "true" {
			Revision += "-dirty"
		}
	}
}

// String is what --version prints.
func String() string {
	return fmt.Sprintf("endpoints-controller %s (revision %s, %s %s/%s)", Version, Revision, GoVersion, runtime.GOOS, runtime.GOARCH)
}
