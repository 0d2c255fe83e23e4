// Command estate-operator runs every estate operator in one controller
// manager, with metrics, health probes and optional leader election.
package main

import (
	"flag"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/ukhomeoffice/estate/operators"
)

func main() {
	var (
		metricsAddr    string
		probeAddr      string
		leaderElect    bool
		leaderElectNS  string
		maxConcurrency int
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", "127.0.0.1:8080", "Address the metrics endpoint listens on; \"0\" disables it.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", "127.0.0.1:8081", "Address the /healthz and /readyz probes listen on.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader so only one replica reconciles at a time.")
	flag.StringVar(&leaderElectNS, "leader-election-namespace", "estate-system", "Namespace of the leader election lease.")
	flag.IntVar(&maxConcurrency, "max-concurrent-reconciles", 4, "Workloads placed in parallel.")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("estate-operator")

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                  operators.NewScheme(),
		Metrics:                 metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress:  probeAddr,
		LeaderElection:          leaderElect,
		LeaderElectionID:        "estate-operator.estate.homeoffice.gov.uk",
		LeaderElectionNamespace: leaderElectNS,
	})
	if err != nil {
		log.Error(err, "Creating the manager failed")
		os.Exit(1)
	}
	ctx := ctrl.SetupSignalHandler()
	opts := operators.Options{}
	opts.Placement.MaxConcurrentReconciles = maxConcurrency
	if err := operators.Setup(ctx, mgr, opts); err != nil {
		log.Error(err, "Setting up operators failed")
		os.Exit(1)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		log.Error(err, "Adding the health check failed")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		log.Error(err, "Adding the readiness check failed")
		os.Exit(1)
	}
	log.Info("Starting manager")
	if err := mgr.Start(ctx); err != nil {
		log.Error(err, "Manager stopped with an error")
		os.Exit(1)
	}
}
