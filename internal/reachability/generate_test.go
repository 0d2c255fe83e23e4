package reachability

import (
	"fmt"
	"math/rand/v2"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"
)

// scenarioSize sets how many objects generateScenario builds.
type scenarioSize struct {
	namespaces, pods, networkPolicies, clusterPolicies int
}

var smallScenario = scenarioSize{namespaces: 3, pods: 8, networkPolicies: 4, clusterPolicies: 3}

// scenario is a reproducible random set of policies and endpoints. The
// generator covers every field the evaluator reads, including invalid
// values now and then, so that properties exercise validation as well.
type scenario struct {
	networkPolicies []networkingv1.NetworkPolicy
	clusterPolicies []v1alpha2.ClusterNetworkPolicy
	endpoints       []Endpoint
}

var scenarioPorts = []PortProtocol{{Protocol: protocolTCP, Port: 80}, {Protocol: protocolTCP, Port: 8080}, {Protocol: protocolUDP, Port: 53}, {Port: 443}}

type generator struct {
	rng  *rand.Rand
	size scenarioSize
}

func generateScenario(seed uint64, size scenarioSize) scenario {
	g := generator{rng: rand.New(rand.NewPCG(seed, seed^0x5bd1e995)), size: size}
	var s scenario
	for i := range size.networkPolicies {
		s.networkPolicies = append(s.networkPolicies, g.networkPolicy(i))
	}
	for i := range size.clusterPolicies {
		s.clusterPolicies = append(s.clusterPolicies, g.clusterPolicy(i))
	}
	s.endpoints = g.endpoints()
	return s
}

func (g generator) chance(percent int) bool {
	return g.rng.IntN(100) < percent
}

func pickOne[T any](g generator, values ...T) T {
	return values[g.rng.IntN(len(values))]
}

func (g generator) namespace() string {
	return fmt.Sprintf("ns-%d", g.rng.IntN(g.size.namespaces))
}

// selector returns an empty selector, a matchLabels selector or one
// expression, and an invalid operator in about 1% of calls.
func (g generator) selector(keys []string, values []string) *metav1.LabelSelector {
	switch g.rng.IntN(4) {
	case 0:
		return &metav1.LabelSelector{}
	case 1:
		return matchLabels(pickOne(g, keys...), pickOne(g, values...))
	default:
		operator := pickOne(g, metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn, metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist)
		if g.chance(1) {
			operator = "Near"
		}
		var expressionValues []string
		if operator == metav1.LabelSelectorOpIn || operator == metav1.LabelSelectorOpNotIn {
			expressionValues = []string{pickOne(g, values...), pickOne(g, values...)}
		}
		return matchExpression(pickOne(g, keys...), operator, expressionValues...)
	}
}

var (
	podLabelKeys         = []string{"app", "tier"}
	podLabelValues       = []string{"web", "db", "cache", "front", "back"}
	namespaceLabelKeys   = []string{"team", namespaceNameLabel}
	namespaceLabelValues = []string{"a", "b", "ns-0", "ns-1", "ns-2"}
	generatedCIDRs       = []string{"10.0.0.0/8", "10.0.1.0/24", "0.0.0.0/0", "8.8.8.0/24", "169.254.169.254/32", "10.0.0.0/33"}
)

func (g generator) podSelector() *metav1.LabelSelector {
	return g.selector(podLabelKeys, podLabelValues)
}

func (g generator) namespaceSelector() *metav1.LabelSelector {
	return g.selector(namespaceLabelKeys, namespaceLabelValues)
}

func (g generator) networkPolicy(index int) networkingv1.NetworkPolicy {
	spec := networkingv1.NetworkPolicySpec{PodSelector: *g.podSelector()}
	spec.PolicyTypes = pickOne(g, nil, ingressOnly, egressOnly, bothTypes)
	for range g.rng.IntN(3) {
		spec.Ingress = append(spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: g.peers(), Ports: g.ports()})
	}
	for range g.rng.IntN(3) {
		spec.Egress = append(spec.Egress, networkingv1.NetworkPolicyEgressRule{To: g.peers(), Ports: g.ports()})
	}
	return networkPolicy(g.namespace(), fmt.Sprintf("np-%d", index), spec)
}

