package controller

import "fmt"

// Decoder chooses how pods and Endpoints travel between the API server and
// the caches.
type Decoder string

const (
	// Lean reads pods as protobuf straight into the pod view and
	// Endpoints left encoded until needed, and writes Endpoints as
	// protobuf it encodes itself (package lean): less CPU and garbage, for
	// hand-written decoding.
	Lean Decoder = "lean"
	// Standard uses client-go's typed clients and objects throughout; the
	// caches' transform trims them. It is the reference Lean is tested
	// against.
	Standard Decoder = "standard"
)

// DefaultDecoder is Lean: its fuzz tests show it gives the views Standard
// gives.
const DefaultDecoder = Lean

// ParseDecoder returns the Decoder named s.
func ParseDecoder(s string) (Decoder, error) {
	switch d := Decoder(s); d {
	case Lean, Standard:
		return d, nil
	}
	return "", fmt.Errorf("unknown pod decoder %q: want %s or %s", s, Lean, Standard)
}
