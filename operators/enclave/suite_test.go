package enclave

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

// Every test in this package shares one envtest API server as the
// management cluster: k8s is its client and managementConfig its config.
var (
	k8s              client.Client
	managementConfig *rest.Config
	binDir           string
)

// TestMain starts a real etcd and kube-apiserver (built by make tools) with
// the estate CRDs as the management cluster. Tests that need enclave sites
// start a local control plane of their own.
func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	binDir = os.Getenv("ESTATE_BIN")
	if binDir == "" {
		binDir = filepath.Join("..", "..", "bin")
	}
	var err error
	if binDir, err = filepath.Abs(binDir); err != nil {
		fmt.Fprintf(os.Stderr, "resolving the binary directory: %v\n", err)
		return 1
	}
	if _, err := os.Stat(filepath.Join(binDir, "kube-apiserver")); err != nil {
		fmt.Fprintf(os.Stderr, "kube-apiserver not found in %s: run make tools first\n", binDir)
		return 1
	}
	// The operator logs only errors unless ESTATE_TEST_VERBOSE is set.
	level := zapcore.ErrorLevel
	if os.Getenv("ESTATE_TEST_VERBOSE") != "" {
		level = zapcore.DebugLevel
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(level)))

	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "crds", "manifests")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: binDir,
	}
	managementConfig, err = env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting envtest: %v\n", err)
		return 1
	}
	defer func() { _ = env.Stop() }()

	k8s, err = client.New(managementConfig, client.Options{Scheme: testScheme()})
	if err != nil {
		fmt.Fprintf(os.Stderr, "creating client: %v\n", err)
		return 1
	}
	return m.Run()
}

func testScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = estatev1.AddToScheme(s)
	return s
}

// startOperator runs the enclave operator against the management cluster
// until the test ends.
func startOperator(t *testing.T, o Options) {
	t.Helper()
	mgr, err := ctrl.NewManager(managementConfig, ctrl.Options{
		Scheme:                 testScheme(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// go test -count=2 starts a second manager in the same process,
		// and controller names must otherwise be unique per process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatalf("creating manager: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := SetupWithManager(ctx, mgr, o); err != nil {
		cancel()
		t.Fatalf("setting up the enclave operator: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("manager stopped with error: %v", err)
			}
		case <-time.After(time.Minute):
			t.Errorf("manager still running a minute after cancel")
		}
	})
}
