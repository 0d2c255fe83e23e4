// Package addressplan checks the CIDR blocks that the network modules turn
// into VPCs, subnets and routes, so that a bad address plan fails before
// anything is sent to the cloud provider.
package addressplan

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
)

// Subnet is one trust zone's block within a VPC.
type Subnet struct {
	Zone string
	CIDR netip.Prefix
}

var zoneName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// ParseBlock parses a CIDR block of either IP family and rejects one with host
// bits set. field names the argument in the error, for example "VPCCIDR".
func ParseBlock(field, value string) (netip.Prefix, error) {
	prefix, err := netip.ParsePrefix(value)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%s %q is not a CIDR block; use a form such as 10.64.0.0/16", field, value)
	}
	if prefix != prefix.Masked() {
		return netip.Prefix{}, fmt.Errorf("%s %q has host bits set; use the network address %s", field, value, prefix.Masked())
	}
	return prefix, nil
}

// ParseIPv4Block parses an IPv4 CIDR block, as AWS requires for a VPC's
// primary block and a subnet's block.
func ParseIPv4Block(field, value string) (netip.Prefix, error) {
	prefix, err := ParseBlock(field, value)
	if err != nil {
		return netip.Prefix{}, err
	}
	if !prefix.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("%s %q is not IPv4; give the IPv4 block here", field, value)
	}
	// AWS accepts VPC and subnet blocks from /16 to /28.
	if prefix.Bits() < 16 || prefix.Bits() > 28 {
		return netip.Prefix{}, fmt.Errorf("%s %q has prefix length /%d; AWS accepts /16 to /28", field, value, prefix.Bits())
	}
	return prefix, nil
}

// Subnets checks a map of trust zone to IPv4 subnet block against the VPC
// block: each zone name is a DNS label, each block lies inside the VPC block,
// and no two blocks overlap. It returns the subnets sorted by zone, so that
// resources are declared in the same order on every run.
func Subnets(vpc netip.Prefix, subnets map[string]string) ([]Subnet, error) {
	if len(subnets) == 0 {
		return nil, fmt.Errorf("Subnets is empty; give at least one zone and its block, for example {\"application\": \"10.64.16.0/20\"}")
	}
	zones := make([]string, 0, len(subnets))
	for zone := range subnets {
		zones = append(zones, zone)
	}
	sort.Strings(zones)

	out := make([]Subnet, 0, len(zones))
	for _, zone := range zones {
		if !zoneName.MatchString(zone) || len(zone) > 63 {
			return nil, fmt.Errorf("zone name %q is invalid; use lower-case letters, digits and hyphens, as in the Network's zones", zone)
		}
		prefix, err := ParseIPv4Block(fmt.Sprintf("Subnets[%q]", zone), subnets[zone])
		if err != nil {
			return nil, err
		}
		if !vpc.Contains(prefix.Addr()) || prefix.Bits() < vpc.Bits() {
			return nil, fmt.Errorf("Subnets[%q] %s is outside the VPC block %s; carve it from the VPC block", zone, prefix, vpc)
		}
		for _, other := range out {
			if other.CIDR.Overlaps(prefix) {
				return nil, fmt.Errorf("Subnets[%q] %s overlaps Subnets[%q] %s; give each zone its own block", zone, prefix, other.Zone, other.CIDR)
			}
		}
		out = append(out, Subnet{Zone: zone, CIDR: prefix})
	}
	return out, nil
}

// MergeTags returns the caller's tags plus the given ones. The given ones win,
// because the modules use them to record facts such as the zone a subnet
// belongs to.
func MergeTags(tags map[string]string, extra map[string]string) map[string]string {
	out := make(map[string]string, len(tags)+len(extra))
	for k, v := range tags {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}
