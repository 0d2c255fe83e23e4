package ipam

import (
	"errors"
	"math"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAllocateHolderMatchesAllocate(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 3))
		spec, sites, holders := randomScenario(r)
		base, _, err := Allocate(spec, sites, holders, Plan{})
		if err != nil {
			t.Fatalf("seed %d: Allocate: %v", seed, err)
		}
		h := Holder{
			Key:  "zz/new",
			UID:  "u",
			Site: sites[r.IntN(len(sites))].Name,
			Zone: spec.Zones[r.IntN(len(spec.Zones))],
		}
		want, wantProblems, err := Allocate(spec, sites, append(holders, h), base)
		if err != nil {
			t.Fatalf("seed %d: Allocate: %v", seed, err)
		}
		got, block, err := AllocateHolder(spec, base, h)

		// The reasons may differ: a site that got no block at all is missing
		// from the plan, so AllocateHolder cannot tell it from an unknown site.
		var problem Problem
		if errors.As(err, &problem) {
			if !hasProblemFor(wantProblems, h.Key) {
				t.Errorf("seed %d: AllocateHolder problem %+v, but Allocate reported none for %s", seed, problem, h.Key)
			}
		} else if err != nil {
			t.Fatalf("seed %d: AllocateHolder: %v", seed, err)
		} else if diff := cmp.Diff(workloadFor(t, want, h.Key), block, prefixComparer); diff != "" {
			t.Errorf("seed %d: block (-Allocate +AllocateHolder):\n%s", seed, diff)
		}
		if diff := cmp.Diff(want, got, prefixComparer); diff != "" {
			t.Errorf("seed %d: plan (-Allocate +AllocateHolder):\n%s", seed, diff)
		}
	}
}

func hasProblemFor(problems []Problem, key string) bool {
	for _, p := range problems {
		if p.Key == key {
			return true
		}
	}
	return false
}

func TestAllocateHolder(t *testing.T) {
	spec := Spec{
		Spaces: []string{"10.0.0.0/16", "fd00:64::/48"},
		Zones:  []string{"backend", "frontend"},
		Policy: Policy{SiteBits: 16, ZoneBits: 20, WorkloadBits: 22, SiteBits6: 48, ZoneBits6: 56, WorkloadBits6: 64},
	}
	sites := onPrem("croydon")
	holders := []Holder{holder("ns/a", "croydon", "frontend"), holder("ns/c", "croydon", "frontend")}
	base, _ := mustAllocate(t, spec, sites, holders, Plan{})

	t.Run("existing holder keeps its block", func(t *testing.T) {
		got, block, err := AllocateHolder(spec, base, holders[0])
		if err != nil {
			t.Fatalf("AllocateHolder: %v", err)
		}
		if diff := cmp.Diff(workloadFor(t, base, "ns/a"), block, prefixComparer); diff != "" {
			t.Errorf("block (-held +got):\n%s", diff)
		}
		if diff := cmp.Diff(base, got, prefixComparer); diff != "" {
			t.Errorf("plan changed (-before +after):\n%s", diff)
		}
	})

	t.Run("new holder gets the lowest free block", func(t *testing.T) {
		got, block, err := AllocateHolder(spec, base, holder("ns/b", "croydon", "frontend"))
		if err != nil {
			t.Fatalf("AllocateHolder: %v", err)
		}
		want := pfxs(t, "10.0.24.0/22", "fd00:64:0:102::/64")
		if diff := cmp.Diff(want, block.Prefixes, prefixComparer); diff != "" {
			t.Errorf("block (-want +got):\n%s", diff)
		}
		var keys []string
		for _, w := range got.Workloads {
			keys = append(keys, w.Key)
		}
		if diff := cmp.Diff([]string{"ns/a", "ns/b", "ns/c"}, keys); diff != "" {
			t.Errorf("workload keys (-want +got):\n%s", diff)
		}
		checkPlan(t, spec, got)
	})

	t.Run("moved holder frees its old block", func(t *testing.T) {
		got, block, err := AllocateHolder(spec, base, holder("ns/a", "croydon", "backend"))
		if err != nil {
			t.Fatalf("AllocateHolder: %v", err)
		}
		want := pfxs(t, "10.0.0.0/22", "fd00:64::/64")
		if diff := cmp.Diff(want, block.Prefixes, prefixComparer); diff != "" {
			t.Errorf("block (-want +got):\n%s", diff)
		}
		if len(got.Workloads) != 2 {
			t.Errorf("plan has %d workloads, want 2 because the old block is released", len(got.Workloads))
		}
		free, err := Free(spec, got, "croydon", "frontend")
		if err != nil {
			t.Fatalf("Free: %v", err)
		}
		if free[0].Free != 3 {
			t.Errorf("frontend has %d free IPv4 blocks after the move, want 3", free[0].Free)
		}
	})

	t.Run("holder in a full zone gets a problem and keeps nothing", func(t *testing.T) {
		full := base
		for _, key := range []string{"ns/d", "ns/e"} {
			var err error
			full, _, err = AllocateHolder(spec, full, holder(key, "croydon", "frontend"))
			if err != nil {
				t.Fatalf("AllocateHolder %s: %v", key, err)
			}
		}
		// ns/f holds a backend block, then moves into the full frontend zone.
		moved, _, err := AllocateHolder(spec, full, holder("ns/f", "croydon", "backend"))
		if err != nil {
			t.Fatalf("AllocateHolder: %v", err)
		}
		got, block, err := AllocateHolder(spec, moved, holder("ns/f", "croydon", "frontend"))
		var problem Problem
		if !errors.As(err, &problem) {
			t.Fatalf("AllocateHolder error %v is not a Problem", err)
		}
		if problem.Reason != ReasonAddressesExhausted {
			t.Errorf("Reason = %q, want %q", problem.Reason, ReasonAddressesExhausted)
		}
		if problem.Key != "ns/f" {
			t.Errorf("Key = %q, want ns/f", problem.Key)
		}
		if len(block.Prefixes) != 0 {
			t.Errorf("block = %v, want none", block.Prefixes)
		}
		if hasWorkload(got, "ns/f") {
			t.Errorf("ns/f still holds its backend block")
		}
		if len(got.Workloads) != 4 {
			t.Errorf("plan has %d workloads, want the 4 in frontend", len(got.Workloads))
		}
	})

	t.Run("unknown zone is a problem", func(t *testing.T) {
		_, _, err := AllocateHolder(spec, base, holder("ns/x", "croydon", "nowhere"))
		var problem Problem
		if !errors.As(err, &problem) || problem.Reason != ReasonZoneNotFound {
			t.Errorf("error = %v, want a %s problem", err, ReasonZoneNotFound)
		}
	})

	t.Run("site without a block is a problem", func(t *testing.T) {
		_, _, err := AllocateHolder(spec, base, holder("ns/x", "farnborough", "frontend"))
		var problem Problem
		if !errors.As(err, &problem) || problem.Reason != ReasonSiteNotFound {
			t.Errorf("error = %v, want a %s problem", err, ReasonSiteNotFound)
		}
	})

	t.Run("invalid spec returns the plan unchanged", func(t *testing.T) {
		bad := spec
		bad.Zones = nil
		got, _, err := AllocateHolder(bad, base, holder("ns/x", "croydon", "frontend"))
		var fe FieldErrors
		if !errors.As(err, &fe) {
			t.Fatalf("error %v is not FieldErrors", err)
		}
		if diff := cmp.Diff(base, got, prefixComparer); diff != "" {
			t.Errorf("plan changed (-before +after):\n%s", diff)
		}
	})

	t.Run("input plan is left alone", func(t *testing.T) {
		before := jsonCopy(t, base)
		got, block, err := AllocateHolder(spec, base, holder("ns/b", "croydon", "frontend"))
		if err != nil {
			t.Fatalf("AllocateHolder: %v", err)
		}
		block.Prefixes[0] = netip.Prefix{}
		for i := range got.Workloads {
			got.Workloads[i].Prefixes[0] = netip.Prefix{}
		}
		got.Sites[0].Zones[0].Prefixes[0] = netip.Prefix{}
		if diff := cmp.Diff(before, base, prefixComparer); diff != "" {
			t.Errorf("input plan changed (-before +after):\n%s", diff)
		}
	})
}

