package reachability

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// e2eCase is one truth table: a pod topology, the policies, the port probed
// and the expected reachability, which starts with every pair allowed.
type e2eCase struct {
	name string
	// pods lists the pods of the topology as "<ns>/<pod>".
	pods []string
	// podLabels and namespaceLabels replace the default labels of a pod
	// ("<ns>/<pod>") or add labels to a namespace.
	podLabels       map[string]map[string]string
	namespaceLabels map[string]map[string]string
	policies        []networkingv1.NetworkPolicy
	port            PortProtocol
	expect          func(*truthTable)
}

func selectPod(name string) *metav1.LabelSelector {
	return matchLabels("pod", name)
}

func namespaceNamed(namespace string) *metav1.LabelSelector {
	return matchLabels(namespaceNameLabel, namespace)
}

var (
	ingressOnly = policyTypes(networkingv1.PolicyTypeIngress)
	egressOnly  = policyTypes(networkingv1.PolicyTypeEgress)
	bothTypes   = policyTypes(networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress)
	tcp80       = PortProtocol{Protocol: protocolTCP, Port: 80}
	tcp81       = PortProtocol{Protocol: protocolTCP, Port: 81}
	udp80       = PortProtocol{Protocol: protocolUDP, Port: 80}
	udp81       = PortProtocol{Protocol: protocolUDP, Port: 81}
	sctp80      = PortProtocol{Protocol: protocolSCTP, Port: 80}
	sctp81      = PortProtocol{Protocol: protocolSCTP, Port: 81}
)

func denyAllIngress(namespace, name string) networkingv1.NetworkPolicy {
	return networkPolicy(namespace, name, networkingv1.NetworkPolicySpec{PolicyTypes: ingressOnly})
}

