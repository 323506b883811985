package framework

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// BinDir returns the folder holding etcd, kube-apiserver and the other test
// binaries: $TESTBIN_DIR if set, else the last stdout line of
// hack/install-testbin.sh, which builds whatever is missing. It never skips:
// tests must really run, so a missing binary is an error.
func BinDir() (string, error) {
	dir := os.Getenv("TESTBIN_DIR")
	if dir == "" {
		var err error
		if dir, err = installTestbin(); err != nil {
			return "", err
		}
	}
	for _, name := range []string{"etcd", "kube-apiserver"} {
		if err := checkExecutable(filepath.Join(dir, name)); err != nil {
			return "", fmt.Errorf("test binaries in %s are incomplete (%v); build them with hack/install-testbin.sh", dir, err)
		}
	}
	return dir, nil
}

func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// installTestbin runs hack/install-testbin.sh from the repository root.
func installTestbin() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	// Test binaries of several packages run in parallel; the script builds
	// into fixed file names, so only one may run at a time.
	lockDir := filepath.Join(root, "_output")
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(lockDir, ".testbin.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close() // closing releases the lock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("locking %s: %w", lock.Name(), err)
	}

	var stdout bytes.Buffer
	cmd := exec.Command("bash", filepath.Join(root, "hack", "install-testbin.sh"))
	cmd.Dir = root
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr // build progress; a first build takes many minutes
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("hack/install-testbin.sh failed: %w\n%s", err, stdout.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	dir := strings.TrimSpace(lines[len(lines)-1])
	if dir == "" {
		return "", errors.New("hack/install-testbin.sh printed no folder")
	}
	return dir, nil
}

// RepoRoot walks up from the working directory to the folder that holds both
// go.mod and hack/install-testbin.sh (hack/tools has a go.mod of its own).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(dir, "go.mod")) && fileExists(filepath.Join(dir, "hack", "install-testbin.sh")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root (go.mod + hack/install-testbin.sh) not found above the working directory; set TESTBIN_DIR")
		}
		dir = parent
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
