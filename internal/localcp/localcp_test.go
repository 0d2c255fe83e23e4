package localcp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
)

// ownerHelperEnv makes the test binary run as a `dev up`-like owner process
// for the control plane in the state directory that the variable names.
const ownerHelperEnv = "ESTATE_LOCALCP_OWNER_STATE_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(ownerHelperEnv); dir != "" {
		os.Exit(runOwnerHelper(dir))
	}
	os.Exit(m.Run())
}

// runOwnerHelper starts a control plane, prints "ready", and stops the
// control plane when it receives SIGTERM.
func runOwnerHelper(stateDir string) int {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cp, err := Start(ctx, Options{BinDir: os.Getenv("ESTATE_BIN"), StateDir: stateDir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "owner helper:", err)
		return 1
	}
	fmt.Println("ready")

	exitCode := 0
	waitErr := make(chan error, 1)
	go func() { waitErr <- cp.Wait() }()
	select {
	case <-signals:
	case err := <-waitErr:
		fmt.Fprintln(os.Stderr, "owner helper:", err)
		exitCode = 1
	}
	if err := cp.Stop(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "owner helper:", err)
		return 1
	}
	return exitCode
}

// testBinDir returns the directory with the Kubernetes binaries, from
// ESTATE_BIN or the repository's bin/.
func testBinDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ESTATE_BIN")
	if dir == "" {
		dir = filepath.Join("..", "..", "bin")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{etcdBinary, apiServerBinary, controllerManagerBinary, "kubectl"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatalf("%s not found in %s: run make tools, or set ESTATE_BIN to a directory that contains it", name, dir)
		}
	}
	return dir
}

// guardedT drops log lines after the test has finished, because child
// processes can exit and be logged after that, and testing.T panics then.
type guardedT struct {
	t        *testing.T
	finished atomic.Bool
}

func (g *guardedT) Helper() { g.t.Helper() }

func (g *guardedT) Log(args ...any) {
	if !g.finished.Load() {
		g.t.Log(args...)
	}
}

func testLogger(t *testing.T) logr.Logger {
	g := &guardedT{t: t}
	// Registered first, so it runs after every other cleanup of the test.
	t.Cleanup(func() { g.finished.Store(true) })
	return testr.NewWithInterface(g, testr.Options{})
}

func startControlPlane(t *testing.T, stateDir string) *ControlPlane {
	t.Helper()
	log := testLogger(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	begin := time.Now()
	cp, err := Start(ctx, Options{BinDir: testBinDir(t), StateDir: stateDir, Log: log})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("control plane ready after %s", time.Since(begin).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := cp.Stop(context.Background()); err != nil {
			t.Errorf("Stop in cleanup: %v", err)
		}
	})
	return cp
}

