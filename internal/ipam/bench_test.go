package ipam

import (
	"fmt"
	"testing"
)

// benchScenario returns 7 sites with 9 zones each and 10,000 holders spread
// evenly over the 63 zone blocks, dual stack. Workload blocks are /28 and
// /64, so that each /20 and /56 zone holds 256 and none runs out.
func benchScenario() (Spec, []Site, []Holder) {
	spec := Spec{
		Spaces:    []string{"10.64.0.0/10", "fd00:64::/32"},
		PSNRanges: []string{"51.0.0.0/8"},
		Zones:     []string{"frontend", "backend", "data", "mgmt", "dmz", "batch", "analytics", "identity", "shared"},
		Policy:    Policy{SiteBits: 16, ZoneBits: 20, WorkloadBits: 28, SiteBits6: 48, ZoneBits6: 56, WorkloadBits6: 64},
	}
	sites := []Site{
		{Name: "aws-london", Tier: PublicCloud},
		{Name: "aws-ireland", Tier: PublicCloud},
		{Name: "azure-uk-south", Tier: PublicCloud},
		{Name: "crown-hosting-a", Tier: PrivateCloud},
		{Name: "crown-hosting-b", Tier: PrivateCloud},
		{Name: "croydon", Tier: OnPremises},
		{Name: "farnborough", Tier: OnPremises},
	}
	holders := make([]Holder, 10_000)
	for i := range holders {
		key := fmt.Sprintf("ns%03d/workload-%05d", i%97, i)
		holders[i] = Holder{
			Key:  key,
			UID:  "uid-" + key,
			Site: sites[i%len(sites)].Name,
			Zone: spec.Zones[(i/len(sites))%len(spec.Zones)],
		}
	}
	return spec, sites, holders
}

func BenchmarkAllocate10000(b *testing.B) {
	spec, sites, holders := benchScenario()
	b.ReportAllocs()
	for b.Loop() {
		plan, problems, err := Allocate(spec, sites, holders, Plan{})
		if err != nil {
			b.Fatalf("Allocate: %v", err)
		}
		if len(problems) != 0 || len(plan.Workloads) != len(holders) {
			b.Fatalf("%d blocks and %d problems for %d holders", len(plan.Workloads), len(problems), len(holders))
		}
	}
}

func BenchmarkAllocateStable10000(b *testing.B) {
	spec, sites, holders := benchScenario()
	current, _, err := Allocate(spec, sites, holders, Plan{})
	if err != nil {
		b.Fatalf("Allocate: %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Allocate(spec, sites, holders, current); err != nil {
			b.Fatalf("Allocate: %v", err)
		}
	}
}

func BenchmarkAllocateHolderIncremental(b *testing.B) {
	spec, sites, holders := benchScenario()
	plan, _, err := Allocate(spec, sites, holders, Plan{})
	if err != nil {
		b.Fatalf("Allocate: %v", err)
	}
	h := Holder{Key: "ns050/new-workload", UID: "uid-new", Site: "croydon", Zone: "data"}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := AllocateHolder(spec, plan, h); err != nil {
			b.Fatalf("AllocateHolder: %v", err)
		}
	}
}
