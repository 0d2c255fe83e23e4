package ipam

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	"go4.org/netipx"
)

// familyIndex returns the index of f in per-family arrays: 0 for IPv4 and
// 1 for IPv6.
func familyIndex(f Family) int {
	if f == IPv4 {
		return 0
	}
	return 1
}

// siteState is a site's blocks while a plan is built. Arrays are indexed
// by familyIndex, and an invalid prefix means the site has no block of
// that family.
type siteState struct {
	name   string
	blocks [2]netip.Prefix
	zones  [][2]netip.Prefix // indexed like parsedSpec.zones

	// Workload blocks kept in each zone block, and the carvers of new ones,
	// indexed like zones.
	used    [][2][]netip.Prefix
	carvers [][2]*carver
}

// holderState is a holder's blocks while a plan is built.
type holderState struct {
	holder Holder
	site   *siteState
	zone   int // index in parsedSpec.zones
	blocks [2]netip.Prefix
	failed bool
}

type allocator struct {
	ps        *parsedSpec
	zoneIndex map[string]int
	problems  []Problem
}

func newAllocator(ps *parsedSpec) *allocator {
	a := &allocator{ps: ps, zoneIndex: make(map[string]int, len(ps.zones))}
	for i, z := range ps.zones {
		a.zoneIndex[z] = i
	}
	return a
}

func (a *allocator) addProblem(key, reason, message string) {
	a.problems = append(a.problems, Problem{Key: key, Reason: reason, Message: message})
}

// Allocate returns the address plan for sites and holders, starting from
// current, and a Problem for each site or holder that got no block.
//
// Blocks in current are kept exactly while they still fit. A block fits
// while its site, zone and holder (same Key and UID) still exist, and it
// has the policy's prefix length or is the site's pin. It must also lie
// inside its parent and overlap no block kept before it. Every other
// block is released. When two entries in current claim the same block,
// the site, zone or holder first in name or key order keeps it.
//
// New blocks go to the lowest free aligned address, handed out to sites in
// name order, to zones in name order (not spec order, so that reordering
// spec.zones moves nothing) and to holders in key order. A pinned site
// gets its pin for that family, and pins of sites not in sites stay
// reserved. A holder needs one block per family of the address spaces. One
// that cannot get all of them keeps none and gets a Problem, and the
// others are unaffected.
//
// The plan and problems do not depend on the order of any input slice.
// The error is a FieldErrors when Validate reports a problem other than a
// pin for an unknown site.
func Allocate(spec Spec, sites []Site, holders []Holder, current Plan) (Plan, []Problem, error) {
	ps, issues := parseSpec(spec)
	issues = append(issues, checkSites(ps, spec, sites)...)
	if err := blockingErrors(issues); err != nil {
		return Plan{}, nil, err
	}

	a := newAllocator(ps)
	states := a.allocateSites(siteNames(sites), current.Sites)
	a.allocateZones(states, current.Sites)
	placed := a.allocateWorkloads(states, holders, current.Workloads)

	slices.SortStableFunc(a.problems, func(x, y Problem) int { return cmp.Compare(x.Key, y.Key) })
	return buildPlan(states, ps.zones, placed), a.problems, nil
}

