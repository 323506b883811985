//go:build unix && !linux

package framework

import "syscall"

// sysProcAttr puts a child in its own process group; Pdeathsig is Linux-only.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
