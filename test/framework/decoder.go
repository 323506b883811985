package framework

import "os"

// PodDecoderEnv names the environment variable choosing the
// --pod-decoder the suites run our controller with (lean or standard;
// empty: the binary's default), so that one suite covers both decoders.
const PodDecoderEnv = "ENDPOINTS_CONTROLLER_TEST_POD_DECODER"

// PodDecoder is the decoder chosen by PodDecoderEnv, "" for the default.
func PodDecoder() string { return os.Getenv(PodDecoderEnv) }

// PodDecoderArgs is the flag that selects PodDecoder, if any.
func PodDecoderArgs() []string {
	if d := PodDecoder(); d != "" {
		return []string{"--pod-decoder=" + d}
	}
	return nil
}
