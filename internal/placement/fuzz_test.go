package placement

import (
	"math"
	"reflect"
	"slices"
	"testing"
	"time"
)

// fuzzReader turns fuzz bytes into estate fields, returning zeros once the
// bytes run out.
type fuzzReader struct{ data []byte }

func (r *fuzzReader) next() byte {
	if len(r.data) == 0 {
		return 0
	}
	b := r.data[0]
	r.data = r.data[1:]
	return b
}

func (r *fuzzReader) choose(options ...string) string {
	return options[int(r.next())%len(options)]
}

// quantity returns a small signed multiple of unit, or an extreme value for
// two of the 256 byte values.
func (r *fuzzReader) quantity(unit int64) int64 {
	switch b := r.next(); b {
	case 0x7f:
		return math.MaxInt64
	case 0x80:
		return math.MinInt64
	default:
		return int64(int8(b)) * unit
	}
}

func (r *fuzzReader) subset(options ...string) []string {
	mask := r.next()
	var chosen []string
	for i, option := range options {
		if mask&(1<<i) != 0 {
			chosen = append(chosen, option)
		}
	}
	return chosen
}

var fuzzSiteNames = []string{"aws-a", "aws-b", "crown-c", "dc-d", "dc-e"}

func (r *fuzzReader) site() Site {
	return Site{
		Name:               r.choose(fuzzSiteNames...),
		Tier:               Tier(r.choose(string(PublicCloud), string(PrivateCloud), string(OnPremises), "")),
		Jurisdiction:       r.choose("UK", "EU", "uk", ""),
		Accreditation:      Classification(r.choose(string(Official), string(OfficialSensitive), string(Secret), "", "RESTRICTED")),
		Capabilities:       r.subset("hsm", "mainframe", "hsm"),
		Capacity:           Resources{MilliCPU: r.quantity(500), MemoryBytes: r.quantity(gib / 4)},
		MaxWorkloads:       r.quantity(1) % 6,
		Allocated:          Resources{MilliCPU: r.quantity(250), MemoryBytes: r.quantity(gib / 8)},
		AllocatedWorkloads: r.quantity(1) % 4,
		CostWeight:         int32(int8(r.next())) * 2,
		Ready:              r.next()%5 != 0,
		NotReadyReason:     r.choose("", "cordoned"),
	}
}

func (r *fuzzReader) workload(now time.Time) Workload {
	w := Workload{
		Namespace:            r.choose("borders", "visas"),
		Name:                 r.choose("a", "b", "c"),
		Classification:       Classification(r.choose(string(Official), string(OfficialSensitive), string(Secret), "", "TOP-SECRET")),
		Residency:            r.subset("UK", "EU"),
		RequiredCapabilities: r.subset("hsm", "mainframe", "hsm"),
		Requests:             Resources{MilliCPU: r.quantity(250), MemoryBytes: r.quantity(gib / 8)},
		CurrentSite:          r.choose("", "aws-a", "crown-c", "dc-d", "ghost"),
	}
	if r.next()%4 == 0 {
		w.Sites = r.subset(append(slices.Clone(fuzzSiteNames), "ghost")...)
	}
	switch r.next() % 4 {
	case 1:
		w.Exception = &Exception{Justification: "drivers", Approver: "CTO"}
	case 2:
		w.Exception = &Exception{Justification: "drivers"}
	}
	if w.Exception != nil {
		w.Exception.Expires = now.Add(time.Duration(int8(r.next())) * time.Hour)
	}
	return w
}

func FuzzPlace(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{3, 0, 0, 0, 1, 0, 40, 40, 5, 0, 0, 0, 20, 1, 0, 1, 0, 1, 0, 1, 0, 1, 4, 4, 1, 0, 0, 0})
	f.Add([]byte{8, 0, 0, 0, 2, 1, 0x7f, 0x7f, 5, 0x80, 0x80, 1, 1, 1, 1, 2, 1, 2, 0, 0, 3, 0, 0, 1, 0, 1, 2, 3, 2, 2, 1, 0, 4, 1, 4})
	f.Add([]byte{5, 1, 1, 1, 1, 2, 4, 4, 5, 1, 1, 1, 99, 3, 1, 2, 2, 2, 2, 2, 6, 6, 5, 2, 2, 2, 50, 1, 0, 3, 2, 1, 1, 1, 2, 2, 3, 1, 0, 1, 5})

	now := time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &fuzzReader{data: data}
		sites := make([]Site, int(r.next())%9)
		for i := range sites {
			sites[i] = r.site()
		}
		workloads := make([]Workload, 1+int(r.next())%4)
		for i := range workloads {
			workloads[i] = r.workload(now)
		}
		sitesBefore := cloneSites(sites)
		workloadsBefore := cloneWorkloads(workloads)

		d := Place(workloads[0], sites, now)
		checkDecision(t, d, workloads[0], sites)

		reversed := slices.Clone(sites)
		slices.Reverse(reversed)
		if again := Place(workloads[0], reversed, now); !reflect.DeepEqual(again, d) {
			t.Errorf("Place depends on site order:\n%+v\n%+v", d, again)
		}

		decisions := PlaceAll(workloads, sites, now)
		if len(decisions) != len(workloads) {
			t.Fatalf("PlaceAll returned %d decisions for %d workloads", len(decisions), len(workloads))
		}
		// PlaceAll sorts with compareWorkloads, so the sorted copy pairs each
		// decision with its workload even when names repeat.
		sorted := cloneWorkloads(workloads)
		slices.SortFunc(sorted, func(a, b Workload) int { return compareWorkloads(&a, &b) })
		for i, decision := range decisions {
			if decision.Namespace != sorted[i].Namespace || decision.Name != sorted[i].Name {
				t.Errorf("decision %d is for %s/%s, want %s/%s", i, decision.Namespace, decision.Name, sorted[i].Namespace, sorted[i].Name)
			}
			checkDecision(t, decision, sorted[i], sites)
		}

		if !reflect.DeepEqual(sites, sitesBefore) {
			t.Error("sites changed")
		}
		if !reflect.DeepEqual(workloads, workloadsBefore) {
			t.Error("workloads changed")
		}
	})
}

