package v1alpha1

// Condition types.
const (
	// ConditionPlaced is True when the workload has a site.
	ConditionPlaced = "Placed"
	// ConditionSiteAvailable is False when the workload's site is cordoned or
	// being deleted and the workload has not yet moved.
	ConditionSiteAvailable = "SiteAvailable"
	// ConditionReady is a HostingSite's readiness to take workloads.
	ConditionReady = "Ready"
)

// Reasons of the Placed condition, equal to the placement decision's reason.
const (
	ReasonSiteChosen     = "SiteChosen"
	ReasonSiteKept       = "SiteKept"
	ReasonNoEligibleSite = "NoEligibleSite"
	ReasonUnknownSite    = "UnknownSite"
	// ReasonInvalidSpec is used when the spec passed the API schema but cannot
	// be interpreted, for example an expiry date that does not parse.
	ReasonInvalidSpec = "InvalidSpec"
)

// Reasons of a HostingSite's Ready condition and a workload's SiteAvailable condition.
const (
	ReasonAvailable = "Available"
	ReasonCordoned  = "Cordoned"
	ReasonDeleting  = "Deleting"
)

// Finalizers.
const (
	// PlacementFinalizer lets the placement operator release a workload's
	// reservation, or a site's cordon, before the object goes.
	PlacementFinalizer = "estate.homeoffice.gov.uk/placement"
)
