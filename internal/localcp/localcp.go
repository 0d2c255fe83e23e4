// Package localcp starts and stops a Kubernetes control plane on the loopback
// interface for development. It runs one etcd and a management
// kube-apiserver with its kube-controller-manager. AddCluster adds more API
// servers, each with its own controller manager, that share the etcd under
// their own key prefix.
//
// No kubelet or scheduler runs, so pods are stored but never scheduled. Every
// process listens on 127.0.0.1 only, on ports chosen free at start.
package localcp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

const (
	// ManagementClusterName is the name of the cluster that Start creates.
	ManagementClusterName = "management"

	defaultReadyTimeout = 60 * time.Second
	defaultStopTimeout  = 20 * time.Second

	etcdBinary              = "etcd"
	apiServerBinary         = "kube-apiserver"
	controllerManagerBinary = "kube-controller-manager"
)

// ErrAlreadyRunning is returned by Start when the state directory belongs to a
// live control plane.
var ErrAlreadyRunning = errors.New("local control plane already running")

// Options configures Start.
type Options struct {
	// BinDir is the directory that contains the etcd, kube-apiserver and
	// kube-controller-manager binaries.
	BinDir string
	// StateDir is the directory for etcd data, PKI, kubeconfigs, logs and
	// state.json. Start creates it and deletes what an earlier, stopped run
	// left in it, so every Start begins with an empty etcd.
	StateDir string
	// Log receives one Info line per step and every error that a background
	// goroutine handles. The zero Logger discards them.
	Log logr.Logger
	// ReadyTimeout is the maximum wait for each process to become ready.
	// Zero means 60 s.
	ReadyTimeout time.Duration
	// StopTimeout is the maximum wait between SIGTERM and SIGKILL when a
	// process is stopped. Zero means 20 s.
	StopTimeout time.Duration
}

// ControlPlane is a running etcd with one or more API servers. Its methods are
// safe for concurrent use.
type ControlPlane struct {
	// EtcdURL is the client URL of etcd, http://127.0.0.1:<port>.
	EtcdURL string
	// Management is the cluster that Start created.
	Management *Cluster
	// StateDir is the absolute path of Options.StateDir.
	StateDir string
	// AdminToken is a bearer token in group system:masters that every
	// cluster of this control plane accepts.
	AdminToken string
	// CAData is the PEM certificate of the CA that signed every API server's
	// serving certificate.
	CAData []byte

	opts       Options
	log        logr.Logger
	layout     layout
	pki        *pkiFiles
	httpClient *http.Client
	etcdPorts  etcdPorts

	mu         sync.Mutex
	clusters   []*Cluster
	processes  []*process
	stopCalled bool
	stopErr    error

	// stopped is closed when Stop returns.
	stopped chan struct{}
	// failed is closed, with failure set, when the first child process exits
	// without Stop having asked it to.
	failed     chan struct{}
	failure    error
	failedOnce sync.Once
}

// Cluster is one kube-apiserver and its kube-controller-manager.
type Cluster struct {
	// Name is ManagementClusterName or the name given to AddCluster.
	Name string
	// URL is the API server URL, https://127.0.0.1:<port>.
	URL string
	// Port is the API server's secure port on 127.0.0.1.
	Port int
	// KubeconfigPath is a kubeconfig that authenticates as an admin with the
	// control plane's AdminToken and verifies the server with CAData.
	KubeconfigPath string
	// EtcdPrefix is the etcd key prefix of this cluster's objects.
	EtcdPrefix string
	// EncryptionConfigPath is the kube-apiserver's
	// --encryption-provider-config, empty unless ClusterOptions.EncryptSecrets
	// was set.
	EncryptionConfigPath string
	// AuditPolicyPath and AuditLogPath are the kube-apiserver's
	// --audit-policy-file and --audit-log-path, empty unless
	// ClusterOptions.AuditLog was set.
	AuditPolicyPath string
	AuditLogPath    string
}

// ProcessInfo describes one child process of a control plane.
type ProcessInfo struct {
	Name    string
	PID     int
	LogPath string
}