// checkDecision checks the invariants every decision must meet.
func checkDecision(t *testing.T, d Decision, w Workload, sites []Site) {
	t.Helper()

	if len(d.Outcomes) != len(sites) {
		t.Fatalf("got %d outcomes for %d sites", len(d.Outcomes), len(sites))
	}
	var gotNames, wantNames []string
	for _, o := range d.Outcomes {
		gotNames = append(gotNames, o.Site)
	}
	for _, s := range sites {
		wantNames = append(wantNames, s.Name)
	}
	if !slices.IsSorted(gotNames) {
		t.Errorf("outcomes not sorted by site name: %v", gotNames)
	}
	slices.Sort(wantNames)
	if !slices.Equal(gotNames, wantNames) {
		t.Errorf("outcome sites = %v, want %v", gotNames, wantNames)
	}

	ineligible := 0
	bestTotal := int32(-1)
	for _, o := range d.Outcomes {
		if o.Eligible != (o.Reason == Eligible) {
			t.Errorf("site %s: Eligible = %v with reason %s", o.Site, o.Eligible, o.Reason)
		}
		if o.Message == "" {
			t.Errorf("site %s: empty message", o.Site)
		}
		if !o.Eligible {
			ineligible++
			if o.Score != (Score{}) {
				t.Errorf("site %s: ineligible with score %+v", o.Site, o.Score)
			}
			if !slices.Contains(filterOrder[:], o.Reason) {
				t.Errorf("site %s: reason %s is not a filter", o.Site, o.Reason)
			}
			continue
		}
		sc := o.Score
		if sc.Total != sc.Tier+sc.Cost+sc.Headroom {
			t.Errorf("site %s: score %+v does not add up", o.Site, sc)
		}
		if sc.Cost < 0 || sc.Cost > 99 || sc.Headroom < 0 || sc.Headroom > 100 {
			t.Errorf("site %s: score %+v out of range", o.Site, sc)
		}
		bestTotal = max(bestTotal, sc.Total)
	}

	removedSum := 0
	for reason, n := range d.Removed {
		if n <= 0 {
			t.Errorf("Removed[%s] = %d, want only positive counts", reason, n)
		}
		removedSum += n
	}
	if removedSum != ineligible {
		t.Errorf("Removed counts sum to %d, want %d ineligible sites", removedSum, ineligible)
	}
	if d.Message == "" {
		t.Error("empty decision message")
	}

	switch d.Reason {
	case SiteChosen, SiteKept:
		chosen := -1
		for i, o := range d.Outcomes {
			if o.Site == d.Site && o.Eligible && o.Score == d.Score {
				chosen = i
				break
			}
		}
		if chosen < 0 {
			t.Fatalf("chosen site %q with score %+v is not an eligible outcome", d.Site, d.Score)
		}
		if d.Tier != d.Outcomes[chosen].Tier {
			t.Errorf("Tier = %s, want %s", d.Tier, d.Outcomes[chosen].Tier)
		}
		if d.Reason == SiteKept && d.Site != w.CurrentSite {
			t.Errorf("kept on %q, but the current site is %q", d.Site, w.CurrentSite)
		}
		if d.Reason == SiteChosen {
			if d.Score.Total != bestTotal {
				t.Errorf("chose total %d, but the best eligible total is %d", d.Score.Total, bestTotal)
			}
			for _, o := range d.Outcomes {
				if o.Eligible && o.Site == w.CurrentSite {
					t.Errorf("current site %s is eligible but was not kept", o.Site)
				}
				if o.Eligible && o.Score.Total == bestTotal && o.Site < d.Site {
					t.Errorf("tie not broken by name: chose %s over %s", d.Site, o.Site)
				}
			}
		}
	case NoEligibleSite:
		if d.Site != "" {
			t.Errorf("Site = %q with NoEligibleSite", d.Site)
		}
		if ineligible != len(d.Outcomes) {
			t.Errorf("NoEligibleSite with %d of %d sites eligible", len(d.Outcomes)-ineligible, len(d.Outcomes))
		}
	case UnknownSite:
		if d.Site != "" {
			t.Errorf("Site = %q with UnknownSite", d.Site)
		}
		unknown := false
		for _, name := range w.Sites {
			if !slices.Contains(wantNames, name) {
				unknown = true
			}
		}
		if !unknown {
			t.Errorf("UnknownSite, but every allowed site in %v exists", w.Sites)
		}
	default:
		t.Errorf("decision reason %s is not a decision reason", d.Reason)
	}
}
