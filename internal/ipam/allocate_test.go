package ipam

import (
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAllocateDualStackPlan(t *testing.T) {
	spec := dualStackSpec()
	holders := []Holder{
		holder("borders/web", "croydon", "frontend"),
		holder("visas/db", "farnborough", "data"),
		holder("borders/api", "croydon", "frontend"),
	}
	plan, problems := mustAllocate(t, spec, onPrem("farnborough", "croydon"), holders, Plan{})
	if len(problems) != 0 {
		t.Errorf("problems = %+v, want none", problems)
	}

	// Sites, zones and holders are carved in name order, each from the
	// lowest free address: zones backend, data, frontend.
	want := Plan{
		Sites: []SiteBlock{
			{
				Site:     "croydon",
				Prefixes: pfxs(t, "10.64.0.0/16", "fd00:64::/48"),
				Zones: []ZoneBlock{
					{Zone: "backend", Prefixes: pfxs(t, "10.64.0.0/20", "fd00:64::/56")},
					{Zone: "data", Prefixes: pfxs(t, "10.64.16.0/20", "fd00:64:0:100::/56")},
					{Zone: "frontend", Prefixes: pfxs(t, "10.64.32.0/20", "fd00:64:0:200::/56")},
				},
			},
			{
				Site:     "farnborough",
				Prefixes: pfxs(t, "10.65.0.0/16", "fd00:64:1::/48"),
				Zones: []ZoneBlock{
					{Zone: "backend", Prefixes: pfxs(t, "10.65.0.0/20", "fd00:64:1::/56")},
					{Zone: "data", Prefixes: pfxs(t, "10.65.16.0/20", "fd00:64:1:100::/56")},
					{Zone: "frontend", Prefixes: pfxs(t, "10.65.32.0/20", "fd00:64:1:200::/56")},
				},
			},
		},
		Workloads: []WorkloadBlock{
			{Key: "borders/api", UID: "uid-borders/api", Site: "croydon", Zone: "frontend",
				Prefixes: pfxs(t, "10.64.32.0/27", "fd00:64:0:200::/64")},
			{Key: "borders/web", UID: "uid-borders/web", Site: "croydon", Zone: "frontend",
				Prefixes: pfxs(t, "10.64.32.32/27", "fd00:64:0:201::/64")},
			{Key: "visas/db", UID: "uid-visas/db", Site: "farnborough", Zone: "data",
				Prefixes: pfxs(t, "10.65.16.0/27", "fd00:64:1:100::/64")},
		},
	}
	if diff := cmp.Diff(want, plan, prefixComparer); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	checkPlan(t, spec, plan)
}

func TestAllocateStability(t *testing.T) {
	spec := dualStackSpec()
	sites := onPrem("croydon", "farnborough")
	holders := []Holder{
		holder("borders/api", "croydon", "frontend"),
		holder("borders/web", "croydon", "frontend"),
		holder("borders/worker", "croydon", "frontend"),
		holder("visas/db", "farnborough", "data"),
	}
	first, _ := mustAllocate(t, spec, sites, holders, Plan{})

	t.Run("rerun with its own output changes nothing", func(t *testing.T) {
		again, problems := mustAllocate(t, spec, sites, holders, first)
		if len(problems) != 0 {
			t.Errorf("problems = %+v, want none", problems)
		}
		if diff := cmp.Diff(first, again, prefixComparer); diff != "" {
			t.Errorf("second run (-first +second):\n%s", diff)
		}
	})

	t.Run("site added first in name order moves no other site", func(t *testing.T) {
		more := append(onPrem("brent"), sites...)
		plan, _ := mustAllocate(t, spec, more, holders, first)
		for _, name := range []string{"croydon", "farnborough"} {
			if diff := cmp.Diff(siteFor(t, first, name), siteFor(t, plan, name), prefixComparer); diff != "" {
				t.Errorf("site %s moved (-before +after):\n%s", name, diff)
			}
		}
		if diff := cmp.Diff(first.Workloads, plan.Workloads, prefixComparer); diff != "" {
			t.Errorf("workloads moved (-before +after):\n%s", diff)
		}
		want := pfxs(t, "10.66.0.0/16", "fd00:64:2::/48")
		if diff := cmp.Diff(want, siteFor(t, plan, "brent").Prefixes, prefixComparer); diff != "" {
			t.Errorf("brent's blocks (-want +got):\n%s", diff)
		}
		checkPlan(t, spec, plan)
	})

	t.Run("removed holder frees exactly its block", func(t *testing.T) {
		fewer := slices.DeleteFunc(slices.Clone(holders), func(h Holder) bool { return h.Key == "borders/web" })
		plan, _ := mustAllocate(t, spec, sites, fewer, first)
		if hasWorkload(plan, "borders/web") {
			t.Errorf("borders/web still holds a block")
		}
		for _, h := range fewer {
			if diff := cmp.Diff(workloadFor(t, first, h.Key), workloadFor(t, plan, h.Key), prefixComparer); diff != "" {
				t.Errorf("%s moved (-before +after):\n%s", h.Key, diff)
			}
		}

		// The freed block is the lowest free one, so the next holder in that
		// zone gets it.
		later := append(fewer, holder("borders/zz-new", "croydon", "frontend"))
		reused, _ := mustAllocate(t, spec, sites, later, plan)
		got := workloadFor(t, reused, "borders/zz-new").Prefixes
		want := workloadFor(t, first, "borders/web").Prefixes
		if diff := cmp.Diff(want, got, prefixComparer); diff != "" {
			t.Errorf("new holder's blocks (-freed +got):\n%s", diff)
		}
		checkPlan(t, spec, reused)
	})

	t.Run("added IPv6 space keeps every IPv4 block", func(t *testing.T) {
		v4 := dualStackSpec()
		v4.Spaces = []string{"10.64.0.0/10"}
		before, _ := mustAllocate(t, v4, sites, holders, Plan{})
		after, _ := mustAllocate(t, spec, sites, holders, before)
		for _, h := range holders {
			b, a := workloadFor(t, before, h.Key).Prefixes, workloadFor(t, after, h.Key).Prefixes
			if len(a) != 2 {
				t.Errorf("%s has %d blocks after adding IPv6, want 2", h.Key, len(a))
				continue
			}
			if b[0] != a[0] {
				t.Errorf("%s IPv4 block moved from %s to %s", h.Key, b[0], a[0])
			}
		}
		checkPlan(t, spec, after)
	})
}

func TestAllocateReleases(t *testing.T) {
	spec := Spec{
		Spaces: []string{"10.0.0.0/14"},
		Zones:  []string{"backend", "frontend"},
		Policy: Policy{SiteBits: 16, ZoneBits: 20, WorkloadBits: 22},
	}
	sites := onPrem("croydon", "farnborough")
	holders := []Holder{
		holder("ns/a", "croydon", "frontend"),
		holder("ns/b", "croydon", "frontend"),
		holder("ns/c", "farnborough", "backend"),
	}
	first, _ := mustAllocate(t, spec, sites, holders, Plan{})

	t.Run("removed site releases its blocks and its holders' blocks", func(t *testing.T) {
		plan, problems := mustAllocate(t, spec, onPrem("croydon"), holders, first)
		for _, s := range plan.Sites {
			if s.Site == "farnborough" {
				t.Errorf("farnborough still holds %v", s.Prefixes)
			}
		}
		if hasWorkload(plan, "ns/c") {
			t.Errorf("ns/c still holds a block at a removed site")
		}
		want := []Problem{{Key: "ns/c", Reason: ReasonSiteNotFound,
			Message: "holder ns/c is at site farnborough, which is not a known hosting site"}}
		if diff := cmp.Diff(want, problems); diff != "" {
			t.Errorf("problems (-want +got):\n%s", diff)
		}
	})

	t.Run("removed zone releases its blocks", func(t *testing.T) {
		noFrontend := spec
		noFrontend.Zones = []string{"backend"}
		plan, problems := mustAllocate(t, noFrontend, sites, holders, first)
		for _, z := range siteFor(t, plan, "croydon").Zones {
			if z.Zone == "frontend" {
				t.Errorf("croydon still has a frontend block %v", z.Prefixes)
			}
		}
		if hasWorkload(plan, "ns/a") || hasWorkload(plan, "ns/b") {
			t.Errorf("holders in the removed zone still hold blocks")
		}
		if len(problems) != 2 || problems[0].Reason != ReasonZoneNotFound {
			t.Errorf("problems = %+v, want ZoneNotFound for ns/a and ns/b", problems)
		}
		if diff := cmp.Diff(zoneFor(t, first, "croydon", "backend"), zoneFor(t, plan, "croydon", "backend"), prefixComparer); diff != "" {
			t.Errorf("backend zone moved (-before +after):\n%s", diff)
		}
	})

	t.Run("recreated holder with a new UID does not keep the block", func(t *testing.T) {
		// ns/0 sorts before ns/a, so it takes ns/a's block once ns/a's UID
		// no longer matches.
		recreated := []Holder{
			{Key: "ns/0", UID: "new", Site: "croydon", Zone: "frontend"},
			{Key: "ns/a", UID: "recreated", Site: "croydon", Zone: "frontend"},
			holders[1], holders[2],
		}
		plan, _ := mustAllocate(t, spec, sites, recreated, first)
		if got, old := workloadFor(t, plan, "ns/0").Prefixes[0], workloadFor(t, first, "ns/a").Prefixes[0]; got != old {
			t.Errorf("ns/0 got %s, want the released block %s", got, old)
		}
		if got := workloadFor(t, plan, "ns/a").UID; got != "recreated" {
			t.Errorf("ns/a UID = %q, want recreated", got)
		}
		checkPlan(t, spec, plan)
	})

	t.Run("holder moved to another zone", func(t *testing.T) {
		moved := []Holder{holder("ns/a", "croydon", "backend"), holders[1], holders[2]}
		plan, _ := mustAllocate(t, spec, sites, moved, first)
		got := workloadFor(t, plan, "ns/a")
		if zb := zoneFor(t, plan, "croydon", "backend").Prefixes[0]; !covers(zb, got.Prefixes[0]) {
			t.Errorf("ns/a block %s is outside the backend block %s", got.Prefixes[0], zb)
		}
		if got.Zone != "backend" {
			t.Errorf("ns/a zone = %q, want backend", got.Zone)
		}
		old := workloadFor(t, first, "ns/a").Prefixes[0]
		later, _ := mustAllocate(t, spec, sites, append(moved, holder("ns/d", "croydon", "frontend")), plan)
		if got := workloadFor(t, later, "ns/d").Prefixes[0]; got != old {
			t.Errorf("ns/d got %s, want ns/a's old block %s", got, old)
		}
	})

	t.Run("holder moved to another site", func(t *testing.T) {
		moved := []Holder{holder("ns/a", "farnborough", "frontend"), holders[1], holders[2]}
		plan, _ := mustAllocate(t, spec, sites, moved, first)
		got := workloadFor(t, plan, "ns/a").Prefixes[0]
		if zb := zoneFor(t, plan, "farnborough", "frontend").Prefixes[0]; !covers(zb, got) {
			t.Errorf("ns/a block %s is outside farnborough's frontend block %s", got, zb)
		}
	})

	t.Run("new workload prefix length re-carves every workload block", func(t *testing.T) {
		smaller := spec
		smaller.Policy.WorkloadBits = 24
		plan, _ := mustAllocate(t, smaller, sites, holders, first)
		for _, h := range holders {
			if got := workloadFor(t, plan, h.Key).Prefixes[0]; got.Bits() != 24 {
				t.Errorf("%s block %s is not /24", h.Key, got)
			}
		}
		if diff := cmp.Diff(first.Sites, plan.Sites, prefixComparer); diff != "" {
			t.Errorf("site and zone blocks moved (-before +after):\n%s", diff)
		}
		checkPlan(t, smaller, plan)
	})

	t.Run("site block outside the new address spaces is re-carved", func(t *testing.T) {
		moved := spec
		moved.Spaces = []string{"10.8.0.0/14"}
		plan, _ := mustAllocate(t, moved, sites, holders, first)
		want := pfxs(t, "10.8.0.0/16")
		if diff := cmp.Diff(want, siteFor(t, plan, "croydon").Prefixes, prefixComparer); diff != "" {
			t.Errorf("croydon's block (-want +got):\n%s", diff)
		}
		checkPlan(t, moved, plan)
	})
}

func TestAllocateExhaustedZone(t *testing.T) {
	// A /20 zone holds four /22 workload blocks.
	spec := Spec{
		Spaces: []string{"10.0.0.0/16"},
		Zones:  []string{"frontend", "backend"},
		Policy: Policy{SiteBits: 16, ZoneBits: 20, WorkloadBits: 22},
	}
	sites := onPrem("croydon")
	var holders []Holder
	for _, name := range []string{"a", "b", "c", "d", "e", "f"} {
		holders = append(holders, holder("ns/"+name, "croydon", "frontend"))
	}
	holders = append(holders, holder("other/z", "croydon", "backend"))

	plan, problems := mustAllocate(t, spec, sites, holders, Plan{})

	message := func(key string) string {
		return "zone frontend at site croydon has no free IPv4 /22 block for holder " + key +
			": its block 10.0.16.0/20 holds 4 and all are held. " +
			"Give zones larger blocks (zonePrefixLength below 20) or workloads smaller ones (workloadPrefixLength above 22)"
	}
	want := []Problem{
		{Key: "ns/e", Reason: ReasonAddressesExhausted, Message: message("ns/e")},
		{Key: "ns/f", Reason: ReasonAddressesExhausted, Message: message("ns/f")},
	}
	if diff := cmp.Diff(want, problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	for _, key := range []string{"ns/e", "ns/f"} {
		if hasWorkload(plan, key) {
			t.Errorf("%s holds a block although its zone is full", key)
		}
	}
	if got := workloadFor(t, plan, "other/z").Prefixes; got[0] != pfx(t, "10.0.0.0/22") {
		t.Errorf("holder in another zone got %v, want 10.0.0.0/22", got)
	}
	checkPlan(t, spec, plan)

	t.Run("new holder first in key order does not displace held blocks", func(t *testing.T) {
		more := append(slices.Clone(holders), holder("aa/first", "croydon", "frontend"))
		again, problems := mustAllocate(t, spec, sites, more, plan)
		if diff := cmp.Diff(plan.Workloads, again.Workloads, prefixComparer); diff != "" {
			t.Errorf("workloads changed (-before +after):\n%s", diff)
		}
		if len(problems) != 3 || problems[0].Key != "aa/first" {
			t.Errorf("problems = %+v, want aa/first, ns/e and ns/f", problems)
		}
	})
}

func TestAllocateExhaustedSpaces(t *testing.T) {
	spec := Spec{Spaces: []string{"10.0.0.0/15"}, Zones: []string{"frontend"}}
	holders := []Holder{holder("ns/a", "c-site", "frontend"), holder("ns/b", "a-site", "frontend")}
	plan, problems := mustAllocate(t, spec, onPrem("a-site", "b-site", "c-site"), holders, Plan{})

	want := []Problem{
		{Key: "c-site", Reason: ReasonAddressesExhausted, Message: "the address spaces have no free IPv4 /16 block left for site c-site. " +
			"Add address space to spec.addressSpaces or set a longer sitePrefixLength"},
		{Key: "ns/a", Reason: ReasonAddressesExhausted, Message: "site c-site has no IPv4 block for zone frontend, " +
			"because the address spaces are full, so holder ns/a gets no block"},
	}
	if diff := cmp.Diff(want, problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if !hasWorkload(plan, "ns/b") {
		t.Errorf("ns/b at a site with a block got none")
	}
	checkPlan(t, spec, plan)
}

func TestAllocatePinnedSites(t *testing.T) {
	spec := Spec{
		Spaces:   []string{"10.0.0.0/8", "fd00::/40"},
		Zones:    []string{"frontend", "backend"},
		SitePins: []SitePin{{Site: "croydon", CIDRs: []string{"10.0.0.0/14"}}},
	}
	sites := []Site{{Name: "aws-london", Tier: PublicCloud}, {Name: "croydon", Tier: OnPremises}, {Name: "brent", Tier: PrivateCloud}}
	holders := []Holder{holder("ns/a", "croydon", "frontend")}
	plan, problems := mustAllocate(t, spec, sites, holders, Plan{})
	if len(problems) != 0 {
		t.Errorf("problems = %+v, want none", problems)
	}

	tests := map[string]struct {
		site string
		want []netip.Prefix
	}{
		"pinned site gets its pin and a carved IPv6 block": {"croydon", pfxs(t, "10.0.0.0/14", "fd00:0:2::/48")},
		"first site in name order skips the pin":           {"aws-london", pfxs(t, "10.4.0.0/16", "fd00::/48")},
		"next site takes the next free block":              {"brent", pfxs(t, "10.5.0.0/16", "fd00:0:1::/48")},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, siteFor(t, plan, tt.site).Prefixes, prefixComparer); diff != "" {
				t.Errorf("%s blocks (-want +got):\n%s", tt.site, diff)
			}
		})
	}
	if got := zoneFor(t, plan, "croydon", "frontend").Prefixes[0]; got != pfx(t, "10.0.16.0/20") {
		t.Errorf("croydon frontend zone = %s, want 10.0.16.0/20 inside the pin", got)
	}
	checkPlan(t, spec, plan)

	t.Run("new pin over a held block moves that site and its workloads", func(t *testing.T) {
		repinned := spec
		repinned.SitePins = []SitePin{{Site: "croydon", CIDRs: []string{"10.4.0.0/14"}}}
		after, _ := mustAllocate(t, repinned, sites, append(holders, holder("ns/b", "aws-london", "backend")), plan)
		if got := siteFor(t, after, "croydon").Prefixes[0]; got != pfx(t, "10.4.0.0/14") {
			t.Errorf("croydon = %s, want its new pin 10.4.0.0/14", got)
		}
		if got := siteFor(t, after, "aws-london").Prefixes[0]; pfx(t, "10.4.0.0/14").Overlaps(got) {
			t.Errorf("aws-london kept %s inside croydon's new pin", got)
		}
		if got := workloadFor(t, after, "ns/a").Prefixes[0]; !covers(pfx(t, "10.4.0.0/14"), got) {
			t.Errorf("ns/a block %s is outside croydon's new pin", got)
		}
		checkPlan(t, repinned, after)
	})
}

