//go:build e2e

// Package e2e tests estatectl and the estate operators end to end: a real
// local control plane started by `estatectl dev up`, the reference estate
// applied with kubectl, and the results read back with kubectl and estatectl.
//
// Build the binaries first with `make tools build`, then run
// `go test -tags e2e ./test/e2e/`.
package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gruntwork-io/terratest/modules/k8s"
	"github.com/gruntwork-io/terratest/modules/logger"
	"github.com/gruntwork-io/terratest/modules/retry"
	"github.com/gruntwork-io/terratest/modules/shell"
	"k8s.io/apimachinery/pkg/api/meta"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

// Fully qualified resource names, so kubectl never resolves them to another
// API group's kinds.
const (
	workloadResource = "workloads.estate.homeoffice.gov.uk"
	siteResource     = "hostingsites.estate.homeoffice.gov.uk"
)

// cleanupStopTimeout bounds the wait for dev up to exit after SIGINT when a
// test ends without stopping it. dev up waits up to 30 s for the operators,
// then up to 20 s for each control plane process before SIGKILL, so 90 s is
// an estimate that covers a slow but clean stop.
const cleanupStopTimeout = 90 * time.Second

// controlPlaneBinaries are the processes dev up starts with the state
// directory on their command line.
var controlPlaneBinaries = map[string]bool{"etcd": true, "kube-apiserver": true, "kube-controller-manager": true}

// repoPaths are the absolute paths the tests use in the repository.
type repoPaths struct {
	// root is the repository root, which contains go.mod.
	root string
	// bin is $ESTATE_BIN or <root>/bin.
	bin       string
	estatectl string
	// estate is the reference estate, examples/estate.
	estate string
}

// locateRepo finds the repository and its binaries, and puts the binary
// directory first on PATH so that terratest's kubectl is the one make tools
// built. It fails the test, never skips it, when a binary is missing.
func locateRepo(tb testing.TB) repoPaths {
	tb.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		tb.Fatalf("resolving the repository root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		tb.Fatalf("repository root %s has no go.mod: run the test with go test from the repository: %v", root, err)
	}

	bin := os.Getenv("ESTATE_BIN")
	if bin == "" {
		bin = filepath.Join(root, "bin")
	}
	if bin, err = filepath.Abs(bin); err != nil {
		tb.Fatalf("resolving the binary directory: %v", err)
	}
	fixes := []struct{ binary, fix string }{
		{"estatectl", "run `make build`"},
		{"kubectl", "run `make tools`"},
		{"etcd", "run `make tools`"},
		{"kube-apiserver", "run `make tools`"},
		{"kube-controller-manager", "run `make tools`"},
	}
	for _, f := range fixes {
		info, err := os.Stat(filepath.Join(bin, f.binary))
		if err != nil || !info.Mode().IsRegular() {
			tb.Fatalf("%s not found in %s: %s, or set ESTATE_BIN to the directory that holds it", f.binary, bin, f.fix)
		}
	}

	tb.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	kubectl, err := exec.LookPath("kubectl")
	if err != nil || kubectl != filepath.Join(bin, "kubectl") {
		tb.Fatalf("kubectl resolves to %q (error %v), want %s from the binary directory", kubectl, err, filepath.Join(bin, "kubectl"))
	}

	return repoPaths{
		root:      root,
		bin:       bin,
		estatectl: filepath.Join(bin, "estatectl"),
		estate:    filepath.Join(root, "examples", "estate"),
	}
}

// devControlPlane is an `estatectl dev up` process that a test started.
type devControlPlane struct {
	paths      repoPaths
	stateDir   string
	kubeconfig string
	// logPath is the file of dev up's stdout and stderr. It is outside
	// stateDir, which dev up removes when it stops.
	logPath string
	// kubectl logs every command and its output through terratest.
	kubectl *k8s.KubectlOptions
	// quiet is kubectl without logging, for polls and large JSON output.
	quiet *k8s.KubectlOptions

	cmd *exec.Cmd
	// exited is closed once the process has exited and been reaped.
	exited chan struct{}
	// exitErr is the result of cmd.Wait, valid once exited is closed.
	exitErr error
}

