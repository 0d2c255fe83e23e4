package localcp

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestClusterOptionsAndInspector(t *testing.T) {
	cp := startControlPlane(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	secure, err := cp.AddClusterWithOptions(ctx, "secure", ClusterOptions{EncryptSecrets: true, AuditLog: true})
	if err != nil {
		t.Fatalf("AddClusterWithOptions(secure): %v", err)
	}
	plain, err := cp.AddClusterWithOptions(ctx, "plain", ClusterOptions{})
	if err != nil {
		t.Fatalf("AddClusterWithOptions(plain): %v", err)
	}
	inspector := cp.Inspector()

	t.Run("option files are private", func(t *testing.T) {
		for _, path := range []string{secure.EncryptionConfigPath, secure.AuditPolicyPath} {
			info, err := os.Stat(path)
			if err != nil {
				t.Fatalf("stat %q: %v", path, err)
			}
			if mode := info.Mode().Perm(); mode != 0o600 {
				t.Errorf("%s has mode %o, expected 600", path, mode)
			}
		}
	})

	t.Run("plain cluster has no option paths", func(t *testing.T) {
		if plain.EncryptionConfigPath != "" || plain.AuditPolicyPath != "" || plain.AuditLogPath != "" {
			t.Errorf("plain cluster paths = %q, %q, %q, expected all empty", plain.EncryptionConfigPath, plain.AuditPolicyPath, plain.AuditLogPath)
		}
	})

	t.Run("secrets encrypted in etcd", func(t *testing.T) {
		ok, message, err := inspector.EncryptionAtRest(ctx, "secure")
		if err != nil {
			t.Fatalf("EncryptionAtRest(secure): %v", err)
		}
		if !ok {
			t.Errorf("EncryptionAtRest(secure) = false: %s", message)
		}
		if !strings.Contains(message, "secretbox provider with key "+encryptionKeyName) {
			t.Errorf("message %q does not name the secretbox provider and key", message)
		}
	})

	t.Run("secrets unencrypted without the option", func(t *testing.T) {
		ok, message, err := inspector.EncryptionAtRest(ctx, "plain")
		if err != nil {
			t.Fatalf("EncryptionAtRest(plain): %v", err)
		}
		if ok {
			t.Errorf("EncryptionAtRest(plain) = true: %s", message)
		}
		if !strings.Contains(message, "unencrypted") {
			t.Errorf("message %q does not say the Secret is unencrypted", message)
		}
	})

	t.Run("probe secret is deleted", func(t *testing.T) {
		out, err := runKubectl(t, secure.KubeconfigPath, "get", "secrets", "-n", probeNamespace, "-o", "name")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, "estate-encryption-probe") {
			t.Errorf("probe Secret left behind: %s", out)
		}
	})

	t.Run("requests reach the audit log", func(t *testing.T) {
		ok, message, err := inspector.AuditLogging(ctx, "secure")
		if err != nil {
			t.Fatalf("AuditLogging(secure): %v", err)
		}
		if !ok {
			t.Errorf("AuditLogging(secure) = false: %s", message)
		}
		if !strings.Contains(message, "at level Metadata") {
			t.Errorf("message %q does not give the event's level", message)
		}
		log, err := os.ReadFile(secure.AuditLogPath)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(log), `"requestObject"`) {
			t.Errorf("audit log records request bodies, expected level Metadata only")
		}
	})

	t.Run("no audit log without the option", func(t *testing.T) {
		ok, message, err := inspector.AuditLogging(ctx, "plain")
		if err != nil {
			t.Fatalf("AuditLogging(plain): %v", err)
		}
		if ok {
			t.Errorf("AuditLogging(plain) = true: %s", message)
		}
		if !strings.Contains(message, "--audit-log-path") {
			t.Errorf("message %q does not name the missing flag", message)
		}
	})

	t.Run("unknown cluster is an error", func(t *testing.T) {
		if _, _, err := inspector.EncryptionAtRest(ctx, "missing"); err == nil {
			t.Errorf("EncryptionAtRest(missing) returned no error")
		}
		if _, _, err := inspector.AuditLogging(ctx, "missing"); err == nil {
			t.Errorf("AuditLogging(missing) returned no error")
		}
	})

	// Memory figures for the record. They are not checked.
	for _, p := range cp.Processes() {
		if !strings.HasSuffix(p.Name, "-secure") && !strings.HasSuffix(p.Name, "-plain") {
			continue
		}
		kib, err := residentKiB(p.PID)
		if err != nil {
			t.Errorf("read RSS of %s: %v", p.Name, err)
			continue
		}
		t.Logf("RSS of %s (pid %d): %d MiB", p.Name, p.PID, kib/1024)
	}
}