// siteNames returns the non-empty site names, sorted and without
// duplicates.
func siteNames(sites []Site) []string {
	names := make([]string, 0, len(sites))
	for _, s := range sites {
		if s.Name != "" {
			names = append(names, s.Name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// candidates collects the valid prefixes of current entries per family,
// each list sorted so that the choice among duplicates does not depend on
// input order.
type candidates [2][]netip.Prefix

func (c *candidates) add(prefixes []netip.Prefix) {
	for _, p := range prefixes {
		if p.IsValid() {
			i := familyIndex(familyOf(p))
			c[i] = append(c[i], p)
		}
	}
}

func (c *candidates) sort() {
	sortPrefixes(c[0])
	sortPrefixes(c[1])
}

// allocateSites gives each site one block per family, keeping current
// blocks that still fit.
func (a *allocator) allocateSites(names []string, current []SiteBlock) []*siteState {
	previous := map[string]*candidates{}
	for _, sb := range current {
		c := previous[sb.Site]
		if c == nil {
			c = &candidates{}
			previous[sb.Site] = c
		}
		c.add(sb.Prefixes)
	}
	for _, c := range previous {
		c.sort()
	}

	states := make([]*siteState, len(names))
	for i, name := range names {
		states[i] = &siteState{
			name:    name,
			zones:   make([][2]netip.Prefix, len(a.ps.zones)),
			used:    make([][2][]netip.Prefix, len(a.ps.zones)),
			carvers: make([][2]*carver, len(a.ps.zones)),
		}
	}
	for _, f := range a.ps.families {
		a.allocateSiteFamily(states, previous, f)
	}
	return states
}

func (a *allocator) allocateSiteFamily(states []*siteState, previous map[string]*candidates, f Family) {
	ps := a.ps
	fi := familyIndex(f)
	siteBits, _, _ := ps.policy.lengths(f)

	var free netipx.IPSetBuilder
	free.AddSet(ps.spaceSet)
	free.RemoveSet(ps.pinSet)
	keptBlocks := map[netip.Prefix]bool{}
	var missing []*siteState
	for _, s := range states {
		if pin, ok := ps.pins[s.name][f]; ok {
			s.blocks[fi] = pin
			continue
		}
		if c := previous[s.name]; c != nil {
			for _, p := range c[fi] {
				if isBlock(p, f, siteBits) && !keptBlocks[p] && ps.spaceSet.ContainsPrefix(p) && !ps.pinSet.OverlapsPrefix(p) {
					s.blocks[fi] = p
					keptBlocks[p] = true
					free.RemovePrefix(p)
					break
				}
			}
		}
		if !s.blocks[fi].IsValid() {
			missing = append(missing, s)
		}
	}
	if len(missing) == 0 {
		return
	}

	freeSet, _ := free.IPSet()
	c := newCarver(freeSet, f, siteBits)
	siteField, _, _ := policyFields(f)
	for _, s := range missing {
		p, ok := c.take()
		if !ok {
			a.addProblem(s.name, ReasonAddressesExhausted, fmt.Sprintf(
				"the address spaces have no free %s /%d block left for site %s. "+
					"Add address space to spec.addressSpaces or set a longer %s",
				f, siteBits, s.name, shortName(siteField)))
			continue
		}
		s.blocks[fi] = p
	}
}

// allocateZones gives each zone one block per family within each site
// block, keeping current blocks that still fit.
func (a *allocator) allocateZones(states []*siteState, current []SiteBlock) {
	type siteZone struct{ site, zone string }
	previous := map[siteZone]*candidates{}
	for _, sb := range current {
		for _, zb := range sb.Zones {
			key := siteZone{sb.Site, zb.Zone}
			c := previous[key]
			if c == nil {
				c = &candidates{}
				previous[key] = c
			}
			c.add(zb.Prefixes)
		}
	}
	for _, c := range previous {
		c.sort()
	}

	for _, s := range states {
		for _, f := range a.ps.families {
			fi := familyIndex(f)
			siteBlock := s.blocks[fi]
			if !siteBlock.IsValid() {
				continue
			}
			_, zoneBits, _ := a.ps.policy.lengths(f)
			keptBlocks := map[netip.Prefix]bool{}
			var used []netip.Prefix
			var missing []int
			for zi, zone := range a.ps.zones {
				if c := previous[siteZone{s.name, zone}]; c != nil {
					for _, p := range c[fi] {
						if isBlock(p, f, zoneBits) && covers(siteBlock, p) && !keptBlocks[p] {
							s.zones[zi][fi] = p
							keptBlocks[p] = true
							used = append(used, p)
							break
						}
					}
				}
				if !s.zones[zi][fi].IsValid() {
					missing = append(missing, zi)
				}
			}
			if len(missing) == 0 {
				continue
			}

			// Validate checks that every zone fits in a site block, so this
			// runs out only if that check is wrong.
			c := newCarverWithin(siteBlock, used, zoneBits)
			for _, zi := range missing {
				p, ok := c.take()
				if !ok {
					a.addProblem(s.name, ReasonAddressesExhausted, fmt.Sprintf(
						"site block %s of site %s has no free /%d block left for zone %s",
						siteBlock, s.name, zoneBits, a.ps.zones[zi]))
					continue
				}
				s.zones[zi][fi] = p
			}
		}
	}
}

// allocateWorkloads gives each holder one block per family within its zone
// block and returns the holders in key order, with failed set on those
// that got a Problem.
func (a *allocator) allocateWorkloads(states []*siteState, holders []Holder, current []WorkloadBlock) []holderState {
	siteByName := make(map[string]*siteState, len(states))
	for _, s := range states {
		siteByName[s.name] = s
	}
	// Sorting indices moves less memory than sorting the holders.
	order := make([]int, len(holders))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int {
		return cmp.Or(cmp.Compare(holders[x].Key, holders[y].Key), cmp.Compare(holders[x].UID, holders[y].UID))
	})
	// previous lists the current entries in key order, so that one walk
	// beside order finds each holder's entries without a map.
	previous := make([]int, len(current))
	for i := range previous {
		previous[i] = i
	}
	slices.SortStableFunc(previous, func(x, y int) int { return cmp.Compare(current[x].Key, current[y].Key) })

	// Keep the current blocks that still fit, in key order, before carving
	// any new block, so that a new holder never takes a kept block.
	heldBlocks := make(map[netip.Prefix]bool, len(current)*len(a.ps.families))
	placed := make([]holderState, 0, len(holders))
	var c candidates
	next := 0
	for i, hi := range order {
		h := holders[hi]
		for next < len(previous) && current[previous[next]].Key < h.Key {
			next++
		}
		if i > 0 && holders[order[i-1]].Key == h.Key {
			a.addProblem(h.Key, ReasonDuplicateHolder, fmt.Sprintf(
				"holder %s is listed again with UID %s, and only the entry with UID %s gets blocks",
				h.Key, h.UID, holders[order[i-1]].UID))
			continue
		}
		st, ok := a.placeHolder(h, siteByName)
		if !ok {
			continue
		}
		c[0], c[1] = c[0][:0], c[1][:0]
		for j := next; j < len(previous) && current[previous[j]].Key == h.Key; j++ {
			if w := current[previous[j]]; w.UID == h.UID && w.Site == h.Site && w.Zone == h.Zone {
				c.add(w.Prefixes)
			}
		}
		c.sort()
		for _, f := range a.ps.families {
			fi := familyIndex(f)
			zoneBlock := st.site.zones[st.zone][fi]
			if !zoneBlock.IsValid() {
				continue
			}
			_, _, workloadBits := a.ps.policy.lengths(f)
			for _, p := range c[fi] {
				if isBlock(p, f, workloadBits) && covers(zoneBlock, p) && !heldBlocks[p] {
					st.blocks[fi] = p
					heldBlocks[p] = true
					st.site.used[st.zone][fi] = append(st.site.used[st.zone][fi], p)
					break
				}
			}
		}
		placed = append(placed, st)
	}

	for i := range placed {
		a.carveHolder(&placed[i])
	}
	return placed
}

// placeHolder returns the state of h, or false with a Problem when its
// site or zone is unknown.
func (a *allocator) placeHolder(h Holder, siteByName map[string]*siteState) (holderState, bool) {
	s := siteByName[h.Site]
	if s == nil {
		a.addProblem(h.Key, ReasonSiteNotFound, siteNotFoundMessage(h))
		return holderState{}, false
	}
	zi, ok := a.zoneIndex[h.Zone]
	if !ok {
		a.addProblem(h.Key, ReasonZoneNotFound, zoneNotFoundMessage(h))
		return holderState{}, false
	}
	return holderState{holder: h, site: s, zone: zi}, true
}

func siteNotFoundMessage(h Holder) string {
	if h.Site == "" {
		return fmt.Sprintf("holder %s has no site yet, so it gets no address block until it is placed", h.Key)
	}
	return fmt.Sprintf("holder %s is at site %s, which is not a known hosting site", h.Key, h.Site)
}

func zoneNotFoundMessage(h Holder) string {
	if h.Zone == "" {
		return fmt.Sprintf("holder %s names no zone, so set its zone to one of spec.zones", h.Key)
	}
	return fmt.Sprintf("holder %s is in zone %s, which is not in spec.zones, so add the zone or move the holder", h.Key, h.Zone)
}

// carveHolder carves the blocks st still lacks, from the lowest free
// address of each zone block. It takes nothing unless every family has a
// free block, and otherwise marks st failed with a Problem.
func (a *allocator) carveHolder(st *holderState) {
	var pending []*carver
	for _, f := range a.ps.families {
		fi := familyIndex(f)
		if st.blocks[fi].IsValid() {
			continue
		}
		zoneBlock := st.site.zones[st.zone][fi]
		if !zoneBlock.IsValid() {
			st.failed = true
			a.addProblem(st.holder.Key, ReasonAddressesExhausted, noZoneBlockMessage(st.holder, f))
			return
		}
		c := st.site.carvers[st.zone][fi]
		if c == nil {
			_, _, workloadBits := a.ps.policy.lengths(f)
			c = newCarverWithin(zoneBlock, st.site.used[st.zone][fi], workloadBits)
			st.site.carvers[st.zone][fi] = c
		}
		if _, ok := c.peek(); !ok {
			st.failed = true
			a.addProblem(st.holder.Key, ReasonAddressesExhausted, exhaustedMessage(st.holder, zoneBlock, f, a.ps.policy))
			return
		}
		pending = append(pending, c)
	}
	for _, c := range pending {
		p, _ := c.take()
		st.blocks[familyIndex(c.family)] = p
	}
}

func noZoneBlockMessage(h Holder, f Family) string {
	return fmt.Sprintf("site %s has no %s block for zone %s, because the address spaces are full, "+
		"so holder %s gets no block", h.Site, f, h.Zone, h.Key)
}

// exhaustedMessage explains that zone block zoneBlock has no free workload
// block, with the figures and the two ways to make room.
func exhaustedMessage(h Holder, zoneBlock netip.Prefix, f Family, policy Policy) string {
	_, zoneBits, workloadBits := policy.lengths(f)
	_, zoneField, workloadField := policyFields(f)
	return fmt.Sprintf("zone %s at site %s has no free %s /%d block for holder %s: its block %s holds %d and all are held. "+
		"Give zones larger blocks (%s below %d) or workloads smaller ones (%s above %d)",
		h.Zone, h.Site, f, workloadBits, h.Key, zoneBlock, blocksIn(zoneBlock, workloadBits),
		shortName(zoneField), zoneBits, shortName(workloadField), workloadBits)
}

// buildPlan returns the plan of states and holders. Every prefix slice in
// the plan is cut from one shared array, with its capacity limited so that
// an append by the caller copies instead of overwriting a neighbour.
func buildPlan(states []*siteState, zones []string, holders []holderState) Plan {
	var store prefixStore
	plan := Plan{Sites: make([]SiteBlock, 0, len(states))}
	for _, s := range states {
		prefixes := store.cut(s.blocks)
		if len(prefixes) == 0 {
			continue
		}
		sb := SiteBlock{Site: s.name, Prefixes: prefixes}
		for zi, zone := range zones {
			if zp := store.cut(s.zones[zi]); len(zp) > 0 {
				sb.Zones = append(sb.Zones, ZoneBlock{Zone: zone, Prefixes: zp})
			}
		}
		plan.Sites = append(plan.Sites, sb)
	}

	plan.Workloads = make([]WorkloadBlock, 0, len(holders))
	store.reserve(2 * len(holders))
	for _, st := range holders {
		if st.failed {
			continue
		}
		h := st.holder
		plan.Workloads = append(plan.Workloads, WorkloadBlock{
			Key: h.Key, UID: h.UID, Site: h.Site, Zone: h.Zone,
			Prefixes: store.cut(st.blocks),
		})
	}
	return plan
}

// prefixStore hands out short prefix slices from larger shared arrays, to
// avoid one allocation per block.
type prefixStore struct {
	buf []netip.Prefix
}

func (s *prefixStore) reserve(n int) {
	if cap(s.buf)-len(s.buf) < n {
		s.buf = make([]netip.Prefix, 0, max(n, 64))
	}
}

// cut returns the valid prefixes of blocks, IPv4 first, or nil when there
// are none.
func (s *prefixStore) cut(blocks [2]netip.Prefix) []netip.Prefix {
	s.reserve(2)
	start := len(s.buf)
	for _, p := range blocks {
		if p.IsValid() {
			s.buf = append(s.buf, p)
		}
	}
	if len(s.buf) == start {
		return nil
	}
	return s.buf[start:len(s.buf):len(s.buf)]
}
