package network

import (
	"context"
	"fmt"
	"sort"

	"sigs.k8s.io/controller-runtime/pkg/client"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/ipam"
	ipamapi "github.com/ukhomeoffice/estate/internal/ipam/fromapi"
	"github.com/ukhomeoffice/estate/internal/segmentation"
	segapi "github.com/ukhomeoffice/estate/internal/segmentation/fromapi"
)

// Primary returns the network the estate uses: the oldest Network, then the
// first by name. The operator marks any other Network not ready.
func Primary(ctx context.Context, c client.Reader) (*estatev1.Network, error) {
	list := &estatev1.NetworkList{}
	if err := c.List(ctx, list); err != nil {
		return nil, fmt.Errorf("listing networks: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, fmt.Errorf("no Network found: apply one, for example examples/estate/network.yaml")
	}
	items := list.Items
	sort.Slice(items, func(i, j int) bool {
		if !items[i].CreationTimestamp.Equal(&items[j].CreationTimestamp) {
			return items[i].CreationTimestamp.Before(&items[j].CreationTimestamp)
		}
		return items[i].Name < items[j].Name
	})
	return &items[0], nil
}

// Compiled is the declared intent of the estate on a server, built from the
// address plan held in the primary Network's status, and its compiled form.
type Compiled struct {
	Network *estatev1.Network
	Plan    ipam.Plan
	Intent  segmentation.Intent
	Output  *segmentation.Output
}

// CompileLive reads the primary Network, the sites, workloads and enclaves,
// and compiles their intent. It allocates nothing: the plan is the one the
// operator stored.
func CompileLive(ctx context.Context, c client.Reader) (*Compiled, error) {
	n, err := Primary(ctx, c)
	if err != nil {
		return nil, err
	}
	var (
		sites     estatev1.HostingSiteList
		workloads estatev1.WorkloadList
		enclaves  estatev1.EnclaveList
	)
	for _, list := range []client.ObjectList{&sites, &workloads, &enclaves} {
		if err := c.List(ctx, list); err != nil {
			return nil, fmt.Errorf("listing %T: %w", list, err)
		}
	}
	plan := ipamapi.PlanFromStatus(&n.Status)
	intent := segapi.Intent(n, sites.Items, workloads.Items, enclaves.Items, plan)
	out, err := segmentation.Compile(intent)
	if err != nil {
		return nil, fmt.Errorf("compiling the declared intent: %w", err)
	}
	return &Compiled{Network: n, Plan: plan, Intent: intent, Output: out}, nil
}
