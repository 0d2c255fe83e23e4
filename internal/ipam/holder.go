package ipam

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	"go4.org/netipx"
)

// AllocateHolder returns plan with one holder's blocks added, for the
// workload reconciler, which should not recompute the whole plan for one
// workload. It takes the site and zone blocks from plan as they are, so
// plan must come from Allocate with the same spec. It checks spec alone,
// without the hosting sites that Validate also checks.
//
// A block in plan held by the same Key and UID at the same site and zone
// is kept while it still fits. A missing family is carved at the lowest
// free address of the zone block, so the result is the plan that Allocate
// would return with h added. Any other block under h.Key is released, so
// a holder that moved gets a new block and frees the old one.
//
// A Problem error means h got no block. The plan returned with it has
// h.Key's blocks released, because a holder that cannot get every family
// keeps nothing. A FieldErrors error means spec is invalid, and plan is
// returned unchanged. The input plan is never modified, and the returned
// plan shares no memory with it.
func AllocateHolder(spec Spec, plan Plan, h Holder) (Plan, WorkloadBlock, error) {
	ps, issues := parseSpec(spec)
	if err := blockingErrors(issues); err != nil {
		return ClonePlan(plan), WorkloadBlock{}, err
	}
	zoneBlocks, problem := findZoneBlocks(ps, plan, h)

	var own candidates
	var used [2][]netip.Prefix
	others := make([]WorkloadBlock, 0, len(plan.Workloads)+1)
	for _, w := range plan.Workloads {
		if w.Key == h.Key {
			if w.UID == h.UID && w.Site == h.Site && w.Zone == h.Zone {
				own.add(w.Prefixes)
			}
			continue
		}
		others = append(others, w)
		for _, p := range w.Prefixes {
			if !p.IsValid() {
				continue
			}
			fi := familyIndex(familyOf(p))
			if zb := zoneBlocks[fi]; zb.IsValid() && zb.Overlaps(p) {
				used[fi] = append(used[fi], p)
			}
		}
	}
	if problem != nil {
		return ownPlan(plan.Sites, others), WorkloadBlock{}, *problem
	}
	own.sort()

	var blocks [2]netip.Prefix
	for _, f := range ps.families {
		fi := familyIndex(f)
		_, _, workloadBits := ps.policy.lengths(f)
		for _, p := range own[fi] {
			if isBlock(p, f, workloadBits) && covers(zoneBlocks[fi], p) && !overlapsAny(p, used[fi]) {
				blocks[fi] = p
				break
			}
		}
		if blocks[fi].IsValid() {
			continue
		}
		p, ok := newCarverWithin(zoneBlocks[fi], used[fi], workloadBits).take()
		if !ok {
			problem := Problem{Key: h.Key, Reason: ReasonAddressesExhausted, Message: exhaustedMessage(h, zoneBlocks[fi], f, ps.policy)}
			return ownPlan(plan.Sites, others), WorkloadBlock{}, problem
		}
		blocks[fi] = p
	}

	block := WorkloadBlock{Key: h.Key, UID: h.UID, Site: h.Site, Zone: h.Zone, Prefixes: validPrefixes(blocks)}
	var i int
	if slices.IsSortedFunc(others, compareWorkloads) {
		i, _ = slices.BinarySearchFunc(others, block, compareWorkloads)
		others = slices.Insert(others, i, block)
	} else {
		others = append(others, block)
		slices.SortStableFunc(others, compareWorkloads)
		i = slices.IndexFunc(others, func(w WorkloadBlock) bool { return w.Key == h.Key })
	}
	out := ownPlan(plan.Sites, others)
	return out, out.Workloads[i], nil
}

// validPrefixes returns the valid prefixes of blocks, IPv4 first.
func validPrefixes(blocks [2]netip.Prefix) []netip.Prefix {
	var prefixes []netip.Prefix
	for _, p := range blocks {
		if p.IsValid() {
			prefixes = append(prefixes, p)
		}
	}
	return prefixes
}

func compareWorkloads(x, y WorkloadBlock) int {
	return cmp.Compare(x.Key, y.Key)
}

// zoneBlocksOf returns the blocks of zone at site in plan, indexed by
// familyIndex. reason is "" when every family of ps has a block, and
// otherwise names what is missing, with the family for
// ReasonAddressesExhausted.
func zoneBlocksOf(ps *parsedSpec, plan Plan, site, zone string) (blocks [2]netip.Prefix, reason string, missing Family) {
	if !ps.zoneSet[zone] {
		return blocks, ReasonZoneNotFound, ""
	}
	i := slices.IndexFunc(plan.Sites, func(s SiteBlock) bool { return s.Site == site })
	if i < 0 || site == "" {
		return blocks, ReasonSiteNotFound, ""
	}
	for _, zb := range plan.Sites[i].Zones {
		if zb.Zone != zone {
			continue
		}
		for _, p := range zb.Prefixes {
			if p.IsValid() {
				blocks[familyIndex(familyOf(p))] = p
			}
		}
		break
	}
	for _, f := range ps.families {
		if !blocks[familyIndex(f)].IsValid() {
			return blocks, ReasonAddressesExhausted, f
		}
	}
	return blocks, "", ""
}

