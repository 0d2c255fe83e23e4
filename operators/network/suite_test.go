package network

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/operators/placement"
)

var (
	k8s     client.Client
	testEnv *envtest.Environment
)

// TestMain starts a real etcd and kube-apiserver with the estate and
// ClusterNetworkPolicy CRDs, and the placement and network operators.
func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func testScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = estatev1.AddToScheme(s)
	_ = v1alpha2.Install(s)
	return s
}

func runSuite(m *testing.M) int {
	bin := os.Getenv("ESTATE_BIN")
	if bin == "" {
		bin = filepath.Join("..", "..", "bin")
	}
	if _, err := os.Stat(filepath.Join(bin, "kube-apiserver")); err != nil {
		fmt.Fprintf(os.Stderr, "kube-apiserver not found in %s: run make tools first\n", bin)
		return 1
	}
	level := zapcore.ErrorLevel
	if os.Getenv("ESTATE_TEST_VERBOSE") != "" {
		level = zapcore.DebugLevel
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(level)))

	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "crds", "manifests"), filepath.Join("..", "..", "crds", "thirdparty")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: bin,
	}
	restConfig, err := testEnv.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting envtest: %v\n", err)
		return 1
	}
	defer func() { _ = testEnv.Stop() }()

	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                 testScheme(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "creating manager: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := placement.SetupWithManager(ctx, mgr, placement.Options{MaxConcurrentReconciles: 4}); err != nil {
		fmt.Fprintf(os.Stderr, "setting up placement: %v\n", err)
		return 1
	}
	if err := SetupWithManager(mgr); err != nil {
		fmt.Fprintf(os.Stderr, "setting up network: %v\n", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()

	k8s, err = client.New(restConfig, client.Options{Scheme: testScheme()})
	if err != nil {
		fmt.Fprintf(os.Stderr, "creating client: %v\n", err)
		return 1
	}
	code := m.Run()
	cancel()
	<-done
	return code
}