func (g generator) peers() []networkingv1.NetworkPolicyPeer {
	var peers []networkingv1.NetworkPolicyPeer
	for range g.rng.IntN(3) {
		switch g.rng.IntN(4) {
		case 0:
			peers = append(peers, podPeer(g.podSelector()))
		case 1:
			peers = append(peers, namespacePeer(g.namespaceSelector()))
		case 2:
			peers = append(peers, namespaceAndPodPeer(g.namespaceSelector(), g.podSelector()))
		default:
			cidr := pickOne(g, generatedCIDRs...)
			var except []string
			if cidr == "10.0.0.0/8" && g.chance(50) {
				except = []string{"10.0.1.0/24"}
			}
			if cidr == "0.0.0.0/0" && g.chance(50) {
				except = []string{"169.254.169.254/32"}
			}
			peers = append(peers, ipBlockPeer(cidr, except...))
		}
	}
	return peers
}

func (g generator) protocol() *corev1.Protocol {
	return pickOne(g, nil, &protocolTCP, &protocolUDP, &protocolSCTP)
}

func (g generator) ports() []networkingv1.NetworkPolicyPort {
	var ports []networkingv1.NetworkPolicyPort
	for range g.rng.IntN(3) {
		switch g.rng.IntN(4) {
		case 0:
			ports = append(ports, networkingv1.NetworkPolicyPort{Protocol: g.protocol()})
		case 1:
			ports = append(ports, numberedPort(g.protocol(), pickOne[int32](g, 53, 80, 443, 8080)))
		case 2:
			ports = append(ports, portRange(g.protocol(), pickOne[int32](g, 53, 80), pickOne[int32](g, 80, 8080)))
		default:
			value := intstr.FromString(pickOne(g, "http", "dns", "metrics"))
			ports = append(ports, networkingv1.NetworkPolicyPort{Protocol: g.protocol(), Port: &value})
		}
	}
	return ports
}

func (g generator) clusterPolicy(index int) v1alpha2.ClusterNetworkPolicy {
	tier := pickOne(g, admin, base)
	if g.chance(2) {
		tier = "Developer"
	}
	subject := namespacesSubject(g.namespaceSelector())
	if g.chance(50) {
		subject = podsSubject(g.namespaceSelector(), g.podSelector())
	}
	// Priorities start at 1 and collide often, so ties and their warnings
	// are common. Properties reserve priority 0 for their own policies.
	cnp := clusterPolicy(fmt.Sprintf("cnp-%d", index), tier, int32(1+g.rng.IntN(3)), subject)
	for range g.rng.IntN(3) {
		action := g.action()
		var from []v1alpha2.ClusterNetworkPolicyIngressPeer
		for _, peer := range g.clusterPeers(action, false) {
			from = append(from, v1alpha2.ClusterNetworkPolicyIngressPeer{Namespaces: peer.Namespaces, Pods: peer.Pods})
		}
		cnp.Spec.Ingress = append(cnp.Spec.Ingress, clusterIngress(g.ruleName(), action, from, g.clusterProtocols(false)...))
	}
	for range g.rng.IntN(3) {
		action := g.action()
		peers := g.clusterPeers(action, true)
		podPeersOnly := true
		for _, peer := range peers {
			if peer.Nodes != nil || peer.Networks != nil || peer.DomainNames != nil {
				podPeersOnly = false
			}
		}
		cnp.Spec.Egress = append(cnp.Spec.Egress, clusterEgress(g.ruleName(), action, peers, g.clusterProtocols(podPeersOnly)...))
	}
	return cnp
}

func (g generator) action() v1alpha2.ClusterNetworkPolicyRuleAction {
	return pickOne(g, accept, deny, pass)
}

func (g generator) ruleName() string {
	if g.chance(50) {
		return ""
	}
	return fmt.Sprintf("rule-%d", g.rng.IntN(100))
}

