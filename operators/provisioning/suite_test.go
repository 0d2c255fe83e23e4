package provisioning

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/operators/placement"
)

// Timing of the operator under test. The deletion bound is short so the
// unreachable-site test finishes in seconds.
const (
	testResync          = 2 * time.Second
	testDeletionTimeout = 4 * time.Second
	testCallTimeout     = 2 * time.Second
)

// secretNamespace holds the kubeconfig Secrets of the test sites in the
// management cluster.
const secretNamespace = "estate-system"

// siteCluster is an API server that plays a hosting site.
type siteCluster struct {
	env        *envtest.Environment
	client     client.Client
	kubeconfig []byte
}

var (
	// k8s is a client of the management cluster, where the operators run.
	k8s client.Client
	// siteA and siteB are site clusters shared by the tests; each test
	// uses namespaces of its own on them. doomed is stopped by the
	// unreachable-site test and used by no other.
	siteA, siteB, doomed *siteCluster
)

// TestMain starts the management cluster with the estate CRDs and three
// site clusters, all real etcd and kube-apiserver binaries (built by make
// tools), and runs the placement and provisioning operators against the
// management cluster.
func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
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
	// The operators log only errors unless ESTATE_TEST_VERBOSE is set.
	level := zapcore.ErrorLevel
	if os.Getenv("ESTATE_TEST_VERBOSE") != "" {
		level = zapcore.DebugLevel
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(level)))

	management := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "crds", "manifests")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: bin,
	}
	sites := []*siteCluster{
		{env: &envtest.Environment{BinaryAssetsDirectory: bin}},
		{env: &envtest.Environment{BinaryAssetsDirectory: bin}},
		{env: &envtest.Environment{BinaryAssetsDirectory: bin}},
	}
	siteA, siteB, doomed = sites[0], sites[1], sites[2]

	// The API servers start in parallel, which roughly halves the wait.
	var (
		mu       sync.Mutex
		startErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if startErr == nil {
			startErr = err
		}
	}
	wg.Add(1 + len(sites))
	go func() {
		defer wg.Done()
		if _, err := management.Start(); err != nil {
			fail(fmt.Errorf("starting the management cluster: %w", err))
		}
	}()
	for i, s := range sites {
		go func() {
			defer wg.Done()
			if err := s.start(); err != nil {
				fail(fmt.Errorf("starting site cluster %d: %w", i, err))
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, s := range sites {
			_ = s.env.Stop()
		}
		_ = management.Stop()
	}()
	if startErr != nil {
		fmt.Fprintln(os.Stderr, startErr)
		return 1
	}

	mgr, err := ctrl.NewManager(management.Config, ctrl.Options{
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
	if err := placement.SetupWithManager(ctx, mgr, placement.Options{}); err != nil {
		fmt.Fprintf(os.Stderr, "setting up placement: %v\n", err)
		return 1
	}
	err = SetupWithManager(ctx, mgr, Options{
		ResyncPeriod:    testResync,
		DeletionTimeout: testDeletionTimeout,
		CallTimeout:     testCallTimeout,
		Planner:         testPlanner{},
		Policies:        testPolicies{},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "setting up provisioning: %v\n", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()

	k8s, err = client.New(management.Config, client.Options{Scheme: testScheme()})
	if err != nil {
		fmt.Fprintf(os.Stderr, "creating client: %v\n", err)
		return 1
	}
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: secretNamespace}}); err != nil {
		fmt.Fprintf(os.Stderr, "creating namespace %s: %v\n", secretNamespace, err)
		return 1
	}

	code := m.Run()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintf(os.Stderr, "manager stopped with an error: %v\n", err)
	}
	return code
}

// start starts the site's API server and makes an admin kubeconfig for it.
func (s *siteCluster) start() error {
	cfg, err := s.env.Start()
	if err != nil {
		return err
	}
	user, err := s.env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding an admin user: %w", err)
	}
	if s.kubeconfig, err = user.KubeConfig(); err != nil {
		return fmt.Errorf("writing the admin kubeconfig: %w", err)
	}
	s.client, err = client.New(cfg, client.Options{Scheme: testScheme()})
	return err
}

func testScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = estatev1.AddToScheme(s)
	return s
}

// testPlanner plans two resources per workload, named after it, so tests
// can check that the plan reaches status unchanged.
type testPlanner struct{}

func (testPlanner) Plan(_ context.Context, site *estatev1.HostingSite, w *estatev1.Workload) ([]estatev1.PlannedResource, error) {
	return plannedFor(site, w), nil
}

func plannedFor(site *estatev1.HostingSite, w *estatev1.Workload) []estatev1.PlannedResource {
	return []estatev1.PlannedResource{
		{Type: "aws:ecs/cluster:Cluster", Name: w.Name + "-cluster", Properties: map[string]string{"stack": site.Spec.Connection.PulumiStack}},
		{Type: "aws:ecs/service:Service", Name: w.Name, Properties: map[string]string{"desiredCount": "1"}},
	}
}

// policyAnnotation selects the policies testPolicies returns for a
// workload: "deny-all" gives a default-deny policy, "invalid" a policy the
// API server rejects.
const policyAnnotation = "test.estate.homeoffice.gov.uk/policies"

type testPolicies struct{}

func (testPolicies) NetworkPolicies(_ context.Context, _ *estatev1.HostingSite, w *estatev1.Workload) ([]networkingv1.NetworkPolicy, error) {
	switch w.Annotations[policyAnnotation] {
	case "deny-all":
		return []networkingv1.NetworkPolicy{{
			ObjectMeta: metav1.ObjectMeta{Name: w.Name + "-deny-all"},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"estate.homeoffice.gov.uk/workload": w.Name}},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			},
		}}, nil
	case "invalid":
		port := intstr.FromInt32(0)
		return []networkingv1.NetworkPolicy{{
			ObjectMeta: metav1.ObjectMeta{Name: w.Name + "-invalid"},
			Spec: networkingv1.NetworkPolicySpec{
				Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: &port}}}},
			},
		}}, nil
	}
	return nil, nil
}