// Cases from the Kubernetes network policy e2e suite
// (kubernetes/kubernetes test/e2e/network/netpol/network_policy.go): pods a,
// b and c labelled pod=<name> in namespaces x, y and z, each serving ports 80
// and 81 on TCP, UDP and SCTP under the names serve-<port>-<protocol>. A
// policy update in the suite is a separate row here with the final objects.
var e2eCases = []e2eCase{
	{
		name:     "default deny ingress isolates every pod of the namespace",
		pods:     []string{"x/a", "x/b", "y/a", "y/b"},
		policies: []networkingv1.NetworkPolicy{denyAllIngress("x", "deny-ingress")},
		port:     tcp80,
		expect:   func(t *truthTable) { t.expectPeers("", "x/", false) },
	},
	{
		name: "default deny all cuts ingress and egress of the namespace",
		pods: []string{"x/a", "x/b", "y/a"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "deny-all", networkingv1.NetworkPolicySpec{PolicyTypes: bothTypes}),
		},
		port: tcp80,
		expect: func(t *truthTable) {
			t.expectPeers("", "x/", false)
			t.expectPeers("x/", "", false)
		},
	},
	{
		name: "ingress from a same-namespace pod chosen by podSelector",
		pods: []string{"x/a", "x/b", "x/c", "y/a"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "x-a-allows-x-b", networkingv1.NetworkPolicySpec{
				PodSelector: *selectPod("a"), PolicyTypes: ingressOnly,
				Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(podPeer(selectPod("b")))},
			}),
		},
		port: tcp80,
		expect: func(t *truthTable) {
			t.expectPeers("", "x/a", false)
			t.expectPeers("x/b", "x/a", true)
		},
	},
	{
		name: "allow policy for one pod overrides the namespace default deny for that pod only",
		pods: []string{"x/a", "x/b", "y/a"},
		policies: []networkingv1.NetworkPolicy{
			denyAllIngress("x", "deny-all"),
			networkPolicy("x", "allow-all-to-a", networkingv1.NetworkPolicySpec{
				PodSelector: *selectPod("a"), PolicyTypes: ingressOnly,
				Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(namespaceAndPodPeer(matchLabels(), matchLabels()))},
			}),
		},
		port: tcp80,
		expect: func(t *truthTable) {
			t.expectPeers("", "x/a", true)
			t.expectPeers("", "x/b", false)
		},
	},
	{
		name: "empty namespaceSelector admits pods of every namespace",
		pods: []string{"x/a", "x/b", "y/a", "z/a"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "allow-from-another-ns", networkingv1.NetworkPolicySpec{
				PodSelector: *selectPod("a"), PolicyTypes: ingressOnly,
				Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(namespacePeer(matchLabels()))},
			}),
		},
		port:   tcp80,
		expect: func(*truthTable) {},
	},
	{
		name: "ingress only from another namespace chosen by namespaceSelector",
		pods: []string{"x/a", "x/b", "y/a", "z/a"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "allow-client-a-via-ns-selector", networkingv1.NetworkPolicySpec{
				PodSelector: *selectPod("a"), PolicyTypes: ingressOnly,
				Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(namespacePeer(namespaceNamed("y")))},
			}),
		},
		port: tcp80,
		expect: func(t *truthTable) {
			t.expectPeers("x/", "x/a", false)
			t.expectPeers("z/", "x/a", false)
		},
	},
	{
		name: "podSelector with an In expression",
		pods: []string{"x/a", "x/b", "y/a"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "x-a-allows-x-b", networkingv1.NetworkPolicySpec{
				PodSelector: *selectPod("a"), PolicyTypes: ingressOnly,
				Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(podPeer(matchExpression("pod", metav1.LabelSelectorOpIn, "b")))},
			}),
		},
		port: tcp80,
		expect: func(t *truthTable) {
			t.expectPeers("", "x/a", false)
			t.expectPeers("x/b", "x/a", true)
		},
	},
	{
		name: "namespaceSelector with an In expression",
		pods: []string{"x/a", "x/b", "y/a", "z/a"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "allow-ns-y-match-selector", networkingv1.NetworkPolicySpec{
				PodSelector: *selectPod("a"), PolicyTypes: ingressOnly,
				Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(namespacePeer(matchExpression(namespaceNameLabel, metav1.LabelSelectorOpIn, "y")))},
			}),
		},
		port: tcp80,
		expect: func(t *truthTable) {
			t.expectPeers("x/", "x/a", false)
			t.expectPeers("z/", "x/a", false)
		},
	},
	{
		name: "namespace peer and pod peer in one rule are alternatives",
		pods: []string{"x/a", "x/b", "x/c", "y/a"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "allow-ns-y-match-selector", networkingv1.NetworkPolicySpec{
				PodSelector: *selectPod("a"), PolicyTypes: ingressOnly,
				Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(
					namespacePeer(matchExpression(namespaceNameLabel, metav1.LabelSelectorOpNotIn, "x")),
					podPeer(selectPod("b")),
				)},
			}),
		},
		port:   tcp80,
		expect: func(t *truthTable) { t.expectPeers("x/c", "x/a", false) },
	},
	{
		name: "namespaceSelector and podSelector in one peer must both match",
		pods: []string{"x/a", "x/b", "y/a", "y/b", "z/b"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "allow-ns-y-podselector-and-nsselector", networkingv1.NetworkPolicySpec{
				PodSelector: *selectPod("a"), PolicyTypes: ingressOnly,
				Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(namespaceAndPodPeer(
					matchExpression(namespaceNameLabel, metav1.LabelSelectorOpNotIn, "x"), selectPod("b")))},
			}),
		},
		port: tcp80,
		expect: func(t *truthTable) {
			t.expectPeers("", "x/a", false)
			t.expectPeers("y/b", "x/a", true)
			t.expectPeers("z/b", "x/a", true)
		},
	},
	{
		name: "one peer with namespace NotIn and pod In expressions",
		pods: []string{"x/a", "x/b", "y/a", "y/b", "y/c"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "allow-ns-y-z-pod-b-c", networkingv1.NetworkPolicySpec{
				PodSelector: *selectPod("a"), PolicyTypes: ingressOnly,
				Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(namespaceAndPodPeer(
					matchExpression(namespaceNameLabel, metav1.LabelSelectorOpNotIn, "x"),
					matchExpression("pod", metav1.LabelSelectorOpIn, "b", "c")))},
			}),
		},
		port: tcp80,
		expect: func(t *truthTable) {
			t.expectPeers("x/", "x/a", false)
			t.expectPeers("y/a", "x/a", false)
		},
	},
	{
		name: "several podSelector peers are alternatives",
		pods: []string{"x/a", "x/b", "x/c"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "allow-ns-x-pod-b-c", networkingv1.NetworkPolicySpec{
				PodSelector: *selectPod("a"), PolicyTypes: ingressOnly,
				Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(podPeer(selectPod("b")), podPeer(selectPod("c")))},
			}),
		},
		port: tcp80,
		expect: func(t *truthTable) {
			t.expectPeers("", "x/a", false)
			t.expectPeers("x/b", "x/a", true)
			t.expectPeers("x/c", "x/a", true)
		},
	},
	{
		name: "only one pod of another namespace through both selectors",
		pods: []string{"x/a", "x/b", "y/a", "y/b", "z/a"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "allow-ns-y-pod-a-via-namespace-pod-selector", networkingv1.NetworkPolicySpec{
				PodSelector: *selectPod("a"), PolicyTypes: ingressOnly,
				Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(namespaceAndPodPeer(namespaceNamed("y"), selectPod("a")))},
			}),
		},
		port: tcp80,
		expect: func(t *truthTable) {
			t.expectPeers("", "x/a", false)
			t.expectPeers("y/a", "x/a", true)
		},
	},
	{
		name:     "ingress on port 81 from namespace y is allowed on port 81",
		pods:     []string{"x/a", "x/b", "y/a", "y/b", "z/a"},
		policies: []networkingv1.NetworkPolicy{allowFromYOnPort("allow-client-a-via-ns-selector", 81)},
		port:     tcp81,
		expect: func(t *truthTable) {
			t.expectPeers("x/", "x/a", false)
			t.expectPeers("y/", "x/a", true)
			t.expectPeers("z/", "x/a", false)
		},
	},
	{
		name:     "stacked policies: a port 81 policy leaves port 80 denied",
		pods:     []string{"x/a", "x/b", "y/a", "y/b", "z/a"},
		policies: []networkingv1.NetworkPolicy{allowFromYOnPort("allow-client-a-via-ns-selector", 81)},
		port:     tcp80,
		expect:   func(t *truthTable) { t.expectPeers("", "x/a", false) },
	},
	{
		name: "stacked policies: adding a port 80 policy unblocks port 80",
		pods: []string{"x/a", "x/b", "y/a", "y/b", "z/a"},
		policies: []networkingv1.NetworkPolicy{
			allowFromYOnPort("allow-client-a-via-ns-selector", 81),
			allowFromYOnPort("allow-client-a-via-ns-selector-80", 80),
		},
		port: tcp80,
		expect: func(t *truthTable) {
			t.expectPeers("x/", "x/a", false)
			t.expectPeers("y/", "x/a", true)
			t.expectPeers("z/", "x/a", false)
		},
	},
	{
		name: "empty ingress rule allows every source and port",
		pods: []string{"x/a", "x/b", "y/a"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "allow-all", networkingv1.NetworkPolicySpec{
				PolicyTypes: ingressOnly, Ingress: []networkingv1.NetworkPolicyIngressRule{{}},
			}),
		},
		port:   tcp81,
		expect: func(*truthTable) {},
	},
	{
		name:     "named port rule allows the port it names",
		pods:     []string{"x/a", "x/b", "y/a"},
		policies: []networkingv1.NetworkPolicy{allowNamedPortIngress("serve-81-tcp")},
		port:     tcp81,
		expect:   func(*truthTable) {},
	},
	{
		name:     "named port rule denies other ports",
		pods:     []string{"x/a", "x/b", "y/a"},
		policies: []networkingv1.NetworkPolicy{allowNamedPortIngress("serve-81-tcp")},
		port:     tcp80,
		expect:   func(t *truthTable) { t.expectPeers("", "x/", false) },
	},
	{
		name: "named port from namespace y allows port 80 from y",
		pods: []string{"x/a", "x/b", "y/a", "z/a"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "allow-client-a-via-ns-selector-80", networkingv1.NetworkPolicySpec{
				PodSelector: *selectPod("a"), PolicyTypes: ingressOnly,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					From:  []networkingv1.NetworkPolicyPeer{namespacePeer(namespaceNamed("y"))},
					Ports: []networkingv1.NetworkPolicyPort{namedPort(&protocolTCP, "serve-80-tcp")},
				}},
			}),
		},
		port: tcp80,
		expect: func(t *truthTable) {
			t.expectPeers("x/", "x/a", false)
			t.expectPeers("z/", "x/a", false)
		},
	},
	{
		name: "named port from namespace y denies port 81 to everyone",
		pods: []string{"x/a", "x/b", "y/a", "z/a"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "allow-client-a-via-ns-selector-80", networkingv1.NetworkPolicySpec{
				PodSelector: *selectPod("a"), PolicyTypes: ingressOnly,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					From:  []networkingv1.NetworkPolicyPeer{namespacePeer(namespaceNamed("y"))},
					Ports: []networkingv1.NetworkPolicyPort{namedPort(&protocolTCP, "serve-80-tcp")},
				}},
			}),
		},
		port:   tcp81,
		expect: func(t *truthTable) { t.expectPeers("", "x/a", false) },
	},
	{
		name:     "egress named port resolves on the destination and allows port 80",
		pods:     []string{"x/a", "y/a"},
		policies: []networkingv1.NetworkPolicy{allowNamedPortEgress("serve-80-tcp")},
		port:     tcp80,
		expect:   func(*truthTable) {},
	},
	{
		name:     "egress named port denies port 81",
		pods:     []string{"x/a", "y/a"},
		policies: []networkingv1.NetworkPolicy{allowNamedPortEgress("serve-80-tcp")},
		port:     tcp81,
		expect:   func(t *truthTable) { t.expectPeers("x/", "", false) },
	},
	{
		name: "policy whose ingress list is empty denies all ingress",
		pods: []string{"x/a", "y/a"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "allow-all-mutate-to-deny-all", networkingv1.NetworkPolicySpec{
				PolicyTypes: ingressOnly, Ingress: []networkingv1.NetworkPolicyIngressRule{},
			}),
		},
		port:   tcp81,
		expect: func(t *truthTable) { t.expectPeers("", "x/", false) },
	},
	{
		name:     "namespace without the selected label is denied",
		pods:     []string{"x/a", "y/a"},
		policies: []networkingv1.NetworkPolicy{allowFromNamespaceLabelled()},
		port:     tcp80,
		expect:   func(t *truthTable) { t.expectPeers("", "x/a", false) },
	},
	{
		name:            "namespace with the selected label is allowed",
		pods:            []string{"x/a", "y/a"},
		namespaceLabels: map[string]map[string]string{"y": labelsOf("ns2", "updated")},
		policies:        []networkingv1.NetworkPolicy{allowFromNamespaceLabelled()},
		port:            tcp80,
		expect: func(t *truthTable) {
			t.expectPeers("", "x/a", false)
			t.expectPeers("y/", "", true)
		},
	},
	{
		name:     "pod without all selected labels is denied",
		pods:     []string{"x/a", "x/b"},
		policies: []networkingv1.NetworkPolicy{allowFromUpdatedPod()},
		port:     tcp80,
		expect:   func(t *truthTable) { t.expectPeers("", "x/a", false) },
	},
	{
		name:      "pod with all selected labels is allowed",
		pods:      []string{"x/a", "x/b"},
		podLabels: map[string]map[string]string{"x/b": labelsOf("pod", "b", "pod2", "updated")},
		policies:  []networkingv1.NetworkPolicy{allowFromUpdatedPod()},
		port:      tcp80,
		expect: func(t *truthTable) {
			t.expectPeers("", "x/a", false)
			t.expectPeers("x/b", "x/a", true)
		},
	},
	{
		name: "empty podSelector peer admits only the policy's own namespace",
		pods: []string{"x/a", "x/b", "y/a", "z/a"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "deny-empty-policy", networkingv1.NetworkPolicySpec{
				PolicyTypes: ingressOnly,
				Ingress:     []networkingv1.NetworkPolicyIngressRule{ingressFrom(podPeer(matchLabels()))},
			}),
		},
		port: tcp80,
		expect: func(t *truthTable) {
			t.expectPeers("y/", "x/", false)
			t.expectPeers("z/", "x/", false)
		},
	},
	{
		name:     "deny policy does not affect a pod without its label",
		pods:     []string{"x/a", "y/a"},
		policies: []networkingv1.NetworkPolicy{denyIngressToIsolated()},
		port:     tcp80,
		expect:   func(*truthTable) {},
	},
	{
		name:      "deny policy isolates a pod once it has the label",
		pods:      []string{"x/a", "y/a"},
		podLabels: map[string]map[string]string{"x/a": labelsOf("pod", "a", "target", "isolated")},
		policies:  []networkingv1.NetworkPolicy{denyIngressToIsolated()},
		port:      tcp80,
		expect:    func(t *truthTable) { t.expectPeers("", "x/a", false) },
	},
	{
		name: "egress deny selected by podSelector cuts that pod's egress",
		pods: []string{"x/a", "x/b", "y/a"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "deny-egress-pod-a", networkingv1.NetworkPolicySpec{PodSelector: *selectPod("a"), PolicyTypes: egressOnly}),
		},
		port:   tcp80,
		expect: func(t *truthTable) { t.expectPeers("x/a", "", false) },
	},
	{
		name: "egress deny for the whole namespace",
		pods: []string{"x/a", "x/b", "y/a"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "deny-egress-ns-x", networkingv1.NetworkPolicySpec{PolicyTypes: egressOnly}),
		},
		port:   tcp80,
		expect: func(t *truthTable) { t.expectPeers("x/", "", false) },
	},
	{
		name:     "ingress and egress in one policy on the allowed egress port",
		pods:     []string{"x/a", "x/b", "x/c", "y/a"},
		policies: []networkingv1.NetworkPolicy{ingressAndEgressPolicy()},
		port:     tcp80,
		expect: func(t *truthTable) {
			t.expectPeers("", "x/a", false)
			t.expectPeers("x/b", "x/a", true)
		},
	},
	{
		name:     "ingress and egress in one policy on another port",
		pods:     []string{"x/a", "x/b", "x/c", "y/a"},
		policies: []networkingv1.NetworkPolicy{ingressAndEgressPolicy()},
		port:     tcp81,
		expect: func(t *truthTable) {
			t.expectPeers("", "x/a", false)
			t.expectPeers("x/a", "", false)
			t.expectPeers("x/b", "x/a", true)
		},
	},
	{
		name: "egress denial at the client wins over an ingress allow at the server",
		pods: []string{"x/a", "y/a", "y/b"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "allow-to-ns-y-pod-a", networkingv1.NetworkPolicySpec{
				PodSelector: *selectPod("a"), PolicyTypes: egressOnly,
				Egress: []networkingv1.NetworkPolicyEgressRule{egressTo(namespaceAndPodPeer(namespaceNamed("y"), selectPod("a")))},
			}),
			allowFromXA("allow-from-xa-on-ya-match-selector", "a"),
			allowFromXA("allow-from-xa-on-yb-match-selector", "b"),
		},
		port: tcp80,
		expect: func(t *truthTable) {
			t.expectPeers("x/a", "", false)
			t.expectPeers("", "y/a", false)
			t.expectPeers("x/a", "y/a", true)
			t.expectPeers("", "y/b", false)
		},
	},
	{
		name: "egress to a pod of another namespace through both selectors",
		pods: []string{"x/a", "y/a", "y/b"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "allow-to-ns-y-pod-a", networkingv1.NetworkPolicySpec{
				PodSelector: *selectPod("a"), PolicyTypes: egressOnly,
				Egress: []networkingv1.NetworkPolicyEgressRule{egressTo(namespaceAndPodPeer(namespaceNamed("y"), selectPod("a")))},
			}),
		},
		port: tcp80,
		expect: func(t *truthTable) {
			t.expectPeers("x/a", "", false)
			t.expectPeers("x/a", "y/a", true)
		},
	},
	{
		name:     "protocol-only rule allows any TCP port",
		pods:     []string{"x/a", "y/a"},
		policies: []networkingv1.NetworkPolicy{allowProtocolOnly()},
		port:     tcp80,
		expect:   func(*truthTable) {},
	},
	{
		name:     "protocol-only TCP rule denies UDP",
		pods:     []string{"x/a", "y/a"},
		policies: []networkingv1.NetworkPolicy{allowProtocolOnly()},
		port:     udp80,
		expect:   func(t *truthTable) { t.expectPeers("", "x/a", false) },
	},
	{
		name:     "ingress port 80 policy alone denies port 81",
		pods:     []string{"x/a", "y/a"},
		policies: []networkingv1.NetworkPolicy{allowIngressPort80()},
		port:     tcp81,
		expect:   func(t *truthTable) { t.expectPeers("", "x/", false) },
	},
	{
		name: "ingress allow-all policy added to a port 80 policy allows port 81",
		pods: []string{"x/a", "y/a"},
		policies: []networkingv1.NetworkPolicy{
			allowIngressPort80(),
			networkPolicy("x", "allow-ingress", networkingv1.NetworkPolicySpec{PolicyTypes: ingressOnly, Ingress: []networkingv1.NetworkPolicyIngressRule{{}}}),
		},
		port:   tcp81,
		expect: func(*truthTable) {},
	},
	{
		name:     "egress port 80 policy alone denies port 81",
		pods:     []string{"x/a", "y/a"},
		policies: []networkingv1.NetworkPolicy{allowEgressPort80()},
		port:     tcp81,
		expect:   func(t *truthTable) { t.expectPeers("x/", "", false) },
	},
	{
		name: "egress allow-all policy added to a port 80 policy allows port 81",
		pods: []string{"x/a", "y/a"},
		policies: []networkingv1.NetworkPolicy{
			allowEgressPort80(),
			networkPolicy("x", "allow-egress", networkingv1.NetworkPolicySpec{PolicyTypes: egressOnly, Egress: []networkingv1.NetworkPolicyEgressRule{{}}}),
		},
		port:   tcp81,
		expect: func(*truthTable) {},
	},
	{
		name: "egress ipBlock with one pod's address allows only that pod",
		pods: []string{"x/a", "y/a", "y/b"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "allow-client-a-via-cidr-egress-rule", networkingv1.NetworkPolicySpec{
				PodSelector: *selectPod("a"), PolicyTypes: egressOnly,
				Egress: []networkingv1.NetworkPolicyEgressRule{egressTo(ipBlockPeer("10.0.2.2/32"))},
			}),
		},
		port: tcp80,
		expect: func(t *truthTable) {
			t.expectPeers("x/a", "", false)
			t.expectPeers("x/a", "y/b", true)
		},
	},
	{
		name: "egress ipBlock except removes the excepted pod",
		pods: []string{"x/a", "x/b", "x/c"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "allow-client-a-via-cidr-egress-rule", networkingv1.NetworkPolicySpec{
				PodSelector: *selectPod("a"), PolicyTypes: egressOnly,
				Egress: []networkingv1.NetworkPolicyEgressRule{egressTo(ipBlockPeer("10.0.0.0/8", "10.0.1.2/32"))},
			}),
		},
		port:   tcp80,
		expect: func(t *truthTable) { t.expectPeers("x/a", "x/b", false) },
	},
	{
		name: "policy replaced by a rule for the excepted address allows only that address",
		pods: []string{"x/a", "x/b", "x/c"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "allow-client-a-via-cidr-egress-rule", networkingv1.NetworkPolicySpec{
				PodSelector: *selectPod("a"), PolicyTypes: egressOnly,
				Egress: []networkingv1.NetworkPolicyEgressRule{egressTo(ipBlockPeer("10.0.1.2/32"))},
			}),
		},
		port: tcp80,
		expect: func(t *truthTable) {
			t.expectPeers("x/a", "", false)
			t.expectPeers("x/a", "x/b", true)
		},
	},
	{
		name: "ingress and egress are controlled independently",
		pods: []string{"x/a", "x/b", "y/a"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "allow-egress-for-target", networkingv1.NetworkPolicySpec{
				PodSelector: *selectPod("a"), PolicyTypes: egressOnly, Egress: []networkingv1.NetworkPolicyEgressRule{{}},
			}),
			networkPolicy("x", "deny-ingress-via-label-selector", networkingv1.NetworkPolicySpec{PodSelector: *selectPod("a"), PolicyTypes: ingressOnly}),
		},
		port:   tcp80,
		expect: func(t *truthTable) { t.expectPeers("", "x/a", false) },
	},
	{
		name: "SCTP allow rule is not mistaken for TCP",
		pods: []string{"x/a", "y/a"},
		policies: []networkingv1.NetworkPolicy{
			denyAllIngress("x", "deny-ingress"),
			allowOnlyProtocolPort("allow-only-sctp-ingress-on-port-81", &protocolSCTP, 81),
		},
		port:   tcp81,
		expect: func(t *truthTable) { t.expectPeers("", "x/", false) },
	},
	{
		name:     "SCTP-only rule still isolates the pod for TCP",
		pods:     []string{"x/a", "y/a"},
		policies: []networkingv1.NetworkPolicy{allowOnlyProtocolPort("allow-only-sctp-ingress-on-port-80", &protocolSCTP, 80)},
		port:     tcp81,
		expect:   func(t *truthTable) { t.expectPeers("", "x/a", false) },
	},
	{
		name:     "UDP-only rule does not allow TCP",
		pods:     []string{"x/a", "y/a"},
		policies: []networkingv1.NetworkPolicy{allowOnlyProtocolPort("allow-only-udp-ingress-on-port-81", &protocolUDP, 81)},
		port:     tcp81,
		expect:   func(t *truthTable) { t.expectPeers("", "x/a", false) },
	},
	{
		name: "egress namespace NotIn on the automatic name label",
		pods: []string{"x/a", "x/b", "y/a", "z/a"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "allow-ns-y-match-selector-for-immutable-ns-label", networkingv1.NetworkPolicySpec{
				PodSelector: *selectPod("a"), PolicyTypes: egressOnly,
				Egress: []networkingv1.NetworkPolicyEgressRule{egressTo(namespacePeer(matchExpression(namespaceNameLabel, metav1.LabelSelectorOpNotIn, "y")))},
			}),
		},
		port:   tcp80,
		expect: func(t *truthTable) { t.expectPeers("x/a", "y/", false) },
	},
	{
		name:     "UDP default deny ingress isolates the namespace",
		pods:     []string{"x/a", "x/b", "y/a", "y/b"},
		policies: []networkingv1.NetworkPolicy{denyAllIngress("x", "deny-all")},
		port:     udp80,
		expect:   func(t *truthTable) { t.expectPeers("", "x/", false) },
	},
	{
		name: "UDP port 81 from namespace y",
		pods: []string{"x/a", "x/b", "y/a", "z/a"},
		policies: []networkingv1.NetworkPolicy{
			allowFromYOnProtocolPort("allow-ingress-on-port-81-ns-x", &protocolUDP, 81),
		},
		port: udp81,
		expect: func(t *truthTable) {
			t.expectPeers("x/", "x/a", false)
			t.expectPeers("z/", "x/a", false)
		},
	},
	{
		name: "SCTP only from one pod of namespace y",
		pods: []string{"x/a", "x/b", "y/a"},
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("x", "allow-ns-y-pod-a-via-namespace-pod-selector", networkingv1.NetworkPolicySpec{
				PodSelector: *selectPod("a"), PolicyTypes: ingressOnly,
				Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(namespaceAndPodPeer(namespaceNamed("y"), selectPod("a")))},
			}),
		},
		port: sctp80,
		expect: func(t *truthTable) {
			t.expectPeers("", "x/a", false)
			t.expectPeers("y/a", "x/a", true)
		},
	},
	{
		name: "SCTP port 81 from namespace y",
		pods: []string{"x/a", "x/b", "y/a", "z/a"},
		policies: []networkingv1.NetworkPolicy{
			allowFromYOnProtocolPort("allow-ingress-on-port-81-ns-x", &protocolSCTP, 81),
		},
		port: sctp81,
		expect: func(t *truthTable) {
			t.expectPeers("x/", "x/a", false)
			t.expectPeers("z/", "x/a", false)
		},
	},
}

