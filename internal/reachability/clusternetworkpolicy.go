package reachability

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"
)

// Limits from the v1alpha2 CRD schema (kubebuilder markers in
// clusternetworkpolicy_types.go of sigs.k8s.io/network-policy-api v0.3.0).
const (
	maxPriority         = 1000
	maxRulesPerPolicy   = 25
	maxItemsPerRule     = 25
	maxRuleNameLength   = 100
	maxNetworksPerPeer  = 25
	maxDomainsPerPeer   = 25
	maxPortNumber       = 65535
	minPortNumber       = 1
	clusterPolicyPrefix = "ClusterNetworkPolicy "
)

// compiledClusterPolicy is a validated ClusterNetworkPolicy with parsed
// selectors, CIDRs and ports.
type compiledClusterPolicy struct {
	name     string
	tier     v1alpha2.Tier
	priority int32
	// The subject selects pods whose namespace matches
	// subjectNamespaces and whose labels match subjectPods. A namespaces
	// subject has subjectPods set to labels.Everything().
	subjectNamespaces labels.Selector
	subjectPods       labels.Selector
	ingress           []clusterPolicyRule
	egress            []clusterPolicyRule
}

// clusterPolicyRule is one ingress or egress rule.
type clusterPolicyRule struct {
	// label is the rule name, or "ingress[i]" or "egress[i]" without one.
	label  string
	action v1alpha2.ClusterNetworkPolicyRuleAction
	// failClosed marks a Deny or Pass rule with an entry that sets no field.
	// Such a rule matches every connection and denies it.
	failClosed bool
	peers      []clusterPolicyPeer
	// protocols is nil when the rule does not restrict protocols.
	protocols []clusterPolicyProtocol
}

type clusterPeerKind int

const (
	// peerNothing matches nothing: a domainNames peer, or an entry with no
	// field set in an Accept rule.
	peerNothing clusterPeerKind = iota
	peerNamespaces
	peerPods
	peerNodes
	peerNetworks
)

type clusterPolicyPeer struct {
	kind              clusterPeerKind
	namespaceSelector labels.Selector
	podSelector       labels.Selector
	nodeSelector      labels.Selector
	networks          []netip.Prefix
}

// clusterPolicyProtocol is one protocols entry. When matchNothing is false,
// either namedPort is set or protocol must match and [first, last] is the
// inclusive destination port range.
type clusterPolicyProtocol struct {
	matchNothing bool
	protocol     corev1.Protocol
	namedPort    string
	first        int32
	last         int32
}

// compileClusterPolicy validates cnp against the CRD schema and parses it.
// It returns an error for what the API server would reject, and warnings
// for what the evaluator admits but handles specially.
func compileClusterPolicy(cnp *v1alpha2.ClusterNetworkPolicy) (*compiledClusterPolicy, []Warning, error) {
	spec := cnp.Spec
	compiled := &compiledClusterPolicy{name: cnp.Name, tier: spec.Tier, priority: spec.Priority}

	if spec.Tier != v1alpha2.AdminTier && spec.Tier != v1alpha2.BaselineTier {
		return nil, nil, fmt.Errorf("spec.tier is %q: use Admin or Baseline", spec.Tier)
	}
	if spec.Priority < 0 || spec.Priority > maxPriority {
		return nil, nil, fmt.Errorf("spec.priority is %d: use a value from 0 to %d", spec.Priority, maxPriority)
	}
	if err := compiled.setSubject(spec.Subject); err != nil {
		return nil, nil, err
	}
	if len(spec.Ingress) > maxRulesPerPolicy || len(spec.Egress) > maxRulesPerPolicy {
		return nil, nil, fmt.Errorf("spec has %d ingress and %d egress rules: use at most %d in each", len(spec.Ingress), len(spec.Egress), maxRulesPerPolicy)
	}

	var warnings []Warning
	for i, rule := range spec.Ingress {
		peers := make([]v1alpha2.ClusterNetworkPolicyEgressPeer, len(rule.From))
		for j, from := range rule.From {
			peers[j] = v1alpha2.ClusterNetworkPolicyEgressPeer{Namespaces: from.Namespaces, Pods: from.Pods}
		}
		compiledRule, ruleWarnings, err := compileClusterRule(cnp.Name, fmt.Sprintf("ingress[%d]", i), "from", rule.Name, rule.Action, peers, rule.Protocols)
		if err != nil {
			return nil, nil, err
		}
		warnings = append(warnings, ruleWarnings...)
		compiled.ingress = append(compiled.ingress, compiledRule)
	}
	for i, rule := range spec.Egress {
		compiledRule, ruleWarnings, err := compileClusterRule(cnp.Name, fmt.Sprintf("egress[%d]", i), "to", rule.Name, rule.Action, rule.To, rule.Protocols)
		if err != nil {
			return nil, nil, err
		}
		warnings = append(warnings, ruleWarnings...)
		compiled.egress = append(compiled.egress, compiledRule)
	}
	return compiled, warnings, nil
}

