package reachability

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"
)

var (
	protocolTCP  = corev1.ProtocolTCP
	protocolUDP  = corev1.ProtocolUDP
	protocolSCTP = corev1.ProtocolSCTP
)

// labelsOf builds a label map from key, value pairs.
func labelsOf(pairs ...string) map[string]string {
	if len(pairs)%2 != 0 {
		panic(fmt.Sprintf("labelsOf needs key, value pairs, got %q", pairs))
	}
	result := map[string]string{}
	for i := 0; i < len(pairs); i += 2 {
		result[pairs[i]] = pairs[i+1]
	}
	return result
}

// matchLabels builds a selector from key, value pairs. Without pairs it is
// the empty selector, which selects everything.
func matchLabels(pairs ...string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: labelsOf(pairs...)}
}

func matchExpression(key string, operator metav1.LabelSelectorOperator, values ...string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: key, Operator: operator, Values: values}}}
}

func networkPolicy(namespace, name string, spec networkingv1.NetworkPolicySpec) networkingv1.NetworkPolicy {
	return networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       spec,
	}
}

func numberedPort(protocol *corev1.Protocol, port int32) networkingv1.NetworkPolicyPort {
	value := intstr.FromInt32(port)
	return networkingv1.NetworkPolicyPort{Protocol: protocol, Port: &value}
}

func portRange(protocol *corev1.Protocol, first, last int32) networkingv1.NetworkPolicyPort {
	port := numberedPort(protocol, first)
	port.EndPort = &last
	return port
}

func namedPort(protocol *corev1.Protocol, name string) networkingv1.NetworkPolicyPort {
	value := intstr.FromString(name)
	return networkingv1.NetworkPolicyPort{Protocol: protocol, Port: &value}
}

func ingressFrom(peers ...networkingv1.NetworkPolicyPeer) networkingv1.NetworkPolicyIngressRule {
	return networkingv1.NetworkPolicyIngressRule{From: peers}
}

func egressTo(peers ...networkingv1.NetworkPolicyPeer) networkingv1.NetworkPolicyEgressRule {
	return networkingv1.NetworkPolicyEgressRule{To: peers}
}

func podPeer(selector *metav1.LabelSelector) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{PodSelector: selector}
}

func namespacePeer(selector *metav1.LabelSelector) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{NamespaceSelector: selector}
}

func namespaceAndPodPeer(namespaces, pods *metav1.LabelSelector) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{NamespaceSelector: namespaces, PodSelector: pods}
}

func ipBlockPeer(cidr string, except ...string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr, Except: except}}
}

func policyTypes(types ...networkingv1.PolicyType) []networkingv1.PolicyType {
	return types
}

func clusterPolicy(name string, tier v1alpha2.Tier, priority int32, subject v1alpha2.ClusterNetworkPolicySubject) v1alpha2.ClusterNetworkPolicy {
	return v1alpha2.ClusterNetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha2.ClusterNetworkPolicySpec{Tier: tier, Priority: priority, Subject: subject},
	}
}

func namespacesSubject(selector *metav1.LabelSelector) v1alpha2.ClusterNetworkPolicySubject {
	return v1alpha2.ClusterNetworkPolicySubject{Namespaces: selector}
}

func podsSubject(namespaces, pods *metav1.LabelSelector) v1alpha2.ClusterNetworkPolicySubject {
	return v1alpha2.ClusterNetworkPolicySubject{Pods: &v1alpha2.NamespacedPod{NamespaceSelector: *namespaces, PodSelector: *pods}}
}

func clusterIngress(name string, action v1alpha2.ClusterNetworkPolicyRuleAction, from []v1alpha2.ClusterNetworkPolicyIngressPeer, protocols ...v1alpha2.ClusterNetworkPolicyProtocol) v1alpha2.ClusterNetworkPolicyIngressRule {
	return v1alpha2.ClusterNetworkPolicyIngressRule{Name: name, Action: action, From: from, Protocols: protocols}
}

func clusterEgress(name string, action v1alpha2.ClusterNetworkPolicyRuleAction, to []v1alpha2.ClusterNetworkPolicyEgressPeer, protocols ...v1alpha2.ClusterNetworkPolicyProtocol) v1alpha2.ClusterNetworkPolicyEgressRule {
	return v1alpha2.ClusterNetworkPolicyEgressRule{Name: name, Action: action, To: to, Protocols: protocols}
}

func fromNamespaces(selector *metav1.LabelSelector) []v1alpha2.ClusterNetworkPolicyIngressPeer {
	return []v1alpha2.ClusterNetworkPolicyIngressPeer{{Namespaces: selector}}
}