func allowFromYOnPort(name string, port int32) networkingv1.NetworkPolicy {
	return allowFromYOnProtocolPort(name, &protocolTCP, port)
}

func allowFromYOnProtocolPort(name string, protocol *corev1.Protocol, port int32) networkingv1.NetworkPolicy {
	return networkPolicy("x", name, networkingv1.NetworkPolicySpec{
		PodSelector: *selectPod("a"), PolicyTypes: ingressOnly,
		Ingress: []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{namespacePeer(namespaceNamed("y"))},
			Ports: []networkingv1.NetworkPolicyPort{numberedPort(protocol, port)},
		}},
	})
}

func allowNamedPortIngress(portName string) networkingv1.NetworkPolicy {
	return networkPolicy("x", "allow-all", networkingv1.NetworkPolicySpec{
		PolicyTypes: ingressOnly,
		Ingress:     []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{namedPort(nil, portName)}}},
	})
}

func allowNamedPortEgress(portName string) networkingv1.NetworkPolicy {
	return networkPolicy("x", "allow-egress", networkingv1.NetworkPolicySpec{
		PolicyTypes: egressOnly,
		Egress:      []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{namedPort(nil, portName)}}},
	})
}

func allowFromNamespaceLabelled() networkingv1.NetworkPolicy {
	return networkPolicy("x", "allow-client-a-via-ns-selector", networkingv1.NetworkPolicySpec{
		PodSelector: *selectPod("a"), PolicyTypes: ingressOnly,
		Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(namespacePeer(matchLabels("ns2", "updated")))},
	})
}

