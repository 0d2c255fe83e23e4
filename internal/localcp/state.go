package localcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// ErrNotRunning is returned by Down when the state directory has no
// state.json, so there is nothing to stop.
var ErrNotRunning = errors.New("no local control plane state found")

// ownerStopTimeout is the maximum wait for the owning process to stop its
// children after Down sends it SIGTERM. Its own Stop waits up to
// Options.StopTimeout per role, 20 s each by default.
const ownerStopTimeout = 90 * time.Second

// layout names the files and directories in a state directory.
type layout struct {
	dir string
}

func (l layout) statePath() string             { return filepath.Join(l.dir, "state.json") }
func (l layout) pkiDir() string                { return filepath.Join(l.dir, "pki") }
func (l layout) etcdDataDir() string           { return filepath.Join(l.dir, "etcd") }
func (l layout) logsDir() string               { return filepath.Join(l.dir, "logs") }
func (l layout) logPath(name string) string    { return filepath.Join(l.logsDir(), name+".log") }
func (l layout) clustersDir() string           { return filepath.Join(l.dir, "clusters") }
func (l layout) clusterDir(name string) string { return filepath.Join(l.clustersDir(), name) }
func (l layout) managementKubeconfig() string  { return filepath.Join(l.dir, "kubeconfig") }

// serviceAccountKeyDir is pki/ for the management cluster and
// clusters/<name>/ for the others.
func (l layout) serviceAccountKeyDir(cluster string) string {
	if cluster == ManagementClusterName {
		return l.pkiDir()
	}
	return l.clusterDir(cluster)
}

// reset deletes what an earlier run left in the state directory, other than
// state.json, and creates the directories that Start writes into.
func (l layout) reset() error {
	for _, path := range []string{l.etcdDataDir(), l.pkiDir(), l.logsDir(), l.clustersDir(), l.managementKubeconfig()} {
		if err := removeAll(path); err != nil {
			return err
		}
	}
	for _, dir := range []string{l.pkiDir(), l.logsDir()} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	}
	return nil
}

// removeStateIfOwned removes state.json unless another process owns it.
func (l layout) removeStateIfOwned() error {
	st, err := readState(l.statePath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil && st.OwnerPID != os.Getpid() {
		return nil
	}
	// An unreadable state.json was written by this process or damaged, and
	// neither is worth keeping.
	if err := os.Remove(l.statePath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", l.statePath(), err)
	}
	return nil
}

// state is the content of state.json: what another process needs to find and
// stop a control plane.
type state struct {
	OwnerPID       int            `json:"ownerPID"`
	OwnerStartTime string         `json:"ownerStartTime,omitempty"`
	EtcdURL        string         `json:"etcdURL,omitempty"`
	EtcdClientPort int            `json:"etcdClientPort,omitempty"`
	EtcdPeerPort   int            `json:"etcdPeerPort,omitempty"`
	Processes      []processState `json:"processes"`
	Clusters       []clusterState `json:"clusters"`
}

type processState struct {
	Name string `json:"name"`
	Role role   `json:"role"`
	PID  int    `json:"pid"`
	// StartTime is the start time from /proc/<pid>/stat, which
	// distinguishes the process from a later one with the same pid. It is empty where
	// /proc is not available.
	StartTime string `json:"startTime,omitempty"`
	LogPath   string `json:"logPath"`
}

type clusterState struct {
	Name           string `json:"name"`
	URL            string `json:"url"`
	Port           int    `json:"port"`
	KubeconfigPath string `json:"kubeconfigPath"`
	EtcdPrefix     string `json:"etcdPrefix"`
	AuditLogPath   string `json:"auditLogPath,omitempty"`
	// Encrypted records that the cluster encrypts Secrets in etcd. The
	// key's path is left out, because state.json is readable by others.
	Encrypted bool `json:"encrypted,omitempty"`
}

func readState(path string) (*state, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("invalid %s: %w: remove it if no control plane is running from that directory", path, err)
	}
	return &st, nil
}

func ownerState() state {
	startTime, _ := processStartTime(os.Getpid())
	return state{OwnerPID: os.Getpid(), OwnerStartTime: startTime}
}

