package framework

import "os"

// SourceEnv names the environment variable choosing the --source the
// suites run our controller with (pods or endpointslices; empty: the
// binary's default, pods), as PodDecoderEnv chooses the decoder.
const SourceEnv = "ENDPOINTS_CONTROLLER_TEST_SOURCE"

// Source is the source chosen by SourceEnv, "" for the default.
func Source() string { return os.Getenv(SourceEnv) }

// SliceSource tells whether the suites run with --source=endpointslices:
// the built-in EndpointSlice controller must then run too.
func SliceSource() bool { return Source() == "endpointslices" }

// SourceArgs is the flag that selects Source, if any.
func SourceArgs() []string {
	if s := Source(); s != "" {
		return []string{"--source=" + s}
	}
	return nil
}
