package model

import (
	"fmt"
	"net/netip"

	"github.com/ukhomeoffice/estate/internal/segmentation"
)

// SecurityGroups evaluates security groups the way cloud providers do. They
// only allow: a new connection needs an egress rule of a group the source
// belongs to, and an ingress rule of a group the destination belongs to.
// A side that belongs to no group, such as an address outside the cloud, is
// not filtered here. They are stateful: the packets of an allowed connection
// pass in both directions, whatever the rules contain.
type SecurityGroups struct {
	groups  map[string]segmentation.SecurityGroup
	members map[string][]netip.Prefix // group name → its members' addresses
	conns   connections
}

// NewSecurityGroups returns an evaluator for the groups, whose members are
// the addresses of each group's workload, keyed by "namespace/name" as in
// segmentation.AddressSummary.Workloads. It fails when a rule refers to a
// group that is not given.
func NewSecurityGroups(groups []segmentation.SecurityGroup, addresses map[string][]netip.Prefix) (*SecurityGroups, error) {
	s := &SecurityGroups{groups: map[string]segmentation.SecurityGroup{}, members: map[string][]netip.Prefix{}, conns: connections{}}
	for _, g := range groups {
		if _, dup := s.groups[g.Name]; dup {
			return nil, fmt.Errorf("security group %q is given twice", g.Name)
		}
		s.groups[g.Name] = g
		s.members[g.Name] = addresses[g.Workload]
	}
	for _, g := range groups {
		for _, rules := range [][]segmentation.SGRule{g.Ingress, g.Egress} {
			for _, r := range rules {
				if r.SourceGroup != "" {
					if _, ok := s.groups[r.SourceGroup]; !ok {
						return nil, fmt.Errorf("security group %q refers to group %q, which is not given", g.Name, r.SourceGroup)
					}
				}
			}
		}
	}
	return s, nil
}

// GroupsOf returns the names of the groups whose members include the address.
func (s *SecurityGroups) GroupsOf(a netip.Addr) []string {
	var out []string
	for name, prefixes := range s.members {
		if containsAddr(prefixes, a) {
			out = append(out, name)
		}
	}
	return out
}

// Governs reports whether either end of the packet belongs to a group.
func (s *SecurityGroups) Governs(p Packet) bool {
	return len(s.GroupsOf(p.Src)) > 0 || len(s.GroupsOf(p.Dst)) > 0
}

// Send passes one packet and reports whether it is allowed. An allowed
// packet that starts a connection is tracked, so the packets of that
// connection in both directions pass afterwards.
func (s *SecurityGroups) Send(p Packet) bool {
	if s.conns.established(p) {
		return true
	}
	if !s.AllowsNew(p) {
		return false
	}
	s.conns[p] = true
	return true
}

// AllowsNew reports whether the groups allow a new connection, without
// tracking it: the source's groups must let it out and the destination's
// groups must let it in.
func (s *SecurityGroups) AllowsNew(p Packet) bool {
	return s.AllowsEgress(p) && s.AllowsIngress(p)
}

// AllowsEgress reports whether a group of the source has an egress rule for
// a new connection. A source in no group is not filtered, so it is allowed.
func (s *SecurityGroups) AllowsEgress(p Packet) bool {
	src := s.GroupsOf(p.Src)
	return len(src) == 0 || s.anyAllows(src, p, p.Dst, true)
}

// AllowsIngress reports whether a group of the destination has an ingress
// rule for a new connection. A destination in no group is allowed.
func (s *SecurityGroups) AllowsIngress(p Packet) bool {
	dst := s.GroupsOf(p.Dst)
	return len(dst) == 0 || s.anyAllows(dst, p, p.Src, false)
}

// anyAllows reports whether one of the groups has a rule for the packet:
// an egress rule matching the destination, or an ingress rule matching the source.
func (s *SecurityGroups) anyAllows(groups []string, p Packet, peer netip.Addr, egress bool) bool {
	for _, name := range groups {
		rules := s.groups[name].Ingress
		if egress {
			rules = s.groups[name].Egress
		}
		for _, r := range rules {
			if s.ruleMatches(r, p, peer) {
				return true
			}
		}
	}
	return false
}

func (s *SecurityGroups) ruleMatches(r segmentation.SGRule, p Packet, peer netip.Addr) bool {
	if r.Protocol != "-1" {
		if r.Protocol != p.Protocol || int32(p.DstPort) < r.FromPort || int32(p.DstPort) > r.ToPort {
			return false
		}
	}
	if r.SourceGroup != "" {
		return containsAddr(s.members[r.SourceGroup], peer)
	}
	return containsAddr(r.CIDRs, peer)
}