func TestReleaseHolder(t *testing.T) {
	spec := dualStackSpec()
	holders := []Holder{holder("ns/a", "croydon", "data"), holder("ns/b", "croydon", "data")}
	base, _ := mustAllocate(t, spec, onPrem("croydon"), holders, Plan{})
	before := jsonCopy(t, base)

	got := ReleaseHolder(base, "ns/a")
	if hasWorkload(got, "ns/a") {
		t.Errorf("ns/a still holds a block")
	}
	if diff := cmp.Diff(workloadFor(t, base, "ns/b"), workloadFor(t, got, "ns/b"), prefixComparer); diff != "" {
		t.Errorf("ns/b changed (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(before, base, prefixComparer); diff != "" {
		t.Errorf("input plan changed (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(base, ReleaseHolder(base, "ns/unknown"), prefixComparer); diff != "" {
		t.Errorf("releasing an unknown key changed the plan (-before +after):\n%s", diff)
	}
}

func TestFree(t *testing.T) {
	spec := Spec{
		Spaces: []string{"10.0.0.0/16", "fd00:64::/32"},
		Zones:  []string{"frontend"},
		Policy: Policy{SiteBits: 16, ZoneBits: 20, WorkloadBits: 22, SiteBits6: 33, ZoneBits6: 34, WorkloadBits6: 128},
	}
	holders := []Holder{holder("ns/a", "croydon", "frontend"), holder("ns/b", "croydon", "frontend")}
	plan, _ := mustAllocate(t, spec, onPrem("croydon"), holders, Plan{})

	got, err := Free(spec, plan, "croydon", "frontend")
	if err != nil {
		t.Fatalf("Free: %v", err)
	}
	want := []Capacity{
		{Family: IPv4, Zone: pfx(t, "10.0.0.0/20"), WorkloadBits: 22, Total: 4, Free: 2},
		{Family: IPv6, Zone: pfx(t, "fd00:64::/34"), WorkloadBits: 128, Total: math.MaxUint64, Free: math.MaxUint64},
	}
	if diff := cmp.Diff(want, got, prefixComparer); diff != "" {
		t.Errorf("Free (-want +got):\n%s", diff)
	}

	_, err = Free(spec, plan, "farnborough", "frontend")
	var problem Problem
	if !errors.As(err, &problem) || problem.Reason != ReasonSiteNotFound {
		t.Errorf("Free for a site without a block: error = %v, want a %s problem", err, ReasonSiteNotFound)
	}
}