// startDevUp starts `estatectl dev up` in a new state directory under
// tb.TempDir and waits until the kubeconfig exists and the Workload CRD is
// served. A cleanup stops the process with SIGINT if the test has not, and
// prints the tail of its log when the test failed.
func startDevUp(tb testing.TB, paths repoPaths) *devControlPlane {
	tb.Helper()
	dir := tb.TempDir()
	d := &devControlPlane{
		paths:    paths,
		stateDir: filepath.Join(dir, "dev"),
		logPath:  filepath.Join(dir, "dev-up.log"),
		exited:   make(chan struct{}),
	}
	d.kubeconfig = filepath.Join(d.stateDir, "kubeconfig")
	d.kubectl = k8s.NewKubectlOptions("", d.kubeconfig, "")
	d.quiet = k8s.NewKubectlOptions("", d.kubeconfig, "")
	d.quiet.Logger = logger.Discard

	logFile, err := os.Create(d.logPath)
	if err != nil {
		tb.Fatalf("creating the dev up log: %v", err)
	}
	d.cmd = exec.Command(paths.estatectl, "dev", "up", "--state-dir", d.stateDir, "--bin-dir", paths.bin)
	d.cmd.Stdout = logFile
	d.cmd.Stderr = logFile
	start := time.Now()
	err = d.cmd.Start()
	// The child has its own copy of the log descriptor, so ours can close now.
	_ = logFile.Close()
	if err != nil {
		tb.Fatalf("starting estatectl dev up: %v", err)
	}
	go func() {
		d.exitErr = d.cmd.Wait()
		close(d.exited)
	}()
	tb.Cleanup(func() { d.cleanup(tb) })

	_, err = retry.DoWithRetryE(tb, "wait for the dev up kubeconfig", 120, 500*time.Millisecond, func() (string, error) {
		if err := d.exitedError(); err != nil {
			return "", retry.FatalError{Underlying: err}
		}
		_, err := os.Stat(d.kubeconfig)
		return "", err
	})
	if err != nil {
		tb.Fatalf("estatectl dev up wrote no kubeconfig at %s: %v", d.kubeconfig, err)
	}
	_, err = retry.DoWithRetryE(tb, "wait for the Workload CRD", 60, 500*time.Millisecond, func() (string, error) {
		if err := d.exitedError(); err != nil {
			return "", retry.FatalError{Underlying: err}
		}
		return k8s.RunKubectlAndGetOutputE(tb, d.quiet, "get", "crd", workloadResource)
	})
	if err != nil {
		tb.Fatalf("CRD %s was not served by the dev up control plane: %v", workloadResource, err)
	}
	tb.Logf("estatectl dev up served the estate CRDs %s after start (pid %d, state directory %s)",
		time.Since(start).Round(time.Millisecond), d.cmd.Process.Pid, d.stateDir)
	return d
}

// exitedError returns an error when the process has already exited.
func (d *devControlPlane) exitedError() error {
	select {
	case <-d.exited:
		return fmt.Errorf("estatectl dev up exited early (%v); its log is %s", d.exitErr, d.logPath)
	default:
		return nil
	}
}

// interrupt sends SIGINT and waits up to timeout for the process to exit. It
// returns the time the exit took and the error of cmd.Wait, which is nil
// only for exit status 0. A process that has already exited returns at once.
func (d *devControlPlane) interrupt(timeout time.Duration) (time.Duration, error) {
	select {
	case <-d.exited:
		return 0, d.exitErr
	default:
	}
	start := time.Now()
	if err := d.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return 0, fmt.Errorf("sending SIGINT to estatectl dev up (pid %d): %w", d.cmd.Process.Pid, err)
	}
	select {
	case <-d.exited:
		return time.Since(start), d.exitErr
	case <-time.After(timeout):
		return time.Since(start), fmt.Errorf("estatectl dev up (pid %d) did not exit within %s of SIGINT", d.cmd.Process.Pid, timeout)
	}
}

