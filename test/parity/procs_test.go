package parity

import (
	"path/filepath"
	"testing"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// proc is a controller process started by the test, logging to a file.
type proc struct{ *framework.Process }

// startProc starts path; the test's cleanup stops it, so it never outlives a
// failed test. Our binary gets framework.PodDecoderArgs and SourceArgs first.
func startProc(t *testing.T, logDir, name, path string, args ...string) *proc {
	t.Helper()
	if path == ourBinary {
		// Ours runs with the decoder the suite was asked to test.
		args = append(append(framework.PodDecoderArgs(), framework.SourceArgs()...), args...)
	}
	p, err := framework.StartProcess(name, path, args, filepath.Join(logDir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return &proc{p}
}
