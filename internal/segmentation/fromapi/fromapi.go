// Package fromapi builds the segmentation compiler's intent from API
// objects and the address plan, for the network operator and
// `estatectl network plan`.
package fromapi

import (
	"net/netip"
	"sort"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/ipam"
	"github.com/ukhomeoffice/estate/internal/segmentation"
)

// Intent returns the intent of one network: its zones and matrix, the
// sites with their zone blocks from plan, and every placed workload with
// its block. enclaves mark SECRET sites and the enclave zones.
func Intent(n *estatev1.Network, sites []estatev1.HostingSite, workloads []estatev1.Workload, enclaves []estatev1.Enclave, plan ipam.Plan) segmentation.Intent {
	in := segmentation.Intent{DepartmentSpaces: parse(n.Spec.AddressSpaces)}
	if n.Spec.PSN != nil {
		in.PSNRanges = parse(n.Spec.PSN.Ranges)
	}
	for _, z := range n.Spec.Zones {
		in.Zones = append(in.Zones, segmentation.Zone{Name: z.Name, TrustLevel: string(z.TrustLevel)})
	}
	for _, r := range n.Spec.ZoneMatrix {
		in.Matrix = append(in.Matrix, segmentation.ZoneRule{From: r.From, To: r.To, Ports: ports(r.Ports)})
	}

	enclaveSites := map[string]bool{}
	enclaveZones := map[string]bool{}
	for i := range enclaves {
		for _, s := range enclaves[i].Spec.Sites {
			enclaveSites[s] = true
		}
		zone := enclaves[i].Spec.Zone
		if zone == "" {
			zone = "enclave"
		}
		enclaveZones[zone] = true
	}
	// Only zones the Network declares can be enclave zones; an enclave
	// whose zone is missing is reported by the enclave operator.
	for _, z := range n.Spec.Zones {
		if enclaveZones[z.Name] {
			in.EnclaveZones = append(in.EnclaveZones, z.Name)
		}
	}
	sort.Strings(in.EnclaveZones)

	blocks := map[string]map[string][]netip.Prefix{}
	for _, sb := range plan.Sites {
		zones := map[string][]netip.Prefix{}
		for _, z := range sb.Zones {
			zones[z.Zone] = z.Prefixes
		}
		blocks[sb.Site] = zones
	}
	for i := range sites {
		s := &sites[i]
		in.Sites = append(in.Sites, segmentation.Site{
			Name:       s.Name,
			Tier:       segmentation.Tier(s.Spec.Tier),
			Enclave:    enclaveSites[s.Name] || s.Spec.Accreditation == estatev1.Secret,
			ZoneBlocks: blocks[s.Name],
		})
	}

	addresses := map[string][]netip.Prefix{}
	for _, wb := range plan.Workloads {
		addresses[wb.Key] = wb.Prefixes
	}
	for i := range workloads {
		w := &workloads[i]
		if w.Status.Placement == nil || w.Status.Placement.Site == "" || !w.DeletionTimestamp.IsZero() {
			continue
		}
		in.Workloads = append(in.Workloads, Workload(w, addresses[w.Namespace+"/"+w.Name]))
	}
	return in
}

// Workload converts one placed workload with its addresses.
func Workload(w *estatev1.Workload, addresses []netip.Prefix) segmentation.Workload {
	sw := segmentation.Workload{
		Namespace: w.Namespace,
		Name:      w.Name,
		Zone:      w.Spec.Zone,
		Site:      w.Status.Placement.Site,
		Exposure:  segmentation.Exposure(w.Spec.Exposure),
		Addresses: addresses,
	}
	if sw.Exposure == "" {
		sw.Exposure = segmentation.ExposureInternal
	}
	for _, p := range w.Spec.Ports {
		sw.Ports = append(sw.Ports, segmentation.NamedPort{Name: p.Name, Protocol: protocol(p.Protocol), Port: p.Port})
	}
	for _, f := range w.Spec.Flows {
		sw.Flows = append(sw.Flows, segmentation.Flow{
			Name:  f.Name,
			To:    segmentation.Peer{Workload: f.To.Workload, Zone: f.To.Zone, External: segmentation.ExternalNetwork(f.To.External)},
			Ports: ports(f.Ports),
		})
	}
	return sw
}

func ports(in []estatev1.FlowPort) []segmentation.Port {
	out := make([]segmentation.Port, 0, len(in))
	for _, p := range in {
		out = append(out, segmentation.Port{Protocol: protocol(p.Protocol), Port: p.Port, Name: p.Name})
	}
	return out
}

// protocol applies the API default, TCP, for objects that skipped defaulting.
func protocol(p string) string {
	if p == "" {
		return "TCP"
	}
	return p
}

func parse(cidrs []string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}
