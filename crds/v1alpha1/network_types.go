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

	// psn declares the Public Services Network: the ranges reached through
	// it and the gateways that reach them. PSN ranges may be public address
	// space used privately; declared here, they are never treated as the
	// internet.
	// +optional
	PSN *PSN `json:"psn,omitempty"`

	// zones are the trust zones that workloads join.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:XValidation:rule="self.all(z, z.name != 'internet' && z.name != 'psn')",message="the zone names internet and psn are reserved for the external networks; rename the zone"
	Zones []Zone `json:"zones"`

	// zoneMatrix lists which zone may open connections to which, and on
	// which ports. Anything not listed is denied, including traffic within
	// a zone. The names internet and psn stand for those external networks.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=512
	ZoneMatrix []ZoneRule `json:"zoneMatrix,omitempty"`

	// siteBlocks pins a site's block to a range it already uses, such as a
	// legacy data centre's; other sites get blocks carved automatically.
	// +optional
	// +listType=map
	// +listMapKey=site
	// +kubebuilder:validation:MaxItems=256
	SiteBlocks []SiteBlock `json:"siteBlocks,omitempty"`

	// allocation sets the block sizes carved for sites, zones and workloads.
	// +optional
	Allocation AllocationPolicy `json:"allocation,omitempty"`
}

// PSN is the Public Services Network as the department reaches it.
type PSN struct {
	// ranges are the PSN's address ranges, for example "51.0.0.0/8".
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	// +kubebuilder:validation:items:MaxLength=43
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self)",message="must be a CIDR such as 51.0.0.0/8"
	Ranges []string `json:"ranges"`

	// gateways connect sites to the PSN.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Gateways []PSNGateway `json:"gateways,omitempty"`
}

// PSNGateway is a connection from one site to the PSN.
type PSNGateway struct {
	// name of the gateway.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// site is the HostingSite the gateway is attached to.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Site string `json:"site"`

	// ranges are the PSN ranges this gateway reaches; each must lie within
	// spec.psn.ranges. Empty means all of them.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=43
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self)",message="must be a CIDR such as 51.0.0.0/8"
	Ranges []string `json:"ranges,omitempty"`
}

// ZoneRule allows connections from one zone to another on some ports.
type ZoneRule struct {
	// from is the zone that opens the connection, or internet or psn.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	From string `json:"from"`

	// to is the zone that accepts the connection, or internet or psn.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	To string `json:"to"`

	// ports allowed; empty means every port.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Ports []FlowPort `json:"ports,omitempty"`

	// description is the reason for the rule.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Description string `json:"description,omitempty"`
}

// SiteBlock pins a site's address block.
type SiteBlock struct {
	// site is the HostingSite name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Site string `json:"site"`

	// cidrs are the site's blocks, at most one per IP family, each inside
	// spec.addressSpaces.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=2
	// +listType=set
	// +kubebuilder:validation:items:MaxLength=43
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self)",message="must be a CIDR such as 10.96.0.0/16"
	CIDRs []string `json:"cidrs"`
}

// AllocationPolicy sets prefix lengths of the blocks carved for sites, zones
// within sites, and workloads within zones.
type AllocationPolicy struct {
	// sitePrefixLength of each site's IPv4 block.
	// +optional
	// +kubebuilder:default=16
	// +kubebuilder:validation:Minimum=8
	// +kubebuilder:validation:Maximum=30
	SitePrefixLength int32 `json:"sitePrefixLength,omitempty"`
	// zonePrefixLength of each zone's IPv4 block within a site.
	// +optional
	// +kubebuilder:default=20
	// +kubebuilder:validation:Minimum=8
	// +kubebuilder:validation:Maximum=30
	ZonePrefixLength int32 `json:"zonePrefixLength,omitempty"`
	// workloadPrefixLength of each workload's IPv4 block within its zone.
	// +optional
	// +kubebuilder:default=27
	// +kubebuilder:validation:Minimum=8
	// +kubebuilder:validation:Maximum=32
	WorkloadPrefixLength int32 `json:"workloadPrefixLength,omitempty"`
	// sitePrefixLengthIPv6 of each site's IPv6 block.
	// +optional
	// +kubebuilder:default=48
	// +kubebuilder:validation:Minimum=16
	// +kubebuilder:validation:Maximum=124
	SitePrefixLengthIPv6 int32 `json:"sitePrefixLengthIPv6,omitempty"`
	// zonePrefixLengthIPv6 of each zone's IPv6 block within a site.
	// +optional
	// +kubebuilder:default=56
	// +kubebuilder:validation:Minimum=16
	// +kubebuilder:validation:Maximum=124
	ZonePrefixLengthIPv6 int32 `json:"zonePrefixLengthIPv6,omitempty"`
	// workloadPrefixLengthIPv6 of each workload's IPv6 block within its zone.
	// +optional
	// +kubebuilder:default=64
	// +kubebuilder:validation:Minimum=16
	// +kubebuilder:validation:Maximum=128
	WorkloadPrefixLengthIPv6 int32 `json:"workloadPrefixLengthIPv6,omitempty"`
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

	// description of what belongs in the zone.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Description string `json:"description,omitempty"`
}

// NetworkStatus is the observed state of the network: the address plan.
type NetworkStatus struct {
	// observedGeneration is the spec generation this status reflects.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// sites are the blocks held by each site and by each zone within it.
	// +optional
	// +listType=map
	// +listMapKey=site
	Sites []SiteAddressBlock `json:"sites,omitempty"`

	// workloads are the blocks held by each workload. The network operator
	// writes them with optimistic concurrency, so no block is handed out
	// twice, and releases them when the workload is deleted.
	// +optional
	// +listType=map
	// +listMapKey=workload
	Workloads []WorkloadAddressBlock `json:"workloads,omitempty"`

	// conditions of the network.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// SiteAddressBlock is a site's share of the address plan.
type SiteAddressBlock struct {
	// site is the HostingSite name.
	Site string `json:"site"`
	// cidrs held by the site, one per IP family.
	// +listType=atomic
	CIDRs []string `json:"cidrs"`
	// zones are the blocks of each zone within the site.
	// +optional
	// +listType=map
	// +listMapKey=zone
	Zones []ZoneAddressBlock `json:"zones,omitempty"`
}

// ZoneAddressBlock is a zone's block within a site.
type ZoneAddressBlock struct {
	// zone name.
	Zone string `json:"zone"`
	// cidrs held by the zone, one per IP family.
	// +listType=atomic
	CIDRs []string `json:"cidrs"`
}

// WorkloadAddressBlock is a workload's block within its site and zone.
type WorkloadAddressBlock struct {
	// workload is the holder, as "namespace/name".
	Workload string `json:"workload"`
	// uid of the holder, so a recreated workload does not inherit the block.
	// +optional
	UID string `json:"uid,omitempty"`
	// site and zone the block was carved from.
	Site string `json:"site"`
	Zone string `json:"zone"`
	// cidrs held, one per IP family.
	// +listType=atomic
	CIDRs []string `json:"cidrs"`
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
