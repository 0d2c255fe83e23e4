package reachability

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// compiledNetworkPolicy is a validated NetworkPolicy with parsed selectors,
// CIDRs and ports.
type compiledNetworkPolicy struct {
	// name is "<namespace>/<name>".
	name        string
	namespace   string
	podSelector labels.Selector
	// affectsIngress and affectsEgress are the effective policyTypes after
	// the API server's defaulting.
	affectsIngress bool
	affectsEgress  bool
	ingress        []networkPolicyRule
	egress         []networkPolicyRule
}

// networkPolicyRule is one ingress or egress rule. A nil peers or ports
// slice matches every peer or port, as an omitted from, to or ports does.
type networkPolicyRule struct {
	peers []networkPolicyPeer
	ports []networkPolicyPort
}

// networkPolicyPeer is one from or to entry. Exactly one of ipBlock and the
// selectors is set, and a nil selector means the field was omitted.
type networkPolicyPeer struct {
	namespaceSelector labels.Selector
	podSelector       labels.Selector
	ipBlock           *ipBlock
}

type ipBlock struct {
	cidr   netip.Prefix
	except []netip.Prefix
}

// networkPolicyPort is one ports entry. When anyPort is false, either
// namedPort is set or [first, last] is the inclusive port range.
type networkPolicyPort struct {
	protocol  corev1.Protocol
	anyPort   bool
	namedPort string
	first     int32
	last      int32
}

// compileNetworkPolicy validates np as the API server would and parses it.
// The error names the invalid field and value.
func compileNetworkPolicy(np *networkingv1.NetworkPolicy) (*compiledNetworkPolicy, error) {
	if np.Namespace == "" {
		return nil, fmt.Errorf("metadata.namespace is empty: set it to the namespace the policy applies to")
	}
	compiled := &compiledNetworkPolicy{
		name:      np.Namespace + "/" + np.Name,
		namespace: np.Namespace,
	}

	podSelector, err := compileSelector(&np.Spec.PodSelector)
	if err != nil {
		return nil, fmt.Errorf("spec.podSelector is invalid: %w", err)
	}
	compiled.podSelector = podSelector

	if err := compiled.setPolicyTypes(np.Spec); err != nil {
		return nil, err
	}

	if compiled.affectsIngress {
		for i, rule := range np.Spec.Ingress {
			path := fmt.Sprintf("spec.ingress[%d]", i)
			peers, err := compileNetworkPolicyPeers(path+".from", rule.From)
			if err != nil {
				return nil, err
			}
			ports, err := compileNetworkPolicyPorts(path+".ports", rule.Ports)
			if err != nil {
				return nil, err
			}
			compiled.ingress = append(compiled.ingress, networkPolicyRule{peers: peers, ports: ports})
		}
	}
	if compiled.affectsEgress {
		for i, rule := range np.Spec.Egress {
			path := fmt.Sprintf("spec.egress[%d]", i)
			peers, err := compileNetworkPolicyPeers(path+".to", rule.To)
			if err != nil {
				return nil, err
			}
			ports, err := compileNetworkPolicyPorts(path+".ports", rule.Ports)
			if err != nil {
				return nil, err
			}
			compiled.egress = append(compiled.egress, networkPolicyRule{peers: peers, ports: ports})
		}
	}
	return compiled, nil
}

// setPolicyTypes applies the API server's defaulting: without policyTypes a
// policy always affects ingress, and affects egress only if it has egress
// rules. Rules of a direction that is not in policyTypes are ignored.
func (c *compiledNetworkPolicy) setPolicyTypes(spec networkingv1.NetworkPolicySpec) error {
	if len(spec.PolicyTypes) == 0 {
		c.affectsIngress = true
		c.affectsEgress = len(spec.Egress) > 0
		return nil
	}
	if len(spec.PolicyTypes) > 2 {
		return fmt.Errorf("spec.policyTypes has %d entries: list Ingress, Egress or both", len(spec.PolicyTypes))
	}
	for i, policyType := range spec.PolicyTypes {
		switch policyType {
		case networkingv1.PolicyTypeIngress:
			c.affectsIngress = true
		case networkingv1.PolicyTypeEgress:
			c.affectsEgress = true
		default:
			return fmt.Errorf("spec.policyTypes[%d] is %q: use Ingress or Egress", i, policyType)
		}
	}
	return nil
}

func compileNetworkPolicyPeers(path string, peers []networkingv1.NetworkPolicyPeer) ([]networkPolicyPeer, error) {
	if len(peers) == 0 {
		return nil, nil
	}
	compiled := make([]networkPolicyPeer, 0, len(peers))
	for i, peer := range peers {
		peerPath := fmt.Sprintf("%s[%d]", path, i)
		if peer.IPBlock != nil {
			if peer.PodSelector != nil || peer.NamespaceSelector != nil {
				return nil, fmt.Errorf("%s sets ipBlock together with a selector: split it into separate peers", peerPath)
			}
			block, err := compileIPBlock(peerPath+".ipBlock", peer.IPBlock)
			if err != nil {
				return nil, err
			}
			compiled = append(compiled, networkPolicyPeer{ipBlock: block})
			continue
		}
		if peer.PodSelector == nil && peer.NamespaceSelector == nil {
			return nil, fmt.Errorf("%s sets no field: set podSelector, namespaceSelector or ipBlock", peerPath)
		}

		var result networkPolicyPeer
		if peer.PodSelector != nil {
			selector, err := compileSelector(peer.PodSelector)
			if err != nil {
				return nil, fmt.Errorf("%s.podSelector is invalid: %w", peerPath, err)
			}
			result.podSelector = selector
		}
		if peer.NamespaceSelector != nil {
			selector, err := compileSelector(peer.NamespaceSelector)
			if err != nil {
				return nil, fmt.Errorf("%s.namespaceSelector is invalid: %w", peerPath, err)
			}
			result.namespaceSelector = selector
		}
		compiled = append(compiled, result)
	}
	return compiled, nil
}

