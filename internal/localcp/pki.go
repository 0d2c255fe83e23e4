package localcp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// certificateLifetime is the validity of the generated CA and serving
// certificate. Every Start generates new ones.
const certificateLifetime = 365 * 24 * time.Hour

// adminUser is the user that the admin token authenticates as. Its group
// system:masters is bound to cluster-admin by the API server's default RBAC
// policy.
const adminUser = "estate-admin"

// pkiFiles are the CA, serving certificate and token file that every API
// server of a control plane shares.
type pkiFiles struct {
	caPEM           []byte
	caCertPath      string
	servingCertPath string
	servingKeyPath  string
	tokenFilePath   string
	adminToken      string
}

// serviceAccountKeys is the key pair that one API server signs and verifies
// service account tokens with. Each cluster has its own pair.
type serviceAccountKeys struct {
	privateKeyPath string
	publicKeyPath  string
}

// generatePKI writes a CA, a serving certificate for 127.0.0.1 and localhost
// signed by it, and a static token file with one admin token into dir.
func generatePKI(dir string) (*pkiFiles, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	caSerial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTemplate := &x509.Certificate{
		SerialNumber:          caSerial,
		Subject:               pkix.Name{CommonName: "estate-dev-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certificateLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parse generated CA certificate: %w", err)
	}

	servingKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate serving key: %w", err)
	}
	servingSerial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	servingTemplate := &x509.Certificate{
		SerialNumber: servingSerial,
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certificateLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	servingDER, err := x509.CreateCertificate(rand.Reader, servingTemplate, caCert, &servingKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create serving certificate: %w", err)
	}

	token, err := randomToken()
	if err != nil {
		return nil, err
	}

	files := &pkiFiles{
		caPEM:           pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		caCertPath:      filepath.Join(dir, "ca.crt"),
		servingCertPath: filepath.Join(dir, "serving.crt"),
		servingKeyPath:  filepath.Join(dir, "serving.key"),
		tokenFilePath:   filepath.Join(dir, "tokens.csv"),
		adminToken:      token,
	}
	caKeyPEM, err := privateKeyPEM(caKey)
	if err != nil {
		return nil, err
	}
	servingKeyPEM, err := privateKeyPEM(servingKey)
	if err != nil {
		return nil, err
	}
	// The token file format is token,user,uid,"group1,group2".
	tokenLine := fmt.Sprintf("%s,%s,%s,\"system:masters\"\n", token, adminUser, adminUser)

	writes := []struct {
		path string
		data []byte
	}{
		{files.caCertPath, files.caPEM},
		{filepath.Join(dir, "ca.key"), caKeyPEM},
		{files.servingCertPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: servingDER})},
		{files.servingKeyPath, servingKeyPEM},
		{files.tokenFilePath, []byte(tokenLine)},
	}
	for _, w := range writes {
		if err := os.WriteFile(w.path, w.data, 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", w.path, err)
		}
	}
	return files, nil
}

// generateServiceAccountKeys writes a new ECDSA key pair for signing service
// account tokens into dir.
func generateServiceAccountKeys(dir string) (serviceAccountKeys, error) {
	keys := serviceAccountKeys{
		privateKeyPath: filepath.Join(dir, "sa.key"),
		publicKeyPath:  filepath.Join(dir, "sa.pub"),
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return keys, fmt.Errorf("generate service account key: %w", err)
	}
	keyPEM, err := privateKeyPEM(key)
	if err != nil {
		return keys, err
	}
	publicDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return keys, fmt.Errorf("encode service account public key: %w", err)
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return keys, fmt.Errorf("create directory for service account keys: %w", err)
	}
	if err := os.WriteFile(keys.privateKeyPath, keyPEM, 0o600); err != nil {
		return keys, fmt.Errorf("write %s: %w", keys.privateKeyPath, err)
	}
	publicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: publicDER})
	if err := os.WriteFile(keys.publicKeyPath, publicPEM, 0o600); err != nil {
		return keys, fmt.Errorf("write %s: %w", keys.publicKeyPath, err)
	}
	return keys, nil
}

func privateKeyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// randomSerial returns a random 128-bit certificate serial number.
func randomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generate certificate serial number: %w", err)
	}
	return serial, nil
}

// randomToken returns 32 random bytes in hex, for use as a bearer token.
func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate admin token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// writeKubeconfig writes a kubeconfig with one cluster, user and context,
// all named estate-<cluster name>. It is written with mode 0600 because it
// contains the admin token.
func writeKubeconfig(path string, cluster *Cluster, pki *pkiFiles) error {
	name := "estate-" + cluster.Name
	// Every interpolated value is a DNS label, a loopback URL, base64 or hex,
	// so none needs YAML quoting.
	lines := []string{
		"apiVersion: v1",
		"kind: Config",
		"clusters:",
		"- name: " + name,
		"  cluster:",
		"    server: " + cluster.URL,
		"    certificate-authority-data: " + base64.StdEncoding.EncodeToString(pki.caPEM),
		"users:",
		"- name: " + name + "-admin",
		"  user:",
		"    token: " + pki.adminToken,
		"contexts:",
		"- name: " + name,
		"  context:",
		"    cluster: " + name,
		"    user: " + name + "-admin",
		"current-context: " + name,
	}
	data := []byte(strings.Join(lines, "\n") + "\n")
	if err := writeFileAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig for cluster %q: %w", cluster.Name, err)
	}
	return nil
}
