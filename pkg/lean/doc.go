// Package lean reads and writes the API server's protobuf for the two hot
// kinds of the controller: pods, decoded straight into endpoints.Pod, and
// Endpoints, whose echoes of this controller's own writes are not decoded
// again. It is the speed layer behind --pod-decoder=lean; the standard
// decoder (client-go's typed objects) gives the same results, which its
// fuzz tests check against the API machinery's own encoding.
//
// It is hand-written because no maintained library decodes protobuf into a
// partial view: the generated decoders (and gogo/golang protobuf) build the
// whole v1.Pod, managed fields and all, before anything can be dropped.
// Field numbers are those of k8s.io/api/core/v1/generated.proto.
//
// What v1 types decode, these decoders read the same (fuzz_test.go). Bytes
// cut short are an error; other damage is one where it breaks the fields
// read or their framing, but not inside the parts skipped unparsed, which
// is the point of skipping them.
package lean