func (c *compiledClusterPolicy) setSubject(subject v1alpha2.ClusterNetworkPolicySubject) error {
	switch {
	case subject.Namespaces != nil && subject.Pods != nil:
		return fmt.Errorf("spec.subject sets both namespaces and pods: set exactly one")
	case subject.Namespaces != nil:
		selector, err := compileSelector(subject.Namespaces)
		if err != nil {
			return fmt.Errorf("spec.subject.namespaces is invalid: %w", err)
		}
		c.subjectNamespaces = selector
		c.subjectPods = labels.Everything()
	case subject.Pods != nil:
		namespaces, err := compileSelector(&subject.Pods.NamespaceSelector)
		if err != nil {
			return fmt.Errorf("spec.subject.pods.namespaceSelector is invalid: %w", err)
		}
		pods, err := compileSelector(&subject.Pods.PodSelector)
		if err != nil {
			return fmt.Errorf("spec.subject.pods.podSelector is invalid: %w", err)
		}
		c.subjectNamespaces, c.subjectPods = namespaces, pods
	default:
		return fmt.Errorf("spec.subject sets no field: set namespaces or pods")
	}
	return nil
}

// compileClusterRule compiles one rule. Ingress peers are passed as egress
// peers with only namespaces and pods set, because the two types share those
// fields. peerField is "from" or "to", for messages.
func compileClusterRule(policyName, path, peerField, name string, action v1alpha2.ClusterNetworkPolicyRuleAction, peers []v1alpha2.ClusterNetworkPolicyEgressPeer, protocols []v1alpha2.ClusterNetworkPolicyProtocol) (clusterPolicyRule, []Warning, error) {
	rule := clusterPolicyRule{label: name, action: action}
	if rule.label == "" {
		rule.label = path
	}
	path = "spec." + path

	if len(name) > maxRuleNameLength {
		return rule, nil, fmt.Errorf("%s.name has %d characters: use at most %d", path, len(name), maxRuleNameLength)
	}
	switch action {
	case v1alpha2.ClusterNetworkPolicyRuleActionAccept, v1alpha2.ClusterNetworkPolicyRuleActionDeny, v1alpha2.ClusterNetworkPolicyRuleActionPass:
	default:
		return rule, nil, fmt.Errorf("%s.action is %q: use Accept, Deny or Pass", path, action)
	}
	if len(peers) == 0 || len(peers) > maxItemsPerRule {
		return rule, nil, fmt.Errorf("%s.%s has %d entries: list from 1 to %d peers", path, peerField, len(peers), maxItemsPerRule)
	}
	if len(protocols) > maxItemsPerRule {
		return rule, nil, fmt.Errorf("%s.protocols has %d entries: list at most %d", path, len(protocols), maxItemsPerRule)
	}

	var warnings []Warning
	// failClosed records why the rule fails closed, for the warning.
	var failClosed []string
	hasNonPodPeer := false

	for i, peer := range peers {
		peerPath := fmt.Sprintf("%s.%s[%d]", path, peerField, i)
		compiled, empty, err := compileClusterPeer(peerPath, action, peer)
		if err != nil {
			return rule, nil, err
		}
		if empty {
			failClosed = append(failClosed, peerPath+" sets no field")
		}
		if len(peer.DomainNames) > 0 {
			warnings = append(warnings, Warning{
				Kind:     WarningUnevaluatedPeer,
				Policies: []string{clusterPolicyPrefix + policyName},
				Message:  fmt.Sprintf("ClusterNetworkPolicy %s %s.domainNames cannot be evaluated without DNS data, so it matches no connection", policyName, peerPath),
			})
		}
		if peer.Nodes != nil || len(peer.Networks) > 0 || len(peer.DomainNames) > 0 {
			hasNonPodPeer = true
		}
		rule.peers = append(rule.peers, compiled)
	}

	for i, protocol := range protocols {
		protocolPath := fmt.Sprintf("%s.protocols[%d]", path, i)
		compiled, empty, err := compileClusterProtocol(protocolPath, protocol)
		if err != nil {
			return rule, nil, err
		}
		if empty {
			failClosed = append(failClosed, protocolPath+" sets no field")
		}
		if protocol.DestinationNamedPort != "" && hasNonPodPeer {
			return rule, nil, fmt.Errorf("%s.destinationNamedPort %q is set in a rule with networks, nodes or domainNames peers, which have no named ports: use a port number", protocolPath, protocol.DestinationNamedPort)
		}
		rule.protocols = append(rule.protocols, compiled)
	}

	if len(failClosed) > 0 {
		var outcome string
		if action != v1alpha2.ClusterNetworkPolicyRuleActionAccept {
			// The peer doc comments require failing closed, which for Deny
			// and Pass rules means denying all traffic.
			rule.failClosed = true
			rule.action = v1alpha2.ClusterNetworkPolicyRuleActionDeny
			outcome = "the whole rule denies every connection of the subject"
		} else {
			// In an Accept rule an empty entry matches nothing, but the
			// remaining entries still apply.
			outcome = "that entry matches no connection"
		}
		warnings = append(warnings, Warning{
			Kind:     WarningFailClosed,
			Policies: []string{clusterPolicyPrefix + policyName},
			Message:  fmt.Sprintf("ClusterNetworkPolicy %s: %s, which suggests objects from a newer CRD version; failing closed, so %s", policyName, strings.Join(failClosed, " and "), outcome),
		})
	}
	return rule, warnings, nil
}

