//go:build unix && !linux

package localcp

import (
	"errors"
	"syscall"
)

// childSysProcAttr puts each child in its own process group, so a Ctrl-C in
// the terminal reaches only the owner, which then stops the children in
// order.
// NOTE: only Linux has Pdeathsig, so on other systems children of a crashed
// owner keep running until `estatectl dev down` stops them.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// processStartTime is not available without /proc, so Down trusts pids alone.
func processStartTime(int) (string, error) {
	return "", errors.New("process start time is only read on Linux")
}

// processAlive reports whether a process with this pid exists. It cannot tell
// a reused pid from the original one, nor a zombie from a running process.
func processAlive(pid int, _ string) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
