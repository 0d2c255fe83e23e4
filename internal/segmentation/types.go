// Package segmentation compiles the department's network intent, the zone
// matrix plus each workload's declared flows, into every enforcement point:
// ClusterNetworkPolicies, per-workload NetworkPolicies, cloud security groups
// and nftables rulesets for on-premises and private cloud site boundaries.
//
// The intent is "nougat" segmentation: nothing is trusted for being inside the
// perimeter, so every enforcement point allows only what the intent allows and
// denies everything else, including traffic within a zone.
//
// A declared flow is compiled whole or not at all. It is rejected when a
// peer, zone or named port is unknown, when it goes from the enclave to the
// internet, or when the zone matrix lacks any one of its ports. A numbered
// matrix port matches that protocol and number. A named matrix port matches
// a flow to a workload that serves the port under that name, and a flow to a
// zone that names the port.
//
// Enforcement points:
//   - ClusterNetworkPolicies apply in every cluster. The Admin tier blocks the
//     metadata addresses, denies the enclave zones the internet, and isolates
//     each zone: what the matrix allows passes to the NetworkPolicy tier and
//     everything else is denied. The Baseline tier denies by default.
//   - Each workload's NetworkPolicy allows exactly its compiled flows, its
//     callers' flows and its exposure. Workloads at other sites are matched
//     by their addresses as well as by pod selectors.
//   - A security group per workload on a PublicCloud site.
//   - An nftables forward chain per OnPremises or PrivateCloud site. It
//     filters traffic that enters or leaves the site or moves between its
//     zones. Traffic within one zone at the site does not pass through it.
package segmentation

import (
	"net/netip"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"
)

// Labels that the provisioning side puts on pods and namespaces. The compiled
// policies select pods and namespaces by these labels only.
const (
	// WorkloadLabel on a pod is the name of the Workload it belongs to.
	WorkloadLabel = "estate.homeoffice.gov.uk/workload"
	// ZoneLabel on a pod is the trust zone of its Workload.
	ZoneLabel = "estate.homeoffice.gov.uk/zone"
	// NamespaceNameLabel is the label Kubernetes sets on every namespace to its name.
	NamespaceNameLabel = "kubernetes.io/metadata.name"
	// ManagedByLabel and ManagedByValue mark the objects this package generates.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "estate"
)

// Names that the zone matrix uses for the external networks. A Network may not
// declare zones with these names.
const (
	MatrixInternet = "internet"
	MatrixPSN      = "psn"
)

// Admin tier priorities of the ClusterNetworkPolicies. A lower value takes
// precedence. Policies that share a priority have disjoint subjects, because
// each selects pods of one zone only.
const (
	// PriorityMetadata blocks the cloud metadata addresses for every pod. It
	// comes first so that no later Pass or Accept can reopen them.
	PriorityMetadata int32 = 10
	// PriorityEnclave denies egress from the enclave zones to the internet
	// before zone isolation, so a zone matrix rule cannot open that route.
	PriorityEnclave int32 = 20
	// PriorityZoneIsolation is the first priority of the per-zone policies.
	// A zone whose rules exceed one object's limits continues at
	// PriorityZoneIsolation+1, +2 and so on.
	PriorityZoneIsolation int32 = 100
)

// Baseline tier priorities of the ClusterNetworkPolicies.
const (
	// BaselinePriorityClusterDNS lets the cluster DNS pods serve queries and
	// forward them upstream before the default deny applies to them.
	BaselinePriorityClusterDNS int32 = 10
	// BaselinePriorityDefaultDeny denies every ingress and egress, except DNS
	// queries to the cluster DNS, for pods that no NetworkPolicy selects.
	BaselinePriorityDefaultDeny int32 = 20
)

// Tier is the kind of hosting site.
type Tier string

const (
	TierPublicCloud  Tier = "PublicCloud"
	TierPrivateCloud Tier = "PrivateCloud"
	TierOnPremises   Tier = "OnPremises"
)

// Exposure is who may open connections to a workload from outside the department.
type Exposure string

const (
	// ExposureInternet serves the public over the internet.
	ExposureInternet Exposure = "Internet"
	// ExposurePSN serves other public bodies over the Public Services Network.
	ExposurePSN Exposure = "PSN"
	// ExposureInternal serves only other department workloads. It is the default.
	ExposureInternal Exposure = "Internal"
)

// ExternalNetwork is a network outside the department that a flow may reach.
type ExternalNetwork string

const (
	ExternalPSN      ExternalNetwork = "PSN"
	ExternalInternet ExternalNetwork = "Internet"
)

// Intent is the network intent of the whole estate: the zones, the zone
// matrix, the address plan and every workload with its declared flows.
type Intent struct {
	Zones []Zone
	// Matrix lists which zone may open connections to which, and on which
	// ports. Anything not listed is denied, including traffic within a zone.
	Matrix []ZoneRule
	// DepartmentSpaces are the Network's address spaces.
	DepartmentSpaces []netip.Prefix
	// PSNRanges are the Public Services Network ranges. They may be public
	// address space used privately and are never treated as the internet.
	PSNRanges []netip.Prefix
	Sites     []Site
	Workloads []Workload
	// ClusterDNS is the DNS service that every pod queries. The zero value
	// means the kube-dns pods in kube-system on 53/UDP and 53/TCP.
	ClusterDNS DNS
	// MetadataAddresses are blocked for every pod. Empty means
	// 169.254.169.254/32 and fd00:ec2::254/128.
	MetadataAddresses []netip.Prefix
	// EnclaveZones are the zones of the Tier 2 enclave, which never have a
	// route to the internet. Empty means the zone named "enclave", if declared.
	EnclaveZones []string
}

