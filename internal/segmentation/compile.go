package segmentation

import (
	"maps"
	"net/netip"
	"slices"
	"sync"
)

// Compile compiles the intent to every enforcement point. It returns an
// error only for a malformed intent, such as a duplicate zone, an invalid
// port or overlapping workload addresses, and the error lists every problem.
// A declared flow or exposure that the intent does not allow is left out of
// every output and listed in Output.Rejected.
//
// The output does not depend on the order of the intent's lists, and no
// output contains the same rule twice.
func Compile(in Intent) (*Output, error) {
	c, err := newCompiler(in)
	if err != nil {
		return nil, err
	}
	c.resolveFlows()

	// The outputs only read the resolved intent, so they are built concurrently.
	out := &Output{Rejected: c.rejected, Addresses: c.addressSummary()}
	var wg sync.WaitGroup
	wg.Go(func() { out.ClusterNetworkPolicies = c.clusterNetworkPolicies() })
	wg.Go(func() { out.NetworkPolicies = c.networkPolicies() })
	wg.Go(func() { out.SecurityGroups = c.securityGroups() })
	wg.Go(func() { out.Firewalls = c.firewalls() })
	wg.Wait()
	if out.Rejected == nil {
		out.Rejected = []Rejection{}
	}
	return out, nil
}

func (c *compiler) addressSummary() AddressSummary {
	s := AddressSummary{
		Internet:  slices.Clone(c.internet),
		PSN:       slices.Clone(c.psn),
		Zones:     make(map[string][]netip.Prefix, len(c.zoneTarget)),
		Workloads: make(map[string][]netip.Prefix, len(c.workloads)),
	}
	maps.Copy(s.Zones, c.zoneTarget)
	for _, w := range c.workloads {
		if len(w.Addresses) > 0 {
			s.Workloads[w.key] = slices.Clone(w.Addresses)
		}
	}
	return s
}
