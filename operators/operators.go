// Package operators registers every estate controller with a manager.
package operators

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/ukhomeoffice/estate/operators/enclave"
	"github.com/ukhomeoffice/estate/operators/network"
	"github.com/ukhomeoffice/estate/operators/placement"
	"github.com/ukhomeoffice/estate/operators/provisioning"
)

// Options configure all operators.
type Options struct {
	Placement    placement.Options
	Provisioning provisioning.Options
	Enclave      enclave.Options
}

// Setup registers the estate controllers.
func Setup(ctx context.Context, mgr ctrl.Manager, o Options) error {
	if err := placement.SetupWithManager(ctx, mgr, o.Placement); err != nil {
		return fmt.Errorf("setting up the placement operator: %w", err)
	}
	if o.Provisioning.Policies == nil {
		// Sites receive the NetworkPolicies the network operator compiled.
		o.Provisioning.Policies = network.PolicySource{Client: mgr.GetClient()}
	}
	if o.Provisioning.Planner == nil {
		// Without a Pulumi engine and credentials, cloud sites get a plan.
		o.Provisioning.Planner = network.CloudPlanner{Client: mgr.GetClient()}
	}
	if err := provisioning.SetupWithManager(ctx, mgr, o.Provisioning); err != nil {
		return fmt.Errorf("setting up the provisioning operator: %w", err)
	}
	if err := network.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the network operator: %w", err)
	}
	if err := enclave.SetupWithManager(ctx, mgr, o.Enclave); err != nil {
		return fmt.Errorf("setting up the enclave operator: %w", err)
	}
	return nil
}
