package segmentation

import (
	"fmt"
	"net/netip"
	"slices"

	"go4.org/netipx"
)

// Address space that is never the internet: RFC 1918, IPv4 link-local
// (RFC 3927), IPv6 unique local addresses (RFC 4193) and IPv6 link-local
// (RFC 4291).
var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
}

var (
	allIPv4 = netip.MustParsePrefix("0.0.0.0/0")
	allIPv6 = netip.MustParsePrefix("::/0")
)

// Default metadata addresses: the instance metadata service of AWS, Azure
// and GCP on IPv4, and of AWS on IPv6.
var defaultMetadataAddresses = []netip.Prefix{
	netip.MustParsePrefix("169.254.169.254/32"),
	netip.MustParsePrefix("fd00:ec2::254/128"),
}

// PrivateRanges returns the address space that is never the internet:
// RFC 1918, ULA and link-local space of both families.
func PrivateRanges() []netip.Prefix {
	return append([]netip.Prefix(nil), privateRanges...)
}

// Internet returns 0.0.0.0/0 and ::/0 minus the department spaces, the PSN
// ranges, the metadata addresses and PrivateRanges. Security groups and
// ClusterNetworkPolicy networks cannot express exceptions, so they use this
// complement instead.
func Internet(departmentSpaces, psnRanges, metadata []netip.Prefix) (*netipx.IPSet, error) {
	var b netipx.IPSetBuilder
	b.AddPrefix(allIPv4)
	b.AddPrefix(allIPv6)
	for _, list := range [][]netip.Prefix{departmentSpaces, psnRanges, metadata, privateRanges} {
		for _, p := range list {
			b.RemovePrefix(p)
		}
	}
	return b.IPSet()
}

// buildSet returns the union of the prefixes.
func buildSet(lists ...[]netip.Prefix) *netipx.IPSet {
	var b netipx.IPSetBuilder
	for _, list := range lists {
		for _, p := range list {
			b.AddPrefix(p)
		}
	}
	s, err := b.IPSet()
	if err != nil {
		// Every prefix was validated before it reached here.
		panic(fmt.Sprintf("segmentation: building an address set from validated prefixes: %v", err))
	}
	return s
}

// canonical returns the fewest prefixes that cover exactly the union of the
// lists, sorted with IPv4 first.
func canonical(lists ...[]netip.Prefix) []netip.Prefix {
	if len(lists) == 1 {
		if out, ok := alreadyCanonical(lists[0]); ok {
			return out
		}
	}
	return buildSet(lists...).Prefixes()
}

// alreadyCanonical returns the list masked and sorted when no two of its
// prefixes overlap or merge into their parent, which is the common case
// of a workload's addresses. Building an IPSet would give the same result
// more slowly.
func alreadyCanonical(list []netip.Prefix) ([]netip.Prefix, bool) {
	out := make([]netip.Prefix, len(list))
	for i, p := range list {
		out[i] = p.Masked()
	}
	slices.SortFunc(out, netipx.ComparePrefix)
	for i := 1; i < len(out); i++ {
		prev, p := out[i-1], out[i]
		if prev.Overlaps(p) {
			return nil, false
		}
		if prev.Bits() == p.Bits() && prev.Bits() > 0 && prev.Addr().Is4() == p.Addr().Is4() {
			parent, _ := prev.Addr().Prefix(prev.Bits() - 1)
			if parent.Contains(p.Addr()) {
				return nil, false
			}
		}
	}
	return out, true
}

// splitFamilies returns the IPv4 and IPv6 prefixes of a sorted list.
func splitFamilies(prefixes []netip.Prefix) (v4, v6 []netip.Prefix) {
	for _, p := range prefixes {
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	return v4, v6
}

// minus returns the prefixes of set minus the given prefixes.
func minus(set []netip.Prefix, remove []netip.Prefix) []netip.Prefix {
	var b netipx.IPSetBuilder
	for _, p := range set {
		b.AddPrefix(p)
	}
	for _, p := range remove {
		b.RemovePrefix(p)
	}
	s, err := b.IPSet()
	if err != nil {
		panic(fmt.Sprintf("segmentation: subtracting validated prefixes: %v", err))
	}
	return s.Prefixes()
}

// intersect returns the prefixes of the intersection of a and b.
func intersect(a, b []netip.Prefix) []netip.Prefix {
	var builder netipx.IPSetBuilder
	for _, p := range a {
		builder.AddPrefix(p)
	}
	builder.Intersect(buildSet(b))
	s, err := builder.IPSet()
	if err != nil {
		panic(fmt.Sprintf("segmentation: intersecting validated prefixes: %v", err))
	}
	return s.Prefixes()
}

// prefixesKey returns a string that identifies a sorted prefix list.
func prefixesKey(prefixes []netip.Prefix) string {
	b := make([]byte, 0, 20*len(prefixes))
	for i, p := range prefixes {
		if i > 0 {
			b = append(b, ',')
		}
		b = p.AppendTo(b)
	}
	return string(b)
}

// chunk splits a list into pieces of at most size elements, because the
// ClusterNetworkPolicy API limits networks, peers and rules to 25 each.
func chunk[T any](list []T, size int) [][]T {
	var out [][]T
	for len(list) > size {
		out = append(out, list[:size:size])
		list = list[size:]
	}
	if len(list) > 0 {
		out = append(out, list)
	}
	return out
}
