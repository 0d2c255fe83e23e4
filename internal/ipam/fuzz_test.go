package ipam

import (
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzAllocate builds a random valid scenario from the seed, allocates it,
// churns the holders and allocates again from the first plan. Each plan
// must have no overlapping blocks and every block inside its parent, a
// rerun from a plan must change nothing, and churn must leave every
// surviving holder's block where it was.
func FuzzAllocate(f *testing.F) {
	for _, seed := range []uint64{0, 1, 2, 42, 1 << 40} {
		f.Add(seed, uint8(0))
		f.Add(seed, uint8(200))
	}
	f.Fuzz(func(t *testing.T, seed uint64, churnSeed uint8) {
		r := rand.New(rand.NewPCG(seed, uint64(churnSeed)))
		spec, sites, holders := randomScenario(r)

		first, _, err := Allocate(spec, sites, holders, Plan{})
		if err != nil {
			t.Fatalf("Allocate: %v", err)
		}
		checkPlan(t, spec, first)

		again, _, err := Allocate(spec, sites, holders, first)
		if err != nil {
			t.Fatalf("Allocate again: %v", err)
		}
		if diff := cmp.Diff(first, again, prefixComparer); diff != "" {
			t.Fatalf("rerun from its own output changed the plan (-first +again):\n%s", diff)
		}

		churned := churn(r, holders, sites)
		after, _, err := Allocate(spec, sites, churned, first)
		if err != nil {
			t.Fatalf("Allocate after churn: %v", err)
		}
		checkPlan(t, spec, after)

		held := map[string]WorkloadBlock{}
		for _, w := range first.Workloads {
			held[w.Key] = w
		}
		for _, w := range after.Workloads {
			before, ok := held[w.Key]
			if !ok || before.UID != w.UID || before.Site != w.Site || before.Zone != w.Zone {
				continue
			}
			if diff := cmp.Diff(before, w, prefixComparer); diff != "" {
				t.Errorf("holder %s stayed put but its block moved (-before +after):\n%s", w.Key, diff)
			}
		}
	})
}