// clusterPeers returns one or two peers. Ingress peers use only namespaces
// and pods. An empty peer appears in about 3% of peers.
func (g generator) clusterPeers(action v1alpha2.ClusterNetworkPolicyRuleAction, egressPeers bool) []v1alpha2.ClusterNetworkPolicyEgressPeer {
	var peers []v1alpha2.ClusterNetworkPolicyEgressPeer
	for range 1 + g.rng.IntN(2) {
		kinds := 2
		if egressPeers {
			kinds = 5
		}
		if g.chance(3) {
			peers = append(peers, v1alpha2.ClusterNetworkPolicyEgressPeer{})
			continue
		}
		switch g.rng.IntN(kinds) {
		case 0:
			peers = append(peers, v1alpha2.ClusterNetworkPolicyEgressPeer{Namespaces: g.namespaceSelector()})
		case 1:
			peers = append(peers, v1alpha2.ClusterNetworkPolicyEgressPeer{Pods: &v1alpha2.NamespacedPod{
				NamespaceSelector: *g.namespaceSelector(), PodSelector: *g.podSelector(),
			}})
		case 2:
			peers = append(peers, v1alpha2.ClusterNetworkPolicyEgressPeer{Nodes: g.selector([]string{"zone"}, []string{"east", "west"})})
		case 3:
			peers = append(peers, v1alpha2.ClusterNetworkPolicyEgressPeer{Networks: []v1alpha2.CIDR{v1alpha2.CIDR(pickOne(g, "10.0.0.0/8", "0.0.0.0/0", "8.8.8.8/32", "169.254.169.254/32", "10.0.0.1/8"))}})
		default:
			if action == accept {
				peers = append(peers, v1alpha2.ClusterNetworkPolicyEgressPeer{DomainNames: []v1alpha2.DomainName{"example.com"}})
			} else {
				peers = append(peers, v1alpha2.ClusterNetworkPolicyEgressPeer{Networks: []v1alpha2.CIDR{"8.8.8.0/24"}})
			}
		}
	}
	return peers
}

func (g generator) clusterProtocols(namedPortAllowed bool) []v1alpha2.ClusterNetworkPolicyProtocol {
	var protocols []v1alpha2.ClusterNetworkPolicyProtocol
	for range g.rng.IntN(3) {
		switch g.rng.IntN(6) {
		case 0:
			protocols = append(protocols, tcpPort(pickOne[int32](g, 80, 443, 8080)))
		case 1:
			protocols = append(protocols, udpPort(53))
		case 2:
			protocols = append(protocols, sctpPort(9003))
		case 3:
			protocols = append(protocols, tcpRange(80, pickOne[int32](g, 443, 8080)))
		case 4:
			if namedPortAllowed {
				protocols = append(protocols, v1alpha2.ClusterNetworkPolicyProtocol{DestinationNamedPort: pickOne(g, "http", "dns")})
			}
		default:
			if g.chance(10) {
				protocols = append(protocols, v1alpha2.ClusterNetworkPolicyProtocol{})
			}
		}
	}
	return protocols
}

// endpoints returns the pods plus one node and two addresses outside the
// cluster. About half of the pods run on the node.
func (g generator) endpoints() []Endpoint {
	node := Endpoint{Name: "node/node-1", NodeName: "node-1", IP: netip.MustParseAddr("10.9.0.1"), NodeLabels: labelsOf("zone", pickOne(g, "east", "west"))}
	endpoints := []Endpoint{node, external("resolver", "8.8.8.8"), external("metadata", "169.254.169.254")}
	for i := range g.size.pods {
		namespace := g.namespace()
		endpoint := pod(namespace, fmt.Sprintf("pod-%d", i), fmt.Sprintf("10.0.%d.%d", i/250, 1+i%250),
			labelsOf(podLabelKeys[0], pickOne(g, podLabelValues...), podLabelKeys[1], pickOne(g, podLabelValues...)))
		endpoint.NamespaceLabels = labelsOf("team", pickOne(g, "a", "b"))
		if g.chance(50) {
			endpoint.NodeName = "node-1"
		}
		if g.chance(70) {
			endpoint.Ports = append(endpoint.Ports, containerPort("http", protocolTCP, pickOne[int32](g, 80, 8080)))
		}
		if g.chance(30) {
			endpoint.Ports = append(endpoint.Ports, containerPort("dns", protocolUDP, 53))
		}
		endpoints = append(endpoints, endpoint)
	}
	return endpoints
}
