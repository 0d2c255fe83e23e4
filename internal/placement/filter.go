package placement

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// exceptionState is the effect of a workload's cloud-first exception at the
// placement time.
type exceptionState int

const (
	noException exceptionState = iota
	// exceptionInForce excludes public-cloud sites.
	exceptionInForce
	// exceptionLapsed excludes every site that is not public cloud.
	exceptionLapsed
	// exceptionIncomplete lacks a justification or an approver, so it is
	// ignored as if absent.
	exceptionIncomplete
)

// request is a workload prepared once for checking against many sites.
type request struct {
	workload     *Workload
	needs        Resources // requests with negatives clamped to zero
	allowed      []string  // allowed site names, sorted and without duplicates
	residency    []string  // sorted, for messages
	capabilities []string  // required capabilities, sorted and without duplicates
	exception    exceptionState
}

func newRequest(w *Workload, now time.Time) request {
	r := request{
		workload:     w,
		needs:        clampedRequests(w),
		allowed:      sortedUnique(w.Sites),
		residency:    sortedUnique(w.Residency),
		capabilities: sortedUnique(w.RequiredCapabilities),
	}
	if e := w.Exception; e != nil {
		switch {
		case !e.Expires.After(now):
			r.exception = exceptionLapsed
		case strings.TrimSpace(e.Justification) == "" || strings.TrimSpace(e.Approver) == "":
			r.exception = exceptionIncomplete
		default:
			r.exception = exceptionInForce
		}
	}
	return r
}

// clampedRequests returns w's requests with negative values raised to zero.
func clampedRequests(w *Workload) Resources {
	return Resources{
		MilliCPU:    max(w.Requests.MilliCPU, 0),
		MemoryBytes: max(w.Requests.MemoryBytes, 0),
	}
}

// sortedUnique returns items sorted and without duplicates, or nil for an
// empty slice. It returns items itself when they already are, and otherwise
// a sorted copy, so the caller's slice never changes.
func sortedUnique(items []string) []string {
	if len(items) == 0 {
		return nil
	}
	if isSortedUnique(items) {
		return items
	}
	sorted := slices.Clone(items)
	slices.Sort(sorted)
	return slices.Compact(sorted)
}

func isSortedUnique(items []string) bool {
	for i := 1; i < len(items); i++ {
		if items[i-1] >= items[i] {
			return false
		}
	}
	return true
}

