package placement

// Reason is a CamelCase code for a site outcome or a decision, stable enough
// for status conditions and metrics labels.
type Reason string

// Per-site reasons. The filters run in the order listed, from
// NotInAllowedSites to InsufficientCapacity, and the first one that fails
// removes the site.
const (
	// Eligible means the site passed every filter.
	Eligible Reason = "Eligible"
	// NotInAllowedSites means the workload lists allowed sites and this is not one of them.
	NotInAllowedSites Reason = "NotInAllowedSites"
	// SiteNotReady means the site is not accepting workloads, for example because it is cordoned.
	SiteNotReady Reason = "SiteNotReady"
	// AccreditationTooLow means the site's accreditation does not cover the
	// workload's classification. A SECRET workload on a site below SECRET
	// fails here, and so does a workload whose classification is not valid.
	AccreditationTooLow Reason = "AccreditationTooLow"
	// ReservedForSecret means the site is SECRET-accredited. Those sites are
	// the Tier 2 enclave and hold only SECRET workloads.
	ReservedForSecret Reason = "ReservedForSecret"
	// NotEnclaveTenant means the SECRET site belongs to no enclave, or to one
	// that does not list the workload's department as a tenant.
	NotEnclaveTenant Reason = "NotEnclaveTenant"
	// ResidencyMismatch means the site's jurisdiction is not in the workload's residency list.
	ResidencyMismatch Reason = "ResidencyMismatch"
	// MissingCapability means the site lacks a capability the workload requires.
	MissingCapability Reason = "MissingCapability"
	// CloudFirstException means an approved exception in force excludes this public-cloud site.
	CloudFirstException Reason = "CloudFirstException"
	// ExceptionExpired means the workload's exception has expired, so only public-cloud sites remain allowed.
	ExceptionExpired Reason = "ExceptionExpired"
	// InsufficientCapacity means the site lacks CPU, memory or a workload slot for the workload.
	InsufficientCapacity Reason = "InsufficientCapacity"
)

// Decision reasons.
const (
	// SiteChosen means the highest-scoring eligible site was chosen.
	SiteChosen Reason = "SiteChosen"
	// SiteKept means the workload stays on its current site, which is still
	// eligible, even if another site scores higher.
	SiteKept Reason = "SiteKept"
	// NoEligibleSite means every site was removed by a filter.
	NoEligibleSite Reason = "NoEligibleSite"
	// UnknownSite means the workload's allowed sites name a site that does not exist.
	UnknownSite Reason = "UnknownSite"
)

// filterOrder lists the per-site filters in the order they run. Messages
// that count removals use this order.
var filterOrder = [...]Reason{
	NotInAllowedSites,
	SiteNotReady,
	AccreditationTooLow,
	ReservedForSecret,
	NotEnclaveTenant,
	ResidencyMismatch,
	MissingCapability,
	CloudFirstException,
	ExceptionExpired,
	InsufficientCapacity,
}

// Filters returns the per-site filter reasons in the order they run.
func Filters() []Reason {
	return append([]Reason(nil), filterOrder[:]...)
}
