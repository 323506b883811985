package framework

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// freePorts returns n distinct free loopback ports. All listeners are held
// until the end so the same port is not handed out twice.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// makeDir creates the control plane's temp dir, on /dev/shm when possible
// (etcd is much faster on tmpfs), and records our PID in it so later runs
// can sweep dirs left behind by a test process that was killed.
func makeDir() (string, error) {
	base := "/dev/shm"
	dir, err := os.MkdirTemp(base, dirPrefix+"*")
	if err != nil {
		base = os.TempDir()
		if dir, err = os.MkdirTemp(base, dirPrefix+"*"); err != nil {
			return "", err
		}
	}
	sweepStaleDirs(base, dir)
	return dir, os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644)
}

// sweepStaleDirs removes our dirs whose owner process no longer exists. It
// needs /proc to tell, and leaves anything it cannot attribute alone.
func sweepStaleDirs(base, keep string) {
	if _, err := os.Stat("/proc/self"); err != nil {
		return
	}
	dirs, _ := filepath.Glob(filepath.Join(base, dirPrefix+"*"))
	for _, dir := range dirs {
		data, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		pid, perr := strconv.Atoi(strings.TrimSpace(string(data)))
		if dir == keep || err != nil || perr != nil || fileExists(fmt.Sprintf("/proc/%d", pid)) {
			continue
		}
		os.RemoveAll(dir)
	}
}
