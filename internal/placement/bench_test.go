package placement

import "testing"

// BenchmarkPlaceAll places 10,000 workloads on 200 sites, building every
// outcome message, as a dry run of a large estate would.
func BenchmarkPlaceAll(b *testing.B) {
	sites, workloads := generateEstate(42, 200, 10000)
	b.ReportAllocs()

	var placed int
	for b.Loop() {
		placed = 0
		for _, d := range PlaceAll(workloads, sites, testNow) {
			if d.Site != "" {
				placed++
			}
		}
	}
	b.ReportMetric(float64(placed), "placed/op")
}