func TestAllocateDuplicateHolder(t *testing.T) {
	spec := dualStackSpec()
	holders := []Holder{
		{Key: "ns/a", UID: "2", Site: "croydon", Zone: "data"},
		{Key: "ns/a", UID: "1", Site: "croydon", Zone: "data"},
	}
	plan, problems := mustAllocate(t, spec, onPrem("croydon"), holders, Plan{})
	if got := workloadFor(t, plan, "ns/a").UID; got != "1" {
		t.Errorf("block holder UID = %q, want 1", got)
	}
	want := []Problem{{Key: "ns/a", Reason: ReasonDuplicateHolder,
		Message: "holder ns/a is listed again with UID 2, and only the entry with UID 1 gets blocks"}}
	if diff := cmp.Diff(want, problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestAllocateConflictingCurrentPlan(t *testing.T) {
	spec := Spec{Spaces: []string{"10.0.0.0/14"}, Zones: []string{"frontend"}}
	sites := onPrem("croydon", "farnborough")
	// Both sites claim one block, as a hand-edited status might.
	current := Plan{Sites: []SiteBlock{
		{Site: "farnborough", Prefixes: pfxs(t, "10.2.0.0/16")},
		{Site: "croydon", Prefixes: pfxs(t, "10.2.0.0/16")},
	}}
	plan, _ := mustAllocate(t, spec, sites, nil, current)
	if got := siteFor(t, plan, "croydon").Prefixes[0]; got != pfx(t, "10.2.0.0/16") {
		t.Errorf("croydon, first in name order, = %s, want 10.2.0.0/16", got)
	}
	if got := siteFor(t, plan, "farnborough").Prefixes[0]; got != pfx(t, "10.0.0.0/16") {
		t.Errorf("farnborough = %s, want the lowest free block 10.0.0.0/16", got)
	}
	checkPlan(t, spec, plan)
}

// randomScenario returns a valid spec with small blocks, so that sites and
// zones run out, and sites and holders that exercise pins, unknown sites
// and zones, and dual stack.
func randomScenario(r *rand.Rand) (Spec, []Site, []Holder) {
	zoneNames := []string{"frontend", "backend", "data", "mgmt", "dmz"}
	spec := Spec{
		Spaces:    []string{"10.0.0.0/13", "192.168.0.0/16"},
		PSNRanges: []string{"51.0.0.0/8"},
		Zones:     zoneNames[:1+r.IntN(len(zoneNames))],
	}
	if r.IntN(2) == 0 {
		spec.Spaces = append(spec.Spaces, "fd00:64::/44")
	}
	siteBits := 16 + r.IntN(3)
	need := max(zoneBitsNeeded(len(spec.Zones)), 1)
	zoneBits := siteBits + need + r.IntN(2)
	workloadBits := zoneBits + 1 + r.IntN(5)
	spec.Policy = Policy{
		SiteBits: siteBits, ZoneBits: zoneBits, WorkloadBits: workloadBits,
		SiteBits6: 48, ZoneBits6: 48 + need, WorkloadBits6: 48 + need + 1 + r.IntN(5),
	}
	if r.IntN(2) == 0 {
		spec.SitePins = []SitePin{{Site: "s03", CIDRs: []string{"10.7.0.0/16"}}}
	}

	siteCount := 1 + r.IntN(20)
	var sites []Site
	for i := range siteCount {
		sites = append(sites, Site{Name: "s" + twoDigits(i), Tier: OnPremises})
	}
	holderCount := r.IntN(400)
	var holders []Holder
	for i := range holderCount {
		site := "s" + twoDigits(r.IntN(siteCount))
		zone := spec.Zones[r.IntN(len(spec.Zones))]
		switch r.IntN(40) {
		case 0:
			site = "gone"
		case 1:
			zone = "unknown"
		}
		holders = append(holders, Holder{Key: "ns/w" + twoDigits(i/100) + twoDigits(i%100), UID: twoDigits(r.IntN(3)), Site: site, Zone: zone})
	}
	return spec, sites, holders
}

func twoDigits(n int) string {
	return string(rune('0'+n/10%10)) + string(rune('0'+n%10))
}

func TestAllocateNeverOverlaps(t *testing.T) {
	for seed := range uint64(30) {
		r := rand.New(rand.NewPCG(seed, 1))
		spec, sites, holders := randomScenario(r)
		plan := Plan{}
		// Five rounds of churn: drop some holders and sites, move some
		// holders, and allocate again from the previous plan.
		for round := range 5 {
			var problems []Problem
			var err error
			plan, problems, err = Allocate(spec, sites, holders, plan)
			if err != nil {
				t.Fatalf("seed %d round %d: Allocate: %v", seed, round, err)
			}
			for _, v := range planViolations(spec, plan) {
				t.Errorf("seed %d round %d: %s", seed, round, v)
			}
			if len(plan.Workloads)+countHolderProblems(problems) != len(holders) {
				t.Errorf("seed %d round %d: %d blocks and %d holder problems for %d holders",
					seed, round, len(plan.Workloads), countHolderProblems(problems), len(holders))
			}
			holders = churn(r, holders, sites)
		}
	}
}

// countHolderProblems counts the problems of holders, whose keys contain
// "/", unlike site names.
func countHolderProblems(problems []Problem) int {
	n := 0
	for _, p := range problems {
		if strings.Contains(p.Key, "/") {
			n++
		}
	}
	return n
}

// churn removes about a tenth of holders, moves a tenth, and adds a few.
func churn(r *rand.Rand, holders []Holder, sites []Site) []Holder {
	var out []Holder
	for _, h := range holders {
		switch r.IntN(10) {
		case 0:
			continue
		case 1:
			h.Site = sites[r.IntN(len(sites))].Name
		}
		out = append(out, h)
	}
	for i := range r.IntN(20) {
		out = append(out, Holder{Key: "new/" + twoDigits(r.IntN(100)) + twoDigits(i), UID: "n", Site: sites[r.IntN(len(sites))].Name, Zone: "frontend"})
	}
	return out
}

func TestAllocateOrderIndependence(t *testing.T) {
	for seed := range uint64(10) {
		r := rand.New(rand.NewPCG(seed, 2))
		spec, sites, holders := randomScenario(r)
		current, _, err := Allocate(spec, sites, holders[:len(holders)/2], Plan{})
		if err != nil {
			t.Fatalf("seed %d: Allocate: %v", seed, err)
		}
		want, wantProblems, err := Allocate(spec, sites, holders, current)
		if err != nil {
			t.Fatalf("seed %d: Allocate: %v", seed, err)
		}

		for range 5 {
			s := spec
			s.Spaces = shuffled(r, spec.Spaces)
			s.Zones = shuffled(r, spec.Zones)
			c := Plan{Sites: shuffled(r, current.Sites), Workloads: shuffled(r, current.Workloads)}
			for i := range c.Sites {
				c.Sites[i].Zones = shuffled(r, c.Sites[i].Zones)
			}
			got, gotProblems, err := Allocate(s, shuffled(r, sites), shuffled(r, holders), c)
			if err != nil {
				t.Fatalf("seed %d: Allocate: %v", seed, err)
			}
			if diff := cmp.Diff(want, got, prefixComparer); diff != "" {
				t.Errorf("seed %d: shuffled inputs changed the plan (-want +got):\n%s", seed, diff)
			}
			if diff := cmp.Diff(wantProblems, gotProblems); diff != "" {
				t.Errorf("seed %d: shuffled inputs changed the problems (-want +got):\n%s", seed, diff)
			}
		}
	}
}

func shuffled[T any](r *rand.Rand, in []T) []T {
	out := slices.Clone(in)
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// jsonCopy returns a deep copy of v made through JSON, independent of the
// package's own copying.
func jsonCopy[T any](t *testing.T, v T) T {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var out T
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return out
}

func TestAllocateLeavesInputsAlone(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	spec, sites, holders := randomScenario(r)
	current, _, err := Allocate(spec, sites, holders[:len(holders)/2], Plan{})
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	// Unsorted inputs tempt an implementation to sort them in place.
	sites, holders = shuffled(r, sites), shuffled(r, holders)
	current.Workloads = shuffled(r, current.Workloads)
	spec.Zones = shuffled(r, spec.Zones)

	specBefore, sitesBefore, holdersBefore, currentBefore := jsonCopy(t, spec), jsonCopy(t, sites), jsonCopy(t, holders), jsonCopy(t, current)
	plan, _, err := Allocate(spec, sites, holders, current)
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	checks := map[string]struct{ before, after any }{
		"spec":    {specBefore, spec},
		"sites":   {sitesBefore, sites},
		"holders": {holdersBefore, holders},
		"current": {currentBefore, current},
	}
	for name, c := range checks {
		if diff := cmp.Diff(c.before, c.after, prefixComparer); diff != "" {
			t.Errorf("Allocate changed %s (-before +after):\n%s", name, diff)
		}
	}

	// Writing into the returned plan must not reach the current plan.
	for i := range plan.Workloads {
		for j := range plan.Workloads[i].Prefixes {
			plan.Workloads[i].Prefixes[j] = netip.Prefix{}
		}
	}
	for i := range plan.Sites {
		plan.Sites[i].Prefixes[0] = netip.Prefix{}
	}
	if diff := cmp.Diff(currentBefore, current, prefixComparer); diff != "" {
		t.Errorf("the returned plan shares memory with current (-before +after):\n%s", diff)
	}
}
