package localcp

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ClusterOptions turn on kube-apiserver features for a cluster that
// AddClusterWithOptions starts.
type ClusterOptions struct {
	// EncryptSecrets starts kube-apiserver with an EncryptionConfiguration
	// that encrypts Secrets in etcd with the secretbox provider
	// (XSalsa20-Poly1305) under a 32-byte key generated for this cluster.
	// The key is written to clusters/<name>/encryption-config.yaml with mode
	// 0600 and lives only as long as the state directory.
	EncryptSecrets bool
	// AuditLog starts kube-apiserver with an audit policy that records
	// every request at level Metadata, written as JSON lines to
	// clusters/<name>/audit.log. The API server rotates the file at 100 MB
	// and keeps one old file.
	AuditLog bool
}

// encryptionKeyName is the name of the only key in the generated
// EncryptionConfiguration. Encrypted values in etcd start with
// "k8s:enc:secretbox:v1:<key name>:".
const encryptionKeyName = "estate-dev"

// writeClusterOptionFiles writes the files that opts need into dir and
// records their paths in cluster.
func writeClusterOptionFiles(dir string, cluster *Cluster, opts ClusterOptions) error {
	if opts.EncryptSecrets {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return fmt.Errorf("generate encryption key for cluster %q: %w", cluster.Name, err)
		}
		path := filepath.Join(dir, "encryption-config.yaml")
		config := strings.Join([]string{
			"apiVersion: apiserver.config.k8s.io/v1",
			"kind: EncryptionConfiguration",
			"resources:",
			"- resources:",
			"  - secrets",
			"  providers:",
			"  - secretbox:",
			"      keys:",
			"      - name: " + encryptionKeyName,
			"        secret: " + base64.StdEncoding.EncodeToString(key),
			// identity, listed last, lets the API server read Secrets
			// written before encryption was turned on, while new writes
			// use secretbox.
			"  - identity: {}",
		}, "\n") + "\n"
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			return fmt.Errorf("write encryption configuration for cluster %q: %w", cluster.Name, err)
		}
		cluster.EncryptionConfigPath = path
	}

	if opts.AuditLog {
		policyPath := filepath.Join(dir, "audit-policy.yaml")
		policy := "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n"
		if err := os.WriteFile(policyPath, []byte(policy), 0o600); err != nil {
			return fmt.Errorf("write audit policy for cluster %q: %w", cluster.Name, err)
		}
		cluster.AuditPolicyPath = policyPath
		cluster.AuditLogPath = filepath.Join(dir, "audit.log")
	}
	return nil
}

// optionArgs returns the kube-apiserver flags for the files that
// writeClusterOptionFiles recorded in cluster.
func optionArgs(cluster *Cluster) []string {
	var args []string
	if cluster.EncryptionConfigPath != "" {
		args = append(args, "--encryption-provider-config="+cluster.EncryptionConfigPath)
	}
	if cluster.AuditPolicyPath != "" {
		args = append(args,
			"--audit-policy-file="+cluster.AuditPolicyPath,
			"--audit-log-path="+cluster.AuditLogPath,
			"--audit-log-format=json",
			"--audit-log-maxsize=100",
			"--audit-log-maxbackup=1",
		)
	}
	return args
}
