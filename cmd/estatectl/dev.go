package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/ukhomeoffice/estate/crds"
	"github.com/ukhomeoffice/estate/internal/localcp"
	"github.com/ukhomeoffice/estate/operators"
)

// systemNamespace holds the estate's own objects, such as site credentials.
const systemNamespace = "estate-system"

func newDevCommand(g *globalOptions) *cobra.Command {
	dev := &cobra.Command{
		Use:   "dev",
		Short: "Run the embedded local control plane (etcd, kube-apiserver, kube-controller-manager and the operators)",
		Long: `dev runs a real Kubernetes control plane on 127.0.0.1, built from the
Kubernetes Go modules by make tools, with the estate CRDs installed and the
operators running in-process. The clusters have no nodes: workloads are
declared and reconciled, not run.`,
	}
	dev.AddCommand(newDevUpCommand(g), newDevDownCommand(g), newDevRunCommand(g))
	return dev
}

func newDevUpCommand(g *globalOptions) *cobra.Command {
	var keep bool
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the local control plane and run until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log := ctrl.Log.WithName("dev")

			session, err := startDev(ctx, g.binDir, g.stateDir, log, ctrl.Log.WithName("operator"))
			if err != nil {
				return err
			}
			kubeconfig := session.cp.Management.KubeconfigPath
			self := "estatectl"
			if exe, err := os.Executable(); err == nil {
				self = exe
			}
			fmt.Fprintf(cmd.OutOrStdout(), "\nThe local control plane is up. In another shell:\n\n    export KUBECONFIG=%s\n    export PATH=%s:$PATH   # the kubectl built with the control plane, and estatectl\n    estatectl apply -f examples/estate\n    kubectl get hostingsites,workloads -A\n\nPress Ctrl-C, or run `%s dev down`, to stop it.\n", kubeconfig, g.binDir, self)

			var runErr error
			select {
			case <-ctx.Done():
				log.Info("Interrupted; stopping the local control plane")
			case runErr = <-session.failed():
				log.Error(runErr, "A control plane component stopped unexpectedly; stopping the rest")
			}
			return errors.Join(runErr, session.stop(keep))
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "Keep the state directory (etcd data, certificates, logs) after stopping.")
	return cmd
}

func newDevDownCommand(g *globalOptions) *cobra.Command {
	var keep bool
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop a local control plane started by dev up and remove its state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			if err := localcp.Down(ctx, g.stateDir, keep); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Stopped the local control plane in %s.\n", g.stateDir)
			return nil
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "Keep the state directory (etcd data, certificates, logs).")
	return cmd
}

// devSession is a running local control plane with the operators.
type devSession struct {
	cp     *localcp.ControlPlane
	config *rest.Config
	client client.Client
	log    logr.Logger
	cancel context.CancelFunc
	// mgrStopped is closed when the operators' manager returns, with its
	// error in mgrErr. Closing, not sending, lets every waiter see it.
	mgrStopped chan struct{}
	mgrErr     error
}

// startDev starts the control plane, installs the CRDs and starts the
// operators in-process. On failure it stops whatever it started.
func startDev(ctx context.Context, binDir, stateDir string, log, operatorLog logr.Logger) (*devSession, error) {
	start := time.Now()
	if err := checkBinaries(binDir); err != nil {
		return nil, err
	}
	log.Info("Starting the local control plane", "stateDir", stateDir, "binDir", binDir)
	cp, err := localcp.Start(ctx, localcp.Options{BinDir: binDir, StateDir: stateDir, Log: log.WithName("localcp")})
	if err != nil {
		return nil, err
	}
	s := &devSession{cp: cp, log: log, mgrStopped: make(chan struct{})}
	if err := s.init(ctx, operatorLog); err != nil {
		return nil, errors.Join(err, s.stop(false))
	}
	log.Info("Local control plane ready", "kubeconfig", cp.Management.KubeconfigPath, "elapsed", time.Since(start).Round(time.Millisecond).String())
	return s, nil
}

