package placement

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// chosenMessage appends the explanation of a SiteChosen or SiteKept
// decision to buf. Below public cloud it names each public-cloud site with
// its rejection reason, which is the record that cloud-first policy requires.
func chosenMessage(buf []byte, d *Decision, r *request) []byte {
	w := r.workload

	if d.Reason == SiteKept {
		buf = append(buf, "Kept on "...)
	} else {
		buf = append(buf, "Placed on "...)
	}
	buf = append(buf, d.Site...)
	buf = append(buf, " ("...)
	buf = append(buf, d.Tier...)
	buf = append(buf, ", score "...)
	buf = strconv.AppendInt(buf, int64(d.Score.Total), 10)
	buf = append(buf, ')')

	publicSites, eligiblePublic := 0, 0
	for _, o := range d.Outcomes {
		if o.Tier == PublicCloud {
			publicSites++
			if o.Eligible {
				eligiblePublic++
			}
		}
	}
	rejectedPublic := publicSites - eligiblePublic

	switch {
	case d.Reason == SiteKept && d.Tier != PublicCloud && eligiblePublic > 0:
		if eligiblePublic == 1 {
			buf = append(buf, " for stability, although public-cloud site "...)
		} else {
			buf = append(buf, " for stability, although public-cloud sites "...)
		}
		first := true
		for _, o := range d.Outcomes {
			if o.Tier != PublicCloud || !o.Eligible {
				continue
			}
			if !first {
				buf = append(buf, ", "...)
			}
			first = false
			buf = append(buf, o.Site...)
		}
		if eligiblePublic == 1 {
			buf = append(buf, " is eligible"...)
		} else {
			buf = append(buf, " are eligible"...)
		}
	case d.Reason == SiteKept:
		buf = append(buf, " because it is still eligible"...)
	case w.CurrentSite != "" && w.CurrentSite != d.Site:
		buf = appendMovedFrom(buf, w.CurrentSite, d.Outcomes)
	}
	buf = append(buf, '.')

	if d.Tier != PublicCloud {
		switch {
		case publicSites == 0:
			buf = append(buf, " No public-cloud site is configured."...)
		case rejectedPublic > 0:
			buf = append(buf, " Public cloud rejected: "...)
			first := true
			for _, o := range d.Outcomes {
				if o.Tier != PublicCloud || o.Eligible {
					continue
				}
				if !first {
					buf = append(buf, ", "...)
				}
				first = false
				buf = append(buf, o.Site...)
				buf = append(buf, ": "...)
				buf = append(buf, o.Reason...)
			}
			buf = append(buf, '.')
		}
	}

	if r.exception == exceptionIncomplete {
		buf = appendIgnoredException(buf, w.Exception)
	}
	return buf
}

// appendMovedFrom appends ", moved from X (Reason)" for a workload leaving
// its current site. The current site is ineligible or unknown, because an
// eligible one would have been kept.
func appendMovedFrom(buf []byte, currentSite string, outcomes []SiteOutcome) []byte {
	buf = append(buf, ", moved from "...)
	buf = append(buf, currentSite...)
	i, found := slices.BinarySearchFunc(outcomes, currentSite, func(o SiteOutcome, name string) int {
		return cmp.Compare(o.Site, name)
	})
	if !found {
		return append(buf, ", which is not a known site"...)
	}
	buf = append(buf, " ("...)
	buf = append(buf, outcomes[i].Reason...)
	return append(buf, ')')
}

func appendIgnoredException(buf []byte, e *Exception) []byte {
	noJustification := strings.TrimSpace(e.Justification) == ""
	noApprover := strings.TrimSpace(e.Approver) == ""
	buf = append(buf, " The cloud-first exception was ignored because it has no "...)
	switch {
	case noJustification && noApprover:
		buf = append(buf, "justification or approver"...)
	case noJustification:
		buf = append(buf, "justification"...)
	default:
		buf = append(buf, "approver"...)
	}
	return append(buf, '.')
}

// noEligibleMessage counts the sites each filter removed, in filter order,
// for example "No eligible site among 7: 3 AccreditationTooLow, 2
// MissingCapability, 2 InsufficientCapacity."
func noEligibleMessage(sites int, counts *[len(filterOrder)]int) string {
	if sites == 0 {
		return "No eligible site because no sites are configured."
	}
	buf := make([]byte, 0, 128)
	buf = append(buf, "No eligible site among "...)
	buf = strconv.AppendInt(buf, int64(sites), 10)
	buf = append(buf, ": "...)
	first := true
	for i, n := range counts {
		if n == 0 {
			continue
		}
		if !first {
			buf = append(buf, ", "...)
		}
		first = false
		buf = strconv.AppendInt(buf, int64(n), 10)
		buf = append(buf, ' ')
		buf = append(buf, filterOrder[i]...)
	}
	return string(append(buf, '.'))
}

// unknownSiteMessage names the allowed sites that do not exist and lists the
// valid names.
func unknownSiteMessage(unknown []string, states []siteState) string {
	buf := make([]byte, 0, 128)
	if len(unknown) == 1 {
		buf = append(buf, "Allowed site "...)
		buf = strconv.AppendQuote(buf, unknown[0])
		buf = append(buf, " does not exist."...)
	} else {
		buf = append(buf, "Allowed sites "...)
		for i, name := range unknown {
			if i > 0 {
				buf = append(buf, ", "...)
			}
			buf = strconv.AppendQuote(buf, name)
		}
		buf = append(buf, " do not exist."...)
	}

	if len(states) == 0 {
		return string(append(buf, " No sites are configured."...))
	}
	buf = append(buf, " Valid site names are "...)
	for i := range states {
		name := states[i].site.Name
		if i > 0 && name == states[i-1].site.Name {
			continue
		}
		if i > 0 {
			buf = append(buf, ", "...)
		}
		buf = append(buf, name...)
	}
	return string(append(buf, '.'))
}
