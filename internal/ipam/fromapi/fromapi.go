// Package fromapi converts between the Network API and the address-plan
// engine, so the network operator and `estatectl network plan` share it.
package fromapi

import (
	"net/netip"
	"strings"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/ipam"
)

// Spec converts a Network spec.
func Spec(n *estatev1.Network) ipam.Spec {
	s := ipam.Spec{
		Spaces: n.Spec.AddressSpaces,
		Policy: ipam.Policy{
			SiteBits:      int(n.Spec.Allocation.SitePrefixLength),
			ZoneBits:      int(n.Spec.Allocation.ZonePrefixLength),
			WorkloadBits:  int(n.Spec.Allocation.WorkloadPrefixLength),
			SiteBits6:     int(n.Spec.Allocation.SitePrefixLengthIPv6),
			ZoneBits6:     int(n.Spec.Allocation.ZonePrefixLengthIPv6),
			WorkloadBits6: int(n.Spec.Allocation.WorkloadPrefixLengthIPv6),
		},
	}
	if n.Spec.PSN != nil {
		s.PSNRanges = n.Spec.PSN.Ranges
	}
	for _, z := range n.Spec.Zones {
		s.Zones = append(s.Zones, z.Name)
	}
	for _, b := range n.Spec.SiteBlocks {
		s.SitePins = append(s.SitePins, ipam.SitePin{Site: b.Site, CIDRs: b.CIDRs})
	}
	return s
}

// Sites converts the hosting sites that hold address blocks. Sites being
// deleted keep their blocks until they are gone.
func Sites(list []estatev1.HostingSite) []ipam.Site {
	out := make([]ipam.Site, 0, len(list))
	for i := range list {
		out = append(out, ipam.Site{Name: list[i].Name, Tier: string(list[i].Spec.Tier)})
	}
	return out
}

// Holders returns the placed workloads, which hold one block each in their
// site's zone block. A workload being deleted holds its block until it is gone.
func Holders(list []estatev1.Workload) []ipam.Holder {
	var out []ipam.Holder
	for i := range list {
		w := &list[i]
		if w.Status.Placement == nil || w.Status.Placement.Site == "" {
			continue
		}
		out = append(out, ipam.Holder{
			Key:  w.Namespace + "/" + w.Name,
			UID:  string(w.UID),
			Site: w.Status.Placement.Site,
			Zone: w.Spec.Zone,
		})
	}
	return out
}

// PlanFromStatus reads the plan stored in a Network's status. A block that
// does not parse is dropped, so the engine carves it again.
func PlanFromStatus(s *estatev1.NetworkStatus) ipam.Plan {
	var plan ipam.Plan
	for _, site := range s.Sites {
		sb := ipam.SiteBlock{Site: site.Site, Prefixes: prefixes(site.CIDRs)}
		for _, z := range site.Zones {
			sb.Zones = append(sb.Zones, ipam.ZoneBlock{Zone: z.Zone, Prefixes: prefixes(z.CIDRs)})
		}
		plan.Sites = append(plan.Sites, sb)
	}
	for _, w := range s.Workloads {
		plan.Workloads = append(plan.Workloads, ipam.WorkloadBlock{
			Key: w.Workload, UID: w.UID, Site: w.Site, Zone: w.Zone, Prefixes: prefixes(w.CIDRs),
		})
	}
	return plan
}

// StatusFromPlan writes a plan into a Network status.
func StatusFromPlan(plan ipam.Plan, s *estatev1.NetworkStatus) {
	s.Sites = make([]estatev1.SiteAddressBlock, 0, len(plan.Sites))
	for _, site := range plan.Sites {
		sb := estatev1.SiteAddressBlock{Site: site.Site, CIDRs: Strings(site.Prefixes)}
		for _, z := range site.Zones {
			sb.Zones = append(sb.Zones, estatev1.ZoneAddressBlock{Zone: z.Zone, CIDRs: Strings(z.Prefixes)})
		}
		s.Sites = append(s.Sites, sb)
	}
	s.Workloads = make([]estatev1.WorkloadAddressBlock, 0, len(plan.Workloads))
	for _, w := range plan.Workloads {
		s.Workloads = append(s.Workloads, estatev1.WorkloadAddressBlock{
			Workload: w.Key, UID: w.UID, Site: w.Site, Zone: w.Zone, CIDRs: Strings(w.Prefixes),
		})
	}
}

// Strings formats prefixes in order.
func Strings(ps []netip.Prefix) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

func prefixes(cidrs []string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// FieldErrorsMessage joins field errors into one condition message.
func FieldErrorsMessage(errs []ipam.FieldError) string {
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		msg := e.Error()
		if e.Suggestion != "" && !strings.Contains(e.Message, e.Suggestion) {
			msg += " (use " + e.Suggestion + ")"
		}
		if !strings.HasSuffix(msg, ".") {
			msg += "."
		}
		parts = append(parts, msg)
	}
	return strings.Join(parts, " ")
}
