package lean

import (
	"bytes"
	"errors"
	"fmt"
)

// protobufMagic starts every object the API server encodes as protobuf.
var protobufMagic = []byte("k8s\x00")

// IsProtobuf reports whether data is an API object encoded as protobuf.
func IsProtobuf(data []byte) bool { return bytes.HasPrefix(data, protobufMagic) }

// unwrap returns the encoded object inside the API server's protobuf
// envelope (magic, then a runtime.Unknown), checking it is of kind.
func unwrap(data []byte, kind string) ([]byte, error) {
	if !IsProtobuf(data) {
		return nil, errors.New("not a protobuf-encoded object")
	}
	var gotKind, raw []byte
	err := eachField(data[len(protobufMagic):], func(f int, b []byte, _ uint64) error {
		switch f {
		case 1: // typeMeta
			return eachField(b, func(f int, b []byte, _ uint64) error {
				if f == 2 {
					gotKind = b
				}
				return nil
			})
		case 2:
			raw = b
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("decoding protobuf envelope: %w", err)
	}
	if string(gotKind) != kind {
		return nil, fmt.Errorf("expected a %s, got a %q", kind, gotKind)
	}
	return raw, nil
}