// Zone is a trust zone.
type Zone struct {
	Name       string
	TrustLevel string
}

// ZoneRule allows connections from one zone to another. From and To are zone
// names, or MatrixInternet or MatrixPSN.
type ZoneRule struct {
	From, To string
	// Ports allowed; empty means every port and protocol. A named port allows
	// the destination workload's port of that name.
	Ports []Port
}

// Port is a protocol and a port number, or the name of a port that the
// destination workload serves. Exactly one of Port and Name is set.
type Port struct {
	// Protocol is "TCP", "UDP" or "SCTP". Empty means TCP for a number, and
	// the destination's declared protocol for a name.
	Protocol string
	Port     int32
	Name     string
}

// NamedPort is a port that a workload serves.
type NamedPort struct {
	Name string
	// Protocol is "TCP", "UDP" or "SCTP"; empty means TCP.
	Protocol string
	Port     int32
}

// Site is a hosting site and the address blocks of each zone within it.
type Site struct {
	Name string
	Tier Tier
	// Enclave marks a site accredited to SECRET. No workload on it has a
	// route to the internet, whatever its zone.
	Enclave bool
	// ZoneBlocks are the address blocks of each zone at this site, by zone name.
	ZoneBlocks map[string][]netip.Prefix
}

// Workload is an application or service and the flows it opens.
type Workload struct {
	Namespace, Name string
	Zone            string
	// Site is the HostingSite the workload is placed on; empty when unplaced.
	Site     string
	Exposure Exposure
	// Addresses are the blocks the workload holds. Rules that match on
	// addresses (security groups, firewalls and cross-site NetworkPolicy
	// peers) are left out for a workload without addresses.
	Addresses []netip.Prefix
	Ports     []NamedPort
	Flows     []Flow
}

// Flow is a connection that a workload opens.
type Flow struct {
	Name  string
	To    Peer
	Ports []Port
}

// Peer is the destination of a flow: exactly one field is set.
type Peer struct {
	// Workload is "namespace/name", or "name" in the source's namespace.
	Workload string
	Zone     string
	External ExternalNetwork
}

// DNS is the cluster DNS service that every pod may query.
//
// NOTE: the DNS service is selected as pods. A node-local DNS cache on a
// link-local address is not a pod, so zone isolation denies queries to it.
type DNS struct {
	Namespace string
	PodLabels map[string]string
	Ports     []Port
}

// Output is everything compiled from one Intent. Every list is sorted, so the
// same intent gives the same output whatever the order of its inputs.
type Output struct {
	ClusterNetworkPolicies []v1alpha2.ClusterNetworkPolicy
	// NetworkPolicies holds one policy per workload, named after it and in
	// its namespace. Peers that select the same workload, zone, DNS service
	// or external network share their LabelSelector and IPBlock values
	// across policies, so DeepCopy a policy before changing it.
	NetworkPolicies []networkingv1.NetworkPolicy
	// SecurityGroups holds one group per workload on each PublicCloud site, by site name.
	SecurityGroups map[string][]SecurityGroup
	// Firewalls holds the boundary ruleset of each OnPremises and PrivateCloud site, by site name.
	Firewalls map[string]Ruleset
	// Rejected lists every declared flow, and every exposure, that was not compiled.
	Rejected  []Rejection
	Addresses AddressSummary
}

// AddressSummary lists the address sets that the compiled rules use.
type AddressSummary struct {
	// Internet is 0.0.0.0/0 and ::/0 minus the department spaces, the PSN
	// ranges, the metadata addresses, RFC 1918, ULA and link-local space.
	Internet []netip.Prefix
	// PSN is the PSN ranges minus the department spaces.
	PSN []netip.Prefix
	// Zones are each zone's blocks at every site plus its workloads' addresses.
	Zones map[string][]netip.Prefix
	// Workloads are each workload's addresses, by "namespace/name".
	Workloads map[string][]netip.Prefix
}

// Reason is the cause of a rejection, in CamelCase.
type Reason string

const (
	ReasonZoneMatrixForbids Reason = "ZoneMatrixForbids"
	ReasonUnknownWorkload   Reason = "UnknownWorkload"
	ReasonUnknownZone       Reason = "UnknownZone"
	ReasonUnknownPort       Reason = "UnknownPort"
	ReasonEnclaveToInternet Reason = "EnclaveToInternet"
	// ReasonNoPSNRanges rejects a flow or exposure to the PSN when the
	// Network declares no PSN range outside its own address spaces.
	ReasonNoPSNRanges Reason = "NoPSNRanges"
)

// Rejection is a declared flow or exposure that was not compiled, so nothing
// allows it at any enforcement point.
type Rejection struct {
	// Workload is the source of the flow, as "namespace/name".
	Workload string
	// Flow is the flow's name. It is empty when the rejection concerns the
	// workload itself: its exposure, or a zone the Network does not declare.
	Flow    string
	Reason  Reason
	Message string
}
