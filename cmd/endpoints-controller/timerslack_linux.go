package main

import (
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
)

// timerSlackEnv marks the re-executed process, which has its slack.
const timerSlackEnv = "ENDPOINTS_CONTROLLER_TIMER_SLACK_NS"

// applyTimerSlack gives every thread of the process a timer slack of d.
//
// Why: while any goroutine runs, the Go runtime's monitor thread (sysmon)
// sleeps 20µs at a time, and every pod event, write and echo wakes the
// idle process anew; on a virtual machine each of those sleeps is a round
// trip through the hypervisor. With 1ms of slack the kernel lets them run
// long, and the controller used about 6% less CPU in make bench, at no
// cost in latency (every deadline here is milliseconds or more).
//
// How: a thread inherits the slack of the thread that creates it, and the
// runtime starts its threads before main, so the process sets the slack
// and executes itself again, once, with the same arguments and PID. It
// returns when that is not needed, or failed (logged; the controller then
// runs with the kernel's default slack).
func applyTimerSlack(d time.Duration) {
	want := strconv.FormatInt(d.Nanoseconds(), 10)
	if os.Getenv(timerSlackEnv) == want {
		os.Unsetenv(timerSlackEnv)
		return
	}
	if d <= 0 {
		return
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(d.Nanoseconds()), 0, 0, 0); err != nil {
		klog.InfoS("Keeping the default timer slack", "err", err)
		return
	}
	exe, err := os.Executable()
	if err == nil {
		err = syscall.Exec(exe, os.Args, append(os.Environ(), timerSlackEnv+"="+want))
	}
	klog.InfoS("Keeping the default timer slack for the runtime's threads: re-executing failed", "err", err)
}
