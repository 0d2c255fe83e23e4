package localcp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"
)

// role orders shutdown: Stop and Down stop higher roles first.
type role string

const (
	roleEtcd              role = "etcd"
	roleAPIServer         role = "kube-apiserver"
	roleControllerManager role = "kube-controller-manager"
)

// stopOrder lists the roles in the order they are stopped.
var stopOrder = []role{roleControllerManager, roleAPIServer, roleEtcd}

// logTailLines is the number of log lines that errors about a process include.
const logTailLines = 20

// errAddressInUse marks a process that exited because a port chosen for it was
// taken between choosing and binding, so the caller may retry with new ports.
var errAddressInUse = errors.New("address already in use")

// process is a child process whose output goes to a log file.
type process struct {
	name      string
	role      role
	logPath   string
	cmd       *exec.Cmd
	startTime string

	// done is closed after the process has exited and been reaped.
	done    chan struct{}
	waitErr error
	// expectedExit is set before Stop signals the process, so its exit is not
	// reported as a failure.
	expectedExit atomic.Bool

	watchMu          sync.Mutex
	onUnexpectedExit func(*process)
	reportOnce       sync.Once
}

// launch starts binary with args, with its stdout and stderr in logPath.
func launch(name string, r role, binary string, args []string, dir, logPath string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log file for %s: %w", name, err)
	}
	// The child holds its own copy of the descriptor once it has started.
	defer logFile.Close()

	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = loopbackEnv(os.Environ())
	cmd.SysProcAttr = childSysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, binary, err)
	}

	p := &process{
		name:    name,
		role:    r,
		logPath: logPath,
		cmd:     cmd,
		done:    make(chan struct{}),
	}
	// Without an identity a later Down cannot tell this process from one that
	// reuses its pid, and then it trusts the pid alone.
	p.startTime, _ = processStartTime(cmd.Process.Pid)

	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
		p.reportUnexpectedExit()
	}()
	return p, nil
}

// watch makes an exit that stop did not ask for call onUnexpectedExit once,
// also if the process has already exited. Callers watch a process only once
// it is ready, because waitReady reports an earlier exit.
func (p *process) watch(onUnexpectedExit func(*process)) {
	p.watchMu.Lock()
	p.onUnexpectedExit = onUnexpectedExit
	p.watchMu.Unlock()
	if p.exited() {
		p.reportUnexpectedExit()
	}
}

func (p *process) reportUnexpectedExit() {
	p.watchMu.Lock()
	report := p.onUnexpectedExit
	p.watchMu.Unlock()
	if report == nil || p.expectedExit.Load() {
		return
	}
	p.reportOnce.Do(func() { report(p) })
}

// loopbackEnv returns env with 127.0.0.1, ::1 and localhost added to
// NO_PROXY and no_proxy, because client-go and gRPC send loopback traffic
// through HTTPS_PROXY when it is set.
func loopbackEnv(env []string) []string {
	const loopback = "127.0.0.1,::1,localhost"
	out := make([]string, 0, len(env)+2)
	seen := map[string]bool{}
	for _, kv := range env {
		key, value, _ := strings.Cut(kv, "=")
		if key == "NO_PROXY" || key == "no_proxy" {
			seen[key] = true
			if value != "" {
				value += ","
			}
			kv = key + "=" + value + loopback
		}
		out = append(out, kv)
	}
	for _, key := range []string{"NO_PROXY", "no_proxy"} {
		if !seen[key] {
			out = append(out, key+"="+loopback)
		}
	}
	return out
}

func (p *process) pid() int {
	return p.cmd.Process.Pid
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitError describes how the process exited, with the tail of its log. It
// wraps errAddressInUse when the log shows a failed bind.
func (p *process) exitError() error {
	status := "exit status 0"
	if p.waitErr != nil {
		status = p.waitErr.Error()
	}
	tail := logTail(p.logPath, logTailLines)
	err := fmt.Errorf("%s (pid %d) exited with %s\nlast lines of %s:\n%s", p.name, p.pid(), status, p.logPath, tail)
	if strings.Contains(tail, "address already in use") {
		return fmt.Errorf("%w: %w", errAddressInUse, err)
	}
	return err
}

// stop sends SIGTERM, then SIGKILL after timeout or when ctx is done, and
// returns once the process has been reaped.
func (p *process) stop(ctx context.Context, timeout time.Duration, log logr.Logger) error {
	p.expectedExit.Store(true)
	if p.exited() {
		return nil
	}

	begin := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		log.Error(err, "send SIGTERM failed, sending SIGKILL", "process", p.name, "pid", p.pid())
	}

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
		log.Info("stopped process", "process", p.name, "pid", p.pid(), "signal", "SIGTERM", "elapsed", since(begin))
		return nil
	case <-timer.C:
	case <-ctx.Done():
	}

	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("send SIGKILL to %s (pid %d): %w", p.name, p.pid(), err)
	}
	select {
	case <-p.done:
		log.Info("stopped process", "process", p.name, "pid", p.pid(), "signal", "SIGKILL", "elapsed", since(begin))
		return nil
	case <-time.After(killWait):
		return fmt.Errorf("%s (pid %d) still running %s after SIGKILL", p.name, p.pid(), killWait)
	}
}

// killWait bounds the wait for the kernel to end a process after SIGKILL.
const killWait = 10 * time.Second

// stopProcesses stops processes by role in stopOrder, the processes of one
// role concurrently.
func stopProcesses(ctx context.Context, processes []*process, timeout time.Duration, log logr.Logger) error {
	// Mark every exit as expected first, so a process that dies because
	// another one stopped is not reported as a failure.
	for _, p := range processes {
		p.expectedExit.Store(true)
	}

	var errs []error
	for _, r := range stopOrder {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, p := range processes {
			if p.role != r {
				continue
			}
			wg.Go(func() {
				if err := p.stop(ctx, timeout, log); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	return errors.Join(errs...)
}

// waitReady polls check until it returns nil. It fails early if the process
// exits, and after timeout, with the tail of the process's log in the error.
func waitReady(ctx context.Context, p *process, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	const interval = 100 * time.Millisecond
	ticker := time.NewTicker(interval)
	defer ticker.Stop()

	lastErr := errors.New("not checked yet")
	for {
		if p.exited() {
			return fmt.Errorf("%s failed before it became ready: %w", p.name, p.exitError())
		}
		if lastErr = check(ctx); lastErr == nil {
			return nil
		}

		select {
		case <-ticker.C:
		case <-p.done:
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s (pid %d) not ready after %s: last check: %v\nlast lines of %s:\n%s",
					p.name, p.pid(), timeout, lastErr, p.logPath, logTail(p.logPath, logTailLines))
			}
			return fmt.Errorf("wait for %s to become ready: %w", p.name, ctx.Err())
		}
	}
}

// logTail returns up to n final lines of the file at path, or a note saying
// why it could not be read.
func logTail(path string, n int) string {
	const maxRead = 64 << 10
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(log not readable: %v)", err)
	}
	defer f.Close()

	info, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(log not readable: %v)", err)
	}
	offset := max(info.Size()-maxRead, 0)
	data, err := io.ReadAll(io.NewSectionReader(f, offset, info.Size()-offset))
	if err != nil {
		return fmt.Sprintf("(log not readable: %v)", err)
	}

	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 1 && len(lines[0]) == 0 {
		return "(log is empty)"
	}
	return string(bytes.Join(lines, []byte("\n")))
}