// compileClusterPeer compiles one peer. empty reports a peer with no field
// set, which compiles to a peer that matches nothing.
func compileClusterPeer(path string, action v1alpha2.ClusterNetworkPolicyRuleAction, peer v1alpha2.ClusterNetworkPolicyEgressPeer) (clusterPolicyPeer, bool, error) {
	set := 0
	for _, isSet := range []bool{peer.Namespaces != nil, peer.Pods != nil, peer.Nodes != nil, peer.Networks != nil, peer.DomainNames != nil} {
		if isSet {
			set++
		}
	}
	if set > 1 {
		return clusterPolicyPeer{}, false, fmt.Errorf("%s sets %d fields: split it into one peer per field", path, set)
	}

	switch {
	case set == 0:
		return clusterPolicyPeer{kind: peerNothing}, true, nil
	case peer.Namespaces != nil:
		selector, err := compileSelector(peer.Namespaces)
		if err != nil {
			return clusterPolicyPeer{}, false, fmt.Errorf("%s.namespaces is invalid: %w", path, err)
		}
		return clusterPolicyPeer{kind: peerNamespaces, namespaceSelector: selector}, false, nil
	case peer.Pods != nil:
		namespaces, err := compileSelector(&peer.Pods.NamespaceSelector)
		if err != nil {
			return clusterPolicyPeer{}, false, fmt.Errorf("%s.pods.namespaceSelector is invalid: %w", path, err)
		}
		pods, err := compileSelector(&peer.Pods.PodSelector)
		if err != nil {
			return clusterPolicyPeer{}, false, fmt.Errorf("%s.pods.podSelector is invalid: %w", path, err)
		}
		return clusterPolicyPeer{kind: peerPods, namespaceSelector: namespaces, podSelector: pods}, false, nil
	case peer.Nodes != nil:
		selector, err := compileSelector(peer.Nodes)
		if err != nil {
			return clusterPolicyPeer{}, false, fmt.Errorf("%s.nodes is invalid: %w", path, err)
		}
		return clusterPolicyPeer{kind: peerNodes, nodeSelector: selector}, false, nil
	case peer.Networks != nil:
		networks, err := compileNetworks(path+".networks", peer.Networks)
		if err != nil {
			return clusterPolicyPeer{}, false, err
		}
		return clusterPolicyPeer{kind: peerNetworks, networks: networks}, false, nil
	default:
		if action != v1alpha2.ClusterNetworkPolicyRuleActionAccept {
			return clusterPolicyPeer{}, false, fmt.Errorf("%s.domainNames is set in a %s rule: domainNames peers are supported only in Accept rules", path, action)
		}
		if len(peer.DomainNames) == 0 || len(peer.DomainNames) > maxDomainsPerPeer {
			return clusterPolicyPeer{}, false, fmt.Errorf("%s.domainNames has %d entries: list from 1 to %d domain names", path, len(peer.DomainNames), maxDomainsPerPeer)
		}
		return clusterPolicyPeer{kind: peerNothing}, false, nil
	}
}

