package placement

import (
	"bytes"
	"cmp"
	"slices"
	"time"
)

// Place chooses a site for w among sites at time now.
//
// Every site runs through the filters in the order of Filters, and the
// eligible site with the highest Score.Total wins, ties going to the site
// name that sorts first. A workload whose current site is still eligible
// stays there (SiteKept), even if another site scores higher. If w.Sites
// names a site that is not in sites, nothing is placed (UnknownSite).
//
// The result does not depend on the order of sites, and Place changes none
// of its arguments.
func Place(w Workload, sites []Site, now time.Time) Decision {
	states := prepareSites(sites)
	var p placer
	d, _ := p.place(&w, states, now)
	return d
}

// PlaceAll places workloads one after another, sorted by namespace and then
// name whatever the input order, and returns the decisions in that order.
// Each chosen site's capacity and workload slot are deducted before the next
// workload, so the sites' Allocated fields must exclude every workload in ws.
// PlaceAll changes none of its arguments. It serves dry runs of a whole
// estate.
func PlaceAll(ws []Workload, sites []Site, now time.Time) []Decision {
	states := prepareSites(sites)

	order := make([]int, len(ws))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return compareWorkloads(&ws[a], &ws[b]) })

	var p placer
	decisions := make([]Decision, len(ws))
	for i, index := range order {
		d, chosen := p.place(&ws[index], states, now)
		if chosen >= 0 {
			states[chosen].take(clampedRequests(&ws[index]))
		}
		decisions[i] = d
	}
	return decisions
}

// compareWorkloads orders by namespace and name. Workloads that share both
// are ordered by their other fields, so that PlaceAll does not depend on the
// input order.
func compareWorkloads(a, b *Workload) int {
	if byName := cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name)); byName != 0 {
		return byName
	}
	return cmp.Or(
		cmp.Compare(a.Classification, b.Classification),
		cmp.Compare(a.CurrentSite, b.CurrentSite),
		cmp.Compare(a.Requests.MilliCPU, b.Requests.MilliCPU),
		cmp.Compare(a.Requests.MemoryBytes, b.Requests.MemoryBytes),
		slices.Compare(a.Residency, b.Residency),
		slices.Compare(a.RequiredCapabilities, b.RequiredCapabilities),
		slices.Compare(a.Sites, b.Sites),
		compareExceptions(a.Exception, b.Exception),
	)
}

func compareExceptions(a, b *Exception) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return cmp.Or(
		a.Expires.Compare(b.Expires),
		cmp.Compare(a.Justification, b.Justification),
		cmp.Compare(a.Approver, b.Approver),
	)
}

// placer holds buffers that are reused from one workload to the next.
type placer struct {
	text    []byte // distinct outcome messages of the current workload, back to back
	spans   []span // byte range of each outcome's message in text
	message []byte // the decision message being built

	// recent holds, per filter reason, the last few distinct messages that
	// filter wrote for the current workload. Most filters repeat one message
	// across many sites, and reusing it roughly halves the bytes PlaceAll
	// allocates for messages.
	recent [len(filterOrder)][recentMessages]span
}

// recentMessages is how many distinct messages per filter are remembered for
// reuse. Residency and accreditation messages vary with a handful of site
// jurisdictions and accreditations, so a few suffice.
const recentMessages = 4

// span is a message's byte range in placer.text.
type span struct{ start, end int }

// keepMessage records the message that evaluate has just appended to p.text
// from offset start, for outcome i. If the same filter wrote an identical
// message earlier for this workload, the new copy is dropped and the earlier
// one reused.
func (p *placer) keepMessage(i, start int, reason Reason) {
	if reason == Eligible {
		// Eligible messages carry per-site scores and rarely repeat.
		p.spans[i] = span{start, len(p.text)}
		return
	}
	message := p.text[start:]
	recent := &p.recent[filterIndex(reason)]
	for _, earlier := range recent {
		if earlier.end > earlier.start && bytes.Equal(p.text[earlier.start:earlier.end], message) {
			p.text = p.text[:start]
			p.spans[i] = earlier
			return
		}
	}
	added := span{start, len(p.text)}
	copy(recent[1:], recent[:recentMessages-1])
	recent[0] = added
	p.spans[i] = added
}

