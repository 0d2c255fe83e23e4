//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gruntwork-io/terratest/modules/k8s"
	"k8s.io/apimachinery/pkg/api/meta"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

// BenchmarkProvisioning measures provisioning on the local control plane:
// the reference estate (member clusters for the Kubernetes-backed sites,
// plans for the cloud sites), and 1,000 workloads spread across three
// member clusters. It reports the time until every workload is provisioned
// and the resident memory of the estatectl process that runs the operators.
func BenchmarkProvisioning(b *testing.B) {
	paths := locateRepo(b)
	b.Run("ReferenceEstate", func(b *testing.B) {
		for range b.N {
			dev := startDevUp(b, paths)
			start := time.Now()
			k8s.RunKubectl(b, dev.quiet, "apply", "--server-side", "-R", "-f", paths.estate)
			waitProvisioned(b, dev, 29, 5*time.Minute)
			b.ReportMetric(time.Since(start).Seconds(), "apply-to-provisioned-s")
			b.ReportMetric(residentMiB(b, dev.cmd.Process.Pid), "operator-MiB")
			if _, err := dev.interrupt(90 * time.Second); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Workloads1000", func(b *testing.B) {
		for range b.N {
			dev := startDevUp(b, paths)
			dir := b.TempDir()
			writeScaleEstate(b, dir, 3, 10, 100)
			start := time.Now()
			k8s.RunKubectl(b, dev.quiet, "apply", "--server-side", "-R", "-f", dir)
			waitProvisioned(b, dev, 1000, 20*time.Minute)
			elapsed := time.Since(start)
			b.ReportMetric(elapsed.Seconds(), "apply-to-provisioned-s")
			b.ReportMetric(1000/elapsed.Seconds(), "workloads/s")
			b.ReportMetric(residentMiB(b, dev.cmd.Process.Pid), "operator-MiB")
			if _, err := dev.interrupt(90 * time.Second); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// waitProvisioned polls until want workloads are Provisioned with reason
// Applied or PlanOnly for their current generation.
func waitProvisioned(b *testing.B, dev *devControlPlane, want int, timeout time.Duration) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	last := -1
	for {
		workloads, err := dev.listWorkloads(b)
		done := 0
		if err == nil {
			for i := range workloads {
				w := &workloads[i]
				c := meta.FindStatusCondition(w.Status.Conditions, estatev1.ConditionProvisioned)
				if c != nil && c.ObservedGeneration == w.Generation && (c.Reason == estatev1.ReasonApplied || c.Reason == estatev1.ReasonPlanOnly) {
					done++
				}
			}
		}
		if done >= want {
			return
		}
		if done != last {
			b.Logf("%d of %d workloads provisioned", done, want)
			last = done
		}
		if err := dev.exitedError(); err != nil {
			b.Fatal(err)
		}
		if time.Now().After(deadline) {
			b.Fatalf("timed out after %s with %d of %d workloads provisioned (last list error: %v)", timeout, done, want, err)
		}
		time.Sleep(time.Second)
	}
}

// writeScaleEstate writes into dir a network, the given number of
// Kubernetes-backed sites, and namespaces × perNamespace workloads, each
// pinned round-robin to one site so the sites share the load evenly.
func writeScaleEstate(b *testing.B, dir string, sites, namespaces, perNamespace int) {
	b.Helper()
	var out strings.Builder
	out.WriteString(`apiVersion: estate.homeoffice.gov.uk/v1alpha1
kind: Network
metadata: {name: scale}
spec:
  addressSpaces: [10.0.0.0/8]
  zones: [{name: application, trustLevel: Medium}]
  allocation: {sitePrefixLength: 16, zonePrefixLength: 18, workloadPrefixLength: 28}
`)
	for s := range sites {
		fmt.Fprintf(&out, `---
apiVersion: estate.homeoffice.gov.uk/v1alpha1
kind: HostingSite
metadata: {name: scale-site-%[1]d}
spec:
  tier: OnPremises
  provider: home-office
  region: dc-%[1]d
  jurisdiction: GB
  accreditation: OFFICIAL-SENSITIVE
  capacity: {cpu: "4000", memory: 16Ti, workloads: 1000}
  connection:
    kubeconfigSecretRef: {namespace: estate-system, name: site-scale-site-%[1]d-kubeconfig}
`, s)
	}
	for n := range namespaces {
		fmt.Fprintf(&out, "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: scale-%d}\n", n)
		for w := range perNamespace {
			fmt.Fprintf(&out, `---
apiVersion: estate.homeoffice.gov.uk/v1alpha1
kind: Workload
metadata: {name: app-%[2]d, namespace: scale-%[1]d}
spec:
  owner: {businessArea: scale-%[1]d}
  businessCapability: Fulfil
  classification: OFFICIAL-SENSITIVE
  hosting: {sites: [scale-site-%[3]d]}
  resources: {cpu: 100m, memory: 128Mi}
  components: [{name: app, image: registry.example/app:1, replicas: 1}]
  zone: application
`, n, w, (n*perNamespace+w)%sites)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "estate.yaml"), []byte(out.String()), 0o600); err != nil {
		b.Fatal(err)
	}
}

// residentMiB reads a process's resident set size from /proc.
func residentMiB(b *testing.B, pid int) float64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatalf("reading the memory of pid %d: %v", pid, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				b.Fatalf("parsing VmRSS %q: %v", line, err)
			}
			return float64(kib) / 1024
		}
	}
	b.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}
