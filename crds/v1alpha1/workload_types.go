package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BusinessCapability is the department capability a workload serves.
// +kubebuilder:validation:Enum=Identify;Register;Investigate;Communicate;Decide;Enforce;Fulfil
type BusinessCapability string

// DataCategory is a kind of data a workload handles.
// +kubebuilder:validation:Enum=Personal;Biometric;CriminalRecords;Intelligence;Financial;Operational
type DataCategory string

// Exposure is who can reach a workload.
// +kubebuilder:validation:Enum=Internet;PSN;Internal
type Exposure string

const (
	// ExposureInternet serves the public over the internet, through GOV.UK.
	ExposureInternet Exposure = "Internet"
	// ExposurePSN serves other public bodies over the Public Services Network.
	ExposurePSN Exposure = "PSN"
	// ExposureInternal serves only other department workloads.
	ExposureInternal Exposure = "Internal"
)

// ExternalNetwork is a network outside the department that a flow may reach.
// +kubebuilder:validation:Enum=PSN;Internet
type ExternalNetwork string

// WorkloadSpec declares an application or service of the department.
// +kubebuilder:validation:XValidation:rule="!(self.classification == 'SECRET' && self.exposure == 'Internet')",message="a SECRET workload cannot be exposed to the internet; set exposure to PSN or Internal",fieldPath=".exposure",reason="FieldValueForbidden"
// +kubebuilder:validation:XValidation:rule="!(self.classification == 'SECRET' && has(self.flows) && self.flows.exists(f, has(f.to.external) && f.to.external == 'Internet'))",message="a SECRET workload cannot open flows to the internet; remove the flow or route it through the cross-domain gateway",fieldPath=".flows",reason="FieldValueForbidden"
type WorkloadSpec struct {
	// owner is the business area accountable for the workload.
	// +required
	Owner Owner `json:"owner"`

	// businessCapability is the department capability the workload serves:
	// Identify, Register, Investigate, Communicate, Decide, Enforce or Fulfil.
	// +required
	BusinessCapability BusinessCapability `json:"businessCapability"`

	// missionCritical marks workloads whose loss stops front-line operations,
	// such as border checks.
	// +optional
	MissionCritical bool `json:"missionCritical,omitempty"`

	// classification of the most sensitive data the workload holds.
	// SECRET workloads are placed only in the Tier 2 enclave.
	// +required
	Classification Classification `json:"classification"`

	// dataHandled lists the kinds of data the workload holds.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=6
	DataHandled []DataCategory `json:"dataHandled,omitempty"`

	// hosting states the workload's hosting requirements.
	// +optional
	Hosting HostingRequirements `json:"hosting,omitempty"`

	// resources the workload needs; placement reserves them on its site.
	// +required
	Resources WorkloadResources `json:"resources"`

	// zone is the network trust zone the workload joins.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Zone string `json:"zone"`

	// exposure is who can reach the workload: Internet (through GOV.UK), PSN or Internal.
	// +optional
	// +kubebuilder:default=Internal
	Exposure Exposure `json:"exposure,omitempty"`

	// ports the workload serves, by name, so that flows can refer to them
	// and network policy resolves them on the server side.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Ports []ServicePort `json:"ports,omitempty"`

	// components are the containers the workload runs, each provisioned as
	// a Deployment on its site.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	Components []Component `json:"components,omitempty"`

	// flows are the connections the workload opens. Everything else is denied.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Flows []Flow `json:"flows,omitempty"`
}

// Owner is the business area accountable for a workload.
type Owner struct {
	// businessArea, for example "border-force" or "hm-passport-office".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	BusinessArea string `json:"businessArea"`

	// department that owns the workload when it is not the Home Office,
	// for example a tenant of the shared Tier 2 enclave. Empty means
	// DefaultDepartment.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Department string `json:"department,omitempty"`
}

// HostingRequirements are the hard constraints on where a workload may run.
type HostingRequirements struct {
	// residency lists the jurisdictions (ISO 3166-1 alpha-2, for example "GB")
	// the workload's data may be held in. Empty means any.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:Pattern=`^[A-Z]{2}$`
	Residency []string `json:"residency,omitempty"`

	// requiredCapabilities lists facilities the site must offer.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=8
	RequiredCapabilities []Capability `json:"requiredCapabilities,omitempty"`

	// sites, when set, restricts placement to the named HostingSites.
	// A name that matches no HostingSite stops placement with reason UnknownSite.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=253
	Sites []string `json:"sites,omitempty"`

	// cloudFirstException records an approved reason to keep the workload off
	// public cloud. While it is current, public cloud sites are not eligible.
	// Once it expires, only public cloud sites are.
	// +optional
	CloudFirstException *CloudFirstException `json:"cloudFirstException,omitempty"`
}

