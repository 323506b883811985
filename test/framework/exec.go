package framework

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. It
// is 100 on every Linux platform Go supports (sysconf needs cgo).
const clockTicks = 100

// Process is one child process started by StartProcess: in its own process
// group, killed by the kernel should the test process die (Linux), its
// output appended to a log file. It is stopped by PID only, and only while
// not yet reaped, so a recycled PID is never signalled.
type Process struct {
	name, logPath string
	cmd           *exec.Cmd
	startTime     string        // field 22 of /proc/PID/stat, to detect PID reuse
	done          chan struct{} // closed once the child has been reaped
	waitErr       error         // valid after done
}

// StartProcess starts bin with args, appending its stdout and stderr to
// logPath (created if needed). The child inherits the test's environment.
func StartProcess(name, bin string, args []string, logPath string) (*Process, error) {
	return StartProcessEnv(name, bin, args, nil, logPath)
}

// StartProcessEnv is StartProcess with env ("KEY=value") added to the
// environment the child inherits, overriding the same keys.
func StartProcessEnv(name, bin string, args, env []string, logPath string) (*Process, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	envText := ""
	if len(env) > 0 {
		envText = strings.Join(env, " ") + " "
	}
	fmt.Fprintf(log, "=== %s: %s%s %s\n", time.Now().Format(time.RFC3339Nano), envText, bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...) // the last of a key wins
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Process{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	// Not reaped yet, so the PID is still ours.
	if fields, err := procStat(cmd.Process.Pid); err == nil && len(fields) > 19 {
		p.startTime = fields[19]
	}
	go func() {
		p.waitErr = cmd.Wait()
		fmt.Fprintf(log, "=== %s: %s exited: %v\n", time.Now().Format(time.RFC3339Nano), name, p.waitErr)
		log.Close()
		close(p.done)
	}()
	return p, nil
}

// Name is the name given to StartProcess.
func (p *Process) Name() string { return p.name }

// LogPath is the file the child's output goes to.
func (p *Process) LogPath() string { return p.logPath }

// PID is the child's process ID (and process group ID).
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done is closed once the child has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the child has exited (and been reaped).
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits for the child to exit and returns what exec.Cmd.Wait returned.
func (p *Process) Wait() error {
	<-p.done
	return p.waitErr
}

// Stop sends SIGTERM to the child's process group, SIGKILL after 10s, and
// waits until the child has been reaped. Safe to call more than once, and
// after the child exited by itself.
func (p *Process) Stop() { p.stop(syscall.SIGTERM, syscall.SIGKILL) }

// Kill sends SIGKILL to the child's process group and waits until the child
// has been reaped.
func (p *Process) Kill() { p.stop(syscall.SIGKILL) }

func (p *Process) stop(sigs ...syscall.Signal) {
	pid := p.PID()
	for _, sig := range sigs {
		if p.Exited() {
			return
		}
		// -pid: the group Setpgid created, which holds only our child (and
		// whatever it started). Not reaped yet, so the PID is not reused.
		if err := syscall.Kill(-pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			fmt.Fprintf(os.Stderr, "framework: signalling %s (pid %d): %v\n", p.name, pid, err)
		}
		select {
		case <-p.done:
			return
		case <-time.After(stopGrace):
		}
	}
	<-p.done
}

// CPUSeconds is the user plus system CPU time the child has used so far:
// from /proc/PID/stat while it runs (10ms resolution), from its rusage once
// it has exited. It returns 0 if neither is available.
func (p *Process) CPUSeconds() float64 {
	if st := p.exitedState(); st != nil {
		return st.UserTime().Seconds() + st.SystemTime().Seconds()
	}
	fields, err := p.stat()
	if err != nil || len(fields) < 13 {
		return 0
	}
	// After the state and ppid, pgrp...: utime and stime are fields 14 and
	// 15 of the whole line, i.e. 12 and 13 after the command name.
	utime, err1 := strconv.ParseUint(fields[11], 10, 64)
	stime, err2 := strconv.ParseUint(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return float64(utime+stime) / clockTicks
}

// PeakRSSBytes is the child's peak resident set size: VmHWM from
// /proc/PID/status while it runs, ru_maxrss once it has exited. It returns
// 0 if neither is available.
func (p *Process) PeakRSSBytes() int64 {
	if st := p.exitedState(); st != nil {
		ru, ok := st.SysUsage().(*syscall.Rusage)
		if !ok {
			return 0
		}
		if runtime.GOOS == "darwin" {
			return int64(ru.Maxrss) // bytes there, KiB elsewhere
		}
		return int64(ru.Maxrss) * 1024
	}
	return p.statusBytes("VmHWM:")
}

// RSSBytes is the child's current resident set size (VmRSS), or 0 once it
// has exited or if /proc is not available.
func (p *Process) RSSBytes() int64 {
	if p.Exited() {
		return 0
	}
	return p.statusBytes("VmRSS:")
}

// statusBytes reads a "kB" field of /proc/PID/status.
func (p *Process) statusBytes(field string) int64 {
	if _, err := p.stat(); err != nil { // gone, or the PID was reused
		return 0
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.PID()))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), field)
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0
		}
		return kb * 1024
	}
	return 0 // a zombie has no memory left to report
}

// LogTail returns the last n lines of the child's log, for error messages.
func (p *Process) LogTail(n int) string {
	return logTail(p.logPath, n)
}

func (p *Process) exitedState() *os.ProcessState {
	if !p.Exited() {
		return nil
	}
	return p.cmd.ProcessState
}

// stat returns the fields of /proc/PID/stat after the command name, after
// checking that the PID still belongs to our child.
func (p *Process) stat() ([]string, error) {
	fields, err := procStat(p.PID())
	if err != nil {
		return nil, err
	}
	if p.startTime == "" || len(fields) <= 19 || fields[19] != p.startTime {
		return nil, fmt.Errorf("pid %d is no longer %s", p.PID(), p.name)
	}
	return fields, nil
}

// procStat returns the fields of /proc/PID/stat that follow the command
// name, which may itself hold spaces and parentheses: fields[0] is the
// state (field 3 of the line), fields[11] utime, fields[19] starttime.
func procStat(pid int) ([]string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return nil, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return strings.Fields(string(data[i+1:])), nil
}
