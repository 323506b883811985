//go:build unix && !linux

package parity

import "syscall"

// procAttr gives a child its own process group; Pdeathsig is Linux-only.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