// compileIPBlock parses an ipBlock. Like the API server it accepts a cidr
// with host bits set, and it requires each except entry to be a strict
// subset of cidr.
func compileIPBlock(path string, block *networkingv1.IPBlock) (*ipBlock, error) {
	cidr, err := netip.ParsePrefix(block.CIDR)
	if err != nil {
		return nil, fmt.Errorf("%s.cidr %q is not a valid CIDR: %w", path, block.CIDR, err)
	}
	cidr = cidr.Masked()

	compiled := &ipBlock{cidr: cidr}
	for i, entry := range block.Except {
		except, err := netip.ParsePrefix(entry)
		if err != nil {
			return nil, fmt.Errorf("%s.except[%d] %q is not a valid CIDR: %w", path, i, entry, err)
		}
		except = except.Masked()
		if except.Addr().Is4() != cidr.Addr().Is4() || except.Bits() <= cidr.Bits() || !cidr.Contains(except.Addr()) {
			return nil, fmt.Errorf("%s.except[%d] %q is not a strict subset of cidr %q: remove it or widen cidr", path, i, entry, block.CIDR)
		}
		compiled.except = append(compiled.except, except)
	}
	return compiled, nil
}

func compileNetworkPolicyPorts(path string, ports []networkingv1.NetworkPolicyPort) ([]networkPolicyPort, error) {
	if len(ports) == 0 {
		return nil, nil
	}
	compiled := make([]networkPolicyPort, 0, len(ports))
	for i, port := range ports {
		portPath := fmt.Sprintf("%s[%d]", path, i)
		protocol := corev1.ProtocolTCP
		if port.Protocol != nil {
			protocol = *port.Protocol
		}
		if !isSupportedProtocol(protocol) {
			return nil, fmt.Errorf("%s.protocol is %q: use TCP, UDP or SCTP", portPath, protocol)
		}
		result := networkPolicyPort{protocol: protocol}

		switch {
		case port.Port == nil:
			if port.EndPort != nil {
				return nil, fmt.Errorf("%s.endPort is set without port: set port to the first port of the range", portPath)
			}
			result.anyPort = true
		case port.Port.Type == intstr.String:
			if port.EndPort != nil {
				return nil, fmt.Errorf("%s.endPort is set with the named port %q: use a numeric port", portPath, port.Port.StrVal)
			}
			if problems := validation.IsValidPortName(port.Port.StrVal); len(problems) > 0 {
				return nil, fmt.Errorf("%s.port %q is not a valid port name: %s", portPath, port.Port.StrVal, strings.Join(problems, "; "))
			}
			result.namedPort = port.Port.StrVal
		default:
			first := port.Port.IntVal
			if problems := validation.IsValidPortNum(int(first)); len(problems) > 0 {
				return nil, fmt.Errorf("%s.port %d is invalid: %s", portPath, first, strings.Join(problems, "; "))
			}
			last := first
			if port.EndPort != nil {
				last = *port.EndPort
				if last < first || last > 65535 {
					return nil, fmt.Errorf("%s.endPort %d is invalid: use a value from port (%d) to 65535", portPath, last, first)
				}
			}
			result.first, result.last = first, last
		}
		compiled = append(compiled, result)
	}
	return compiled, nil
}

func isSupportedProtocol(protocol corev1.Protocol) bool {
	return protocol == corev1.ProtocolTCP || protocol == corev1.ProtocolUDP || protocol == corev1.ProtocolSCTP
}

// rules returns the policy's rules for one direction.
func (c *compiledNetworkPolicy) rules(dir direction) []networkPolicyRule {
	if dir == ingress {
		return c.ingress
	}
	return c.egress
}

// matches reports whether the rule allows traffic with the given peer, from
// the point of view of a policy in namespace policyNamespace. destination is
// the endpoint whose container ports resolve named ports.
func (r networkPolicyRule) matches(policyNamespace string, peer, destination *preparedEndpoint, traffic portProtocol) bool {
	if r.peers != nil {
		matched := false
		for _, candidate := range r.peers {
			if candidate.matches(policyNamespace, peer) {
				matched = true
				break
			}
		}
		if !matched {
			return false
		}
	}

	if r.ports == nil {
		return true
	}
	for _, port := range r.ports {
		if port.matches(destination, traffic) {
			return true
		}
	}
	return false
}

func (p networkPolicyPeer) matches(policyNamespace string, peer *preparedEndpoint) bool {
	if p.ipBlock != nil {
		return p.ipBlock.contains(peer.ip)
	}
	if peer.kind != kindPod {
		return false
	}
	if p.namespaceSelector != nil {
		if !p.namespaceSelector.Matches(peer.namespaceLabels) {
			return false
		}
	} else if peer.Namespace != policyNamespace {
		// A podSelector alone selects pods in the policy's own namespace.
		return false
	}
	return p.podSelector == nil || p.podSelector.Matches(peer.podLabels)
}

func (b *ipBlock) contains(ip netip.Addr) bool {
	if !ip.IsValid() || !b.cidr.Contains(ip) {
		return false
	}
	for _, except := range b.except {
		if except.Contains(ip) {
			return false
		}
	}
	return true
}

func (p networkPolicyPort) matches(destination *preparedEndpoint, traffic portProtocol) bool {
	if p.protocol != traffic.protocol {
		return false
	}
	if p.anyPort {
		return true
	}
	if p.namedPort != "" {
		return destination.servesNamedPort(p.namedPort, traffic)
	}
	return p.first <= traffic.port && traffic.port <= p.last
}