// place decides for one workload against states sorted by name. It returns
// the decision and the index in states of the chosen site, or -1.
func (p *placer) place(w *Workload, states []siteState, now time.Time) (Decision, int) {
	r := newRequest(w, now)

	outcomes := make([]SiteOutcome, len(states))
	p.spans = slices.Grow(p.spans[:0], len(states))[:len(states)]
	p.text = p.text[:0]
	p.recent = [len(filterOrder)][recentMessages]span{}
	var removedCounts [len(filterOrder)]int
	best, current := -1, -1

	for i := range states {
		s := &states[i]
		var reason Reason
		var sc Score
		start := len(p.text)
		reason, sc, p.text = r.evaluate(s, p.text)
		p.keepMessage(i, start, reason)
		outcomes[i] = SiteOutcome{
			Site:     s.site.Name,
			Tier:     s.site.Tier,
			Eligible: reason == Eligible,
			Reason:   reason,
			Score:    sc,
		}
		if reason != Eligible {
			removedCounts[filterIndex(reason)]++
			continue
		}
		if best < 0 || sc.Total > outcomes[best].Score.Total {
			best = i
		}
		if current < 0 && w.CurrentSite != "" && s.site.Name == w.CurrentSite {
			current = i
		}
	}

	// One string holds every distinct outcome message, which saves an
	// allocation per site. The messages are substrings of it.
	text := string(p.text)
	for i := range outcomes {
		outcomes[i].Message = text[p.spans[i].start:p.spans[i].end]
	}

	d := Decision{
		Namespace: w.Namespace,
		Name:      w.Name,
		Outcomes:  outcomes,
		Removed:   removedMap(&removedCounts),
	}

	if unknown := unknownSites(r.allowed, states); len(unknown) > 0 {
		d.Reason = UnknownSite
		d.Message = unknownSiteMessage(unknown, states)
		return d, -1
	}

	// SiteKept means stability overrode a better-scoring site. A current
	// site that is also the best is reported as SiteChosen, so a decision
	// that has not changed reads the same on every reconcile.
	chosen := best
	d.Reason = SiteChosen
	if current >= 0 && current != best {
		chosen = current
		d.Reason = SiteKept
	}
	if chosen < 0 {
		d.Reason = NoEligibleSite
		d.Message = noEligibleMessage(len(states), &removedCounts)
		return d, -1
	}

	d.Site = outcomes[chosen].Site
	d.Tier = outcomes[chosen].Tier
	d.Score = outcomes[chosen].Score
	p.message = chosenMessage(p.message[:0], &d, &r)
	d.Message = string(p.message)
	return d, chosen
}

// filterIndex returns the position of a filter reason in filterOrder.
func filterIndex(reason Reason) int {
	for i, filter := range filterOrder {
		if filter == reason {
			return i
		}
	}
	panic("placement: unknown filter reason " + string(reason))
}

func removedMap(counts *[len(filterOrder)]int) map[Reason]int {
	entries := 0
	for _, n := range counts {
		if n > 0 {
			entries++
		}
	}
	removed := make(map[Reason]int, entries)
	for i, n := range counts {
		if n > 0 {
			removed[filterOrder[i]] = n
		}
	}
	return removed
}

// unknownSites returns the allowed names that match no site. Both lists are
// sorted by name.
func unknownSites(allowed []string, states []siteState) []string {
	var unknown []string
	for _, name := range allowed {
		_, found := slices.BinarySearchFunc(states, name, func(s siteState, name string) int {
			return cmp.Compare(s.site.Name, name)
		})
		if !found {
			unknown = append(unknown, name)
		}
	}
	return unknown
}
