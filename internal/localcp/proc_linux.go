package localcp

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// childSysProcAttr puts each child in its own process group, so a Ctrl-C in
// the terminal reaches only the owner, which then stops the children in
// order. Pdeathsig sends SIGTERM to the child when the thread that started it
// exits, so a crashed owner leaves no orphans. Go ends an OS thread only when
// a goroutine exits while locked to it, so processes must not be started from
// a goroutine that calls runtime.LockOSThread.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// processStartTime returns field 22 of /proc/<pid>/stat, the time the process
// started in clock ticks after boot, which identifies it across pid reuse.
func processStartTime(pid int) (string, error) {
	_, startTime, err := readProcStat(pid)
	return startTime, err
}

// processAlive reports whether pid is a running process, not a zombie, and,
// when startTime is not empty, the same process that startTime was read from.
func processAlive(pid int, startTime string) bool {
	if pid <= 0 {
		return false
	}
	state, gotStartTime, err := readProcStat(pid)
	if err != nil {
		return false
	}
	if state == "Z" || state == "X" {
		return false
	}
	return startTime == "" || startTime == gotStartTime
}

// readProcStat returns the state (field 3) and start time (field 22) of a
// process from /proc/<pid>/stat.
func readProcStat(pid int) (state, startTime string, err error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", "", err
	}
	// Field 2 is the command name in parentheses and may contain spaces, so
	// the remaining fields start after the last ')'.
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return "", "", fmt.Errorf("parse /proc/%d/stat: no ')' after the command name", pid)
	}
	fields := bytes.Fields(data[end+1:])
	const startTimeIndex = 22 - 3 // fields[0] is field 3
	if len(fields) <= startTimeIndex {
		return "", "", errors.New("parse /proc/" + strconv.Itoa(pid) + "/stat: too few fields")
	}
	return string(fields[0]), string(fields[startTimeIndex]), nil
}
