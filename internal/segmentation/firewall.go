package segmentation

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Ruleset is the nftables ruleset of one site boundary: a forward chain that
// drops what no rule accepts, in the table "inet estate".
type Ruleset struct {
	Site string
	// Sets are named interval sets that rules refer to, sorted by name.
	Sets []AddressSet
	// Rules of the forward chain in evaluation order: the first rule that
	// matches decides, and the chain's policy drops everything else.
	Rules []Rule
}

// Family is an nftables address family match.
type Family string

const (
	FamilyIPv4 Family = "ip"
	FamilyIPv6 Family = "ip6"
)

// Verdict is the action of a matching rule.
type Verdict string

const (
	Accept Verdict = "accept"
	Drop   Verdict = "drop"
)

// AddressSet is a named set of prefixes of one family.
type AddressSet struct {
	Name     string
	Family   Family
	Elements []netip.Prefix
}

// Rule is one rule of the forward chain. Every field that is set must match.
type Rule struct {
	// Family of the address matches; empty when the rule matches no address.
	Family Family
	// ConnState matches the connection tracking state, for example
	// "established" and "related"; empty matches any state.
	ConnState []string
	// Source and Destination match the packet's addresses; empty matches any.
	Source, Destination Addresses
	// Protocol is "tcp", "udp" or "sctp"; empty matches any protocol.
	Protocol string
	// Ports are destination ports, sorted; empty matches any port. Ports
	// require a Protocol.
	Ports   []int32
	Verdict Verdict
	// Comment names what the rule compiles, at most 128 bytes.
	Comment string
}

// Addresses matches a named set or a list of prefixes. The zero value
// matches any address.
type Addresses struct {
	Set      string
	Prefixes []netip.Prefix
}

// IsAny reports whether the match places no constraint on the address.
func (a Addresses) IsAny() bool { return a.Set == "" && len(a.Prefixes) == 0 }

// Set names of the external networks, by family.
const (
	SetInternetIPv4 = "internet_v4"
	SetInternetIPv6 = "internet_v6"
	SetPSNIPv4      = "psn_v4"
	SetPSNIPv6      = "psn_v6"
)