func runKubectl(t *testing.T, kubeconfig string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(testBinDir(t), "kubectl"), append([]string{"--kubeconfig=" + kubeconfig}, args...)...)
	cmd.Env = loopbackEnv(os.Environ())
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// processesUsing returns the pids of live processes whose command line
// contains dir.
func processesUsing(t *testing.T, dir string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("list processes: %v", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if bytes.Contains(cmdline, []byte(dir)) && processAlive(pid, "") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// etcdKeyCount returns the number of keys in etcd equal to key, read through
// etcd's HTTP gateway.
func etcdKeyCount(t *testing.T, etcdURL, key string) int {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"key":        base64.StdEncoding.EncodeToString([]byte(key)),
		"count_only": true,
	})
	if err != nil {
		t.Fatal(err)
	}

	// A Transport without Proxy, so HTTP_PROXY never applies to loopback.
	client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	resp, err := client.Post(etcdURL+"/v3/kv/range", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("read key %s from etcd: %v", key, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("read key %s from etcd: %s", key, resp.Status)
	}

	var result struct {
		// proto3 JSON encodes int64 as a string and omits zero.
		Count string `json:"count"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&result); err != nil {
		t.Fatalf("decode etcd range response for %s: %v", key, err)
	}
	if result.Count == "" {
		return 0
	}
	n, err := strconv.Atoi(result.Count)
	if err != nil {
		t.Fatalf("etcd range count %q for %s: %v", result.Count, key, err)
	}
	return n
}

// residentKiB returns VmRSS from /proc/<pid>/status.
func residentKiB(pid int) (int, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if value, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(value), " kB"))
		}
	}
	return 0, errors.New("no VmRSS line")
}

// startLeftoverProcess starts a sleep process to act as a child left running
// by an owner that has exited, and returns its state entry.
func startLeftoverProcess(t *testing.T) (*exec.Cmd, processState) {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start leftover process: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	startTime, err := processStartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatalf("read start time of leftover process: %v", err)
	}
	return cmd, processState{Name: "kube-apiserver", Role: roleAPIServer, PID: cmd.Process.Pid, StartTime: startTime}
}

// exitedPID returns the pid of a process that has exited.
func exitedPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatalf("run true: %v", err)
	}
	return cmd.Process.Pid
}

func writeTestState(t *testing.T, stateDir string, st state) {
	t.Helper()
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stateDir, "state.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestControlPlaneLifecycle(t *testing.T) {
	stateDir := t.TempDir()

	// A state.json from an owner that has exited, with one child left running.
	leftover, leftoverState := startLeftoverProcess(t)
	writeTestState(t, stateDir, state{OwnerPID: exitedPID(t), Processes: []processState{leftoverState}})

	cp := startControlPlane(t, stateDir)

	t.Run("stale state is replaced", func(t *testing.T) {
		if processAlive(leftover.Process.Pid, "") {
			t.Fatalf("leftover process (pid %d) of the exited owner still running after Start", leftover.Process.Pid)
		}
		if err := leftover.Wait(); err == nil {
			t.Errorf("leftover process exited with status 0, expected it to be killed by SIGTERM")
		}
		st, err := readState(filepath.Join(stateDir, "state.json"))
		if err != nil {
			t.Fatalf("read state.json: %v", err)
		}
		if st.OwnerPID != os.Getpid() {
			t.Errorf("state.json owner pid = %d, expected this test process %d", st.OwnerPID, os.Getpid())
		}
		if got, expected := len(st.Processes), 3; got != expected {
			t.Errorf("state.json lists %d processes, expected %d: %+v", got, expected, st.Processes)
		}
	})

	t.Run("kubeconfig reaches management cluster", func(t *testing.T) {
		if got, expected := cp.Management.KubeconfigPath, filepath.Join(stateDir, "kubeconfig"); got != expected {
			t.Errorf("management kubeconfig = %s, expected %s", got, expected)
		}
		kubeconfig, err := os.ReadFile(cp.Management.KubeconfigPath)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(kubeconfig, []byte("insecure-skip-tls-verify")) {
			t.Errorf("kubeconfig turns off TLS verification:\n%s", kubeconfig)
		}
		out, err := runKubectl(t, cp.Management.KubeconfigPath, "auth", "can-i", "*", "*")
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(out) != "yes" {
			t.Errorf("kubectl auth can-i '*' '*' = %q, expected yes for the admin token", out)
		}
	})

	t.Run("namespace deletion completes", func(t *testing.T) {
		kubeconfig := cp.Management.KubeconfigPath
		if _, err := runKubectl(t, kubeconfig, "create", "namespace", "x"); err != nil {
			t.Fatal(err)
		}
		if _, err := runKubectl(t, kubeconfig, "delete", "namespace", "x", "--wait=false"); err != nil {
			t.Fatal(err)
		}

		// Only the namespace controller in kube-controller-manager removes
		// the namespace's finalizer, so without it this loop times out.
		begin := time.Now()
		deadline := begin.Add(time.Minute)
		for {
			out, err := runKubectl(t, kubeconfig, "get", "namespace", "x", "--ignore-not-found", "-o", "name")
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(out) == "" {
				t.Logf("namespace x gone %s after delete", time.Since(begin).Round(time.Millisecond))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("namespace x still present a minute after delete: %s", out)
			}
			time.Sleep(250 * time.Millisecond)
		}
	})

	t.Run("added cluster has separate storage", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		begin := time.Now()
		site, err := cp.AddCluster(ctx, "site-a")
		if err != nil {
			t.Fatalf("AddCluster(site-a): %v", err)
		}
		t.Logf("cluster site-a ready after %s", time.Since(begin).Round(time.Millisecond))

		if site.EtcdPrefix != "/clusters/site-a" {
			t.Errorf("site-a etcd prefix = %q, expected /clusters/site-a", site.EtcdPrefix)
		}
		if site.URL == cp.Management.URL {
			t.Errorf("site-a URL %s equals the management URL", site.URL)
		}
		if cp.Cluster("site-a") != site {
			t.Errorf("Cluster(site-a) does not return the added cluster")
		}

		if _, err := runKubectl(t, site.KubeconfigPath, "create", "namespace", "only-in-site-a"); err != nil {
			t.Fatal(err)
		}
		out, err := runKubectl(t, cp.Management.KubeconfigPath, "get", "namespace", "only-in-site-a", "--ignore-not-found", "-o", "name")
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(out) != "" {
			t.Errorf("namespace created in site-a is visible in management: %s", out)
		}
		if n := etcdKeyCount(t, cp.EtcdURL, "/clusters/site-a/namespaces/only-in-site-a"); n != 1 {
			t.Errorf("etcd has %d keys for the namespace under /clusters/site-a, expected 1", n)
		}
		if n := etcdKeyCount(t, cp.EtcdURL, "/registry/namespaces/only-in-site-a"); n != 0 {
			t.Errorf("etcd has %d keys for the namespace under /registry, expected 0", n)
		}
	})

	t.Run("AddCluster rejects invalid names", func(t *testing.T) {
		tests := map[string]string{
			"uppercase letters":         "Site-A",
			"underscore":                "site_a",
			"leading dash":              "-site",
			"reserved management name":  ManagementClusterName,
			"name already in use":       "site-a",
			"longer than 40 characters": strings.Repeat("a", 41),
		}
		for sentence, name := range tests {
			t.Run(sentence, func(t *testing.T) {
				if _, err := cp.AddCluster(context.Background(), name); err == nil {
					t.Errorf("AddCluster(%q) succeeded, expected an error", name)
				}
			})
		}
	})

	t.Run("second Start is rejected", func(t *testing.T) {
		_, err := Start(context.Background(), Options{BinDir: testBinDir(t), StateDir: stateDir})
		if !errors.Is(err, ErrAlreadyRunning) {
			t.Fatalf("second Start error = %v, expected ErrAlreadyRunning", err)
		}
		if !strings.Contains(err.Error(), "estatectl dev down") {
			t.Errorf("second Start error %q does not say how to stop the running control plane", err)
		}
		if _, err := runKubectl(t, cp.Management.KubeconfigPath, "get", "namespace", "default"); err != nil {
			t.Errorf("management cluster unusable after rejected second Start: %v", err)
		}
	})

	// Memory figures for the record. They are not checked.
	for _, p := range cp.Processes() {
		kib, err := residentKiB(p.PID)
		if err != nil {
			t.Errorf("read RSS of %s: %v", p.Name, err)
			continue
		}
		t.Logf("RSS of %s (pid %d): %d MiB", p.Name, p.PID, kib/1024)
	}

	t.Run("Stop leaves no processes", func(t *testing.T) {
		processes := cp.Processes()
		if got, expected := len(processes), 5; got != expected {
			t.Errorf("%d processes before Stop, expected 5 (etcd and two API servers with controller managers): %+v", got, processes)
		}

		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		begin := time.Now()
		if err := cp.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		t.Logf("Stop took %s", time.Since(begin).Round(time.Millisecond))

		for _, p := range processes {
			if processAlive(p.PID, "") {
				t.Errorf("%s (pid %d) alive after Stop", p.Name, p.PID)
			}
		}
		if pids := processesUsing(t, stateDir); len(pids) != 0 {
			t.Errorf("processes %v still use %s after Stop", pids, stateDir)
		}
		if _, err := os.Stat(filepath.Join(stateDir, "state.json")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("state.json after Stop: stat error = %v, expected it removed", err)
		}
		if err := cp.Wait(); err != nil {
			t.Errorf("Wait after Stop = %v, expected nil", err)
		}
	})
}

// writeFakeAPIServer writes a kube-apiserver script that prints message,
// appends a line to runsPath and exits 1.
func writeFakeAPIServer(t *testing.T, binDir, message, runsPath string) {
	t.Helper()
	script := fmt.Sprintf("#!/bin/sh\necho run >> %q\necho %q >&2\nexit 1\n", runsPath, message)
	if err := os.WriteFile(filepath.Join(binDir, apiServerBinary), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestStartFailureStopsStartedProcesses(t *testing.T) {
	realBinDir := testBinDir(t)
	tests := map[string]struct {
		message      string
		expectedRuns int
	}{
		"crashing API server is not retried": {
			message:      "fake kube-apiserver: invalid flag",
			expectedRuns: 1,
		},
		"port conflict is retried once": {
			message:      "listen tcp 127.0.0.1:6443: bind: address already in use",
			expectedRuns: 2,
		},
	}
	for sentence, tc := range tests {
		t.Run(sentence, func(t *testing.T) {
			binDir := t.TempDir()
			stateDir := t.TempDir()
			runsPath := filepath.Join(t.TempDir(), "runs")
			for _, name := range []string{etcdBinary, controllerManagerBinary} {
				if err := os.Symlink(filepath.Join(realBinDir, name), filepath.Join(binDir, name)); err != nil {
					t.Fatal(err)
				}
			}
			writeFakeAPIServer(t, binDir, tc.message, runsPath)

			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cp, err := Start(ctx, Options{BinDir: binDir, StateDir: stateDir, Log: testLogger(t)})
			if err == nil {
				cp.Stop(context.Background())
				t.Fatal("Start succeeded with a failing kube-apiserver")
			}

			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("Start error does not contain the kube-apiserver log line %q:\n%v", tc.message, err)
			}
			runs, readErr := os.ReadFile(runsPath)
			if readErr != nil {
				t.Fatal(readErr)
			}
			if got := bytes.Count(runs, []byte("run\n")); got != tc.expectedRuns {
				t.Errorf("kube-apiserver started %d times, expected %d", got, tc.expectedRuns)
			}
			if pids := processesUsing(t, stateDir); len(pids) != 0 {
				t.Errorf("processes %v still use %s after failed Start", pids, stateDir)
			}
			if _, err := os.Stat(filepath.Join(stateDir, "state.json")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("state.json after failed Start: stat error = %v, expected it removed", err)
			}
		})
	}
}

func TestDownStopsInProcessControlPlane(t *testing.T) {
	stateDir := t.TempDir()
	cp := startControlPlane(t, stateDir)
	processes := cp.Processes()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := Down(ctx, stateDir, false); err != nil {
		t.Fatalf("Down: %v", err)
	}

	for _, p := range processes {
		if processAlive(p.PID, "") {
			t.Errorf("%s (pid %d) alive after Down", p.Name, p.PID)
		}
	}
	if _, err := os.Stat(stateDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state directory after Down: stat error = %v, expected it removed", err)
	}
	// The ControlPlane did not ask its children to stop, so Wait reports it.
	waitErr := cp.Wait()
	if waitErr == nil {
		t.Fatal("Wait after Down = nil, expected an error naming the exited process")
	}
	if !strings.Contains(waitErr.Error(), "exited unexpectedly") {
		t.Errorf("Wait error %q does not say that a process exited unexpectedly", waitErr)
	}
	if !strings.Contains(waitErr.Error(), "last lines of") {
		t.Errorf("Wait error %q does not contain the tail of the process log", waitErr)
	}
	if err := Down(ctx, stateDir, false); !errors.Is(err, ErrNotRunning) {
		t.Errorf("second Down error = %v, expected ErrNotRunning", err)
	}
}

func TestDownSignalsOwnerProcess(t *testing.T) {
	stateDir := t.TempDir()
	owner := exec.Command(os.Args[0], "-test.run=^$")
	owner.Env = append(os.Environ(), ownerHelperEnv+"="+stateDir, "ESTATE_BIN="+testBinDir(t))
	var ownerStderr bytes.Buffer
	owner.Stderr = &ownerStderr
	stdout, err := owner.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Start(); err != nil {
		t.Fatalf("start owner process: %v", err)
	}
	// ownerErr is set before ownerExited is closed.
	var ownerErr error
	ownerExited := make(chan struct{})
	t.Cleanup(func() {
		owner.Process.Kill()
		<-ownerExited
	})

	ready := make(chan bool, 1)
	go func() {
		scanner := bufio.NewScanner(stdout)
		ready <- scanner.Scan() && scanner.Text() == "ready"
		for scanner.Scan() {
		}
		ownerErr = owner.Wait()
		close(ownerExited)
	}()
	// ownerStderr is read only after the owner has exited, because exec
	// writes to it from another goroutine until then.
	select {
	case ok := <-ready:
		if !ok {
			<-ownerExited
			t.Fatalf("owner process exited without printing ready (%v): %s", ownerErr, ownerStderr.String())
		}
	case <-time.After(3 * time.Minute):
		owner.Process.Kill()
		<-ownerExited
		t.Fatalf("owner process not ready after 3 minutes: %s", ownerStderr.String())
	}

	st, err := readState(filepath.Join(stateDir, "state.json"))
	if err != nil {
		t.Fatalf("read state.json written by owner: %v", err)
	}
	if st.OwnerPID != owner.Process.Pid {
		t.Errorf("state.json owner pid = %d, expected %d", st.OwnerPID, owner.Process.Pid)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := Down(ctx, stateDir, true); err != nil {
		t.Fatalf("Down: %v", err)
	}

	select {
	case <-ownerExited:
		if ownerErr != nil {
			t.Errorf("owner process exited with %v, expected status 0 after stopping its control plane: %s", ownerErr, ownerStderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("owner process still running a minute after Down returned")
	}
	for _, p := range st.Processes {
		if processAlive(p.PID, p.StartTime) {
			t.Errorf("%s (pid %d) alive after Down", p.Name, p.PID)
		}
	}
	if _, err := os.Stat(filepath.Join(stateDir, "state.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state.json after Down with keep: stat error = %v, expected it removed", err)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "logs", "kube-apiserver.log")); err != nil {
		t.Errorf("kube-apiserver log after Down with keep: %v, expected it kept", err)
	}
}
