package v1alpha1

// Tier is the kind of hosting, in cloud-first order of preference.
// +kubebuilder:validation:Enum=PublicCloud;PrivateCloud;OnPremises
type Tier string

const (
	// TierPublicCloud is a public cloud provider's region. It is always preferred.
	TierPublicCloud Tier = "PublicCloud"
	// TierPrivateCloud is a government private cloud, for example in a crown hosting data centre.
	TierPrivateCloud Tier = "PrivateCloud"
	// TierOnPremises is a department-owned data centre, used only when no cloud site qualifies.
	TierOnPremises Tier = "OnPremises"
)

// Classification is a government security classification, lowest first.
// +kubebuilder:validation:Enum=OFFICIAL;OFFICIAL-SENSITIVE;SECRET
type Classification string

const (
	// Official is the classification of most government work (Tier 1).
	Official Classification = "OFFICIAL"
	// OfficialSensitive is OFFICIAL information with a need-to-know handling caveat.
	OfficialSensitive Classification = "OFFICIAL-SENSITIVE"
	// Secret is Tier 2 work, held only in the shared enclave.
	Secret Classification = "SECRET"
)

// Capability is a facility that a hosting site offers and a workload may require.
// +kubebuilder:validation:Enum=hsm;gpu;mainframe;specialist-scanner;cross-domain-gateway;lawful-intercept;emergency-services-network;biometric-matching
type Capability string

const (
	CapabilityHSM                      Capability = "hsm"
	CapabilityGPU                      Capability = "gpu"
	CapabilityMainframe                Capability = "mainframe"
	CapabilitySpecialistScanner        Capability = "specialist-scanner"
	CapabilityCrossDomainGateway       Capability = "cross-domain-gateway"
	CapabilityLawfulIntercept          Capability = "lawful-intercept"
	CapabilityEmergencyServicesNetwork Capability = "emergency-services-network"
	CapabilityBiometricMatching        Capability = "biometric-matching"
)
