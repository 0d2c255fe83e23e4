package placement

import (
	"cmp"
	"slices"
	"strconv"
)

// siteState is a site with its quantities clamped and the capacity left for
// the workload being placed. PlaceAll lowers remaining and remainingSlots as
// it places workloads. The caller's Site is never changed.
type siteState struct {
	site           Site
	capacity       Resources
	maxWorkloads   int64
	remaining      Resources // may be negative when a site is over-committed
	remainingSlots int64     // likewise
	costWeight     int32
}

// prepareSites returns the sites as states sorted by name. Sites that share a
// name are ordered by their other fields, so the result does not depend on
// the order of the input.
func prepareSites(sites []Site) []siteState {
	states := make([]siteState, len(sites))
	for i, site := range sites {
		capacity := Resources{
			MilliCPU:    max(site.Capacity.MilliCPU, 0),
			MemoryBytes: max(site.Capacity.MemoryBytes, 0),
		}
		maxWorkloads := max(site.MaxWorkloads, 0)
		states[i] = siteState{
			site:         site,
			capacity:     capacity,
			maxWorkloads: maxWorkloads,
			remaining: Resources{
				MilliCPU:    capacity.MilliCPU - max(site.Allocated.MilliCPU, 0),
				MemoryBytes: capacity.MemoryBytes - max(site.Allocated.MemoryBytes, 0),
			},
			remainingSlots: maxWorkloads - max(site.AllocatedWorkloads, 0),
			costWeight:     clampCostWeight(site.CostWeight),
		}
	}
	slices.SortFunc(states, func(a, b siteState) int { return compareSites(&a.site, &b.site) })
	return states
}

func compareSites(a, b *Site) int {
	// Names are almost always unique, so compare them before building the
	// full comparison.
	if byName := cmp.Compare(a.Name, b.Name); byName != 0 {
		return byName
	}
	return cmp.Or(
		cmp.Compare(a.Tier, b.Tier),
		cmp.Compare(a.Jurisdiction, b.Jurisdiction),
		cmp.Compare(a.Accreditation, b.Accreditation),
		slices.Compare(a.Capabilities, b.Capabilities),
		cmp.Compare(a.Capacity.MilliCPU, b.Capacity.MilliCPU),
		cmp.Compare(a.Capacity.MemoryBytes, b.Capacity.MemoryBytes),
		cmp.Compare(a.MaxWorkloads, b.MaxWorkloads),
		cmp.Compare(a.Allocated.MilliCPU, b.Allocated.MilliCPU),
		cmp.Compare(a.Allocated.MemoryBytes, b.Allocated.MemoryBytes),
		cmp.Compare(a.AllocatedWorkloads, b.AllocatedWorkloads),
		cmp.Compare(a.CostWeight, b.CostWeight),
		compareBool(a.Ready, b.Ready),
		cmp.Compare(a.NotReadyReason, b.NotReadyReason),
	)
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// fits reports whether the site has room for needs and one more workload. A
// zero request fits in that dimension even on an over-committed site.
func (s *siteState) fits(needs Resources) bool {
	return s.fitsCPU(needs) && s.fitsMemory(needs) && s.remainingSlots >= 1
}

func (s *siteState) fitsCPU(needs Resources) bool {
	return needs.MilliCPU == 0 || needs.MilliCPU <= s.remaining.MilliCPU
}

func (s *siteState) fitsMemory(needs Resources) bool {
	return needs.MemoryBytes == 0 || needs.MemoryBytes <= s.remaining.MemoryBytes
}

// take records that a workload needing needs was placed on the site. The
// caller has checked that it fits, so nothing overflows.
func (s *siteState) take(needs Resources) {
	s.remaining.MilliCPU -= needs.MilliCPU
	s.remaining.MemoryBytes -= needs.MemoryBytes
	s.remainingSlots--
}

// appendShortfall appends a sentence naming each dimension that lacks room,
// for example "Not enough capacity: needs 4 CPU but 2.5 remain."
func (s *siteState) appendShortfall(buf []byte, needs Resources) []byte {
	short := [3]bool{!s.fitsCPU(needs), !s.fitsMemory(needs), s.remainingSlots < 1}
	count := 0
	for _, isShort := range short {
		if isShort {
			count++
		}
	}

	buf = append(buf, "Not enough capacity: "...)
	written := 0
	for dimension, isShort := range short {
		if !isShort {
			continue
		}
		written++
		switch {
		case written == 1:
		case count == 2:
			buf = append(buf, " and "...)
		case written == count:
			buf = append(buf, ", and "...)
		default:
			buf = append(buf, ", "...)
		}
		switch dimension {
		case 0:
			buf = append(buf, "needs "...)
			buf = appendCPU(buf, needs.MilliCPU)
			buf = append(buf, " CPU but "...)
			buf = appendCPU(buf, max(s.remaining.MilliCPU, 0))
			buf = append(buf, " remain"...)
		case 1:
			buf = appendMemoryPair(buf, needs.MemoryBytes, max(s.remaining.MemoryBytes, 0))
		case 2:
			buf = append(buf, "needs 1 workload slot but 0 of "...)
			buf = strconv.AppendInt(buf, s.maxWorkloads, 10)
			buf = append(buf, " remain"...)
		}
	}
	return append(buf, '.')
}
