package enclave

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

// Admin tier priorities of the enclave's ClusterNetworkPolicies. Each policy
// of one enclave has its own priority, so no two of them share a priority
// whatever their subjects. Policies of different enclaves reuse the same
// priorities, but their subjects select by LabelEnclave and so never
// overlap. Priorities below PriorityGatewayIngress are left for platform
// policies that must act before the enclave's. Verification reads every
// policy on the site, so one that accepts what the enclave denies shows up
// as a failed control.
const (
	// PriorityGatewayIngress accepts the gateway's allowed flows. It must
	// come before PriorityDenyOutsideIngress, which denies everything else
	// from outside the enclave.
	PriorityGatewayIngress int32 = 100
	// PriorityDenyOutsideIngress denies ingress into the enclave's
	// namespaces from every namespace outside the enclave.
	PriorityDenyOutsideIngress int32 = 101
	// PriorityDenyInternetEgress denies egress to InternetPrefixes.
	PriorityDenyInternetEgress int32 = 102
	// PriorityTenantIsolationFirst is the priority of the isolation policy
	// of the first tenant by department name. Each next tenant gets the
	// next number, up to 134 for the 32 tenants the API allows.
	PriorityTenantIsolationFirst int32 = 103
)

// Limits of the ClusterNetworkPolicy v1alpha2 schema that Build must stay
// within.
const (
	maxRulesPerDirection = 25
	maxPeersPerRule      = 25
	maxNetworksPerPeer   = 25
	maxProtocolsPerRule  = 25
)

// The enclave's ClusterNetworkPolicies are cluster-scoped, so each name
// carries the enclave's name.

// GatewayIngressPolicyName names the policy that accepts the gateway's flows.
func GatewayIngressPolicyName(e *estatev1.Enclave) string {
	return "enclave-" + e.Name + "-gateway-ingress"
}

// DenyOutsideIngressPolicyName names the policy that denies ingress from
// outside the enclave.
func DenyOutsideIngressPolicyName(e *estatev1.Enclave) string {
	return "enclave-" + e.Name + "-deny-outside-ingress"
}

// DenyInternetEgressPolicyName names the policy that denies internet egress.
func DenyInternetEgressPolicyName(e *estatev1.Enclave) string {
	return "enclave-" + e.Name + "-deny-internet-egress"
}

// TenantIsolationPolicyName names the policy that isolates one tenant.
func TenantIsolationPolicyName(e *estatev1.Enclave, department string) string {
	return "enclave-" + e.Name + "-isolate-" + department
}

// buildPolicies returns the enclave's Admin tier policies sorted by
// priority. tenants must be sorted by department.
func buildPolicies(e *estatev1.Enclave, tenants []estatev1.Tenant) ([]v1alpha2.ClusterNetworkPolicy, error) {
	var policies []v1alpha2.ClusterNetworkPolicy

	gateway, err := gatewayIngressPolicy(e)
	if err != nil {
		return nil, err
	}
	if gateway != nil {
		policies = append(policies, *gateway)
	}
	policies = append(policies, denyOutsideIngressPolicy(e))

	internet, err := denyInternetEgressPolicy(e)
	if err != nil {
		return nil, err
	}
	policies = append(policies, internet)

	for i, tenant := range tenants {
		policies = append(policies, tenantIsolationPolicy(e, tenant.Department, PriorityTenantIsolationFirst+int32(i)))
	}
	return policies, nil
}

func newPolicy(e *estatev1.Enclave, name string, priority int32, subject v1alpha2.ClusterNetworkPolicySubject) v1alpha2.ClusterNetworkPolicy {
	return v1alpha2.ClusterNetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha2.GroupVersion.String(), Kind: "ClusterNetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{
			Name:   name,
			Labels: ownerLabels(e, nil),
		},
		Spec: v1alpha2.ClusterNetworkPolicySpec{
			Tier:     v1alpha2.AdminTier,
			Priority: priority,
			Subject:  subject,
		},
	}
}

// enclaveNamespaces selects the namespaces the enclave owns.
func enclaveNamespaces(e *estatev1.Enclave) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{LabelEnclave: e.Name}}
}

