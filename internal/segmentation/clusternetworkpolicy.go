package segmentation

import (
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"
)

// maxItems is the ClusterNetworkPolicy API limit on rules per direction,
// peers per rule, networks per peer and protocols per rule.
const maxItems = 25

const (
	pass   = v1alpha2.ClusterNetworkPolicyRuleActionPass
	deny   = v1alpha2.ClusterNetworkPolicyRuleActionDeny
	accept = v1alpha2.ClusterNetworkPolicyRuleActionAccept
)

// clusterNetworkPolicies returns the Admin tier policies (metadata block,
// enclave isolation, zone isolation) and the Baseline tier default deny,
// sorted by tier, priority and name.
//
// Zone isolation works in two steps. In the Admin tier, a zone's policy
// passes the traffic the zone matrix allows to the NetworkPolicy tier and
// denies all other traffic to or from the zone's pods. The NetworkPolicy of
// each workload then allows only its declared flows.
//
// NOTE: ClusterNetworkPolicy ingress peers select pods only, so connections
// from outside the cluster (the internet, the PSN, other sites) are decided
// by the NetworkPolicy tier alone. Every workload gets a NetworkPolicy.
func (c *compiler) clusterNetworkPolicies() []v1alpha2.ClusterNetworkPolicy {
	out := []v1alpha2.ClusterNetworkPolicy{c.metadataPolicy()}
	if len(c.enclaveZones) > 0 {
		out = append(out, c.enclavePolicy())
	}
	for _, zone := range c.zoneNames {
		out = append(out, c.zonePolicies(zone)...)
	}
	out = append(out, c.baselineClusterDNSPolicy(), c.baselineDefaultDenyPolicy())
	slices.SortFunc(out, func(a, b v1alpha2.ClusterNetworkPolicy) int {
		if a.Spec.Tier != b.Spec.Tier {
			if a.Spec.Tier == v1alpha2.AdminTier {
				return -1
			}
			return 1
		}
		if a.Spec.Priority != b.Spec.Priority {
			return int(a.Spec.Priority - b.Spec.Priority)
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

func newClusterNetworkPolicy(name string, tier v1alpha2.Tier, priority int32, subject v1alpha2.ClusterNetworkPolicySubject) v1alpha2.ClusterNetworkPolicy {
	return v1alpha2.ClusterNetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha2.GroupVersion.String(), Kind: "ClusterNetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{
			Name:   name,
			Labels: map[string]string{ManagedByLabel: ManagedByValue},
		},
		Spec: v1alpha2.ClusterNetworkPolicySpec{Tier: tier, Priority: priority, Subject: subject},
	}
}

func (c *compiler) metadataPolicy() v1alpha2.ClusterNetworkPolicy {
	p := newClusterNetworkPolicy("estate-block-metadata", v1alpha2.AdminTier, PriorityMetadata,
		v1alpha2.ClusterNetworkPolicySubject{Namespaces: &metav1.LabelSelector{}})
	p.Spec.Egress = egressRules("deny-metadata", deny, networkPeers(c.metadata), nil)
	return p
}

func (c *compiler) enclavePolicy() v1alpha2.ClusterNetworkPolicy {
	p := newClusterNetworkPolicy("estate-enclave-no-internet", v1alpha2.AdminTier, PriorityEnclave,
		v1alpha2.ClusterNetworkPolicySubject{Pods: zonePods(c.enclaveZones)})
	p.Spec.Egress = egressRules("deny-internet", deny, networkPeers(c.internet), nil)
	return p
}

// zonePolicies returns the Admin tier isolation of one zone, split over
// several objects at consecutive priorities when it exceeds maxItems rules.
func (c *compiler) zonePolicies(zone string) []v1alpha2.ClusterNetworkPolicy {
	ingress := c.zoneIngressRules(zone)
	egress := c.zoneEgressRules(zone)
	inChunks := chunk(ingress, maxItems)
	outChunks := chunk(egress, maxItems)
	n := max(len(inChunks), len(outChunks))

	policies := make([]v1alpha2.ClusterNetworkPolicy, 0, n)
	for k := range n {
		name := "estate-zone-" + zone
		if k > 0 {
			name += "-" + strconv.Itoa(k+1)
		}
		p := newClusterNetworkPolicy(name, v1alpha2.AdminTier, PriorityZoneIsolation+int32(k),
			v1alpha2.ClusterNetworkPolicySubject{Pods: zonePods([]string{zone})})
		if k < len(inChunks) {
			p.Spec.Ingress = inChunks[k]
		}
		if k < len(outChunks) {
			p.Spec.Egress = outChunks[k]
		}
		policies = append(policies, p)
	}
	return policies
}

// zoneIngressRules passes connections from the zones the matrix allows,
// grouped by port set, and denies connections from every other pod.
func (c *compiler) zoneIngressRules(zone string) []v1alpha2.ClusterNetworkPolicyIngressRule {
	var rules []v1alpha2.ClusterNetworkPolicyIngressRule
	for _, g := range c.groupByAllowance(c.zoneNames, func(from string) *allowance { return c.matrix[zonePair{from, zone}] }) {
		peers := []v1alpha2.ClusterNetworkPolicyIngressPeer{{Pods: zonePods(g.zones)}}
		rules = append(rules, ingressRules("pass-from-"+ruleZones(g.zones), pass, peers, g.allowance)...)
	}
	all := []v1alpha2.ClusterNetworkPolicyIngressPeer{{Namespaces: &metav1.LabelSelector{}}}
	return append(rules, ingressRules("deny-other-pods", deny, all, nil)...)
}

// zoneEgressRules passes DNS and the connections the matrix allows, to pods
// of this cluster and to the zones' addresses at other sites, and denies
// everything else. That includes the Kubernetes API server, which no zone
// matrix rule can name.
func (c *compiler) zoneEgressRules(zone string) []v1alpha2.ClusterNetworkPolicyEgressRule {
	rules := egressRules("pass-cluster-dns", pass, []v1alpha2.ClusterNetworkPolicyEgressPeer{{Pods: c.dnsPods()}}, &allowance{ports: c.dns.Ports})

	allowed := c.groupByAllowance(c.zoneNames, func(to string) *allowance { return c.matrix[zonePair{zone, to}] })
	for _, g := range allowed {
		peers := []v1alpha2.ClusterNetworkPolicyEgressPeer{{Pods: zonePods(g.zones)}}
		rules = append(rules, egressRules("pass-to-"+ruleZones(g.zones), pass, peers, g.allowance)...)
	}
	rules = append(rules, c.zoneNetworkRules(zone)...)

	if a := c.matrix[zonePair{zone, MatrixPSN}]; a != nil && len(c.psn) > 0 {
		rules = append(rules, egressRules("pass-to-psn", pass, networkPeers(c.psn), a)...)
	}
	if a := c.matrix[zonePair{zone, MatrixInternet}]; a != nil && !c.isEnclave[zone] {
		rules = append(rules, egressRules("pass-to-internet", pass, networkPeers(c.internet), a)...)
	}

	all := []v1alpha2.ClusterNetworkPolicyEgressPeer{
		{Namespaces: &metav1.LabelSelector{}},
		{Networks: []v1alpha2.CIDR{v1alpha2.CIDR(allIPv4.String()), v1alpha2.CIDR(allIPv6.String())}},
	}
	return append(rules, egressRules("deny-everything-else", deny, all, nil)...)
}

// zoneNetworkRules passes connections to the addresses of the allowed zones,
// which is how pods reach workloads at other sites. Networks peers cannot
// use named ports, so a named matrix port becomes the numbers that the
// destination zone's workloads serve under that name.
func (c *compiler) zoneNetworkRules(zone string) []v1alpha2.ClusterNetworkPolicyEgressRule {
	type group struct {
		a        *allowance
		networks [][]netip.Prefix
		zones    []string
	}
	groups := map[string]*group{}
	for _, to := range c.zoneNames {
		a := c.matrix[zonePair{zone, to}]
		target := c.zoneTarget[to]
		if a == nil || len(target) == 0 {
			continue
		}
		numbered := a
		if !a.all {
			numbered = &allowance{ports: c.numberedPorts(a.ports, to)}
			if len(numbered.ports) == 0 {
				continue
			}
		}
		key := numbered.key()
		g := groups[key]
		if g == nil {
			g = &group{a: numbered}
			groups[key] = g
		}
		g.networks = append(g.networks, target)
		g.zones = append(g.zones, to)
	}

	var rules []v1alpha2.ClusterNetworkPolicyEgressRule
	for _, key := range slices.Sorted(maps.Keys(groups)) {
		g := groups[key]
		rules = append(rules, egressRules("pass-to-"+ruleZones(g.zones)+"-addresses", pass, networkPeers(canonical(g.networks...)), g.a)...)
	}
	return rules
}

// numberedPorts replaces each named port by the numbers the zone's workloads
// serve under that name.
func (c *compiler) numberedPorts(ports []Port, zone string) []Port {
	out := make([]Port, 0, len(ports))
	for _, p := range ports {
		if p.Name == "" {
			out = append(out, p)
			continue
		}
		for _, m := range c.members[zone] {
			if rp, ok := resolveOn(m, p); ok {
				out = append(out, Port{Protocol: rp.Protocol, Port: rp.Port})
			}
		}
	}
	return sortPorts(out)
}

func (c *compiler) baselineClusterDNSPolicy() v1alpha2.ClusterNetworkPolicy {
	p := newClusterNetworkPolicy("estate-baseline-cluster-dns", v1alpha2.BaselineTier, BaselinePriorityClusterDNS,
		v1alpha2.ClusterNetworkPolicySubject{Pods: c.dnsPods()})
	dnsPorts := &allowance{ports: c.dns.Ports}
	p.Spec.Ingress = ingressRules("accept-queries", accept, []v1alpha2.ClusterNetworkPolicyIngressPeer{{Namespaces: &metav1.LabelSelector{}}}, dnsPorts)
	// NOTE: upstream resolvers are assumed to be inside the department
	// spaces, the PSN or private address space. Queries forwarded to a
	// resolver on the internet are denied.
	upstream := canonical(c.department, c.psnRanges, privateRanges)
	p.Spec.Egress = egressRules("accept-upstream-dns", accept, networkPeers(upstream), dnsPorts)
	return p
}

func (c *compiler) baselineDefaultDenyPolicy() v1alpha2.ClusterNetworkPolicy {
	p := newClusterNetworkPolicy("estate-baseline-default-deny", v1alpha2.BaselineTier, BaselinePriorityDefaultDeny,
		v1alpha2.ClusterNetworkPolicySubject{Namespaces: &metav1.LabelSelector{}})
	p.Spec.Ingress = ingressRules("deny-all", deny, []v1alpha2.ClusterNetworkPolicyIngressPeer{{Namespaces: &metav1.LabelSelector{}}}, nil)
	p.Spec.Egress = egressRules("accept-cluster-dns", accept, []v1alpha2.ClusterNetworkPolicyEgressPeer{{Pods: c.dnsPods()}}, &allowance{ports: c.dns.Ports})
	all := []v1alpha2.ClusterNetworkPolicyEgressPeer{
		{Namespaces: &metav1.LabelSelector{}},
		{Networks: []v1alpha2.CIDR{v1alpha2.CIDR(allIPv4.String()), v1alpha2.CIDR(allIPv6.String())}},
	}
	p.Spec.Egress = append(p.Spec.Egress, egressRules("deny-all", deny, all, nil)...)
	return p
}

type allowanceGroup struct {
	allowance *allowance
	zones     []string
}

// groupByAllowance groups zones by the matrix allowance that lookup returns,
// leaving out zones with none. Groups are sorted by their first zone.
func (c *compiler) groupByAllowance(zones []string, lookup func(string) *allowance) []allowanceGroup {
	index := map[string]int{}
	var groups []allowanceGroup
	for _, z := range zones {
		a := lookup(z)
		if a == nil {
			continue
		}
		key := a.key()
		i, ok := index[key]
		if !ok {
			i = len(groups)
			index[key] = i
			groups = append(groups, allowanceGroup{allowance: a})
		}
		groups[i].zones = append(groups[i].zones, z)
	}
	return groups
}

// key returns a string that identifies the allowance's port set.
func (a *allowance) key() string {
	if a.all {
		return "*"
	}
	return formatPorts(a.ports)
}

func ruleZones(zones []string) string {
	name := strings.Join(zones, "-")
	if len(zones) > 3 || len(name) > 60 {
		name = strconv.Itoa(len(zones)) + "-zones"
	}
	return name
}

// zonePods selects the pods of the given zones in every namespace.
func zonePods(zones []string) *v1alpha2.NamespacedPod {
	return &v1alpha2.NamespacedPod{PodSelector: zoneSelector(zones)}
}

func zoneSelector(zones []string) metav1.LabelSelector {
	if len(zones) == 1 {
		return metav1.LabelSelector{MatchLabels: map[string]string{ZoneLabel: zones[0]}}
	}
	return metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key:      ZoneLabel,
		Operator: metav1.LabelSelectorOpIn,
		Values:   slices.Clone(zones),
	}}}
}