// Start starts etcd, the management kube-apiserver and its
// kube-controller-manager, waits until each is ready and writes
// StateDir/kubeconfig. If any step fails, Start stops every process it started
// before it returns the error. ctx bounds only the start, and cancelling it
// later does not stop the control plane.
func Start(ctx context.Context, o Options) (*ControlPlane, error) {
	begin := time.Now()
	o, err := validateOptions(o)
	if err != nil {
		return nil, err
	}

	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory %s: %w", o.StateDir, err)
	}

	c := &ControlPlane{
		StateDir: o.StateDir,
		opts:     o,
		log:      o.Log,
		layout:   layout{dir: o.StateDir},
		stopped:  make(chan struct{}),
		failed:   make(chan struct{}),
	}

	if err := c.claimStateDir(ctx); err != nil {
		return nil, err
	}

	if err := c.startAll(ctx); err != nil {
		// Cleanup gets its own deadline because ctx may be why the start failed.
		cleanupCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*o.StopTimeout+10*time.Second)
		defer cancel()
		if stopErr := c.Stop(cleanupCtx); stopErr != nil {
			return nil, errors.Join(err, fmt.Errorf("stop processes after failed start: %w", stopErr))
		}
		return nil, err
	}

	c.log.Info("control plane ready", "kubeconfig", c.Management.KubeconfigPath,
		"etcd", c.EtcdURL, "elapsed", since(begin))
	return c, nil
}

func validateOptions(o Options) (Options, error) {
	if o.BinDir == "" {
		return o, errors.New("localcp: Options.BinDir is empty: set it to the directory that contains etcd, kube-apiserver and kube-controller-manager")
	}
	if o.StateDir == "" {
		return o, errors.New("localcp: Options.StateDir is empty: set it to a directory for the control plane's data and logs")
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = defaultReadyTimeout
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = defaultStopTimeout
	}

	var err error
	if o.BinDir, err = filepath.Abs(o.BinDir); err != nil {
		return o, fmt.Errorf("resolve BinDir %q: %w", o.BinDir, err)
	}
	if o.StateDir, err = filepath.Abs(o.StateDir); err != nil {
		return o, fmt.Errorf("resolve StateDir %q: %w", o.StateDir, err)
	}

	for _, name := range []string{etcdBinary, apiServerBinary, controllerManagerBinary} {
		path := filepath.Join(o.BinDir, name)
		info, err := os.Stat(path)
		if err != nil {
			return o, fmt.Errorf("binary %s not found in BinDir %s: build it with `make tools` (hack/build-tools.sh): %w", name, o.BinDir, err)
		}
		if !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
			return o, fmt.Errorf("binary %s is not an executable file: rebuild it with `make tools` (hack/build-tools.sh)", path)
		}
	}
	return o, nil
}

// startAll starts etcd and the management cluster into a claimed state
// directory.
func (c *ControlPlane) startAll(ctx context.Context) error {
	if err := c.layout.reset(); err != nil {
		return err
	}

	pki, err := generatePKI(c.layout.pkiDir())
	if err != nil {
		return err
	}
	c.pki = pki
	c.AdminToken = pki.adminToken
	c.CAData = pki.caPEM
	c.httpClient = newHTTPClient(pki.caPEM)

	if err := c.startEtcd(ctx); err != nil {
		return err
	}

	cluster, err := c.startCluster(ctx, ManagementClusterName, "/registry", c.layout.managementKubeconfig(), ClusterOptions{})
	if err != nil {
		return err
	}
	c.Management = cluster
	return nil
}

var clusterNamePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// maxClusterNameLength keeps process and log names short. Cluster names are
// DNS labels, which allow at most 63 characters.
const maxClusterNameLength = 40

// AddCluster starts another kube-apiserver and kube-controller-manager that
// store their objects in the shared etcd under the prefix /clusters/<name>, and
// writes a kubeconfig for them to StateDir/clusters/<name>/kubeconfig. name must
// be a DNS label of at most 40 characters, other than "management". If a
// process fails to become ready, AddCluster stops what it started.
func (c *ControlPlane) AddCluster(ctx context.Context, name string) (*Cluster, error) {
	return c.AddClusterWithOptions(ctx, name, ClusterOptions{})
}