// CloudFirstException is an approved, time-limited exception to cloud first.
type CloudFirstException struct {
	// justification is the reason the workload cannot run on public cloud yet.
	// +required
	// +kubebuilder:validation:MinLength=20
	// +kubebuilder:validation:MaxLength=1024
	Justification string `json:"justification"`

	// approver is who approved the exception, for example the chief technology officer.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Approver string `json:"approver"`

	// expires is the last day the exception holds, as a date (YYYY-MM-DD).
	// The API checks its form; placement treats an expired exception as void.
	// NOTE: CEL has no clock, so a date already past is accepted at the API and
	// reported by placement (reason ExceptionExpired) instead.
	// +required
	// +kubebuilder:validation:Format=date
	// +kubebuilder:validation:MaxLength=10
	Expires string `json:"expires"`
}

// WorkloadResources is the capacity a workload needs.
type WorkloadResources struct {
	// cpu the workload needs, for example "4" or "500m".
	// +required
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).isGreaterThan(quantity('0'))",message="must be positive, for example \"500m\""
	CPU resource.Quantity `json:"cpu"`

	// memory the workload needs, for example "8Gi".
	// +required
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).isGreaterThan(quantity('0'))",message="must be positive, for example \"8Gi\""
	Memory resource.Quantity `json:"memory"`
}

// Flow is a connection a workload opens to another workload, a zone or an
// external network.
type Flow struct {
	// name identifies the flow within the workload.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// to is the destination.
	// +required
	To FlowPeer `json:"to"`

	// ports the flow uses.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	Ports []FlowPort `json:"ports"`
}

// FlowPeer is the destination of a flow: exactly one of its fields is set.
// +kubebuilder:validation:XValidation:rule="[has(self.workload), has(self.zone), has(self.external)].filter(x, x).size() == 1",message="set exactly one of workload, zone or external"
type FlowPeer struct {
	// workload is another Workload, as "name" in the same namespace or "namespace/name".
	// +optional
	// +kubebuilder:validation:MaxLength=317
	Workload string `json:"workload,omitempty"`

	// zone is a network trust zone.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Zone string `json:"zone,omitempty"`

	// external is a network outside the department: PSN or Internet.
	// +optional
	External ExternalNetwork `json:"external,omitempty"`
}

// Component is one container image of a workload.
type Component struct {
	// name of the component, used for its Deployment.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=40
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// image is the container image reference.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image"`

	// replicas of the component.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Replicas int32 `json:"replicas,omitempty"`
}

// ServicePort is a port a workload serves.
type ServicePort struct {
	// name of the port, an IANA service name such as "https".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// protocol is TCP, UDP or SCTP.
	// +optional
	// +kubebuilder:default=TCP
	// +kubebuilder:validation:Enum=TCP;UDP;SCTP
	Protocol string `json:"protocol,omitempty"`

	// port number the workload listens on.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`
}

// FlowPort is a port and protocol of a flow: a number, or the name of a
// port the destination workload serves.
// +kubebuilder:validation:XValidation:rule="has(self.port) != has(self.name)",message="set exactly one of port or name"
type FlowPort struct {
	// protocol is TCP, UDP or SCTP.
	// +optional
	// +kubebuilder:default=TCP
	// +kubebuilder:validation:Enum=TCP;UDP;SCTP
	Protocol string `json:"protocol,omitempty"`

	// port number on the destination.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// name of a port the destination workload declares in spec.ports. It
	// resolves to that workload's number, which may differ from the client's.
	// +optional
	// +kubebuilder:validation:MaxLength=15
	Name string `json:"name,omitempty"`
}