func (c *compiler) dnsPods() *v1alpha2.NamespacedPod {
	return &v1alpha2.NamespacedPod{
		NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{NamespaceNameLabel: c.dns.Namespace}},
		PodSelector:       metav1.LabelSelector{MatchLabels: maps.Clone(c.dns.PodLabels)},
	}
}

// networkPeers returns peers of at most maxItems networks each.
func networkPeers(prefixes []netip.Prefix) []v1alpha2.ClusterNetworkPolicyEgressPeer {
	var peers []v1alpha2.ClusterNetworkPolicyEgressPeer
	for _, part := range chunk(prefixes, maxItems) {
		networks := make([]v1alpha2.CIDR, len(part))
		for i, p := range part {
			networks[i] = v1alpha2.CIDR(p.String())
		}
		peers = append(peers, v1alpha2.ClusterNetworkPolicyEgressPeer{Networks: networks})
	}
	return peers
}

// protocols returns the protocol matches of an allowance; nil means every
// port and protocol.
func protocols(a *allowance) []v1alpha2.ClusterNetworkPolicyProtocol {
	if a == nil || a.all {
		return nil
	}
	out := make([]v1alpha2.ClusterNetworkPolicyProtocol, 0, len(a.ports))
	for _, p := range a.ports {
		if p.Name != "" {
			out = append(out, v1alpha2.ClusterNetworkPolicyProtocol{DestinationNamedPort: p.Name})
			continue
		}
		port := &v1alpha2.Port{Number: p.Port}
		switch p.Protocol {
		case "UDP":
			out = append(out, v1alpha2.ClusterNetworkPolicyProtocol{UDP: &v1alpha2.ClusterNetworkPolicyProtocolUDP{DestinationPort: port}})
		case "SCTP":
			out = append(out, v1alpha2.ClusterNetworkPolicyProtocol{SCTP: &v1alpha2.ClusterNetworkPolicyProtocolSCTP{DestinationPort: port}})
		default:
			out = append(out, v1alpha2.ClusterNetworkPolicyProtocol{TCP: &v1alpha2.ClusterNetworkPolicyProtocolTCP{DestinationPort: port}})
		}
	}
	return out
}

