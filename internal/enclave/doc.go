// Package enclave holds the pure logic of the Tier 2 enclave operator. It
// builds the objects an Enclave needs on each of its sites and verifies the
// network controls against the ClusterNetworkPolicies read back from a site.
// It also folds per-site findings into status conditions and summarises an
// enclave for estatectl. Nothing here talks to an API server.
package enclave

import estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"

// Labels that the enclave operator sets on the objects it writes to a site.
const (
	// LabelTenant is the department that owns a tenant namespace.
	LabelTenant = "estate.homeoffice.gov.uk/tenant"
	// LabelClassification is the classification of what a namespace holds,
	// always SECRET for enclave namespaces.
	LabelClassification = "estate.homeoffice.gov.uk/classification"
	// LabelZone is the network zone of a namespace. Gateway flows select
	// their source namespaces by it.
	LabelZone = "estate.homeoffice.gov.uk/zone"
	// LabelWorkload names the workload of a pod. The cross-domain gateway's
	// pods carry the gateway's name in it.
	LabelWorkload = "estate.homeoffice.gov.uk/workload"
	// LabelEnclave is the Enclave that owns an object. The enclave's
	// ClusterNetworkPolicies select their subjects by it, so the policies of
	// two enclaves sharing a site never select the same namespace.
	LabelEnclave = "estate.homeoffice.gov.uk/enclave"
	// LabelManagedBy is the standard label naming the writer of an object.
	LabelManagedBy = "app.kubernetes.io/managed-by"
)

// ManagedBy is the value of LabelManagedBy, and the operator's server-side
// apply field manager.
const ManagedBy = "estate-enclave"

// Condition types of an Enclave, one per control plus Ready.
const (
	ConditionNoInternetEgress = "NoInternetEgress"
	ConditionTenantIsolation  = "TenantIsolation"
	ConditionEncryptionAtRest = "EncryptionAtRest"
	ConditionAuditLogging     = "AuditLogging"
	ConditionReady            = estatev1.ConditionReady
)

// ControlConditions are the control condition types in the order status
// lists them.
var ControlConditions = []string{
	ConditionNoInternetEgress,
	ConditionTenantIsolation,
	ConditionEncryptionAtRest,
	ConditionAuditLogging,
}

// Reasons of the Enclave conditions.
const (
	// ReasonVerified: the control was checked on every site and holds.
	ReasonVerified = "Verified"
	// ReasonControlsHold is Ready's reason when every control holds on
	// every site.
	ReasonControlsHold = "ControlsHold"
	// ReasonControlFailed is Ready's reason when a control does not hold
	// on some site.
	ReasonControlFailed = "ControlFailed"
	// ReasonNotVerifiable: nothing can check this control on the site, for
	// example no SiteInspector is configured for it.
	ReasonNotVerifiable = "NotVerifiable"
	// ReasonVerificationFailed: the check itself failed, so the control's
	// state is unknown.
	ReasonVerificationFailed = "VerificationFailed"

	// ReasonSiteNotAccredited: a listed HostingSite does not exist or is
	// not accredited SECRET, so nothing is applied to it.
	ReasonSiteNotAccredited = "SiteNotAccredited"
	// ReasonNoConnection: the site has no kubeconfigSecretRef.
	ReasonNoConnection = estatev1.ReasonNoConnection
	// ReasonSiteUnreachable: the site's kubeconfig or API server could not
	// be used.
	ReasonSiteUnreachable = estatev1.ReasonSiteUnreachable
	// ReasonApplyFailed: the site rejected an object the enclave needs.
	ReasonApplyFailed = estatev1.ReasonApplyFailed
	// ReasonInvalidSpec: the spec passed the API schema but cannot be
	// turned into objects, for example a gateway port given by name.
	ReasonInvalidSpec = estatev1.ReasonInvalidSpec

	// ReasonNamespaceMissing: a tenant namespace is not on the site.
	ReasonNamespaceMissing = "NamespaceMissing"
	// ReasonInternetReachable: a tenant pod can reach an internet address.
	ReasonInternetReachable = "InternetReachable"
	// ReasonTenantsConnected: a pod of one tenant can reach another
	// tenant's pod.
	ReasonTenantsConnected = "TenantsConnected"
	// ReasonTenantTrafficDenied: an enclave policy denies traffic between
	// namespaces of the same tenant.
	ReasonTenantTrafficDenied = "TenantTrafficDenied"
	// ReasonNotEncrypted: the site stores Secrets unencrypted.
	ReasonNotEncrypted = "NotEncrypted"
	// ReasonNotAudited: the site's API server does not record requests in
	// an audit log.
	ReasonNotAudited = "NotAudited"
)
