package provisioning

import (
	"sort"

	"sigs.k8s.io/controller-runtime/pkg/client"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/provisioning"
)

// recordSet is a workload's record of its objects on sites, kept in
// status.provisioning: objects it means to keep, and objects left behind
// because removing them failed. The order is stable, so an unchanged
// record writes an unchanged status.
type recordSet struct {
	entries []record
}

type record struct {
	ref        estatev1.ProvisionedObject
	leftBehind bool
	// desired is true for objects the workload needs on its current site.
	desired bool
}

func newRecordSet(p *estatev1.Provisioning) *recordSet {
	s := &recordSet{}
	if p == nil {
		return s
	}
	seen := map[estatev1.ProvisionedObject]bool{}
	add := func(refs []estatev1.ProvisionedObject, leftBehind bool) {
		for _, ref := range refs {
			if seen[ref] {
				continue
			}
			seen[ref] = true
			s.entries = append(s.entries, record{ref: ref, leftBehind: leftBehind})
		}
	}
	add(p.Objects, false)
	add(p.LeftBehind, true)
	return s
}

// recordedOn returns the objects the status records on site, kept or left behind.
func recordedOn(p *estatev1.Provisioning, site string) map[estatev1.ProvisionedObject]bool {
	out := map[estatev1.ProvisionedObject]bool{}
	for _, e := range newRecordSet(p).entries {
		if e.ref.Site == site {
			out[e.ref] = true
		}
	}
	return out
}

// keepDesired puts the desired objects on site first, in apply order. An
// object is recorded when the site accepted it, or when it was recorded
// before and so may still be there. Other entries keep their order.
func (s *recordSet) keepDesired(site string, desired []client.Object, accepted map[estatev1.ProvisionedObject]bool) {
	previous := map[estatev1.ProvisionedObject]bool{}
	for _, e := range s.entries {
		previous[e.ref] = true
	}
	wanted := map[estatev1.ProvisionedObject]bool{}
	var entries []record
	for _, obj := range desired {
		ref := provisioning.Reference(obj, site)
		wanted[ref] = true
		if accepted[ref] || previous[ref] {
			entries = append(entries, record{ref: ref, desired: true})
		}
	}
	for _, e := range s.entries {
		if !wanted[e.ref] {
			entries = append(entries, e)
		}
	}
	s.entries = entries
}

// stale returns the recorded objects that are not desired, by site, with
// the site names sorted.
func (s *recordSet) stale() (sites []string, bySite map[string][]estatev1.ProvisionedObject) {
	bySite = map[string][]estatev1.ProvisionedObject{}
	for _, e := range s.entries {
		if e.desired {
			continue
		}
		if _, ok := bySite[e.ref.Site]; !ok {
			sites = append(sites, e.ref.Site)
		}
		bySite[e.ref.Site] = append(bySite[e.ref.Site], e.ref)
	}
	sort.Strings(sites)
	return sites, bySite
}

// all returns every recorded object, by site, with the site names sorted.
func (s *recordSet) all() (sites []string, bySite map[string][]estatev1.ProvisionedObject) {
	bySite = map[string][]estatev1.ProvisionedObject{}
	for _, e := range s.entries {
		if _, ok := bySite[e.ref.Site]; !ok {
			sites = append(sites, e.ref.Site)
		}
		bySite[e.ref.Site] = append(bySite[e.ref.Site], e.ref)
	}
	sort.Strings(sites)
	return sites, bySite
}

// apply drops the removed and released objects and marks the remaining
// ones left behind.
func (s *recordSet) apply(res removal) {
	removed := map[estatev1.ProvisionedObject]bool{}
	for _, ref := range append(res.removed, res.released...) {
		removed[ref] = true
	}
	remaining := map[estatev1.ProvisionedObject]bool{}
	for _, ref := range res.remaining {
		remaining[ref] = true
	}
	kept := s.entries[:0]
	for _, e := range s.entries {
		if removed[e.ref] {
			continue
		}
		if remaining[e.ref] {
			e.leftBehind = true
		}
		kept = append(kept, e)
	}
	s.entries = kept
}

// lists returns the kept objects and the objects left behind, nil when empty.
func (s *recordSet) lists() (objects, leftBehind []estatev1.ProvisionedObject) {
	for _, e := range s.entries {
		if e.leftBehind {
			leftBehind = append(leftBehind, e.ref)
		} else {
			objects = append(objects, e.ref)
		}
	}
	return objects, leftBehind
}