// compileNetworks parses networks entries, which the CRD requires to be
// valid CIDRs without host bits.
func compileNetworks(path string, networks []v1alpha2.CIDR) ([]netip.Prefix, error) {
	if len(networks) == 0 || len(networks) > maxNetworksPerPeer {
		return nil, fmt.Errorf("%s has %d entries: list from 1 to %d CIDRs", path, len(networks), maxNetworksPerPeer)
	}
	prefixes := make([]netip.Prefix, 0, len(networks))
	for i, network := range networks {
		prefix, err := netip.ParsePrefix(string(network))
		if err != nil {
			return nil, fmt.Errorf("%s[%d] %q is not a valid CIDR: %w", path, i, network, err)
		}
		if prefix != prefix.Masked() {
			return nil, fmt.Errorf("%s[%d] %q has host bits set: use %q", path, i, network, prefix.Masked())
		}
		prefixes = append(prefixes, prefix)
	}
	return prefixes, nil
}

// compileClusterProtocol compiles one protocols entry. empty reports an
// entry with no field set, which compiles to an entry that matches nothing.
func compileClusterProtocol(path string, protocol v1alpha2.ClusterNetworkPolicyProtocol) (clusterPolicyProtocol, bool, error) {
	set := 0
	for _, isSet := range []bool{protocol.TCP != nil, protocol.UDP != nil, protocol.SCTP != nil, protocol.DestinationNamedPort != ""} {
		if isSet {
			set++
		}
	}
	if set > 1 {
		return clusterPolicyProtocol{}, false, fmt.Errorf("%s sets %d fields: split it into one entry per protocol", path, set)
	}

	var destinationPort *v1alpha2.Port
	var compiled clusterPolicyProtocol
	switch {
	case set == 0:
		return clusterPolicyProtocol{matchNothing: true}, true, nil
	case protocol.DestinationNamedPort != "":
		return clusterPolicyProtocol{namedPort: protocol.DestinationNamedPort}, false, nil
	case protocol.TCP != nil:
		compiled.protocol, destinationPort = corev1.ProtocolTCP, protocol.TCP.DestinationPort
		path += ".tcp"
	case protocol.UDP != nil:
		compiled.protocol, destinationPort = corev1.ProtocolUDP, protocol.UDP.DestinationPort
		path += ".udp"
	default:
		compiled.protocol, destinationPort = corev1.ProtocolSCTP, protocol.SCTP.DestinationPort
		path += ".sctp"
	}

	if destinationPort == nil {
		return clusterPolicyProtocol{}, false, fmt.Errorf("%s sets no destinationPort: set destinationPort.number or destinationPort.range", path)
	}
	first, last, err := compileClusterPort(path+".destinationPort", destinationPort)
	if err != nil {
		return clusterPolicyProtocol{}, false, err
	}
	compiled.first, compiled.last = first, last
	return compiled, false, nil
}

