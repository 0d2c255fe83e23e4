package localcp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// auditWait bounds the wait for a request's event to reach the audit log.
// In its default blocking mode the log backend writes events while the
// request is handled, so the event is usually there when the response is.
const auditWait = 10 * time.Second

// probeNamespace is the namespace of the inspector's probe Secret. It
// exists in every cluster.
const probeNamespace = "default"

// Inspector checks how the clusters of a running ControlPlane store Secrets
// and whether they audit requests, from outside the API server: it reads
// the stored value straight from etcd and the events from the audit log
// file. Its methods take a cluster name and fit the enclave operator's
// SiteInspector when HostingSites are named after clusters.
type Inspector struct {
	cp *ControlPlane
}

// Inspector returns an Inspector for the control plane's clusters.
func (c *ControlPlane) Inspector() *Inspector {
	return &Inspector{cp: c}
}

// EncryptionAtRest writes a probe Secret through the cluster's API server,
// reads its value from etcd and reports whether the value is encrypted,
// that is, starts with "k8s:enc:" and does not contain the probe's
// plaintext. The message names the provider and key from the value's
// prefix but not the probe, so it is the same on every call while the
// configuration stays. The probe Secret is deleted before EncryptionAtRest
// returns.
func (i *Inspector) EncryptionAtRest(ctx context.Context, cluster string) (bool, string, error) {
	cl := i.cp.Cluster(cluster)
	if cl == nil {
		return false, "", fmt.Errorf("cluster %q not found in the control plane in %s", cluster, i.cp.StateDir)
	}

	name := "estate-encryption-probe-" + randomHex(4)
	plaintext := "estate-probe-" + randomHex(16)
	secret := map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"metadata":   map[string]any{"name": name},
		"stringData": map[string]string{"probe": plaintext},
	}
	body, err := json.Marshal(secret)
	if err != nil {
		return false, "", err
	}
	secretsURL := cl.URL + "/api/v1/namespaces/" + probeNamespace + "/secrets"
	if _, err := i.cp.apiRequest(ctx, http.MethodPost, secretsURL, body, http.StatusCreated); err != nil {
		return false, "", fmt.Errorf("create probe Secret %s/%s in cluster %q: %w", probeNamespace, name, cluster, err)
	}
	defer func() {
		// The probe holds nothing of value, so a failed delete leaves only
		// clutter, which the next Start's empty etcd removes.
		deleteCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := i.cp.apiRequest(deleteCtx, http.MethodDelete, secretsURL+"/"+name, nil, http.StatusOK); err != nil {
			i.cp.log.Error(err, "deleting the encryption probe Secret failed", "cluster", cluster, "secret", probeNamespace+"/"+name)
		}
	}()

	key := cl.EtcdPrefix + "/secrets/" + probeNamespace + "/" + name
	value, err := i.cp.etcdValue(ctx, key)
	if err != nil {
		return false, "", err
	}

	const encryptedPrefix = "k8s:enc:"
	if !bytes.HasPrefix(value, []byte(encryptedPrefix)) || bytes.Contains(value, []byte(plaintext)) {
		return false, fmt.Sprintf("a probe Secret was stored in etcd unencrypted: its value starts with %q, not %q",
			value[:min(len(value), 12)], encryptedPrefix), nil
	}
	// The value is k8s:enc:<provider>:v1:<key name>:<ciphertext>.
	fields := strings.SplitN(string(value), ":", 6)
	provider, keyName := "unknown", "unknown"
	if len(fields) == 6 {
		provider, keyName = fields[2], fields[4]
	}
	return true, fmt.Sprintf("a probe Secret was stored in etcd encrypted by the %s provider with key %s", provider, keyName), nil
}

