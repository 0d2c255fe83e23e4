package localcp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"
)

// maxStartAttempts is how often a process is started when its ports were
// taken between choosing and binding them.
const maxStartAttempts = 2

// serviceClusterIPRange is the range every API server assigns Service IPs
// from. Clusters do not share Services, so they may reuse the range.
const serviceClusterIPRange = "10.96.0.0/16"

// controllers is the kube-controller-manager --controllers value. The
// ClusterTrustBundle publisher is left out because in v1.37.2 it logs an
// error every few seconds against the serving certificate that localcp
// generates.
const controllers = "*,-kube-apiserver-serving-clustertrustbundle-publisher-controller"

type etcdPorts struct {
	client, peer int
}

func (c *ControlPlane) startEtcd(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(2)
		if err != nil {
			return err
		}
		c.etcdPorts = etcdPorts{client: ports[0], peer: ports[1]}
		c.EtcdURL = "http://127.0.0.1:" + strconv.Itoa(c.etcdPorts.client)

		begin := time.Now()
		c.log.Info("starting etcd", "clientPort", c.etcdPorts.client, "peerPort", c.etcdPorts.peer, "dataDir", c.layout.etcdDataDir())
		p, err := c.launch("etcd", roleEtcd, etcdBinary, c.etcdArgs())
		if err != nil {
			return err
		}

		err = waitReady(ctx, p, c.opts.ReadyTimeout, c.checkEtcdHealth)
		if err == nil {
			p.watch(c.reportUnexpectedExit)
			c.log.Info("etcd ready", "url", c.EtcdURL, "elapsed", since(begin))
			return nil
		}
		if retryErr := c.retryAfterBindFailure(ctx, p, err, attempt); retryErr != nil {
			return retryErr
		}
		// A failed bind leaves a data directory for the old ports behind.
		if err := removeAll(c.layout.etcdDataDir()); err != nil {
			return err
		}
	}
}

func (c *ControlPlane) etcdArgs() []string {
	clientURL := c.EtcdURL
	peerURL := "http://127.0.0.1:" + strconv.Itoa(c.etcdPorts.peer)
	return []string{
		"--name=estate-dev",
		"--data-dir=" + c.layout.etcdDataDir(),
		"--listen-client-urls=" + clientURL,
		"--advertise-client-urls=" + clientURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=estate-dev=" + peerURL,
		"--initial-cluster-state=new",
		// Every Start begins with an empty data directory and nothing in it
		// outlives the control plane, so a write need not wait for the disk.
		"--unsafe-no-fsync",
	}
}

// startCluster starts an API server and its controller manager, waits until
// both are ready and registers the cluster. It stops both if either fails.
func (c *ControlPlane) startCluster(ctx context.Context, name, etcdPrefix, kubeconfigPath string, opts ClusterOptions) (*Cluster, error) {
	saKeys, err := generateServiceAccountKeys(c.layout.serviceAccountKeyDir(name))
	if err != nil {
		return nil, err
	}

	cluster := &Cluster{Name: name, KubeconfigPath: kubeconfigPath, EtcdPrefix: etcdPrefix}
	if err := writeClusterOptionFiles(c.layout.serviceAccountKeyDir(name), cluster, opts); err != nil {
		return nil, err
	}
	apiServer, err := c.startAPIServer(ctx, cluster, saKeys)
	if err != nil {
		return nil, err
	}

	controllerManager, err := c.startControllerManager(ctx, cluster, saKeys)
	if err != nil {
		return nil, errors.Join(err, c.stopStartedProcesses(ctx, apiServer))
	}

	if err := c.registerCluster(cluster); err != nil {
		return nil, errors.Join(err, c.stopStartedProcesses(ctx, controllerManager, apiServer))
	}
	return cluster, nil
}

