package parity

import "syscall"

// procAttr gives a child its own process group, so that stopping it signals
// exactly it, and has the kernel kill it should the test process die.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
