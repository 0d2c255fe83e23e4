package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ukhomeoffice/estate/internal/printers"
	"github.com/ukhomeoffice/estate/operators"
)

// globalOptions are the flags every command shares.
type globalOptions struct {
	kubeconfig string
	stateDir   string
	binDir     string
	verbosity  int
}

func newRootCommand() *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "estatectl",
		Short: "Declare, place and audit the department's technology estate",
		Long: `estatectl runs the estate control plane locally, places workload manifests
with the same engine as the placement operator, explains each decision and
answers auditors' questions about placement and classification.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(*cobra.Command, []string) {
			ctrl.SetLogger(newLogger(g.verbosity))
		},
	}
	flags := root.PersistentFlags()
	flags.StringVar(&g.kubeconfig, "kubeconfig", "", "Path of the kubeconfig; defaults to $KUBECONFIG, then the local control plane's, then ~/.kube/config.")
	flags.StringVar(&g.stateDir, "state-dir", defaultStateDir(), "Directory of the local control plane's data, certificates, kubeconfig and logs.")
	flags.StringVar(&g.binDir, "bin-dir", defaultBinDir(), "Directory holding etcd, kube-apiserver and kube-controller-manager (built by make tools).")
	flags.IntVarP(&g.verbosity, "v", "v", 0, "Log verbosity; 1 adds reconcile detail.")

	root.AddCommand(
		newDevCommand(g),
		newPlanCommand(g),
		newApplyCommand(g),
		newGetCommand(g),
		newExplainCommand(g),
		newAuditCommand(g),
		newNetworkCommand(g),
		newEnclaveCommand(g),
	)
	return root
}

// newLogger returns a structured logger writing key-value pairs to stderr.
func newLogger(verbosity int) logr.Logger {
	return zap.New(
		zap.WriteTo(os.Stderr),
		zap.Level(zapcore.Level(-verbosity)),
		zap.ConsoleEncoder(func(c *zapcore.EncoderConfig) { c.TimeKey = "" }),
	)
}

// defaultStateDir is $ESTATE_STATE_DIR or ~/.local/state/estate/dev.
func defaultStateDir() string {
	if dir := os.Getenv("ESTATE_STATE_DIR"); dir != "" {
		return dir
	}
	if dir := os.Getenv("XDG_STATE_HOME"); dir != "" {
		return filepath.Join(dir, "estate", "dev")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "estate-dev")
	}
	return filepath.Join(home, ".local", "state", "estate", "dev")
}

// defaultBinDir is $ESTATE_BIN, or the directory estatectl itself is in,
// because make builds estatectl next to the Kubernetes binaries.
func defaultBinDir() string {
	if dir := os.Getenv("ESTATE_BIN"); dir != "" {
		return dir
	}
	exe, err := os.Executable()
	if err != nil {
		return "bin"
	}
	return filepath.Dir(exe)
}

// restConfig resolves the kubeconfig: the flag, $KUBECONFIG, the local
// control plane's kubeconfig when one is running, then ~/.kube/config.
func (g *globalOptions) restConfig() (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	switch {
	case g.kubeconfig != "":
		rules.ExplicitPath = g.kubeconfig
	case os.Getenv(clientcmd.RecommendedConfigPathEnvVar) != "":
	default:
		local := filepath.Join(g.stateDir, "kubeconfig")
		if _, err := os.Stat(local); err == nil {
			rules.ExplicitPath = local
		}
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w; start a local control plane with `estatectl dev up` or pass --kubeconfig", err)
	}
	// client-go's default of 5 requests a second makes applying an estate
	// of a few dozen objects take seconds.
	cfg.QPS, cfg.Burst = 50, 100
	return cfg, nil
}

// client returns an API client for the resolved kubeconfig.
func (g *globalOptions) client() (client.Client, error) {
	cfg, err := g.restConfig()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: operators.NewScheme()})
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", cfg.Host, err)
	}
	return c, nil
}

// addOutputFlag adds -o with kubectl's formats.
func addOutputFlag(cmd *cobra.Command, output *string) {
	cmd.Flags().StringVarP(output, "output", "o", "table", "Output format: table, wide, json or yaml.")
	cmd.PreRunE = func(*cobra.Command, []string) error { return printers.ValidateFormat(*output) }
}

func newFileLogger(w *os.File) logr.Logger {
	return zap.New(zap.WriteTo(w), zap.JSONEncoder())
}