// WorkloadStatus is the observed state of a workload.
type WorkloadStatus struct {
	// observedGeneration is the spec generation this status reflects.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// placement is the latest placement decision and its explanation.
	// +optional
	Placement *Placement `json:"placement,omitempty"`

	// network is the workload's share of the address plan and the state of
	// its declared flows.
	// +optional
	Network *WorkloadNetwork `json:"network,omitempty"`

	// provisioning records the objects applied to the workload's site, or
	// the resources planned for a cloud site.
	// +optional
	Provisioning *Provisioning `json:"provisioning,omitempty"`

	// conditions hold Placed, SiteAvailable, NetworkReady and Provisioned.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// WorkloadNetwork is a workload's addresses and flows.
type WorkloadNetwork struct {
	// addresses are the CIDR blocks the workload holds, one per IP family.
	// +optional
	// +listType=atomic
	Addresses []string `json:"addresses,omitempty"`

	// policies names the NetworkPolicy objects compiled for the workload.
	// +optional
	// +listType=atomic
	Policies []string `json:"policies,omitempty"`

	// rejectedFlows lists declared flows that the zone matrix forbids. They
	// are not enforced as allowed; fix the flow or the zone matrix.
	// +optional
	// +listType=map
	// +listMapKey=flow
	RejectedFlows []RejectedFlow `json:"rejectedFlows,omitempty"`
}

// Provisioning records the objects applied to a site or the resources planned.
type Provisioning struct {
	// site the objects were applied to.
	// +optional
	Site string `json:"site,omitempty"`

	// objects applied to the site's API server, with their state.
	// +optional
	// +listType=atomic
	Objects []ProvisionedObject `json:"objects,omitempty"`

	// plannedResources is the resource graph a cloud site's Pulumi stack
	// would create. It is recorded when no Pulumi engine or credentials are
	// configured, and nothing was applied.
	// +optional
	// +listType=atomic
	PlannedResources []PlannedResource `json:"plannedResources,omitempty"`

	// leftBehind lists objects that could not be removed from a previous or
	// unreachable site.
	// +optional
	// +listType=atomic
	LeftBehind []ProvisionedObject `json:"leftBehind,omitempty"`
}

// ProvisionedObject is one object applied to a site.
type ProvisionedObject struct {
	// kind of the object, such as Deployment.
	Kind string `json:"kind"`
	// namespace of the object; empty for cluster-scoped kinds.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// name of the object.
	Name string `json:"name"`
	// site the object is on.
	// +optional
	Site string `json:"site,omitempty"`
}

// PlannedResource is one resource in a Pulumi stack's planned graph.
type PlannedResource struct {
	// type is the Pulumi type token, such as aws:ec2/vpc:Vpc.
	Type string `json:"type"`
	// name is the resource's logical name.
	Name string `json:"name"`
	// properties are the key inputs, such as cidrBlock.
	// +optional
	Properties map[string]string `json:"properties,omitempty"`
}

// RejectedFlow is a declared flow that was not compiled, and why.
type RejectedFlow struct {
	// flow is the name of the flow in spec.flows.
	Flow string `json:"flow"`
	// reason is a CamelCase code such as ZoneMatrixForbids or UnknownWorkload.
	Reason string `json:"reason"`
	// message explains the rejection and the fix.
	Message string `json:"message"`
}

// Placement is the site chosen for a workload, with the reasons.
type Placement struct {
	// site is the chosen HostingSite; empty when no site is eligible.
	// +optional
	Site string `json:"site,omitempty"`

	// tier of the chosen site.
	// +optional
	Tier Tier `json:"tier,omitempty"`

	// score of the chosen site.
	// +optional
	Score *PlacementScore `json:"score,omitempty"`

	// reason is SiteChosen, SiteKept, NoEligibleSite or UnknownSite.
	// +optional
	Reason string `json:"reason,omitempty"`

	// message explains the decision, including why every public cloud site
	// was rejected when the workload is not on public cloud.
	// +optional
	Message string `json:"message,omitempty"`

	// sites records the outcome for every site considered, by name.
	// +optional
	// +listType=map
	// +listMapKey=site
	Sites []SiteOutcome `json:"sites,omitempty"`
}

// PlacementScore is a site's score. Tier points dominate, so a public cloud
// site always beats a private cloud one; cost and headroom break ties.
type PlacementScore struct {
	// tier points: 3000 PublicCloud, 2000 PrivateCloud, 1000 OnPremises.
	Tier int32 `json:"tier"`
	// cost points, 0 to 99: 100 minus the site's cost weight.
	Cost int32 `json:"cost"`
	// headroom points, 0 to 100: the smallest share of CPU, memory and
	// workload slots left free after placing the workload.
	Headroom int32 `json:"headroom"`
	// total of the points above.
	Total int32 `json:"total"`
}

// SiteOutcome is the result for one site in a placement decision.
type SiteOutcome struct {
	// site name.
	Site string `json:"site"`
	// tier of the site.
	// +optional
	Tier Tier `json:"tier,omitempty"`
	// eligible is true when the site passed every filter.
	Eligible bool `json:"eligible"`
	// reason is Eligible or the filter that removed the site, such as AccreditationTooLow.
	Reason string `json:"reason"`
	// message is one sentence explaining the reason.
	// +optional
	Message string `json:"message,omitempty"`
	// score of an eligible site.
	// +optional
	Score *PlacementScore `json:"score,omitempty"`
}

// Workload is an application or service of the department, declared so that
// it can be placed, networked, provisioned and audited.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=wl,categories=estate
// +kubebuilder:printcolumn:name="Classification",type=string,JSONPath=`.spec.classification`
// +kubebuilder:printcolumn:name="Tier",type=string,JSONPath=`.status.placement.tier`,description="Tier of the chosen site"
// +kubebuilder:printcolumn:name="Site",type=string,JSONPath=`.status.placement.site`,description="Chosen HostingSite"
// +kubebuilder:printcolumn:name="Placed",type=string,JSONPath=`.status.conditions[?(@.type=="Placed")].status`
// +kubebuilder:printcolumn:name="Critical",type=boolean,JSONPath=`.spec.missionCritical`,priority=1
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Placed")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Workload struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec declares the workload.
	// +required
	Spec WorkloadSpec `json:"spec"`

	// status is written by the estate operators.
	// +optional
	Status WorkloadStatus `json:"status,omitempty"`
}

// WorkloadList is a list of Workloads.
//
// +kubebuilder:object:root=true
type WorkloadList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Workload `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Workload{}, &WorkloadList{})
}
