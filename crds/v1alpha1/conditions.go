package v1alpha1

// Condition types.
const (
	// ConditionPlaced is True when the workload has a site.
	ConditionPlaced = "Placed"
	// ConditionSiteAvailable is False when the workload's site is cordoned or
	// being deleted and the workload has not yet moved.
	ConditionSiteAvailable = "SiteAvailable"
	// ConditionReady is a HostingSite's readiness to take workloads, and a
	// Network's address plan being valid and allocated.
	ConditionReady = "Ready"
	// ConditionNetworkReady is True when the workload holds its addresses
	// and every declared flow is compiled into policy.
	ConditionNetworkReady = "NetworkReady"
	// ConditionProvisioned is True when the site accepted every object of
	// the workload.
	ConditionProvisioned = "Provisioned"
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

// Reasons of the NetworkReady condition.
const (
	ReasonNetworkConfigured  = "NetworkConfigured"
	ReasonAwaitingPlacement  = "AwaitingPlacement"
	ReasonNoNetwork          = "NoNetwork"
	ReasonAddressesExhausted = "AddressesExhausted"
	ReasonFlowsRejected      = "FlowsRejected"
	ReasonInvalidNetwork     = "InvalidNetwork"
)

// Reasons of the Provisioned condition.
const (
	ReasonApplied         = "Applied"
	ReasonPlanOnly        = "PlanOnly"
	ReasonSiteUnreachable = "SiteUnreachable"
	ReasonApplyFailed     = "ApplyFailed"
	ReasonNoConnection    = "NoConnection"
)

// DefaultDepartment owns workloads whose spec.owner.department is empty.
const DefaultDepartment = "home-office"

// Finalizers.
const (
	// PlacementFinalizer lets the placement operator release a workload's
	// reservation, or a site's cordon, before the object goes.
	PlacementFinalizer = "estate.homeoffice.gov.uk/placement"
	// NetworkFinalizer lets the network operator release a workload's
	// address block before the workload goes.
	NetworkFinalizer = "estate.homeoffice.gov.uk/network"
	// ProvisioningFinalizer lets the provisioning operator remove what it
	// applied to a site before the workload goes.
	ProvisioningFinalizer = "estate.homeoffice.gov.uk/provisioning"
)
