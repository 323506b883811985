package main

import (
	"os"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
)

// applyTimerSlack gives the process's threads a timer slack of d, for
// --timer-slack.
//
// Why: while any goroutine runs, the Go runtime's monitor thread (sysmon)
// sleeps 20µs at a time, and every pod event, write and echo wakes the idle
// process anew; on a virtual machine each of those sleeps is a round trip
// through the hypervisor. With a few ms of slack the kernel lets them run
// long: 5-10% less CPU under churn in make bench.
//
// How: prctl sets the calling thread's slack, and writing
// /proc/TID/timerslack_ns (there is none under /proc/self/task) sets
// another thread's, which needs
// CAP_SYS_NICE. A thread inherits the slack of the thread that creates it,
// so once every thread has it, every later thread has it too; a second
// pass catches threads started during the first. Nothing is re-executed,
// and a failure only costs the saving: it is logged and the controller
// runs on.
func applyTimerSlack(d time.Duration) {
	ns := d.Nanoseconds()
	runtime.LockOSThread() // prctl and Gettid about one thread
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(ns), 0, 0, 0); err != nil {
		klog.InfoS("Keeping the default timer slack", "err", err)
		return
	}
	self := strconv.Itoa(unix.Gettid())
	value := []byte(strconv.FormatInt(ns, 10))
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			klog.InfoS("Timer slack set for the main thread only", "err", err)
			return
		}
		for _, task := range tasks {
			if task.Name() == self {
				continue
			}
			if err := os.WriteFile("/proc/"+task.Name()+"/timerslack_ns", value, 0); err != nil && !os.IsNotExist(err) {
				klog.InfoS("Timer slack set for the main thread only: other threads need CAP_SYS_NICE", "err", err)
				return
			}
		}
	}
	klog.V(2).InfoS("Timer slack set", "slack", d)
}
