// Package operators registers every estate controller with a manager.
package operators

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/ukhomeoffice/estate/operators/network"
	"github.com/ukhomeoffice/estate/operators/placement"
)

// Options configure all operators.
type Options struct {
	Placement placement.Options
}

// Setup registers the estate controllers. The network, provisioning and
// enclave operators join here as they are built.
func Setup(ctx context.Context, mgr ctrl.Manager, o Options) error {
	if err := placement.SetupWithManager(ctx, mgr, o.Placement); err != nil {
		return fmt.Errorf("setting up the placement operator: %w", err)
	}
	if err := network.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the network operator: %w", err)
	}
	return nil
}
