// Package version holds the build's version, set with -ldflags -X.
package version

// Version is set at build time (Makefile: git describe).
var Version = "v0.0.0-dev"