func allowFromUpdatedPod() networkingv1.NetworkPolicy {
	return networkPolicy("x", "allow-client-a-via-pod-selector", networkingv1.NetworkPolicySpec{
		PodSelector: *selectPod("a"), PolicyTypes: ingressOnly,
		Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(podPeer(matchLabels("pod", "b", "pod2", "updated")))},
	})
}

func denyIngressToIsolated() networkingv1.NetworkPolicy {
	return networkPolicy("x", "deny-ingress-via-label-selector", networkingv1.NetworkPolicySpec{
		PodSelector: *matchLabels("target", "isolated"), PolicyTypes: ingressOnly,
	})
}

func ingressAndEgressPolicy() networkingv1.NetworkPolicy {
	return networkPolicy("x", "allow-client-a-via-pod-selector", networkingv1.NetworkPolicySpec{
		PodSelector: *selectPod("a"),
		PolicyTypes: policyTypes(networkingv1.PolicyTypeEgress, networkingv1.PolicyTypeIngress),
		Ingress:     []networkingv1.NetworkPolicyIngressRule{ingressFrom(podPeer(selectPod("b")))},
		Egress:      []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{numberedPort(nil, 80)}}},
	})
}

func allowFromXA(name, target string) networkingv1.NetworkPolicy {
	return networkPolicy("y", name, networkingv1.NetworkPolicySpec{
		PodSelector: *selectPod(target), PolicyTypes: ingressOnly,
		Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(namespaceAndPodPeer(namespaceNamed("x"), selectPod("a")))},
	})
}

