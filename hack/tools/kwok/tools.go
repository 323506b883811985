//go:build tools

// Package tools pins kwok and the Stage configs it ships.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