// cleanup stops a process the test left running. When SIGINT does not stop
// it in time, `estatectl dev down` stops the children recorded in the state
// directory and SIGKILL ends the owner.
func (d *devControlPlane) cleanup(tb testing.TB) {
	select {
	case <-d.exited:
	default:
		if _, err := d.interrupt(cleanupStopTimeout); err != nil {
			tb.Errorf("stopping estatectl dev up at the end of the test: %v", err)
		}
	}
	select {
	case <-d.exited:
	default:
		out, err := exec.Command(d.paths.estatectl, "dev", "down", "--state-dir", d.stateDir).CombinedOutput()
		tb.Logf("estatectl dev down --state-dir %s (error %v):\n%s", d.stateDir, err, out)
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
	if tb.Failed() {
		tb.Logf("last lines of %s:\n%s", d.logPath, tailLines(d.logPath, 60))
	}
}

// tailLines returns the last n lines of a file, or why it could not be read.
func tailLines(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(reading %s failed: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// getJSON runs kubectl with args, which must request JSON output, and
// decodes its stdout into v. Stderr is left out, so kubectl warnings cannot corrupt the
// JSON, but it is part of the error when kubectl fails.
func (d *devControlPlane) getJSON(tb testing.TB, v any, args ...string) error {
	out, err := shell.RunCommandAndGetStdOutE(tb, shell.Command{
		Command: "kubectl",
		Args:    append([]string{"--kubeconfig", d.kubeconfig}, args...),
		Logger:  logger.Discard,
	})
	if err != nil {
		return fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("decoding the output of kubectl %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

func (d *devControlPlane) listWorkloads(tb testing.TB) ([]estatev1.Workload, error) {
	var list estatev1.WorkloadList
	if err := d.getJSON(tb, &list, "get", workloadResource, "--all-namespaces", "-o", "json"); err != nil {
		return nil, err
	}
	return list.Items, nil
}

func (d *devControlPlane) listSites(tb testing.TB) ([]estatev1.HostingSite, error) {
	var list estatev1.HostingSiteList
	if err := d.getJSON(tb, &list, "get", siteResource, "-o", "json"); err != nil {
		return nil, err
	}
	return list.Items, nil
}

func (d *devControlPlane) getWorkload(tb testing.TB, namespace, name string) (*estatev1.Workload, error) {
	w := &estatev1.Workload{}
	if err := d.getJSON(tb, w, "get", workloadResource, name, "--namespace", namespace, "-o", "json"); err != nil {
		return nil, err
	}
	return w, nil
}

func (d *devControlPlane) getSite(tb testing.TB, name string) (*estatev1.HostingSite, error) {
	site := &estatev1.HostingSite{}
	if err := d.getJSON(tb, site, "get", siteResource, name, "-o", "json"); err != nil {
		return nil, err
	}
	return site, nil
}

// placedWorkloads lists the workloads once. It returns them when there are
// at least want and each has a Placed condition for its current
// generation, and otherwise an error naming some still waiting.
func (d *devControlPlane) placedWorkloads(tb testing.TB, want int) ([]estatev1.Workload, error) {
	list, err := d.listWorkloads(tb)
	if err != nil {
		return nil, err
	}
	var pending []string
	for i := range list {
		w := &list[i]
		placed := meta.FindStatusCondition(w.Status.Conditions, estatev1.ConditionPlaced)
		if placed == nil || placed.ObservedGeneration != w.Generation {
			pending = append(pending, workloadKey(w))
		}
	}
	if len(list) >= want && len(pending) == 0 {
		return list, nil
	}
	sort.Strings(pending)
	if len(pending) > 5 {
		pending = append(pending[:5], "...")
	}
	return nil, fmt.Errorf("%d of %d workloads have a Placed condition for their current generation; waiting for [%s]",
		len(list)-len(pending), want, strings.Join(pending, " "))
}

func workloadKey(w *estatev1.Workload) string {
	return w.Namespace + "/" + w.Name
}

// controlPlaneProcesses lists, as "name (pid N)", every etcd,
// kube-apiserver or kube-controller-manager process whose command line
// contains dir. It reads /proc, so it works on Linux only.
func controlPlaneProcesses(dir string) ([]string, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing processes in /proc (this check needs Linux): %w", err)
	}
	var found []string
	for _, e := range entries {
		pid := e.Name()
		if pid[0] < '0' || pid[0] > '9' {
			continue
		}
		// A process that exits between ReadDir and ReadFile is gone, which
		// is what the caller wants to know.
		data, err := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
		if err != nil || len(data) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
		name := filepath.Base(args[0])
		if controlPlaneBinaries[name] && strings.Contains(string(data), dir) {
			found = append(found, fmt.Sprintf("%s (pid %s)", name, pid))
		}
	}
	return found, nil
}