// gatewayIngressPolicy accepts each allowed flow into the gateway's pods in
// the enclave's namespaces. It returns nil when the gateway allows no flow.
// Sources are selected by the zone label of their namespace, not of the
// pod, because a namespace's labels are set by its administrators while any
// workload can label its own pods.
func gatewayIngressPolicy(e *estatev1.Enclave) (*v1alpha2.ClusterNetworkPolicy, error) {
	gateway := e.Spec.CrossDomainGateway
	if len(gateway.AllowedFlows) == 0 {
		return nil, nil
	}

	// Flows from the same zone merge into one set of ports, so the rule
	// count depends on the zones and not on how the spec splits flows.
	portsByZone := map[string][]v1alpha2.ClusterNetworkPolicyProtocol{}
	for _, flow := range gateway.AllowedFlows {
		for _, port := range flow.Ports {
			portsByZone[flow.FromZone] = append(portsByZone[flow.FromZone], protocolPort(port))
		}
	}
	zones := make([]string, 0, len(portsByZone))
	for zone := range portsByZone {
		zones = append(zones, zone)
	}
	slices.Sort(zones)

	var rules []v1alpha2.ClusterNetworkPolicyIngressRule
	for _, zone := range zones {
		protocols := sortProtocols(portsByZone[zone])
		for chunk := 0; chunk*maxProtocolsPerRule < len(protocols); chunk++ {
			end := min((chunk+1)*maxProtocolsPerRule, len(protocols))
			name := "from-" + zone
			if chunk > 0 {
				name = fmt.Sprintf("%s-%d", name, chunk+1)
			}
			rules = append(rules, v1alpha2.ClusterNetworkPolicyIngressRule{
				Name:   name,
				Action: v1alpha2.ClusterNetworkPolicyRuleActionAccept,
				From: []v1alpha2.ClusterNetworkPolicyIngressPeer{{
					Namespaces: &metav1.LabelSelector{MatchLabels: map[string]string{LabelZone: zone}},
				}},
				Protocols: protocols[chunk*maxProtocolsPerRule : end],
			})
		}
	}
	if len(rules) > maxRulesPerDirection {
		return nil, fmt.Errorf("spec.crossDomainGateway.allowedFlows need %d ClusterNetworkPolicy rules (one per source zone and 25 ports), more than the maximum of %d ingress rules in one policy: allow fewer zones or ports", len(rules), maxRulesPerDirection)
	}

	policy := newPolicy(e, GatewayIngressPolicyName(e), PriorityGatewayIngress, v1alpha2.ClusterNetworkPolicySubject{
		Pods: &v1alpha2.NamespacedPod{
			NamespaceSelector: *enclaveNamespaces(e),
			PodSelector:       metav1.LabelSelector{MatchLabels: map[string]string{LabelWorkload: gateway.Name}},
		},
	})
	policy.Spec.Ingress = rules
	return &policy, nil
}

// protocolPort converts a numbered FlowPort; validate has rejected named ones.
func protocolPort(p estatev1.FlowPort) v1alpha2.ClusterNetworkPolicyProtocol {
	port := &v1alpha2.Port{Number: p.Port}
	switch corev1.Protocol(p.Protocol) {
	case corev1.ProtocolUDP:
		return v1alpha2.ClusterNetworkPolicyProtocol{UDP: &v1alpha2.ClusterNetworkPolicyProtocolUDP{DestinationPort: port}}
	case corev1.ProtocolSCTP:
		return v1alpha2.ClusterNetworkPolicyProtocol{SCTP: &v1alpha2.ClusterNetworkPolicyProtocolSCTP{DestinationPort: port}}
	default:
		// The API defaults an empty protocol to TCP.
		return v1alpha2.ClusterNetworkPolicyProtocol{TCP: &v1alpha2.ClusterNetworkPolicyProtocolTCP{DestinationPort: port}}
	}
}

// sortProtocols orders protocol entries by protocol name, then port, and
// drops duplicates.
func sortProtocols(in []v1alpha2.ClusterNetworkPolicyProtocol) []v1alpha2.ClusterNetworkPolicyProtocol {
	key := func(p v1alpha2.ClusterNetworkPolicyProtocol) (string, int32) {
		switch {
		case p.UDP != nil:
			return "UDP", p.UDP.DestinationPort.Number
		case p.SCTP != nil:
			return "SCTP", p.SCTP.DestinationPort.Number
		default:
			return "TCP", p.TCP.DestinationPort.Number
		}
	}
	compare := func(a, b v1alpha2.ClusterNetworkPolicyProtocol) int {
		protocolA, portA := key(a)
		protocolB, portB := key(b)
		return cmp.Or(strings.Compare(protocolA, protocolB), cmp.Compare(portA, portB))
	}
	out := slices.Clone(in)
	slices.SortFunc(out, compare)
	return slices.CompactFunc(out, func(a, b v1alpha2.ClusterNetworkPolicyProtocol) bool { return compare(a, b) == 0 })
}