func (c *ControlPlane) startAPIServer(ctx context.Context, cluster *Cluster, saKeys serviceAccountKeys) (*process, error) {
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(1)
		if err != nil {
			return nil, err
		}
		cluster.Port = ports[0]
		cluster.URL = "https://127.0.0.1:" + strconv.Itoa(cluster.Port)
		if err := writeKubeconfig(cluster.KubeconfigPath, cluster, c.pki); err != nil {
			return nil, err
		}

		begin := time.Now()
		c.log.Info("starting kube-apiserver", "cluster", cluster.Name, "port", cluster.Port, "etcdPrefix", cluster.EtcdPrefix)
		p, err := c.launch(processName(roleAPIServer, cluster.Name), roleAPIServer, apiServerBinary,
			c.apiServerArgs(cluster, saKeys))
		if err != nil {
			return nil, err
		}

		err = waitReady(ctx, p, c.opts.ReadyTimeout, func(ctx context.Context) error {
			return c.checkAPIPath(ctx, cluster, "/readyz")
		})
		if err == nil {
			p.watch(c.reportUnexpectedExit)
			c.log.Info("kube-apiserver ready", "cluster", cluster.Name, "url", cluster.URL, "elapsed", since(begin))
			return p, nil
		}
		if retryErr := c.retryAfterBindFailure(ctx, p, err, attempt); retryErr != nil {
			return nil, retryErr
		}
	}
}

func (c *ControlPlane) apiServerArgs(cluster *Cluster, saKeys serviceAccountKeys) []string {
	args := []string{
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(cluster.Port),
		"--advertise-address=127.0.0.1",
		// Endpoints validation rejects loopback addresses, so the default
		// lease reconciler cannot publish 127.0.0.1 for the kubernetes
		// Service.
		"--endpoint-reconciler-type=none",
		"--etcd-servers=" + c.EtcdURL,
		"--etcd-prefix=" + cluster.EtcdPrefix,
		"--tls-cert-file=" + c.pki.servingCertPath,
		"--tls-private-key-file=" + c.pki.servingKeyPath,
		"--client-ca-file=" + c.pki.caCertPath,
		"--token-auth-file=" + c.pki.tokenFilePath,
		"--authorization-mode=RBAC",
		"--service-account-issuer=" + cluster.URL,
		"--service-account-key-file=" + saKeys.publicKeyPath,
		"--service-account-signing-key-file=" + saKeys.privateKeyPath,
		"--service-cluster-ip-range=" + serviceClusterIPRange,
		"--cert-dir=" + c.layout.pkiDir(),
	}
	return append(args, optionArgs(cluster)...)
}

func (c *ControlPlane) startControllerManager(ctx context.Context, cluster *Cluster, saKeys serviceAccountKeys) (*process, error) {
	begin := time.Now()
	c.log.Info("starting kube-controller-manager", "cluster", cluster.Name)
	p, err := c.launch(processName(roleControllerManager, cluster.Name), roleControllerManager, controllerManagerBinary,
		[]string{
			"--kubeconfig=" + cluster.KubeconfigPath,
			"--service-account-private-key-file=" + saKeys.privateKeyPath,
			"--root-ca-file=" + c.pki.caCertPath,
			"--leader-elect=false",
			// Port 0 turns off the controller manager's HTTPS endpoint, so
			// readiness is checked through the API server instead.
			"--secure-port=0",
			"--bind-address=127.0.0.1",
			"--controllers=" + controllers,
		})
	if err != nil {
		return nil, err
	}

	// The service account controller creates the default ServiceAccount in
	// every namespace, so its presence shows that the controllers run.
	err = waitReady(ctx, p, c.opts.ReadyTimeout, func(ctx context.Context) error {
		return c.checkAPIPath(ctx, cluster, "/api/v1/namespaces/default/serviceaccounts/default")
	})
	if err != nil {
		return nil, errors.Join(err, c.stopStartedProcesses(ctx, p))
	}
	p.watch(c.reportUnexpectedExit)
	c.log.Info("kube-controller-manager ready", "cluster", cluster.Name, "elapsed", since(begin))
	return p, nil
}

// processName returns the name of a cluster's process, which is also the base
// name of its log file. The management cluster's processes carry no suffix.
func processName(r role, cluster string) string {
	if cluster == ManagementClusterName {
		return string(r)
	}
	return string(r) + "-" + cluster
}

