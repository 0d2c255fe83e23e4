package enclave

import (
	"fmt"
	"net/netip"

	"go4.org/netipx"
)

// NotInternet are the ranges that InternetPrefixes leaves out: RFC 1918
// private IPv4, IPv6 unique local addresses (RFC 4193), IPv4 and IPv6
// link-local, and loopback. Every other address counts as the internet,
// including carrier-grade NAT (100.64.0.0/10), so a site whose pods use
// addresses outside these ranges cannot reach its own pods through the
// enclave's egress rule.
var NotInternet = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
}

// InternetPrefixes returns 0.0.0.0/0 and ::/0 minus NotInternet as the
// fewest CIDR prefixes that cover exactly that set, IPv4 first, each family
// in ascending address order. A ClusterNetworkPolicy network peer cannot
// express "every address except", so the enclave's egress rule lists these
// prefixes instead.
func InternetPrefixes() ([]netip.Prefix, error) {
	var b netipx.IPSetBuilder
	b.AddPrefix(netip.MustParsePrefix("0.0.0.0/0"))
	b.AddPrefix(netip.MustParsePrefix("::/0"))
	for _, p := range NotInternet {
		b.RemovePrefix(p)
	}
	set, err := b.IPSet()
	if err != nil {
		return nil, fmt.Errorf("computing the internet address ranges: %w", err)
	}
	return set.Prefixes(), nil
}
