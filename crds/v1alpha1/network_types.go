package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TrustLevel is how much a network zone is trusted. Being inside the
// perimeter grants nothing by itself: every zone boundary is enforced.
// +kubebuilder:validation:Enum=Untrusted;Low;Medium;High;Restricted
type TrustLevel string

const (
	TrustUntrusted  TrustLevel = "Untrusted"
	TrustLow        TrustLevel = "Low"
	TrustMedium     TrustLevel = "Medium"
	TrustHigh       TrustLevel = "High"
	TrustRestricted TrustLevel = "Restricted"
)

// NetworkSpec declares the department network.
type NetworkSpec struct {
	// addressSpaces are the CIDR blocks that site, zone and workload blocks
	// are carved from, for example "10.64.0.0/10".
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=set
	// +kubebuilder:validation:items:MaxLength=43
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self)",message="must be a CIDR such as 10.64.0.0/10"
	// +kubebuilder:validation:items:XValidation:rule="!isCIDR(self) || cidr(self) == cidr(self).masked()",message="has host bits set; use the network address, for example 10.64.0.0/10 rather than 10.64.1.0/10"
	AddressSpaces []string `json:"addressSpaces"`

	// zones are the trust zones that workloads join.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +listType=map
	// +listMapKey=name
	Zones []Zone `json:"zones"`
}

// Zone is a trust zone of the department network.
type Zone struct {
	// name of the zone, for example "frontend" or "restricted-data".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// trustLevel of the zone.
	// +required
	TrustLevel TrustLevel `json:"trustLevel"`

	// description says what belongs in the zone.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Description string `json:"description,omitempty"`
}

// NetworkStatus is the observed state of the network.
type NetworkStatus struct {
	// observedGeneration is the spec generation this status reflects.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions of the network.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Network is the one department network, built on the Public Services
// Network: its address space and trust zones. Normally there is one.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=net,categories=estate
// +kubebuilder:printcolumn:name="Address spaces",type=string,JSONPath=`.spec.addressSpaces`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Network struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec declares the network.
	// +required
	Spec NetworkSpec `json:"spec"`

	// status is written by the network operator.
	// +optional
	Status NetworkStatus `json:"status,omitempty"`
}

// NetworkList is a list of Networks.
//
// +kubebuilder:object:root=true
type NetworkList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Network `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Network{}, &NetworkList{})
}