// Render returns the ruleset as an nftables script for `nft -f`. The script
// creates and then deletes the table before defining it, so loading it
// replaces the previous version atomically and leaves other tables alone.
func (r Ruleset) Render() string {
	var b strings.Builder
	b.WriteString("table inet estate\ndelete table inet estate\ntable inet estate {\n")
	for _, s := range r.Sets {
		kind := "ipv4_addr"
		if s.Family == FamilyIPv6 {
			kind = "ipv6_addr"
		}
		b.WriteString("\tset " + s.Name + " {\n")
		b.WriteString("\t\ttype " + kind + "\n")
		b.WriteString("\t\tflags interval\n")
		b.WriteString("\t\telements = { " + joinPrefixes(s.Elements) + " }\n")
		b.WriteString("\t}\n")
	}
	b.WriteString("\tchain forward {\n")
	b.WriteString("\t\ttype filter hook forward priority filter; policy drop;\n")
	for _, rule := range r.Rules {
		b.WriteString("\t\t" + rule.String() + "\n")
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}

// String returns the rule in nftables syntax.
func (r Rule) String() string {
	var parts []string
	if r.Family != "" && r.Source.IsAny() && r.Destination.IsAny() {
		nfproto := "ipv4"
		if r.Family == FamilyIPv6 {
			nfproto = "ipv6"
		}
		parts = append(parts, "meta nfproto "+nfproto)
	}
	if !r.Source.IsAny() {
		parts = append(parts, string(r.Family)+" saddr "+r.Source.render())
	}
	if !r.Destination.IsAny() {
		parts = append(parts, string(r.Family)+" daddr "+r.Destination.render())
	}
	if len(r.ConnState) > 0 {
		parts = append(parts, "ct state "+strings.Join(r.ConnState, ","))
	}
	switch {
	case r.Protocol != "" && len(r.Ports) == 1:
		parts = append(parts, r.Protocol+" dport "+strconv.Itoa(int(r.Ports[0])))
	case r.Protocol != "" && len(r.Ports) > 1:
		ports := make([]string, len(r.Ports))
		for i, p := range r.Ports {
			ports[i] = strconv.Itoa(int(p))
		}
		parts = append(parts, r.Protocol+" dport { "+strings.Join(ports, ", ")+" }")
	case r.Protocol != "":
		parts = append(parts, "meta l4proto "+r.Protocol)
	}
	parts = append(parts, string(r.Verdict))
	if r.Comment != "" {
		parts = append(parts, strconv.Quote(r.Comment))
		parts[len(parts)-1] = "comment " + parts[len(parts)-1]
	}
	return strings.Join(parts, " ")
}

func (a Addresses) render() string {
	if a.Set != "" {
		return "@" + a.Set
	}
	if len(a.Prefixes) == 1 {
		return renderPrefix(a.Prefixes[0])
	}
	return "{ " + joinPrefixes(a.Prefixes) + " }"
}

func joinPrefixes(prefixes []netip.Prefix) string {
	parts := make([]string, len(prefixes))
	for i, p := range prefixes {
		parts[i] = renderPrefix(p)
	}
	return strings.Join(parts, ", ")
}

// renderPrefix writes a single address without its length, as nft prints it.
func renderPrefix(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// endpoint is one side of a firewall rule, per family, with a key that
// identifies each family's addresses. A nil family means the side has no
// addresses of that family.
type endpoint struct {
	v4, v6     *Addresses
	key4, key6 string
}

func prefixEndpoint(prefixes []netip.Prefix) endpoint {
	v4, v6 := splitFamilies(prefixes)
	var e endpoint
	if len(v4) > 0 {
		e.v4, e.key4 = &Addresses{Prefixes: v4}, prefixesKey(v4)
	}
	if len(v6) > 0 {
		e.v6, e.key6 = &Addresses{Prefixes: v6}, prefixesKey(v6)
	}
	return e
}

func setEndpoint(prefixes []netip.Prefix, v4Set, v6Set string) endpoint {
	v4, v6 := splitFamilies(prefixes)
	var e endpoint
	if len(v4) > 0 {
		e.v4, e.key4 = &Addresses{Set: v4Set}, "@"+v4Set
	}
	if len(v6) > 0 {
		e.v6, e.key6 = &Addresses{Set: v6Set}, "@"+v6Set
	}
	return e
}

type fwKey struct {
	family       Family
	source, dest string
	protocol     string
	verdict      Verdict
}

type fwAccumulator struct {
	rule     Rule
	ports    []int32
	comments []string // may repeat; joinDescriptions removes duplicates
}

// fwBuilder collects the rules of one site. Rules with the same addresses,
// protocol and verdict are merged, so no rule appears twice.
type fwBuilder struct {
	site    *Site
	drops   map[fwKey]*fwAccumulator
	accepts map[fwKey]*fwAccumulator
}

func (b *fwBuilder) add(verdict Verdict, src, dst endpoint, ports []Port, all bool, comment string) {
	for _, fam := range [2]struct {
		family         Family
		src, dst       *Addresses
		srcKey, dstKey string
	}{{FamilyIPv4, src.v4, dst.v4, src.key4, dst.key4}, {FamilyIPv6, src.v6, dst.v6, src.key6, dst.key6}} {
		if fam.src == nil || fam.dst == nil {
			continue
		}
		if all {
			key := fwKey{fam.family, fam.srcKey, fam.dstKey, "", verdict}
			b.addRule(key, *fam.src, *fam.dst, 0, comment)
			continue
		}
		for _, p := range ports {
			key := fwKey{fam.family, fam.srcKey, fam.dstKey, lowerProtocol(p.Protocol), verdict}
			b.addRule(key, *fam.src, *fam.dst, p.Port, comment)
		}
	}
}

func lowerProtocol(protocol string) string {
	switch protocol {
	case "TCP":
		return "tcp"
	case "UDP":
		return "udp"
	case "SCTP":
		return "sctp"
	}
	return strings.ToLower(protocol)
}

func (b *fwBuilder) addRule(key fwKey, src, dst Addresses, port int32, comment string) {
	rules := b.accepts
	if key.verdict == Drop {
		rules = b.drops
	}
	acc := rules[key]
	if acc == nil {
		acc = &fwAccumulator{
			rule: Rule{Family: key.family, Source: src, Destination: dst, Protocol: key.protocol, Verdict: key.verdict},
		}
		rules[key] = acc
	}
	if port != 0 {
		acc.ports = append(acc.ports, port)
	}
	if n := len(acc.comments); n == 0 || acc.comments[n-1] != comment {
		acc.comments = append(acc.comments, comment)
	}
}

// sorted returns the merged rules ordered by family, addresses and protocol.
func sortedRules(rules map[fwKey]*fwAccumulator) []Rule {
	keys := make([]fwKey, 0, len(rules))
	for k := range rules {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b fwKey) int {
		return cmp.Or(
			strings.Compare(string(a.family), string(b.family)),
			strings.Compare(a.source, b.source),
			strings.Compare(a.dest, b.dest),
			strings.Compare(a.protocol, b.protocol),
		)
	})
	out := make([]Rule, 0, len(keys))
	for _, k := range keys {
		acc := rules[k]
		rule := acc.rule
		slices.Sort(acc.ports)
		rule.Ports = slices.Compact(acc.ports)
		rule.Comment = joinDescriptions(acc.comments, 128)
		out = append(out, rule)
	}
	return out
}

func isFirewallSite(s *Site) bool {
	return s != nil && (s.Tier == TierOnPremises || s.Tier == TierPrivateCloud)
}

// crossesFirewall reports whether traffic between two workloads passes the
// boundary firewall of a site: it enters or leaves the site, or moves
// between zones within it. Traffic within one zone at one site stays on the
// zone's network and is enforced by NetworkPolicy alone.
func crossesFirewall(site *Site, s, d *workload) bool {
	if !isFirewallSite(site) || (s.site != site && d.site != site) {
		return false
	}
	return !(s.site == d.site && s.Zone == d.Zone)
}

// firewalls returns the ruleset of every OnPremises and PrivateCloud site.
func (c *compiler) firewalls() map[string]Ruleset {
	builders := map[string]*fwBuilder{}
	for _, name := range c.siteNames {
		if s := c.sites[name]; isFirewallSite(s) {
			builders[name] = &fwBuilder{site: s, drops: map[fwKey]*fwAccumulator{}, accepts: map[fwKey]*fwAccumulator{}}
		}
	}
	if len(builders) == 0 {
		return map[string]Ruleset{}
	}

	internet := setEndpoint(c.internet, SetInternetIPv4, SetInternetIPv6)
	psn := setEndpoint(c.psn, SetPSNIPv4, SetPSNIPv6)
	c.addEnclaveDrops(builders, internet)

	for _, w := range c.workloads {
		b := builders[w.Site]
		if b == nil {
			continue
		}
		for _, g := range c.exposures[w.key] {
			from, comment := internet, "exposure Internet of "+w.key
			if g.from == MatrixPSN {
				from, comment = psn, "exposure PSN of "+w.key
			}
			b.add(Accept, from, w.endpoint, g.ports, g.all, comment)
		}
	}

	zones := map[zonePair]endpoint{} // (zone, site) → the zone's addresses there; site "" means every site
	for _, f := range c.flows {
		c.addFlowRules(builders, f, internet, psn, zones)
	}

	out := make(map[string]Ruleset, len(builders))
	for name, b := range builders {
		rules := sortedRules(b.drops)
		rules = append(rules, Rule{ConnState: []string{"established", "related"}, Verdict: Accept})
		rules = append(rules, sortedRules(b.accepts)...)
		out[name] = Ruleset{Site: name, Sets: c.usedSets(rules), Rules: rules}
	}
	return out
}

// addEnclaveDrops drops traffic between the internet and the enclave's
// addresses at each site before any other rule, so that no later accept can
// open a route. At an enclave site every address is the enclave's.
func (c *compiler) addEnclaveDrops(builders map[string]*fwBuilder, internet endpoint) {
	for _, name := range c.siteNames {
		b := builders[name]
		if b == nil {
			continue
		}
		var lists [][]netip.Prefix
		for _, zone := range c.zoneNames {
			if b.site.Enclave || c.isEnclave[zone] {
				lists = append(lists, b.site.ZoneBlocks[zone])
			}
		}
		for _, w := range c.workloads {
			if w.site == b.site && w.enclave {
				lists = append(lists, w.Addresses)
			}
		}
		enclave := canonical(lists...)
		if len(enclave) == 0 {
			continue
		}
		e := prefixEndpoint(enclave)
		b.add(Drop, e, internet, nil, true, "the Tier 2 enclave has no route to the internet")
		b.add(Drop, internet, e, nil, true, "the Tier 2 enclave has no route to the internet")
	}
}

func (c *compiler) addFlowRules(builders map[string]*fwBuilder, f *compiledFlow, internet, psn endpoint, zones map[zonePair]endpoint) {
	s := f.src
	src := s.endpoint
	zoneEndpoint := func(zone, site string, prefixes []netip.Prefix) endpoint {
		e, ok := zones[zonePair{zone, site}]
		if !ok {
			e = prefixEndpoint(prefixes)
			zones[zonePair{zone, site}] = e
		}
		return e
	}
	switch f.kind {
	case toPSN, toInternet:
		b := builders[s.Site]
		if b == nil {
			return
		}
		dst := psn
		if f.kind == toInternet {
			dst = internet
		}
		b.add(Accept, src, dst, f.ports, false, f.id())
		return

	case toZone:
		if !hasNamedPort(f.ports) {
			// The source's site passes connections to the zone at every site.
			// Each other site passes those to the zone's addresses there.
			if b := builders[s.Site]; b != nil {
				b.add(Accept, src, zoneEndpoint(f.zone, "", c.zoneTarget[f.zone]), f.ports, false, f.id())
			}
			for _, name := range c.siteNames {
				b := builders[name]
				if b == nil || b.site == s.site {
					continue
				}
				if here := c.zoneTargetAt[name][f.zone]; len(here) > 0 {
					b.add(Accept, src, zoneEndpoint(f.zone, name, here), f.ports, false, f.id())
				}
			}
			return
		}
	}

	for _, d := range c.deliveries(f) {
		dst := d.dst.endpoint
		for _, site := range []*Site{s.site, d.dst.site} {
			if site == nil || !crossesFirewall(site, s, d.dst) {
				continue
			}
			builders[site.Name].add(Accept, src, dst, d.ports, false, f.id())
			if s.site == d.dst.site {
				break
			}
		}
	}
}

// usedSets returns the named sets that the rules refer to.
func (c *compiler) usedSets(rules []Rule) []AddressSet {
	used := map[string]bool{}
	for _, r := range rules {
		used[r.Source.Set] = true
		used[r.Destination.Set] = true
	}
	internet4, internet6 := splitFamilies(c.internet)
	psn4, psn6 := splitFamilies(c.psn)
	var sets []AddressSet
	for _, s := range []AddressSet{
		{Name: SetInternetIPv4, Family: FamilyIPv4, Elements: internet4},
		{Name: SetInternetIPv6, Family: FamilyIPv6, Elements: internet6},
		{Name: SetPSNIPv4, Family: FamilyIPv4, Elements: psn4},
		{Name: SetPSNIPv6, Family: FamilyIPv6, Elements: psn6},
	} {
		if used[s.Name] && len(s.Elements) > 0 {
			sets = append(sets, s)
		}
	}
	slices.SortFunc(sets, func(a, b AddressSet) int { return strings.Compare(a.Name, b.Name) })
	return sets
}
