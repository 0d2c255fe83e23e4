package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// HostingSiteSpec describes where workloads can run and what the site may hold.
// +kubebuilder:validation:XValidation:rule="self.tier != 'PublicCloud' || !has(self.capabilities) || !self.capabilities.exists(c, c == 'mainframe')",message="a PublicCloud site cannot offer mainframe; declare the mainframe on a PrivateCloud or OnPremises site",fieldPath=".capabilities",reason="FieldValueInvalid"
type HostingSiteSpec struct {
	// tier is the kind of hosting: PublicCloud, PrivateCloud or OnPremises.
	// Placement prefers PublicCloud, then PrivateCloud, then OnPremises.
	// +required
	Tier Tier `json:"tier"`

	// provider names who runs the site, for example "aws", "azure" or "crown-hosting".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Provider string `json:"provider"`

	// region is the provider's region or the data centre's location, for example "eu-west-2".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Region string `json:"region"`

	// jurisdiction is the ISO 3166-1 alpha-2 code of the country whose law governs
	// the data held at the site, for example "GB". Workloads with a residency
	// requirement match against it.
	// +required
	// +kubebuilder:validation:Pattern=`^[A-Z]{2}$`
	Jurisdiction string `json:"jurisdiction"`

	// accreditation is the highest classification the site is accredited to hold.
	// Sites accredited to SECRET form the Tier 2 enclave and hold only SECRET workloads.
	// +required
	Accreditation Classification `json:"accreditation"`

	// capabilities lists the facilities the site offers, such as hsm or mainframe.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	Capabilities []Capability `json:"capabilities,omitempty"`

	// capacity is the site's total CPU, memory and workload slots.
	// Placement reserves each workload's resources against it.
	// +required
	Capacity SiteCapacity `json:"capacity"`

	// costWeight is the site's relative cost from 1 (cheapest) to 100 (dearest).
	// It breaks ties between sites of the same tier.
	// +optional
	// +kubebuilder:default=50
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	CostWeight int32 `json:"costWeight,omitempty"`

	// unschedulable cordons the site. No workload is placed on it, and the
	// workloads on it move to another eligible site. A workload with nowhere
	// else to go stays, and its SiteAvailable condition reports it.
	// +optional
	Unschedulable bool `json:"unschedulable,omitempty"`

	// connection holds the credentials of the site's own control plane.
	// +optional
	Connection *SiteConnection `json:"connection,omitempty"`
}

// SiteCapacity is the total a site can hold.
type SiteCapacity struct {
	// cpu is the total CPU, in cores or millicores (for example "64" or "500m").
	// +required
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).isGreaterThan(quantity('0'))",message="must be positive, for example \"64\""
	CPU resource.Quantity `json:"cpu"`

	// memory is the total memory, for example "256Gi".
	// +required
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).isGreaterThan(quantity('0'))",message="must be positive, for example \"256Gi\""
	Memory resource.Quantity `json:"memory"`

	// workloads is the largest number of workloads the site may hold.
	// +required
	// +kubebuilder:validation:Minimum=1
	Workloads int32 `json:"workloads"`
}

// SiteConnection refers to the credentials of a site's own control plane.
type SiteConnection struct {
	// kubeconfigSecretRef names a Secret holding a kubeconfig for the site's
	// Kubernetes API server. Only Kubernetes-backed sites set it.
	// +optional
	KubeconfigSecretRef *SecretKeyReference `json:"kubeconfigSecretRef,omitempty"`

	// pulumiStack names the Pulumi stack ("organization/project/stack") that
	// provisions a cloud account site.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	PulumiStack string `json:"pulumiStack,omitempty"`
}

// SecretKeyReference names one key of a Secret in a namespace.
type SecretKeyReference struct {
	// namespace of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	Namespace string `json:"namespace"`

	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`

	// key within the Secret's data; defaults to "kubeconfig".
	// +optional
	// +kubebuilder:default=kubeconfig
	Key string `json:"key,omitempty"`
}

// HostingSiteStatus is the observed state of a site.
type HostingSiteStatus struct {
	// observedGeneration is the spec generation this status reflects.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// allocated is the sum of the reservations below.
	// +optional
	Allocated SiteAllocation `json:"allocated,omitempty"`

	// reservations lists the capacity held by each workload placed on the site.
	// The placement operator writes them with optimistic concurrency, so
	// concurrent reconciles never oversubscribe the site.
	// NOTE: one entry per workload keeps the object within etcd's size limit up
	// to a few thousand workloads per site.
	// +optional
	// +listType=map
	// +listMapKey=workload
	Reservations []Reservation `json:"reservations,omitempty"`

	// conditions hold Ready, with reason Available, Cordoned or Deleting.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// SiteAllocation is the capacity currently held on a site.
type SiteAllocation struct {
	// cpu held by all reservations.
	// +optional
	CPU resource.Quantity `json:"cpu,omitempty"`
	// memory held by all reservations.
	// +optional
	Memory resource.Quantity `json:"memory,omitempty"`
	// workloads is the number of reservations.
	// +optional
	Workloads int32 `json:"workloads,omitempty"`
}

// Reservation is the capacity one workload holds on a site.
type Reservation struct {
	// workload is the holder, as "namespace/name".
	// +required
	Workload string `json:"workload"`
	// uid of the holder, so a recreated workload of the same name does not inherit it.
	// +optional
	UID string `json:"uid,omitempty"`
	// cpu held.
	// +required
	CPU resource.Quantity `json:"cpu"`
	// memory held.
	// +required
	Memory resource.Quantity `json:"memory"`
}

// HostingSite is somewhere workloads can run: a public cloud region, a
// private cloud or an on-premises data centre.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=site;sites,categories=estate
// +kubebuilder:printcolumn:name="Tier",type=string,JSONPath=`.spec.tier`,description="Hosting tier"
// +kubebuilder:printcolumn:name="Provider",type=string,JSONPath=`.spec.provider`
// +kubebuilder:printcolumn:name="Region",type=string,JSONPath=`.spec.region`
// +kubebuilder:printcolumn:name="Accreditation",type=string,JSONPath=`.spec.accreditation`,description="Highest classification the site may hold"
// +kubebuilder:printcolumn:name="Workloads",type=integer,JSONPath=`.status.allocated.workloads`,description="Workloads placed on the site"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type HostingSite struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec declares the site.
	// +required
	Spec HostingSiteSpec `json:"spec"`

	// status is written by the placement operator.
	// +optional
	Status HostingSiteStatus `json:"status,omitempty"`
}

// HostingSiteList is a list of HostingSites.
//
// +kubebuilder:object:root=true
type HostingSiteList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []HostingSite `json:"items"`
}

func init() {
	SchemeBuilder.Register(&HostingSite{}, &HostingSiteList{})
}