// AddClusterWithOptions is AddCluster with the kube-apiserver features that
// opts turn on.
func (c *ControlPlane) AddClusterWithOptions(ctx context.Context, name string, opts ClusterOptions) (*Cluster, error) {
	if !clusterNamePattern.MatchString(name) || len(name) > maxClusterNameLength {
		return nil, fmt.Errorf("invalid cluster name %q: use at most %d lowercase letters, digits and '-', starting and ending with a letter or digit", name, maxClusterNameLength)
	}
	if name == ManagementClusterName {
		return nil, fmt.Errorf("invalid cluster name %q: it is reserved for the cluster that Start creates", name)
	}
	if c.Cluster(name) != nil {
		return nil, fmt.Errorf("cluster %q already exists in %s: choose another name", name, c.StateDir)
	}

	dir := c.layout.clusterDir(name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create directory for cluster %q: %w", name, err)
	}
	return c.startCluster(ctx, name, "/clusters/"+name, filepath.Join(dir, "kubeconfig"), opts)
}

// Cluster returns the cluster with the given name, or nil if there is none.
func (c *ControlPlane) Cluster(name string) *Cluster {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cluster := range c.clusters {
		if cluster.Name == name {
			return cluster
		}
	}
	return nil
}

// Clusters returns every cluster in the order it was started, management first.
func (c *ControlPlane) Clusters() []*Cluster {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Cluster(nil), c.clusters...)
}

// Processes returns the child processes in the order they were started.
func (c *ControlPlane) Processes() []ProcessInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	infos := make([]ProcessInfo, 0, len(c.processes))
	for _, p := range c.processes {
		infos = append(infos, ProcessInfo{Name: p.name, PID: p.pid(), LogPath: p.logPath})
	}
	return infos
}

// Wait blocks until Stop returns, and then returns nil, or until a child
// process that became ready exits without Stop having asked it to, and then
// returns an error that names the process and contains the tail of its log.
// Wait does not stop the remaining processes, so call Stop after it.
func (c *ControlPlane) Wait() error {
	select {
	case <-c.failed:
		return c.failure
	default:
	}
	select {
	case <-c.failed:
		return c.failure
	case <-c.stopped:
		return nil
	}
}

// Stop stops every child process: controller managers first, then API
// servers, then etcd, because a kube-apiserver v1.37.2 whose etcd was gone
// was still shutting down after 45 s. Each process gets SIGTERM and, after
// Options.StopTimeout or when ctx is done, SIGKILL. Stop then removes
// state.json and leaves the rest of StateDir in place. Later calls wait for
// the first one and return its result.
func (c *ControlPlane) Stop(ctx context.Context) error {
	c.mu.Lock()
	if c.stopCalled {
		c.mu.Unlock()
		<-c.stopped
		return c.stopErr
	}
	c.stopCalled = true
	processes := append([]*process(nil), c.processes...)
	c.mu.Unlock()

	begin := time.Now()
	c.log.Info("stopping control plane", "stateDir", c.StateDir, "processes", len(processes))
	err := stopProcesses(ctx, processes, c.opts.StopTimeout, c.log)

	if removeErr := c.layout.removeStateIfOwned(); removeErr != nil {
		err = errors.Join(err, removeErr)
	}
	if c.httpClient != nil {
		c.httpClient.CloseIdleConnections()
	}

	c.mu.Lock()
	c.stopErr = err
	c.mu.Unlock()
	close(c.stopped)

	if err != nil {
		c.log.Error(err, "control plane stopped with errors", "elapsed", since(begin))
	} else {
		c.log.Info("control plane stopped", "elapsed", since(begin))
	}
	return err
}

// since formats the time elapsed since t for log lines.
func since(t time.Time) string {
	return time.Since(t).Round(time.Millisecond).String()
}
