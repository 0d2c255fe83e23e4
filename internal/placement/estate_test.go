package placement

import (
	"math/rand/v2"
	"slices"
	"strconv"
)

const gib = int64(1) << 30

var capabilityNames = []string{"hsm", "specialist-scanner", "mainframe", "gpu"}

// generateEstate returns a reproducible estate of the given size, with a mix
// of tiers, accreditations, jurisdictions, capabilities, exceptions and
// current sites so that every filter removes some sites.
func generateEstate(seed uint64, siteCount, workloadCount int) ([]Site, []Workload) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	sites := make([]Site, siteCount)
	for i := range sites {
		s := Site{
			Name:               "site-" + strconv.Itoa(i),
			Jurisdiction:       pick(rng, []string{"UK", "UK", "UK", "UK", "UK", "UK", "EU", "EU", "US"}),
			Accreditation:      OfficialSensitive,
			Capacity:           Resources{MilliCPU: 64000 + rng.Int64N(448000), MemoryBytes: 256*gib + rng.Int64N(1792*gib)},
			MaxWorkloads:       50 + rng.Int64N(250),
			CostWeight:         1 + rng.Int32N(100),
			Ready:              rng.IntN(20) != 0,
			NotReadyReason:     "cordoned",
			AllocatedWorkloads: rng.Int64N(20),
		}
		s.Allocated = Resources{MilliCPU: s.Capacity.MilliCPU / 4, MemoryBytes: s.Capacity.MemoryBytes / 5}
		switch roll := rng.IntN(20); {
		case roll < 8:
			s.Tier = PublicCloud
			if rng.IntN(4) == 0 {
				s.Accreditation = Official
			}
		case roll < 15:
			s.Tier = PrivateCloud
		default:
			s.Tier = OnPremises
			if rng.IntN(3) == 0 {
				s.Accreditation = Secret
			}
		}
		for _, capability := range capabilityNames {
			if rng.IntN(3) == 0 {
				s.Capabilities = append(s.Capabilities, capability)
			}
		}
		sites[i] = s
	}

	workloads := make([]Workload, workloadCount)
	for i := range workloads {
		w := Workload{
			Namespace: "ns-" + strconv.Itoa(rng.IntN(20)),
			Name:      "workload-" + strconv.Itoa(i),
			Requests:  Resources{MilliCPU: 250 + rng.Int64N(7750), MemoryBytes: gib/2 + rng.Int64N(32*gib)},
		}
		switch roll := rng.IntN(20); {
		case roll < 12:
			w.Classification = OfficialSensitive
		case roll < 19:
			w.Classification = Official
		default:
			w.Classification = Secret
		}
		switch roll := rng.IntN(10); {
		case roll < 7:
			w.Residency = []string{"UK"}
		case roll < 8:
			w.Residency = []string{"UK", "EU"}
		}
		switch roll := rng.IntN(20); {
		case roll < 3:
			w.RequiredCapabilities = []string{pick(rng, capabilityNames)}
		case roll < 4:
			w.RequiredCapabilities = []string{pick(rng, capabilityNames), pick(rng, capabilityNames)}
		}
		if rng.IntN(30) == 0 {
			w.Sites = []string{pick(rng, sites).Name, pick(rng, sites).Name}
		}
		if rng.IntN(10) == 0 {
			w.Exception = &Exception{
				Justification: "Specialist scanner drivers run only on site hardware",
				Approver:      "Chief Technology Officer",
				Expires:       testNow.AddDate(0, 0, rng.IntN(120)-60),
			}
		}
		if rng.IntN(2) == 0 {
			w.CurrentSite = pick(rng, sites).Name
		}
		workloads[i] = w
	}
	return sites, workloads
}

func pick[T any](rng *rand.Rand, items []T) T {
	return items[rng.IntN(len(items))]
}

// cloneSites returns a deep copy, so that tests can check that inputs were
// not changed.
func cloneSites(sites []Site) []Site {
	cloned := slices.Clone(sites)
	for i := range cloned {
		cloned[i].Capabilities = slices.Clone(cloned[i].Capabilities)
	}
	return cloned
}

func cloneWorkloads(workloads []Workload) []Workload {
	cloned := slices.Clone(workloads)
	for i := range cloned {
		w := &cloned[i]
		w.Residency = slices.Clone(w.Residency)
		w.RequiredCapabilities = slices.Clone(w.RequiredCapabilities)
		w.Sites = slices.Clone(w.Sites)
		if w.Exception != nil {
			exception := *w.Exception
			w.Exception = &exception
		}
	}
	return cloned
}
