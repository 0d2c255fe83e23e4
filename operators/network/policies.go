package network

import (
	"context"
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/segmentation"
)

// PolicySource hands the NetworkPolicies this operator compiled for a
// workload to the provisioning operator, which applies them on the
// workload's site. It reads what is applied in the management cluster, so
// a site receives exactly the policy that the proof checks.
type PolicySource struct {
	Client client.Reader
}

// NetworkPolicies returns the compiled policies of one workload.
func (p PolicySource) NetworkPolicies(ctx context.Context, _ *estatev1.HostingSite, w *estatev1.Workload) ([]networkingv1.NetworkPolicy, error) {
	list := &networkingv1.NetworkPolicyList{}
	err := p.Client.List(ctx, list, client.InNamespace(w.Namespace), client.MatchingLabels{
		segmentation.ManagedByLabel: segmentation.ManagedByValue,
		segmentation.WorkloadLabel:  w.Name,
	})
	if err != nil {
		return nil, fmt.Errorf("listing the compiled network policies of %s/%s: %w", w.Namespace, w.Name, err)
	}
	return list.Items, nil
}