func compileClusterPort(path string, port *v1alpha2.Port) (int32, int32, error) {
	switch {
	case port.Number != 0 && port.Range != nil:
		return 0, 0, fmt.Errorf("%s sets both number and range: set exactly one", path)
	case port.Range != nil:
		start, end := port.Range.Start, port.Range.End
		if start < minPortNumber || end > maxPortNumber || start >= end {
			return 0, 0, fmt.Errorf("%s.range %d-%d is invalid: use %d <= start < end <= %d", path, start, end, minPortNumber, maxPortNumber)
		}
		return start, end, nil
	case port.Number < minPortNumber || port.Number > maxPortNumber:
		return 0, 0, fmt.Errorf("%s.number is %d: use a port from %d to %d", path, port.Number, minPortNumber, maxPortNumber)
	default:
		return port.Number, port.Number, nil
	}
}

// selects reports whether the policy's subject selects the pod.
func (c *compiledClusterPolicy) selects(pod *preparedEndpoint) bool {
	return pod.kind == kindPod && c.subjectNamespaces.Matches(pod.namespaceLabels) && c.subjectPods.Matches(pod.podLabels)
}

// rules returns the policy's rules for one direction.
func (c *compiledClusterPolicy) rules(dir direction) []clusterPolicyRule {
	if dir == ingress {
		return c.ingress
	}
	return c.egress
}

// firstMatch returns the index of the first rule in dir that matches the
// connection with peer, or -1. destination resolves named ports.
func (c *compiledClusterPolicy) firstMatch(dir direction, peer, destination *preparedEndpoint, traffic portProtocol) int {
	for i, rule := range c.rules(dir) {
		if rule.matches(peer, destination, traffic) {
			return i
		}
	}
	return -1
}

func (r clusterPolicyRule) matches(peer, destination *preparedEndpoint, traffic portProtocol) bool {
	if r.failClosed {
		return true
	}

	peerMatched := false
	for _, candidate := range r.peers {
		if candidate.matches(peer) {
			peerMatched = true
			break
		}
	}
	if !peerMatched {
		return false
	}

	if r.protocols == nil {
		return true
	}
	for _, protocol := range r.protocols {
		if protocol.matches(destination, traffic) {
			return true
		}
	}
	return false
}

func (p clusterPolicyPeer) matches(peer *preparedEndpoint) bool {
	switch p.kind {
	case peerNamespaces:
		return peer.kind == kindPod && p.namespaceSelector.Matches(peer.namespaceLabels)
	case peerPods:
		return peer.kind == kindPod && p.namespaceSelector.Matches(peer.namespaceLabels) && p.podSelector.Matches(peer.podLabels)
	case peerNodes:
		return peer.kind == kindNode && p.nodeSelector.Matches(peer.nodeLabels)
	case peerNetworks:
		if !peer.ip.IsValid() {
			return false
		}
		for _, network := range p.networks {
			if network.Contains(peer.ip) {
				return true
			}
		}
		return false
	default:
		return false
	}
}

func (p clusterPolicyProtocol) matches(destination *preparedEndpoint, traffic portProtocol) bool {
	switch {
	case p.matchNothing:
		return false
	case p.namedPort != "":
		return destination.servesNamedPort(p.namedPort, traffic)
	default:
		return p.protocol == traffic.protocol && p.first <= traffic.port && traffic.port <= p.last
	}
}
