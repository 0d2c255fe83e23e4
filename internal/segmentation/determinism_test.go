package segmentation_test

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ukhomeoffice/estate/internal/segmentation"
)

func TestCompileIndependentOfInputOrder(t *testing.T) {
	intents := map[string]segmentation.Intent{"fixture": fixtureIntent()}
	for seed := range uint64(6) {
		intents["generated estate "+strconv.Itoa(int(seed))] = generateEstate(300+seed, estateConfig{workloads: 120, flows: 500, zones: 8, sites: 6, zoneFlowPerMille: 100, conformingPercent: 50})
	}
	for name, in := range intents {
		t.Run(name, func(t *testing.T) {
			want, err := segmentation.Compile(in)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			for round := range 3 {
				got, err := segmentation.Compile(shuffleIntent(rng, in))
				if err != nil {
					t.Fatalf("Compile of shuffled intent, round %d: %v", round, err)
				}
				if diff := cmp.Diff(want, got, prefixComparer); diff != "" {
					t.Fatalf("output of shuffled intent, round %d, differs (-original +shuffled):\n%s", round, diff)
				}
				for site, rs := range want.Firewalls {
					if rs.Render() != got.Firewalls[site].Render() {
						t.Errorf("rendered firewall of %s differs after shuffling, round %d", site, round)
					}
				}
			}
		})
	}
}

func TestCompileHasNoDuplicateRules(t *testing.T) {
	intents := map[string]segmentation.Intent{"fixture": fixtureIntent()}
	for seed := range uint64(6) {
		intents["generated estate "+strconv.Itoa(int(seed))] = generateEstate(400+seed, estateConfig{workloads: 150, flows: 900, zones: 10, sites: 6, zoneFlowPerMille: 150, conformingPercent: 50})
	}
	// Repeat every flow under another name, so merging has work to do.
	repeated := fixtureIntent()
	for i := range repeated.Workloads {
		w := &repeated.Workloads[i]
		for _, f := range w.Flows {
			f.Name += "-again"
			w.Flows = append(w.Flows, f)
		}
	}
	intents["fixture with every flow declared twice"] = repeated

	for name, in := range intents {
		t.Run(name, func(t *testing.T) {
			out, err := segmentation.Compile(in)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			for _, d := range duplicateRules(out) {
				t.Error(d)
			}
		})
	}
}