// evaluate runs the filters on one site, appends the outcome message to buf
// and returns the reason, the score (zero unless eligible) and the extended
// buffer.
func (r *request) evaluate(s *siteState, buf []byte) (Reason, Score, []byte) {
	w := r.workload
	site := &s.site

	if len(r.allowed) > 0 {
		if _, found := slices.BinarySearch(r.allowed, site.Name); !found {
			buf = append(buf, "Not in the workload's allowed sites ("...)
			buf = appendList(buf, r.allowed)
			return NotInAllowedSites, Score{}, append(buf, ")."...)
		}
	}

	if !site.Ready {
		buf = append(buf, "Not ready"...)
		if site.NotReadyReason != "" {
			buf = append(buf, " ("...)
			buf = append(buf, site.NotReadyReason...)
			buf = append(buf, ')')
		}
		return SiteNotReady, Score{}, append(buf, '.')
	}

	if !site.Accreditation.Covers(w.Classification) {
		return AccreditationTooLow, Score{}, appendAccreditationMessage(buf, site.Accreditation, w.Classification)
	}

	// NOTE: a workload below SECRET never lands on an enclave site, even when
	// only an enclave site offers a capability it requires.
	if site.Accreditation == Secret && w.Classification != Secret {
		buf = append(buf, "Accredited to SECRET, so it holds only SECRET workloads and this one is "...)
		buf = append(buf, w.Classification...)
		return ReservedForSecret, Score{}, append(buf, '.')
	}

	if site.Accreditation == Secret {
		switch {
		case site.Enclave == "":
			buf = append(buf, "Accredited to SECRET but part of no enclave, so it takes no workloads."...)
			return NotEnclaveTenant, Score{}, buf
		case !slices.Contains(site.Tenants, w.Department):
			buf = append(buf, "Department "...)
			buf = append(buf, w.Department...)
			buf = append(buf, " is not a tenant of enclave "...)
			buf = append(buf, site.Enclave...)
			buf = append(buf, " (tenants: "...)
			buf = appendList(buf, site.Tenants)
			return NotEnclaveTenant, Score{}, append(buf, ")."...)
		}
	}

	if len(r.residency) > 0 && !containsFold(r.residency, site.Jurisdiction) {
		if site.Jurisdiction == "" {
			buf = append(buf, "Jurisdiction is not set, so it cannot meet the workload's residency ("...)
		} else {
			buf = append(buf, "Jurisdiction "...)
			buf = append(buf, site.Jurisdiction...)
			buf = append(buf, " is outside the workload's residency ("...)
		}
		buf = appendList(buf, r.residency)
		return ResidencyMismatch, Score{}, append(buf, ")."...)
	}

	if missing := countMissing(r.capabilities, site.Capabilities); missing > 0 {
		return MissingCapability, Score{}, appendMissingMessage(buf, r.capabilities, site.Capabilities, missing)
	}

	if r.exception == exceptionInForce && site.Tier == PublicCloud {
		e := w.Exception
		buf = append(buf, "Excluded by the cloud-first exception "...)
		buf = strconv.AppendQuote(buf, e.Justification)
		buf = append(buf, ", approved by "...)
		buf = append(buf, e.Approver...)
		buf = append(buf, " until "...)
		buf = appendDate(buf, e.Expires)
		return CloudFirstException, Score{}, append(buf, '.')
	}

	if r.exception == exceptionLapsed && site.Tier != PublicCloud {
		buf = append(buf, "The cloud-first exception expired on "...)
		buf = appendDate(buf, w.Exception.Expires)
		buf = append(buf, ", so renew it or move the workload to public cloud."...)
		return ExceptionExpired, Score{}, buf
	}

	if !s.fits(r.needs) {
		return InsufficientCapacity, Score{}, s.appendShortfall(buf, r.needs)
	}

	sc := score(s, r.needs)
	buf = append(buf, "Eligible with score "...)
	buf = strconv.AppendInt(buf, int64(sc.Total), 10)
	buf = append(buf, " (tier "...)
	buf = strconv.AppendInt(buf, int64(sc.Tier), 10)
	buf = append(buf, ", cost "...)
	buf = strconv.AppendInt(buf, int64(sc.Cost), 10)
	buf = append(buf, ", headroom "...)
	buf = strconv.AppendInt(buf, int64(sc.Headroom), 10)
	return Eligible, sc, append(buf, ")."...)
}

func appendAccreditationMessage(buf []byte, accreditation, classification Classification) []byte {
	const valid = " is not one of OFFICIAL, OFFICIAL-SENSITIVE or SECRET"
	switch {
	case !classification.Valid():
		buf = append(buf, "The workload's classification "...)
		buf = strconv.AppendQuote(buf, string(classification))
		buf = append(buf, valid...)
		return append(buf, '.')
	case !accreditation.Valid():
		buf = append(buf, "Accreditation "...)
		buf = strconv.AppendQuote(buf, string(accreditation))
		buf = append(buf, valid...)
		return append(buf, ", so the site holds no workloads."...)
	}
	buf = append(buf, "Accredited to "...)
	buf = append(buf, accreditation...)
	buf = append(buf, ", below the workload's "...)
	buf = append(buf, classification...)
	return append(buf, " classification."...)
}

// containsFold reports whether items contains value, ignoring case.
func containsFold(items []string, value string) bool {
	for _, item := range items {
		if strings.EqualFold(item, value) {
			return true
		}
	}
	return false
}

// countMissing returns how many of required are not in offered.
func countMissing(required, offered []string) int {
	missing := 0
	for _, capability := range required {
		if !slices.Contains(offered, capability) {
			missing++
		}
	}
	return missing
}

func appendMissingMessage(buf []byte, required, offered []string, missing int) []byte {
	if missing == 1 {
		buf = append(buf, "Missing required capability "...)
	} else {
		buf = append(buf, "Missing required capabilities "...)
	}
	first := true
	for _, capability := range required {
		if slices.Contains(offered, capability) {
			continue
		}
		if !first {
			buf = append(buf, ", "...)
		}
		first = false
		buf = append(buf, capability...)
	}
	return append(buf, '.')
}
