package lean

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The protobuf wire format, as far as this package reads it.

// mapEntry splits an encoded map entry into its key and value.
func mapEntry(data []byte) (k, v []byte, err error) {
	err = eachField(data, func(f int, b []byte, _ uint64) error {
		switch f {
		case 1:
			k = b
		case 2:
			v = b
		}
		return nil
	})
	return k, v, err
}

// unmarshalTime decodes a metav1.Time as its own Unmarshal does: whole
// seconds, local time, zero when empty.
func unmarshalTime(data []byte) (metav1.Time, error) {
	if len(data) == 0 {
		return metav1.Time{}, nil
	}
	var sec uint64
	err := eachField(data, func(f int, _ []byte, n uint64) error {
		if f == 1 {
			sec = n
		}
		return nil
	})
	return metav1.Time{Time: time.Unix(int64(sec), 0).Local()}, err
}

var errTruncated = errors.New("truncated protobuf")

// eachField calls fn for every field of a protobuf message: with its bytes
// for length-delimited fields, its value for varints. Fixed-size fields
// and groups (long deprecated, never sent by the API server) are skipped.
func eachField(data []byte, fn func(field int, b []byte, n uint64) error) error {
	depth := 0 // of groups being skipped
	for i := 0; i < len(data); {
		key, n := uvarint(data[i:])
		if n <= 0 {
			return errTruncated
		}
		i += n
		field, wire := int(key>>3), key&7
		var b []byte
		var v uint64
		switch wire {
		case 0: // varint
			if v, n = uvarint(data[i:]); n <= 0 {
				return errTruncated
			}
			i += n
		case 1: // fixed64
			i += 8
		case 5: // fixed32
			i += 4
		case 2: // length-delimited
			l, n := uvarint(data[i:])
			if n <= 0 || l > uint64(len(data)-i-n) {
				return errTruncated
			}
			i += n
			b = data[i : i+int(l) : i+int(l)]
			i += int(l)
		case 3: // start group
			depth++
			continue
		case 4: // end group
			if depth == 0 {
				return errors.New("protobuf group ends before it starts")
			}
			depth--
			continue
		default:
			return fmt.Errorf("unexpected protobuf wire type %d", wire)
		}
		if i > len(data) {
			return errTruncated
		}
		if depth > 0 || (wire != 0 && wire != 2) {
			continue
		}
		if err := fn(field, b, v); err != nil {
			return err
		}
	}
	if depth > 0 {
		return errTruncated
	}
	return nil
}

// uvarint decodes a varint; n <= 0 when data ends first or it overflows.
func uvarint(data []byte) (v uint64, n int) {
	for shift := uint(0); shift < 64; shift += 7 {
		if n >= len(data) {
			return 0, 0
		}
		b := data[n]
		n++
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return v, n
		}
	}
	return 0, -1
}

// view is b as a string without copying: valid only while b is, so only
// for lookups.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
