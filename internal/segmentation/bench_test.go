package segmentation_test

import (
	"testing"

	"github.com/ukhomeoffice/estate/internal/segmentation"
)

// largeEstate is the benchmark's estate: 10,000 workloads declaring 50,000
// flows over 12 zones and 8 sites, 2% of the flows to a zone.
var largeEstate = estateConfig{workloads: 10000, flows: 50000, zones: 12, sites: 8, zoneFlowPerMille: 5, conformingPercent: 95}

// BenchmarkCompile reports wall time per op and, because build machines are
// often shared, the process's CPU time per op (user plus system, all threads,
// including the garbage collector).
func BenchmarkCompile(b *testing.B) {
	in := generateEstate(42, largeEstate)
	b.ReportAllocs()
	start, measured := processCPUTime()
	for b.Loop() {
		if _, err := segmentation.Compile(in); err != nil {
			b.Fatalf("Compile: %v", err)
		}
	}
	if end, ok := processCPUTime(); measured && ok {
		b.ReportMetric((end-start).Seconds()/float64(b.N), "cpu-s/op")
	}
}

func TestLargeEstateHasNoDuplicateRules(t *testing.T) {
	out, err := segmentation.Compile(generateEstate(42, largeEstate))
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if got := len(out.NetworkPolicies); got != largeEstate.workloads {
		t.Errorf("got %d NetworkPolicies, want one per workload (%d)", got, largeEstate.workloads)
	}
	duplicates := duplicateRules(out)
	for i, d := range duplicates {
		if i == 20 {
			t.Errorf("and %d more duplicates", len(duplicates)-20)
			break
		}
		t.Error(d)
	}
}