// protocolChunks splits protocol matches to fit the API limit; a single nil
// chunk means every port and protocol.
func protocolChunks(a *allowance) [][]v1alpha2.ClusterNetworkPolicyProtocol {
	list := protocols(a)
	if list == nil {
		return [][]v1alpha2.ClusterNetworkPolicyProtocol{nil}
	}
	return chunk(list, maxItems)
}

// egressRules returns one rule, or several when peers or protocols exceed
// the API limit. Splitting keeps the meaning because the rules share one action.
func egressRules(name string, action v1alpha2.ClusterNetworkPolicyRuleAction, peers []v1alpha2.ClusterNetworkPolicyEgressPeer, a *allowance) []v1alpha2.ClusterNetworkPolicyEgressRule {
	var rules []v1alpha2.ClusterNetworkPolicyEgressRule
	for _, to := range chunk(peers, maxItems) {
		for _, ps := range protocolChunks(a) {
			rules = append(rules, v1alpha2.ClusterNetworkPolicyEgressRule{Name: ruleName(name, len(rules)), Action: action, To: to, Protocols: ps})
		}
	}
	return rules
}

func ingressRules(name string, action v1alpha2.ClusterNetworkPolicyRuleAction, peers []v1alpha2.ClusterNetworkPolicyIngressPeer, a *allowance) []v1alpha2.ClusterNetworkPolicyIngressRule {
	var rules []v1alpha2.ClusterNetworkPolicyIngressRule
	for _, from := range chunk(peers, maxItems) {
		for _, ps := range protocolChunks(a) {
			rules = append(rules, v1alpha2.ClusterNetworkPolicyIngressRule{Name: ruleName(name, len(rules)), Action: action, From: from, Protocols: ps})
		}
	}
	return rules
}

// ruleName numbers the second and later parts of a split rule. Rule names
// are limited to 100 characters.
func ruleName(name string, part int) string {
	if part > 0 {
		name += "-" + strconv.Itoa(part+1)
	}
	if len(name) > 100 {
		name = name[:100]
	}
	return name
}