func fromPods(namespaces, pods *metav1.LabelSelector) []v1alpha2.ClusterNetworkPolicyIngressPeer {
	return []v1alpha2.ClusterNetworkPolicyIngressPeer{{Pods: &v1alpha2.NamespacedPod{NamespaceSelector: *namespaces, PodSelector: *pods}}}
}

func toNamespaces(selector *metav1.LabelSelector) []v1alpha2.ClusterNetworkPolicyEgressPeer {
	return []v1alpha2.ClusterNetworkPolicyEgressPeer{{Namespaces: selector}}
}

func toPods(namespaces, pods *metav1.LabelSelector) []v1alpha2.ClusterNetworkPolicyEgressPeer {
	return []v1alpha2.ClusterNetworkPolicyEgressPeer{{Pods: &v1alpha2.NamespacedPod{NamespaceSelector: *namespaces, PodSelector: *pods}}}
}

func toNetworks(cidrs ...v1alpha2.CIDR) []v1alpha2.ClusterNetworkPolicyEgressPeer {
	return []v1alpha2.ClusterNetworkPolicyEgressPeer{{Networks: cidrs}}
}

func toNodes(selector *metav1.LabelSelector) []v1alpha2.ClusterNetworkPolicyEgressPeer {
	return []v1alpha2.ClusterNetworkPolicyEgressPeer{{Nodes: selector}}
}

func tcpPort(number int32) v1alpha2.ClusterNetworkPolicyProtocol {
	return v1alpha2.ClusterNetworkPolicyProtocol{TCP: &v1alpha2.ClusterNetworkPolicyProtocolTCP{DestinationPort: &v1alpha2.Port{Number: number}}}
}

func tcpRange(start, end int32) v1alpha2.ClusterNetworkPolicyProtocol {
	return v1alpha2.ClusterNetworkPolicyProtocol{TCP: &v1alpha2.ClusterNetworkPolicyProtocolTCP{DestinationPort: &v1alpha2.Port{Range: &v1alpha2.PortRange{Start: start, End: end}}}}
}

func udpPort(number int32) v1alpha2.ClusterNetworkPolicyProtocol {
	return v1alpha2.ClusterNetworkPolicyProtocol{UDP: &v1alpha2.ClusterNetworkPolicyProtocolUDP{DestinationPort: &v1alpha2.Port{Number: number}}}
}

func sctpPort(number int32) v1alpha2.ClusterNetworkPolicyProtocol {
	return v1alpha2.ClusterNetworkPolicyProtocol{SCTP: &v1alpha2.ClusterNetworkPolicyProtocolSCTP{DestinationPort: &v1alpha2.Port{Number: number}}}
}

const (
	accept = v1alpha2.ClusterNetworkPolicyRuleActionAccept
	deny   = v1alpha2.ClusterNetworkPolicyRuleActionDeny
	pass   = v1alpha2.ClusterNetworkPolicyRuleActionPass
	admin  = v1alpha2.AdminTier
	base   = v1alpha2.BaselineTier
)

// pod builds a pod endpoint named "<namespace>/<name>".
func pod(namespace, name, ip string, podLabels map[string]string, ports ...corev1.ContainerPort) Endpoint {
	return Endpoint{
		Name:      namespace + "/" + name,
		Namespace: namespace,
		PodLabels: podLabels,
		IP:        netip.MustParseAddr(ip),
		Ports:     ports,
	}
}

func external(name, ip string) Endpoint {
	return Endpoint{Name: name, IP: netip.MustParseAddr(ip)}
}

func containerPort(name string, protocol corev1.Protocol, number int32) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, Protocol: protocol, ContainerPort: number}
}

// newEvaluator builds an Evaluator and fails the test on any warning, since
// the policies in translated cases are all valid and unambiguous.
func newEvaluator(t *testing.T, nps []networkingv1.NetworkPolicy, cnps []v1alpha2.ClusterNetworkPolicy) *Evaluator {
	t.Helper()
	evaluator, warnings := New(nps, cnps)
	for _, warning := range warnings {
		t.Errorf("New returned an unexpected warning: %s", warning)
	}
	return evaluator
}

// probe is one connection with its expected outcome.
type probe struct {
	from, to Endpoint
	protocol corev1.Protocol
	port     int32
	allowed  bool
}