// denyOutsideIngressPolicy denies ingress into the enclave's namespaces from
// every namespace that is not the enclave's. A selector with NotIn also
// matches namespaces without the label.
func denyOutsideIngressPolicy(e *estatev1.Enclave) v1alpha2.ClusterNetworkPolicy {
	policy := newPolicy(e, DenyOutsideIngressPolicyName(e), PriorityDenyOutsideIngress, v1alpha2.ClusterNetworkPolicySubject{
		Namespaces: enclaveNamespaces(e),
	})
	policy.Spec.Ingress = []v1alpha2.ClusterNetworkPolicyIngressRule{{
		Name:   "deny-outside-enclave",
		Action: v1alpha2.ClusterNetworkPolicyRuleActionDeny,
		From: []v1alpha2.ClusterNetworkPolicyIngressPeer{{
			Namespaces: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: LabelEnclave, Operator: metav1.LabelSelectorOpNotIn, Values: []string{e.Name},
			}}},
		}},
	}}
	return policy
}

// denyInternetEgressPolicy denies egress from the enclave's namespaces to
// InternetPrefixes, 25 prefixes to a peer as the schema allows.
func denyInternetEgressPolicy(e *estatev1.Enclave) (v1alpha2.ClusterNetworkPolicy, error) {
	prefixes, err := InternetPrefixes()
	if err != nil {
		return v1alpha2.ClusterNetworkPolicy{}, err
	}
	var peers []v1alpha2.ClusterNetworkPolicyEgressPeer
	for start := 0; start < len(prefixes); start += maxNetworksPerPeer {
		var networks []v1alpha2.CIDR
		for _, p := range prefixes[start:min(start+maxNetworksPerPeer, len(prefixes))] {
			networks = append(networks, v1alpha2.CIDR(p.String()))
		}
		peers = append(peers, v1alpha2.ClusterNetworkPolicyEgressPeer{Networks: networks})
	}
	if len(peers) > maxPeersPerRule {
		return v1alpha2.ClusterNetworkPolicy{}, fmt.Errorf("the internet ranges need %d prefixes, more than the maximum of %d in one ClusterNetworkPolicy rule", len(prefixes), maxPeersPerRule*maxNetworksPerPeer)
	}

	policy := newPolicy(e, DenyInternetEgressPolicyName(e), PriorityDenyInternetEgress, v1alpha2.ClusterNetworkPolicySubject{
		Namespaces: enclaveNamespaces(e),
	})
	policy.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{{
		Name:   "deny-internet",
		Action: v1alpha2.ClusterNetworkPolicyRuleActionDeny,
		To:     peers,
	}}
	return policy, nil
}

// tenantIsolationPolicy denies ingress into the tenant's namespaces from
// every namespace of another tenant, of this enclave or any other. Traffic
// within the tenant is left to the tenant's NetworkPolicies.
func tenantIsolationPolicy(e *estatev1.Enclave, department string, priority int32) v1alpha2.ClusterNetworkPolicy {
	policy := newPolicy(e, TenantIsolationPolicyName(e, department), priority, v1alpha2.ClusterNetworkPolicySubject{
		Namespaces: &metav1.LabelSelector{MatchLabels: map[string]string{LabelEnclave: e.Name, LabelTenant: department}},
	})
	policy.Spec.Ingress = []v1alpha2.ClusterNetworkPolicyIngressRule{{
		Name:   "deny-other-tenants",
		Action: v1alpha2.ClusterNetworkPolicyRuleActionDeny,
		From: []v1alpha2.ClusterNetworkPolicyIngressPeer{{
			Namespaces: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: LabelTenant, Operator: metav1.LabelSelectorOpExists},
				{Key: LabelTenant, Operator: metav1.LabelSelectorOpNotIn, Values: []string{department}},
			}},
		}},
	}}
	return policy
}