// AuditLogging reports whether the cluster's API server records requests in
// an audit log file. It reads the log path from the running
// kube-apiserver's --audit-log-path and requests a configmap whose name
// occurs nowhere else. Then it waits up to 10 s for an event with that
// request's URI in the file. Like EncryptionAtRest's, its message does not
// name the probe.
func (i *Inspector) AuditLogging(ctx context.Context, cluster string) (bool, string, error) {
	cl := i.cp.Cluster(cluster)
	if cl == nil {
		return false, "", fmt.Errorf("cluster %q not found in the control plane in %s", cluster, i.cp.StateDir)
	}
	p := i.cp.process(processName(roleAPIServer, cluster))
	if p == nil {
		return false, "", fmt.Errorf("kube-apiserver of cluster %q is not running", cluster)
	}
	logPath := flagValue(p.cmd.Args, "--audit-log-path")
	policyPath := flagValue(p.cmd.Args, "--audit-policy-file")
	switch {
	case logPath == "" || policyPath == "":
		return false, fmt.Sprintf("kube-apiserver (pid %d) runs without --audit-policy-file and --audit-log-path, so it records no audit events", p.pid()), nil
	case logPath == "-":
		return false, fmt.Sprintf("kube-apiserver (pid %d) writes audit events to its standard output, not to a file", p.pid()), nil
	}

	offset := int64(0)
	if info, err := os.Stat(logPath); err == nil {
		offset = info.Size()
	}
	uri := "/api/v1/namespaces/" + probeNamespace + "/configmaps/estate-audit-probe-" + randomHex(8)
	if _, err := i.cp.apiRequest(ctx, http.MethodGet, cl.URL+uri, nil, http.StatusNotFound); err != nil {
		return false, "", fmt.Errorf("audit probe request to cluster %q: %w", cluster, err)
	}

	deadline := time.Now().Add(auditWait)
	for {
		event, err := findAuditEvent(logPath, offset, uri)
		if err != nil {
			return false, "", err
		}
		if event != nil {
			return true, fmt.Sprintf("audit log %s recorded a probe %s request at level %s", logPath, strings.ToUpper(event.Verb), event.Level), nil
		}
		if time.Now().After(deadline) {
			return false, fmt.Sprintf("no event for a probe GET request reached the audit log %s within %s", logPath, auditWait), nil
		}
		select {
		case <-ctx.Done():
			return false, "", fmt.Errorf("wait for audit event in %s: %w", logPath, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// auditEvent holds the fields of an audit.k8s.io/v1 Event that the
// inspector reads.
type auditEvent struct {
	Kind       string `json:"kind"`
	Level      string `json:"level"`
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
}

// findAuditEvent returns the first event at or after offset in the JSON
// lines audit log whose requestURI is uri, or nil when there is none yet.
func findAuditEvent(path string, offset int64, uri string) (*auditEvent, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	defer f.Close()
	// A file smaller than offset was rotated since offset was read, and the
	// event is in the new file.
	if info, err := f.Stat(); err == nil && info.Size() < offset {
		offset = 0
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, fmt.Errorf("seek in audit log %s: %w", path, err)
	}

	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for scanner.Scan() {
		line := scanner.Bytes()
		if !bytes.Contains(line, []byte(uri)) {
			continue
		}
		var event auditEvent
		if err := json.Unmarshal(line, &event); err != nil {
			// A line still being written ends mid-object; the next poll
			// reads it whole.
			continue
		}
		if event.Kind == "Event" && event.RequestURI == uri {
			return &event, nil
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read audit log %s: %w", path, err)
	}
	return nil, nil
}

// flagValue returns the value of a --name=value argument, or "".
func flagValue(args []string, name string) string {
	for _, arg := range args {
		if value, ok := strings.CutPrefix(arg, name+"="); ok {
			return value
		}
	}
	return ""
}

// process returns the running child process with the given name, or nil.
func (c *ControlPlane) process(name string) *process {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.processes {
		if p.name == name && !p.exited() {
			return p
		}
	}
	return nil
}

// etcdValue reads one key straight from etcd with the v3 client.
func (c *ControlPlane) etcdValue(ctx context.Context, key string) ([]byte, error) {
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{c.EtcdURL},
		DialTimeout: 5 * time.Second,
		Context:     ctx,
		// The client's default logger writes to standard error.
		Logger: zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("connect to etcd at %s: %w", c.EtcdURL, err)
	}
	defer client.Close()

	getCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := client.Get(getCtx, key)
	if err != nil {
		return nil, fmt.Errorf("read key %s from etcd at %s: %w", key, c.EtcdURL, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("key %s not found in etcd at %s: the API server stores Secrets elsewhere, check its --etcd-prefix", key, c.EtcdURL)
	}
	return resp.Kvs[0].Value, nil
}

// apiRequest sends a request with the admin token and returns the body when
// the response has the expected status.
func (c *ControlPlane) apiRequest(ctx context.Context, method, url string, body []byte, expectedStatus int) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.AdminToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()

	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read response from %s %s: %w", method, url, err)
	}
	if resp.StatusCode != expectedStatus {
		const maxBody = 300
		return nil, fmt.Errorf("%s %s: %s, expected status %d: %s", method, url, resp.Status, expectedStatus, data[:min(len(data), maxBody)])
	}
	return data, nil
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	// Since Go 1.24 crypto/rand.Read crashes the program rather than
	// return an error.
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
