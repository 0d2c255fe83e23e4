package placement

// Tier points are far apart so that no cost or headroom difference (at most
// 99 + 100 points) can outweigh a better tier.
const (
	publicCloudPoints  = 3000
	privateCloudPoints = 2000
	onPremisesPoints   = 1000
)

// tierPoints returns the points for a tier, and 0 for an unknown tier.
func tierPoints(t Tier) int32 {
	switch t {
	case PublicCloud:
		return publicCloudPoints
	case PrivateCloud:
		return privateCloudPoints
	case OnPremises:
		return onPremisesPoints
	}
	return 0
}

// clampCostWeight limits a cost weight to 1..100.
func clampCostWeight(weight int32) int32 {
	return min(max(weight, 1), 100)
}

// score returns the points for placing a workload needing needs on s. The
// caller has checked that the workload fits.
func score(s *siteState, needs Resources) Score {
	sc := Score{
		Tier: tierPoints(s.site.Tier),
		Cost: 100 - s.costWeight,
	}
	cpu := percentLeft(s.remaining.MilliCPU-needs.MilliCPU, s.capacity.MilliCPU)
	memory := percentLeft(s.remaining.MemoryBytes-needs.MemoryBytes, s.capacity.MemoryBytes)
	slots := percentLeft(s.remainingSlots-1, s.maxWorkloads)
	sc.Headroom = int32(min(cpu, memory, slots))
	sc.Total = sc.Tier + sc.Cost + sc.Headroom
	return sc
}

// percentLeft returns left as a whole percentage of capacity, rounded down,
// from 0 to 100. A zero capacity counts as 0 percent.
func percentLeft(left, capacity int64) int64 {
	if capacity <= 0 || left <= 0 {
		return 0
	}
	return scaleDown(min(left, capacity), 100, capacity)
}
