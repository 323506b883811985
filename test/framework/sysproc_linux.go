package framework

import "syscall"

// sysProcAttr puts a child in its own process group (so Stop can signal
// exactly it, and a Ctrl-C on the terminal reaches only the test process,
// which then stops it) and has the kernel kill it should the test process
// die without cleaning up, e.g. on a panic in a test or a -timeout.
// (Pdeathsig follows the forking OS thread; Go keeps its threads alive
// unless a goroutine exits while locked to one, which tests here do not do.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
