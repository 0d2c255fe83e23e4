//go:build e2e

package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gruntwork-io/terratest/modules/k8s"
	"github.com/gruntwork-io/terratest/modules/logger"
	"github.com/gruntwork-io/terratest/modules/shell"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

// placementPollInterval is the pause between kubectl polls in the
// benchmark. Each poll also starts a kubectl process, so the measured time
// to placement is late by up to this interval plus one kubectl run.
const placementPollInterval = 100 * time.Millisecond

// readyElapsed matches the startup time that dev run and dev up log once
// the control plane, the CRDs and the operators are ready.
var readyElapsed = regexp.MustCompile(`Local control plane ready\s.*"elapsed": "([^"]+)"`)

// devRunRow is one row of `estatectl dev run -o json`.
type devRunRow struct {
	Workload string `json:"workload"`
	Site     string `json:"site"`
	Placed   string `json:"placed"`
}

// BenchmarkReferenceEstatePlacement measures the reference estate end to
// end. DevRun times `estatectl dev run` from start to exit: it starts a
// control plane, applies the estate, waits for the operators and stops.
// ApplyToPlaced times `kubectl apply` of the estate into a running control
// plane until every workload has a placement decision. Both work with
// -benchtime 1x.
func BenchmarkReferenceEstatePlacement(b *testing.B) {
	paths := locateRepo(b)
	expected := loadReferencePlacements(b, paths)

	b.Run("DevRun", func(b *testing.B) {
		benchmarkDevRun(b, paths, expected)
	})
	b.Run("ApplyToPlaced", func(b *testing.B) {
		benchmarkApplyToPlaced(b, paths, expected)
	})
}

func benchmarkDevRun(b *testing.B, paths repoPaths, expected []expectedPlacement) {
	// dev run makes its state directory under TMPDIR, so each run's files,
	// and the processes that use them, can be found under this directory.
	tmp := b.TempDir()
	var startup time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		stdout, stderr, err := shell.RunCommandAndGetStdOutErrE(b, shell.Command{
			Command: paths.estatectl,
			Args:    []string{"dev", "run", "-f", paths.estate, "-o", "json", "--bin-dir", paths.bin},
			Env:     map[string]string{"TMPDIR": tmp},
			Logger:  logger.Discard,
		})
		b.StopTimer()
		if err != nil {
			b.Fatalf("estatectl dev run failed: %v\nstderr:\n%s", err, stderr)
		}
		checkDevRunRows(b, expected, stdout)
		m := readyElapsed.FindStringSubmatch(stderr)
		if m == nil {
			b.Fatalf("the dev run log has no \"Local control plane ready\" line with an elapsed time:\n%s", stderr)
		}
		d, err := time.ParseDuration(m[1])
		if err != nil {
			b.Fatalf("parsing the startup time %q: %v", m[1], err)
		}
		startup += d
		remaining, err := controlPlaneProcesses(tmp)
		if err != nil {
			b.Fatal(err)
		}
		if len(remaining) > 0 {
			b.Fatalf("control plane processes still run after estatectl dev run exited: %s", strings.Join(remaining, ", "))
		}
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/op")
	b.ReportMetric(startup.Seconds()/float64(b.N), "startup-s/op")
}

// checkDevRunRows checks the placement table that dev run printed against
// the README's.
func checkDevRunRows(b *testing.B, expected []expectedPlacement, stdout string) {
	b.Helper()
	var rows []devRunRow
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
		b.Fatalf("decoding the dev run JSON: %v\n%s", err, stdout)
	}
	if len(rows) != len(expected) {
		b.Errorf("dev run printed %d workloads, want %d", len(rows), len(expected))
	}
	got := make(map[string]devRunRow, len(rows))
	for _, row := range rows {
		got[row.Workload] = row
	}
	for _, want := range expected {
		row, ok := got[want.workload]
		if !ok {
			b.Errorf("dev run printed no row for %s", want.workload)
			continue
		}
		if row.Site != want.site {
			b.Errorf("dev run placed %s on %q, want %q", want.workload, row.Site, want.site)
		}
		if row.Placed != "True" {
			b.Errorf("dev run reports %s as placed=%q, want True", want.workload, row.Placed)
		}
	}
}

func benchmarkApplyToPlaced(b *testing.B, paths repoPaths, expected []expectedPlacement) {
	dev := startDevUp(b, paths)
	// Sites, the network and the namespaces exist before the first
	// iteration, so every iteration does the same work: the apply creates
	// the workloads and leaves the rest unchanged.
	k8s.RunKubectl(b, dev.quiet, "apply", "--server-side",
		"-f", filepath.Join(paths.estate, "namespaces.yaml"),
		"-f", filepath.Join(paths.estate, "network.yaml"),
		"-R", "-f", filepath.Join(paths.estate, "sites"))
	waitForSites(b, dev, func(site *estatev1.HostingSite) error {
		if site.Status.ObservedGeneration != site.Generation {
			return fmt.Errorf("site %s: status.observedGeneration is %d, want %d", site.Name, site.Status.ObservedGeneration, site.Generation)
		}
		return nil
	})

	want := len(expected)
	var apply time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StartTimer()
		start := time.Now()
		k8s.RunKubectl(b, dev.quiet, "apply", "--server-side", "-R", "-f", paths.estate)
		apply += time.Since(start)
		workloads := pollPlacements(b, dev, want, 2*time.Minute)
		b.StopTimer()

		for j := range workloads {
			w := &workloads[j]
			if w.Status.Placement == nil || w.Status.Placement.Site == "" {
				b.Errorf("%s has no site", workloadKey(w))
			}
		}
		k8s.RunKubectl(b, dev.quiet, "delete", workloadResource, "--all", "--all-namespaces", "--wait", "--timeout=2m")
		waitForSites(b, dev, func(site *estatev1.HostingSite) error {
			if n := len(site.Status.Reservations); n > 0 {
				return fmt.Errorf("site %s still holds %d reservations", site.Name, n)
			}
			return nil
		})
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/op")
	b.ReportMetric(apply.Seconds()/float64(b.N), "apply-s/op")
	b.ReportMetric(float64(want*b.N)/b.Elapsed().Seconds(), "workloads/s")
}

// pollPlacements polls every placementPollInterval until want workloads
// have a placement decision, and fails the benchmark after timeout.
func pollPlacements(b *testing.B, dev *devControlPlane, want int, timeout time.Duration) []estatev1.Workload {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for {
		workloads, err := dev.placedWorkloads(b, want)
		if err == nil {
			return workloads
		}
		if err := dev.exitedError(); err != nil {
			b.Fatal(err)
		}
		if time.Now().After(deadline) {
			b.Fatalf("timed out after %s waiting for placements: %v", timeout, err)
		}
		time.Sleep(placementPollInterval)
	}
}

// waitForSites polls the hosting sites until check passes for each of them,
// and fails the benchmark after one minute.
func waitForSites(b *testing.B, dev *devControlPlane, check func(*estatev1.HostingSite) error) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		sites, err := dev.listSites(b)
		if err == nil && len(sites) == 0 {
			err = errors.New("no hosting sites")
		}
		for i := range sites {
			if err != nil {
				break
			}
			err = check(&sites[i])
		}
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("timed out after 1m waiting for the hosting sites: %v", err)
		}
		time.Sleep(placementPollInterval)
	}
}