func (s *devSession) init(ctx context.Context, operatorLog logr.Logger) error {
	s.config = &rest.Config{
		Host:            s.cp.Management.URL,
		BearerToken:     s.cp.AdminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: s.cp.CAData},
		QPS:             100,
		Burst:           200,
	}
	c, err := client.New(s.config, client.Options{Scheme: operators.NewScheme()})
	if err != nil {
		return err
	}
	s.client = c

	s.log.Info("Installing the estate CRDs")
	if err := installAllCRDs(ctx, c); err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: systemNamespace}}
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", systemNamespace, err)
	}

	s.log.Info("Starting the operators")
	mgr, err := ctrl.NewManager(s.config, ctrl.Options{
		Scheme:                 operators.NewScheme(),
		Logger:                 operatorLog,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		return fmt.Errorf("creating the operator manager: %w", err)
	}
	mgrCtx, cancel := context.WithCancel(context.Background())
	opts := operators.Options{}
	// The local clusters can be inspected directly: their API server flags
	// and raw etcd values show encryption at rest and audit logging.
	opts.Enclave.DefaultInspector = s.cp.Inspector()
	if err := operators.Setup(mgrCtx, mgr, opts); err != nil {
		cancel()
		return err
	}
	if err := addSiteClusters(mgr, s.cp, s.log.WithName("sites")); err != nil {
		cancel()
		return err
	}
	go func() {
		s.mgrErr = mgr.Start(mgrCtx)
		close(s.mgrStopped)
	}()
	// stop waits for the manager only once it has started.
	s.cancel = cancel
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		return errors.New("the operators' cache did not sync")
	}
	return nil
}

// failed returns a channel that receives an error when a control plane
// process or the operators stop unexpectedly.
func (s *devSession) failed() <-chan error {
	out := make(chan error, 1)
	go func() {
		select {
		case <-s.mgrStopped:
			out <- fmt.Errorf("operators stopped: %w", s.mgrErr)
		case <-waitChan(s.cp.Wait):
			out <- fmt.Errorf("local control plane stopped: %w", s.cp.Wait())
		}
	}()
	return out
}

func waitChan(f func() error) <-chan struct{} {
	ch := make(chan struct{})
	go func() { _ = f(); close(ch) }()
	return ch
}

// stop stops the operators, then the control plane, and removes the state
// directory unless keep is set.
func (s *devSession) stop(keep bool) error {
	if s.cancel != nil {
		s.cancel()
		select {
		case <-s.mgrStopped:
		case <-time.After(30 * time.Second):
			s.log.Info("The operators did not stop within 30s; stopping the control plane anyway")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s.log.Info("Stopping the local control plane")
	err := s.cp.Stop(ctx)
	if err == nil && !keep {
		err = os.RemoveAll(s.cp.StateDir)
	}
	return err
}

// installAllCRDs installs the estate CRDs and the third-party CRDs whose
// objects estate writes.
func installAllCRDs(ctx context.Context, c client.Client) error {
	own, err := crds.CustomResourceDefinitions()
	if err != nil {
		return err
	}
	thirdParty, err := crds.ThirdPartyCustomResourceDefinitions()
	if err != nil {
		return err
	}
	return installCRDs(ctx, c, append(own, thirdParty...))
}

// installCRDs applies CRDs and waits until each is established.
func installCRDs(ctx context.Context, c client.Client, list []*apiextensionsv1.CustomResourceDefinition) error {
	for _, crd := range list {
		content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(crd)
		if err != nil {
			return err
		}
		u := &unstructured.Unstructured{Object: content}
		u.SetAPIVersion(apiextensionsv1.SchemeGroupVersion.String())
		u.SetKind("CustomResourceDefinition")
		delete(u.Object, "status")
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(fieldManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("installing CRD %s: %w", crd.Name, err)
		}
	}
	for _, crd := range list {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			got := &apiextensionsv1.CustomResourceDefinition{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(crd), got); err != nil {
				return false, client.IgnoreNotFound(err)
			}
			for _, cond := range got.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("CRD %s was not established within 30s: %w", crd.Name, err)
		}
	}
	return nil
}

// checkBinaries fails early, with the fix, when make tools has not run.
func checkBinaries(binDir string) error {
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager"} {
		if _, err := os.Stat(filepath.Join(binDir, name)); err != nil {
			return fmt.Errorf("%s not found in %s: run `make tools` (or pass --bin-dir)", name, binDir)
		}
	}
	return nil
}
