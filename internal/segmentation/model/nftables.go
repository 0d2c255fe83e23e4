package model

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/ukhomeoffice/estate/internal/segmentation"
)

// Firewall evaluates a ruleset's forward chain the way nftables does: rules
// in order, the first matching rule's verdict decides, the policy drops
// packets that no rule matches, and connection tracking marks the packets of
// an accepted connection as established.
type Firewall struct {
	rules []segmentation.Rule
	sets  map[string]segmentation.AddressSet
	conns connections
}

// NewFirewall returns an evaluator for the ruleset with no tracked
// connections. It fails when a rule refers to a set the ruleset does not
// define, which nft would also reject.
func NewFirewall(r segmentation.Ruleset) (*Firewall, error) {
	f := &Firewall{rules: r.Rules, sets: map[string]segmentation.AddressSet{}, conns: connections{}}
	for _, s := range r.Sets {
		f.sets[s.Name] = s
	}
	for i, rule := range r.Rules {
		for _, a := range []segmentation.Addresses{rule.Source, rule.Destination} {
			if a.Set == "" {
				continue
			}
			s, ok := f.sets[a.Set]
			if !ok {
				return nil, fmt.Errorf("rule %d refers to set @%s, which the ruleset does not define", i, a.Set)
			}
			if s.Family != rule.Family {
				return nil, fmt.Errorf("rule %d matches %s addresses against set @%s of family %s", i, rule.Family, a.Set, s.Family)
			}
		}
	}
	return f, nil
}

// Forward passes one packet through the chain and returns the verdict. An
// accepted packet that starts a connection is tracked, so the packets of
// that connection in both directions are in state "established" afterwards.
func (f *Firewall) Forward(p Packet) segmentation.Verdict {
	state := "new"
	if f.conns.established(p) {
		state = "established"
	}
	verdict := f.Decide(p, state)
	if verdict == segmentation.Accept && state == "new" {
		f.conns[p] = true
	}
	return verdict
}

// Decide returns the verdict for a packet in the given connection tracking
// state ("new" or "established") without tracking anything.
func (f *Firewall) Decide(p Packet, state string) segmentation.Verdict {
	for _, r := range f.rules {
		if f.matches(r, p, state) {
			return r.Verdict
		}
	}
	return segmentation.Drop
}

func (f *Firewall) matches(r segmentation.Rule, p Packet, state string) bool {
	if r.Family != "" && familyOf(p.Src) != r.Family {
		return false
	}
	if len(r.ConnState) > 0 && !slices.Contains(r.ConnState, state) {
		return false
	}
	if !f.addressMatches(r.Source, p.Src) || !f.addressMatches(r.Destination, p.Dst) {
		return false
	}
	if r.Protocol != "" && r.Protocol != p.Protocol {
		return false
	}
	return len(r.Ports) == 0 || slices.Contains(r.Ports, int32(p.DstPort))
}

func (f *Firewall) addressMatches(a segmentation.Addresses, addr netip.Addr) bool {
	if a.IsAny() {
		return true
	}
	if a.Set != "" {
		return containsAddr(f.sets[a.Set].Elements, addr)
	}
	return containsAddr(a.Prefixes, addr)
}

func familyOf(a netip.Addr) segmentation.Family {
	if a.Is4() {
		return segmentation.FamilyIPv4
	}
	return segmentation.FamilyIPv6
}

func containsAddr(prefixes []netip.Prefix, addr netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
