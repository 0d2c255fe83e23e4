package segmentation

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// SecurityGroup is the cloud security group of one workload on a PublicCloud
// site. Security groups are allow-only and stateful: a connection passes when
// the source's group allows it out and the destination's group allows it in,
// and replies always pass.
type SecurityGroup struct {
	// Name is "estate.<namespace>.<name>", unique across sites.
	Name string
	Site string
	// Workload is the member, as "namespace/name". The group applies to the
	// workload's addresses.
	Workload string
	Ingress  []SGRule
	Egress   []SGRule
}

// SGRule allows connections on a protocol and port range from (ingress) or
// to (egress) a set of addresses or the members of another group.
type SGRule struct {
	// Protocol is "tcp", "udp", "sctp", or "-1" for every protocol and port.
	Protocol string
	// FromPort and ToPort are the destination port range, inclusive. Both are
	// 0 when Protocol is "-1".
	FromPort, ToPort int32
	// CIDRs are the peer addresses. Exactly one of CIDRs and SourceGroup is set.
	CIDRs []netip.Prefix
	// SourceGroup is the peer group: the source for ingress and the
	// destination for egress. It is always a group at the same site.
	SourceGroup string
	// Description names the flows or the exposure the rule compiles, at
	// most 255 bytes.
	Description string
}

// securityGroupName returns the group name of a workload. Namespaces contain
// no dots, so the name is unique.
func securityGroupName(w *workload) string { return "estate." + w.Namespace + "." + w.Name }

type sgKey struct {
	protocol string
	port     int32
	group    string
}

type sgAccumulator struct {
	cidrs        [][]netip.Prefix
	descriptions []string // may repeat; joinDescriptions removes duplicates
}

// sgRules merges rules with the same protocol, port and peer group, so no
// rule appears twice. Addresses of merged rules are united. Every address
// list given to add must be canonical, as the compiler's lists are.
type sgRules map[sgKey]*sgAccumulator

func (r sgRules) add(ports []Port, all bool, cidrs []netip.Prefix, group, description string) {
	if group == "" && len(cidrs) == 0 {
		return
	}
	keys := make([]sgKey, 0, len(ports))
	if all {
		keys = append(keys, sgKey{protocol: "-1", group: group})
	} else {
		for _, p := range ports {
			keys = append(keys, sgKey{protocol: strings.ToLower(p.Protocol), port: p.Port, group: group})
		}
	}
	for _, k := range keys {
		acc := r[k]
		if acc == nil {
			acc = &sgAccumulator{}
			r[k] = acc
		}
		if len(cidrs) > 0 && !containsList(acc.cidrs, cidrs) {
			acc.cidrs = append(acc.cidrs, cidrs)
		}
		if n := len(acc.descriptions); n == 0 || acc.descriptions[n-1] != description {
			acc.descriptions = append(acc.descriptions, description)
		}
	}
}

// containsList reports whether the very same slice was added before. Rules
// for one external network or zone all share one slice, so this keeps the
// union below cheap.
func containsList(lists [][]netip.Prefix, list []netip.Prefix) bool {
	for _, l := range lists {
		if len(l) == len(list) && &l[0] == &list[0] {
			return true
		}
	}
	return false
}

func (r sgRules) sorted() []SGRule {
	out := make([]SGRule, 0, len(r))
	for k, acc := range r {
		rule := SGRule{Protocol: k.protocol, FromPort: k.port, ToPort: k.port, SourceGroup: k.group, Description: joinDescriptions(acc.descriptions, 255)}
		switch {
		case k.group != "":
		case len(acc.cidrs) == 1:
			// Every list given to add is already canonical.
			rule.CIDRs = slices.Clone(acc.cidrs[0])
		default:
			rule.CIDRs = canonical(acc.cidrs...)
		}
		out = append(out, rule)
	}
	slices.SortFunc(out, func(a, b SGRule) int {
		return cmp.Or(
			strings.Compare(a.Protocol, b.Protocol),
			cmp.Compare(a.FromPort, b.FromPort),
			strings.Compare(a.SourceGroup, b.SourceGroup),
		)
	})
	return out
}

// joinDescriptions joins the sorted, unique descriptions with commas. When
// they exceed limit bytes, it keeps as many as fit and ends with ", and N more".
func joinDescriptions(descriptions []string, limit int) string {
	list := slices.Compact(slices.Sorted(slices.Values(descriptions)))
	if joined := strings.Join(list, ", "); len(joined) <= limit {
		return joined
	}
	for kept := len(list) - 1; kept > 0; kept-- {
		if s := strings.Join(list[:kept], ", ") + ", and " + strconv.Itoa(len(list)-kept) + " more"; len(s) <= limit {
			return s
		}
	}
	if len(list) == 1 {
		return list[0][:limit]
	}
	suffix := ", and " + strconv.Itoa(len(list)-1) + " more"
	return list[0][:max(0, min(len(list[0]), limit-len(suffix)))] + suffix
}

type sgBuilder struct {
	group           *SecurityGroup
	ingress, egress sgRules
}

// securityGroups returns the groups of every workload on each PublicCloud site.
func (c *compiler) securityGroups() map[string][]SecurityGroup {
	builders := map[string]*sgBuilder{}
	for _, w := range c.workloads {
		if w.site == nil || w.site.Tier != TierPublicCloud {
			continue
		}
		b := &sgBuilder{
			group:   &SecurityGroup{Name: securityGroupName(w), Site: w.site.Name, Workload: w.key},
			ingress: sgRules{},
			egress:  sgRules{},
		}
		builders[w.key] = b
		for _, g := range c.exposures[w.key] {
			cidrs, description := c.internet, "exposure Internet"
			if g.from == MatrixPSN {
				cidrs, description = c.psn, "exposure PSN"
			}
			b.ingress.add(g.ports, g.all, cidrs, "", description)
		}
	}

	for _, f := range c.flows {
		if b := builders[f.src.key]; b != nil {
			c.addSGEgress(b, f)
		}
		for _, d := range c.deliveries(f) {
			b := builders[d.dst.key]
			if b == nil {
				continue
			}
			if sameSite(f.src, d.dst) {
				b.ingress.add(d.ports, false, nil, securityGroupName(f.src), f.id())
			} else {
				b.ingress.add(d.ports, false, f.src.Addresses, "", f.id())
			}
		}
	}

	out := map[string][]SecurityGroup{}
	for _, name := range c.siteNames {
		if c.sites[name].Tier == TierPublicCloud {
			out[name] = []SecurityGroup{}
		}
	}
	for _, w := range c.workloads {
		b := builders[w.key]
		if b == nil {
			continue
		}
		b.group.Ingress = b.ingress.sorted()
		b.group.Egress = b.egress.sorted()
		out[w.site.Name] = append(out[w.site.Name], *b.group)
	}
	return out
}

func (c *compiler) addSGEgress(b *sgBuilder, f *compiledFlow) {
	s := f.src
	switch f.kind {
	case toWorkload, toZone:
		if f.kind == toZone && !hasNamedPort(f.ports) {
			b.egress.add(f.ports, false, c.zoneTarget[f.zone], "", f.id())
			return
		}
		for _, d := range c.deliveries(f) {
			if sameSite(s, d.dst) {
				b.egress.add(d.ports, false, nil, securityGroupName(d.dst), f.id())
			} else {
				b.egress.add(d.ports, false, d.dst.Addresses, "", f.id())
			}
		}
	case toPSN:
		b.egress.add(f.ports, false, c.psn, "", f.id())
	case toInternet:
		b.egress.add(f.ports, false, c.internet, "", f.id())
	}
}