// launch starts a binary from BinDir, registers the process and records it in
// state.json.
func (c *ControlPlane) launch(name string, r role, binary string, args []string) (*process, error) {
	p, err := launch(name, r, filepath.Join(c.opts.BinDir, binary), args, c.StateDir, c.layout.logPath(name))
	if err != nil {
		return nil, err
	}

	c.mu.Lock()
	stopping := c.stopCalled
	if !stopping {
		c.processes = append(c.processes, p)
	}
	c.mu.Unlock()
	if stopping {
		return nil, errors.Join(
			fmt.Errorf("control plane in %s is stopping: %s not started", c.StateDir, name),
			p.stop(context.Background(), c.opts.StopTimeout, c.log))
	}

	if err := c.saveState(); err != nil {
		return nil, errors.Join(err, c.stopStartedProcesses(context.Background(), p))
	}
	return p, nil
}

// retryAfterBindFailure stops p and returns nil if startErr is a failed bind
// on the first attempt, so the caller retries with new ports. Otherwise it
// stops p and returns startErr.
func (c *ControlPlane) retryAfterBindFailure(ctx context.Context, p *process, startErr error, attempt int) error {
	if err := c.stopStartedProcesses(ctx, p); err != nil {
		return errors.Join(startErr, err)
	}
	if !errors.Is(startErr, errAddressInUse) || attempt >= maxStartAttempts {
		return startErr
	}
	c.log.Error(startErr, "port taken before the process bound it, retrying with new ports", "process", p.name, "attempt", attempt)
	return nil
}

// stopStartedProcesses stops processes that failed during a start and drops
// them from the control plane, so they are neither reported by Wait nor
// recorded in state.json.
func (c *ControlPlane) stopStartedProcesses(ctx context.Context, processes ...*process) error {
	stopCtx := context.WithoutCancel(ctx)
	err := stopProcesses(stopCtx, processes, c.opts.StopTimeout, c.log)

	c.mu.Lock()
	kept := c.processes[:0]
	for _, p := range c.processes {
		dropped := false
		for _, stopped := range processes {
			dropped = dropped || p == stopped
		}
		if !dropped {
			kept = append(kept, p)
		}
	}
	c.processes = kept
	c.mu.Unlock()

	return errors.Join(err, c.saveState())
}

func (c *ControlPlane) registerCluster(cluster *Cluster) error {
	c.mu.Lock()
	stopping := c.stopCalled
	if !stopping {
		c.clusters = append(c.clusters, cluster)
	}
	c.mu.Unlock()
	if stopping {
		return fmt.Errorf("control plane in %s is stopping: cluster %q not added", c.StateDir, cluster.Name)
	}
	return c.saveState()
}

// reportUnexpectedExit records the first ready process that exits without
// Stop having asked it to, so that Wait returns it.
func (c *ControlPlane) reportUnexpectedExit(p *process) {
	err := fmt.Errorf("%s exited unexpectedly: %w", p.name, p.exitError())
	c.log.Error(err, "child process exited unexpectedly", "process", p.name, "pid", p.pid())
	c.failedOnce.Do(func() {
		c.failure = err
		close(c.failed)
	})
}

func newHTTPClient(caPEM []byte) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			// Proxy stays nil because every URL is on loopback.
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		},
	}
}

func (c *ControlPlane) checkEtcdHealth(ctx context.Context) error {
	body, err := c.get(ctx, c.EtcdURL+"/health", "")
	if err != nil {
		return err
	}
	var health struct {
		Health string `json:"health"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(body, &health); err != nil {
		return fmt.Errorf("decode etcd /health response %q: %w", body, err)
	}
	if health.Health != "true" {
		return fmt.Errorf("etcd /health reports health=%q reason=%q", health.Health, health.Reason)
	}
	return nil
}

func (c *ControlPlane) checkAPIPath(ctx context.Context, cluster *Cluster, path string) error {
	_, err := c.get(ctx, cluster.URL+path, c.AdminToken)
	return err
}

// get returns the body of a 200 response, and an error for any other status.
func (c *ControlPlane) get(ctx context.Context, url, token string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()

	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read response from %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		const maxBody = 300
		if len(body) > maxBody {
			body = body[:maxBody]
		}
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return body, nil
}

// freePorts returns n distinct TCP ports that were free on 127.0.0.1. Another
// process may take a port before the child binds it, and the callers retry
// once when that happens.
func freePorts(n int) ([]int, error) {
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()

	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