// claimStateDir creates state.json with this process as the owner. If a live
// process owns the directory it returns ErrAlreadyRunning. If the owner is
// dead, it stops the processes that owner left behind first.
func (c *ControlPlane) claimStateDir(ctx context.Context) error {
	path := c.layout.statePath()
	data, err := json.MarshalIndent(ownerState(), "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}

	// The second attempt runs after a stale state.json has been removed.
	for range 2 {
		err := createFileExclusive(path, data)
		if err == nil {
			return nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create %s: %w", path, err)
		}

		st, err := readState(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if processAlive(st.OwnerPID, st.OwnerStartTime) {
			return fmt.Errorf("%w in %s (owner pid %d): stop it with `estatectl dev down` or use another state directory",
				ErrAlreadyRunning, c.StateDir, st.OwnerPID)
		}

		c.log.Info("removing state of a control plane whose owner has exited", "stateDir", c.StateDir, "ownerPID", st.OwnerPID)
		if err := stopRecordedProcesses(ctx, st, c.opts.StopTimeout); err != nil {
			return fmt.Errorf("stop processes left by exited owner pid %d: %w", st.OwnerPID, err)
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale %s: %w", path, err)
		}
	}
	return fmt.Errorf("%w in %s: another process claimed it during this Start", ErrAlreadyRunning, c.StateDir)
}

// saveState writes state.json from the current processes and clusters.
func (c *ControlPlane) saveState() error {
	st := ownerState()
	c.mu.Lock()
	st.EtcdURL = c.EtcdURL
	st.EtcdClientPort = c.etcdPorts.client
	st.EtcdPeerPort = c.etcdPorts.peer
	for _, p := range c.processes {
		st.Processes = append(st.Processes, processState{
			Name: p.name, Role: p.role, PID: p.pid(), StartTime: p.startTime, LogPath: p.logPath,
		})
	}
	for _, cl := range c.clusters {
		st.Clusters = append(st.Clusters, clusterState{
			Name: cl.Name, URL: cl.URL, Port: cl.Port, KubeconfigPath: cl.KubeconfigPath, EtcdPrefix: cl.EtcdPrefix,
			AuditLogPath: cl.AuditLogPath, Encrypted: cl.EncryptionConfigPath != "",
		})
	}
	c.mu.Unlock()

	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return writeFileAtomic(c.layout.statePath(), data, 0o644)
}

// Down stops the control plane recorded in stateDir/state.json by a process
// such as `estatectl dev up`. It sends SIGTERM to that owning process and
// waits up to 90 s for it to exit, then stops any child process still alive
// in the same order as Stop. If this process is the owner, it stops the
// children directly, and the ControlPlane's Wait then reports their exit.
// Down removes stateDir unless keep is set, in which case it removes only
// state.json. Without a state.json it returns an error wrapping ErrNotRunning
// and removes nothing.
func Down(ctx context.Context, stateDir string, keep bool) error {
	dir, err := filepath.Abs(stateDir)
	if err != nil {
		return fmt.Errorf("resolve state directory %q: %w", stateDir, err)
	}
	l := layout{dir: dir}

	st, err := readState(l.statePath())
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w in %s: nothing to stop", ErrNotRunning, dir)
	}
	if err != nil {
		return err
	}

	if st.OwnerPID != os.Getpid() && processAlive(st.OwnerPID, st.OwnerStartTime) {
		if err := stopOwner(ctx, st); err != nil {
			return err
		}
	}
	if err := stopRecordedProcesses(ctx, st, defaultStopTimeout); err != nil {
		return err
	}

	if keep {
		if err := os.Remove(l.statePath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", l.statePath(), err)
		}
		return nil
	}
	return removeAll(dir)
}

// stopOwner sends SIGTERM to the owning process and waits until it exits.
// If it is still alive after ownerStopTimeout, stopOwner returns nil and
// leaves the children to stopRecordedProcesses.
func stopOwner(ctx context.Context, st *state) error {
	if err := syscall.Kill(st.OwnerPID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("send SIGTERM to control plane owner pid %d: %w", st.OwnerPID, err)
	}
	err := waitUntilExited(ctx, st.OwnerPID, st.OwnerStartTime, ownerStopTimeout)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

// stopRecordedProcesses stops the processes listed in st that are still
// alive, by role in stopOrder. Each gets SIGTERM and, after timeout, SIGKILL.
// Unlike process.stop it cannot reap, so it polls /proc or kill(pid, 0).
func stopRecordedProcesses(ctx context.Context, st *state, timeout time.Duration) error {
	var errs []error
	for _, r := range stopOrder {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, ps := range st.Processes {
			if ps.Role != r || !processAlive(ps.PID, ps.StartTime) {
				continue
			}
			wg.Go(func() {
				if err := stopPID(ctx, ps, timeout); err != nil {
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

func stopPID(ctx context.Context, ps processState, timeout time.Duration) error {
	if err := syscall.Kill(ps.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("send SIGTERM to %s (pid %d): %w", ps.Name, ps.PID, err)
	}
	err := waitUntilExited(ctx, ps.PID, ps.StartTime, timeout)
	if err == nil {
		return nil
	}
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return err
	}

	if err := syscall.Kill(ps.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("send SIGKILL to %s (pid %d): %w", ps.Name, ps.PID, err)
	}
	if err := waitUntilExited(context.WithoutCancel(ctx), ps.PID, ps.StartTime, killWait); err != nil {
		return fmt.Errorf("%s (pid %d) still running after SIGKILL: %w", ps.Name, ps.PID, err)
	}
	return nil
}

// waitUntilExited polls until the process is gone, timeout passes, or ctx is
// done, and returns nil only in the first case.
func waitUntilExited(ctx context.Context, pid int, startTime string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	for processAlive(pid, startTime) {
		select {
		case <-ticker.C:
		case <-ctx.Done():
			return fmt.Errorf("wait for pid %d to exit: %w", pid, ctx.Err())
		}
	}
	return nil
}

// createFileExclusive creates path with data, or fails with fs.ErrExist if it
// exists. Readers never see a partly written file, because the data is
// written to a temporary file that is then hard-linked to path.
func createFileExclusive(path string, data []byte) error {
	tmp, err := writeTemp(path, data, 0o644)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	return os.Link(tmp, path)
}

// writeFileAtomic replaces path with data, so readers see the old or the new
// content and never a mix.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := writeTemp(path, data, mode)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

// writeTemp writes data to a new file next to path and returns its name.
func writeTemp(path string, data []byte, mode os.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return "", fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	_, writeErr := f.Write(data)
	if writeErr == nil {
		writeErr = f.Chmod(mode)
	}
	if writeErr == nil {
		writeErr = f.Sync()
	}
	closeErr := f.Close()
	if err := errors.Join(writeErr, closeErr); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("write temporary file for %s: %w", path, err)
	}
	return f.Name(), nil
}

func removeAll(path string) error {
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}