func allowProtocolOnly() networkingv1.NetworkPolicy {
	return networkPolicy("x", "allow-ingress-by-proto", networkingv1.NetworkPolicySpec{
		PodSelector: *selectPod("a"), PolicyTypes: ingressOnly,
		Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Protocol: &protocolTCP}}}},
	})
}

func allowIngressPort80() networkingv1.NetworkPolicy {
	return networkPolicy("x", "allow-ingress-port-80", networkingv1.NetworkPolicySpec{
		PolicyTypes: ingressOnly,
		Ingress:     []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{numberedPort(nil, 80)}}},
	})
}

func allowEgressPort80() networkingv1.NetworkPolicy {
	return networkPolicy("x", "allow-egress-port-80", networkingv1.NetworkPolicySpec{
		PolicyTypes: egressOnly,
		Egress:      []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{numberedPort(nil, 80)}}},
	})
}

func allowOnlyProtocolPort(name string, protocol *corev1.Protocol, port int32) networkingv1.NetworkPolicy {
	return networkPolicy("x", name, networkingv1.NetworkPolicySpec{
		PodSelector: *selectPod("a"), PolicyTypes: ingressOnly,
		Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{numberedPort(protocol, port)}}},
	})
}

func TestNetworkPolicyE2ETruthTables(t *testing.T) {
	if len(e2eCases) < 25 {
		t.Fatalf("only %d e2e cases are translated, expected at least 25", len(e2eCases))
	}
	for _, tc := range e2eCases {
		t.Run(tc.name, func(t *testing.T) {
			evaluator := newEvaluator(t, tc.policies, nil)

			endpoints := make([]Endpoint, len(tc.pods))
			for i, podString := range tc.pods {
				namespace, _, _ := strings.Cut(podString, "/")
				endpoints[i] = e2ePod(podString, tc.podLabels[podString], tc.namespaceLabels[namespace])
			}

			table := newTruthTable(tc.pods, true)
			tc.expect(table)
			compareTruthTable(t, evaluator, endpoints, tc.port, table)
		})
	}
}