// findZoneBlocks returns the blocks of h's zone at h's site in plan, indexed
// by familyIndex, or a Problem when the site, the zone or a family's block
// is missing.
func findZoneBlocks(ps *parsedSpec, plan Plan, h Holder) ([2]netip.Prefix, *Problem) {
	blocks, reason, missing := zoneBlocksOf(ps, plan, h.Site, h.Zone)
	var message string
	switch reason {
	case "":
		return blocks, nil
	case ReasonZoneNotFound:
		message = zoneNotFoundMessage(h)
	case ReasonSiteNotFound:
		message = siteNotFoundMessage(h)
		if h.Site != "" {
			message = fmt.Sprintf("site %s of holder %s has no block in the plan, either because Allocate has not run "+
				"since the site was added or because the address spaces are full", h.Site, h.Key)
		}
	default:
		message = noZoneBlockMessage(h, missing)
	}
	return blocks, &Problem{Key: h.Key, Reason: reason, Message: message}
}

func overlapsAny(p netip.Prefix, prefixes []netip.Prefix) bool {
	for _, q := range prefixes {
		if q.Overlaps(p) {
			return true
		}
	}
	return false
}

// ReleaseHolder returns plan without the blocks held under key. The input
// plan is never modified, and the returned plan shares no memory with it.
func ReleaseHolder(plan Plan, key string) Plan {
	remaining := make([]WorkloadBlock, 0, len(plan.Workloads))
	for _, w := range plan.Workloads {
		if w.Key != key {
			remaining = append(remaining, w)
		}
	}
	return ownPlan(plan.Sites, remaining)
}

// ClonePlan returns a deep copy of plan.
func ClonePlan(plan Plan) Plan {
	return ownPlan(plan.Sites, slices.Clone(plan.Workloads))
}

// ownPlan returns a plan of a deep copy of sites and of workloads, which
// must be a slice the caller owns: its entries' prefix slices are replaced
// by copies in place.
func ownPlan(sites []SiteBlock, workloads []WorkloadBlock) Plan {
	var store prefixStore
	out := Plan{Workloads: workloads}
	if sites != nil {
		out.Sites = make([]SiteBlock, len(sites))
	}
	for i, s := range sites {
		out.Sites[i] = SiteBlock{Site: s.Site, Prefixes: store.clone(s.Prefixes)}
		if s.Zones != nil {
			out.Sites[i].Zones = make([]ZoneBlock, len(s.Zones))
		}
		for j, z := range s.Zones {
			out.Sites[i].Zones[j] = ZoneBlock{Zone: z.Zone, Prefixes: store.clone(z.Prefixes)}
		}
	}

	total := 0
	for _, w := range workloads {
		total += len(w.Prefixes)
	}
	store.reserve(total)
	for i := range workloads {
		workloads[i].Prefixes = store.clone(workloads[i].Prefixes)
	}
	return out
}

// clone returns a copy of prefixes cut from the store, or nil for nil.
func (s *prefixStore) clone(prefixes []netip.Prefix) []netip.Prefix {
	if prefixes == nil {
		return nil
	}
	s.reserve(len(prefixes))
	start := len(s.buf)
	s.buf = append(s.buf, prefixes...)
	return s.buf[start:len(s.buf):len(s.buf)]
}

// Capacity is the room for workload blocks of one family in a zone block.
// Counts saturate at math.MaxUint64, which only a wide IPv6 zone reaches.
type Capacity struct {
	Family       Family
	Zone         netip.Prefix // the zone's block
	WorkloadBits int          // prefix length of each workload block
	Total        uint64       // workload blocks the zone block holds
	Free         uint64       // workload blocks not held by any workload in plan
}

// Free returns, per family IPv4 first, how many more workload blocks the
// zone's block at site has room for in plan. The error is a FieldErrors
// for an invalid spec, or a Problem when the site or zone has no block.
func Free(spec Spec, plan Plan, site, zone string) ([]Capacity, error) {
	ps, issues := parseSpec(spec)
	if err := blockingErrors(issues); err != nil {
		return nil, err
	}
	zoneBlocks, reason, missing := zoneBlocksOf(ps, plan, site, zone)
	switch reason {
	case ReasonZoneNotFound:
		return nil, Problem{Key: site, Reason: reason, Message: fmt.Sprintf("zone %s is not in spec.zones", zone)}
	case ReasonSiteNotFound:
		return nil, Problem{Key: site, Reason: reason, Message: fmt.Sprintf("site %q has no block in the plan", site)}
	case ReasonAddressesExhausted:
		return nil, Problem{Key: site, Reason: reason, Message: fmt.Sprintf(
			"site %s has no %s block for zone %s, because the address spaces are full", site, missing, zone)}
	}

	capacities := make([]Capacity, 0, len(ps.families))
	for _, f := range ps.families {
		fi := familyIndex(f)
		zb := zoneBlocks[fi]
		_, _, workloadBits := ps.policy.lengths(f)
		var b netipx.IPSetBuilder
		b.AddPrefix(zb)
		for _, w := range plan.Workloads {
			for _, p := range w.Prefixes {
				if p.IsValid() && zb.Overlaps(p) {
					b.RemovePrefix(p)
				}
			}
		}
		free, _ := b.IPSet()
		capacities = append(capacities, Capacity{
			Family:       f,
			Zone:         zb,
			WorkloadBits: workloadBits,
			Total:        blocksIn(zb, workloadBits),
			Free:         countBlocks(free, f, workloadBits),
		})
	}
	return capacities, nil
}