func checkProbes(t *testing.T, evaluator *Evaluator, probes []probe) {
	t.Helper()
	for _, p := range probes {
		verdict := evaluator.Check(Connection{From: p.from, To: p.to, Protocol: p.protocol, Port: p.port})
		if verdict.Allowed != p.allowed {
			t.Errorf("%s -> %s %s/%d: Allowed = %v, expected %v (%s)",
				p.from.Name, p.to.Name, newPortProtocol(p.protocol, p.port).protocol, p.port, verdict.Allowed, p.allowed, verdict.Reason)
		}
	}
}

// truthTable is the expected reachability between pods named "<ns>/<pod>",
// in the style of the Kubernetes network policy e2e suite: it starts with one
// value for every pair and each expectation overrides the pairs it matches.
type truthTable struct {
	pods     []string
	expected map[[2]string]bool
}

func newTruthTable(pods []string, allowed bool) *truthTable {
	table := &truthTable{pods: pods, expected: map[[2]string]bool{}}
	for _, from := range pods {
		for _, to := range pods {
			table.expected[[2]string{from, to}] = allowed
		}
	}
	return table
}

// expectPeers sets every pair whose source matches from and destination
// matches to. A pattern is "ns/pod", "ns/" for a whole namespace or "" for
// every pod.
func (t *truthTable) expectPeers(from, to string, allowed bool) {
	for _, source := range t.pods {
		for _, destination := range t.pods {
			if matchesPattern(source, from) && matchesPattern(destination, to) {
				t.expected[[2]string{source, destination}] = allowed
			}
		}
	}
}

func matchesPattern(podName, pattern string) bool {
	if strings.HasSuffix(pattern, "/") {
		return strings.HasPrefix(podName, pattern)
	}
	return pattern == "" || podName == pattern
}

// e2eNamespaceIndex and e2ePodIndex give each e2e model pod a distinct IP.
var (
	e2eNamespaceIndex = map[string]int{"x": 1, "y": 2, "z": 3}
	e2ePodIndex       = map[string]int{"a": 1, "b": 2, "c": 3}
)

// e2ePod builds a pod of the e2e model: pod <name> in namespace <ns>
// labelled pod=<name>, serving ports 80 and 81 on TCP, UDP and SCTP with the
// names serve-<port>-<protocol>.
func e2ePod(podString string, podLabels map[string]string, namespaceLabels map[string]string) Endpoint {
	namespace, name, _ := strings.Cut(podString, "/")
	ip := fmt.Sprintf("10.0.%d.%d", e2eNamespaceIndex[namespace], e2ePodIndex[name])
	if podLabels == nil {
		podLabels = labelsOf("pod", name)
	}
	var ports []corev1.ContainerPort
	for _, protocol := range []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP} {
		for _, number := range []int32{80, 81} {
			ports = append(ports, containerPort(fmt.Sprintf("serve-%d-%s", number, strings.ToLower(string(protocol))), protocol, number))
		}
	}
	endpoint := pod(namespace, name, ip, podLabels, ports...)
	endpoint.NamespaceLabels = namespaceLabels
	return endpoint
}

// allE2EPods is the full x, y, z by a, b, c model.
var allE2EPods = []string{"x/a", "x/b", "x/c", "y/a", "y/b", "y/c", "z/a", "z/b", "z/c"}

// compareTruthTable checks every pair except a pod with itself, which the
// e2e suite leaves out because network plugins disagree on it.
func compareTruthTable(t *testing.T, evaluator *Evaluator, endpoints []Endpoint, port PortProtocol, table *truthTable) {
	t.Helper()
	verdicts := evaluator.Matrix(endpoints, []PortProtocol{port})
	for from := range endpoints {
		for to := range endpoints {
			if from == to {
				continue
			}
			pair := [2]string{endpoints[from].Name, endpoints[to].Name}
			expected, ok := table.expected[pair]
			if !ok {
				t.Fatalf("truth table has no entry for %s -> %s", pair[0], pair[1])
			}
			verdict := verdicts[MatrixKey{From: from, To: to, Port: port}]
			if verdict.Allowed != expected {
				t.Errorf("%s -> %s %s/%d: Allowed = %v, expected %v (%s)",
					pair[0], pair[1], newPortProtocol(port.Protocol, port.Port).protocol, port.Port, verdict.Allowed, expected, verdict.Reason)
			}
		}
	}
}

// sortedWarningKinds returns the kinds of warnings, sorted, for comparisons.
func sortedWarningKinds(warnings []Warning) []WarningKind {
	kinds := make([]WarningKind, len(warnings))
	for i, warning := range warnings {
		kinds[i] = warning.Kind
	}
	slices.Sort(kinds)
	return kinds
}
