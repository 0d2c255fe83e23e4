package reachability

import (
	"net/netip"
	"slices"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"
)

// housePod builds a pod of the network-policy-api conformance model: two
// pods per namespace network-policy-conformance-<house>, labelled
// conformance-house=<house> like their namespace, serving TCP 80 and 8080,
// UDP 53 and 5353, and SCTP 9003 and 9005.
func housePod(house, name, ip string) Endpoint {
	namespace := "network-policy-conformance-" + house
	endpoint := pod(namespace, name, ip, labelsOf("conformance-house", house),
		containerPort("web", protocolTCP, 80), containerPort("web-alt", protocolTCP, 8080),
		containerPort("dns", protocolUDP, 53), containerPort("dns-alt", protocolUDP, 5353),
		containerPort("sctp", protocolSCTP, 9003), containerPort("sctp-alt", protocolSCTP, 9005))
	endpoint.NamespaceLabels = labelsOf("conformance-house", house)
	return endpoint
}

var (
	harryPotter0   = housePod("gryffindor", "harry-potter-0", "10.2.1.10")
	harryPotter1   = housePod("gryffindor", "harry-potter-1", "10.2.1.11")
	dracoMalfoy0   = housePod("slytherin", "draco-malfoy-0", "10.2.2.10")
	dracoMalfoy1   = housePod("slytherin", "draco-malfoy-1", "10.2.2.11")
	cedricDiggory0 = housePod("hufflepuff", "cedric-diggory-0", "10.2.3.10")
	cedricDiggory1 = housePod("hufflepuff", "cedric-diggory-1", "10.2.3.11")
	lunaLovegood0  = housePod("ravenclaw", "luna-lovegood-0", "10.2.4.10")
	lunaLovegood1  = housePod("ravenclaw", "luna-lovegood-1", "10.2.4.11")
	outsideHost    = external("outside", "192.0.2.10")
)

func house(name string) v1alpha2.ClusterNetworkPolicySubject {
	return namespacesSubject(matchLabels("conformance-house", name))
}

func housePods(name string) v1alpha2.ClusterNetworkPolicySubject {
	return podsSubject(matchLabels("conformance-house", name), matchLabels("conformance-house", name))
}

// houseNamed selects a house namespace by the automatic name label.
func houseNamed(name string) []v1alpha2.ClusterNetworkPolicyIngressPeer {
	return fromNamespaces(matchLabels(namespaceNameLabel, "network-policy-conformance-"+name))
}

func toHouseNamed(name string) []v1alpha2.ClusterNetworkPolicyEgressPeer {
	return toNamespaces(matchLabels(namespaceNameLabel, "network-policy-conformance-"+name))
}

// passExample is the Admin tier policy of the conformance integration
// manifest: gryffindor's traffic with slytherin gets the given actions.
func passExample(ingressAction, egressAction v1alpha2.ClusterNetworkPolicyRuleAction) v1alpha2.ClusterNetworkPolicy {
	cnp := clusterPolicy("pass-example", admin, 10, house("gryffindor"))
	cnp.Spec.Ingress = []v1alpha2.ClusterNetworkPolicyIngressRule{
		clusterIngress("ingress-from-slytherin", ingressAction, fromNamespaces(matchLabels("conformance-house", "slytherin"))),
	}
	cnp.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{
		clusterEgress("egress-to-slytherin", egressAction, toNamespaces(matchLabels("conformance-house", "slytherin"))),
	}
	return cnp
}

// baselineDenySlytherin is the Baseline tier policy of the integration
// manifest.
func baselineDenySlytherin() v1alpha2.ClusterNetworkPolicy {
	cnp := clusterPolicy("default", base, 10, house("gryffindor"))
	cnp.Spec.Ingress = []v1alpha2.ClusterNetworkPolicyIngressRule{
		clusterIngress("deny-all-ingress-from-slytherin", deny, fromNamespaces(matchLabels("conformance-house", "slytherin"))),
	}
	cnp.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{
		clusterEgress("deny-all-egress-to-slytherin", deny, toNamespaces(matchLabels("conformance-house", "slytherin"))),
	}
	return cnp
}

// gryffindorAllowsSlytherin is the NetworkPolicy of the integration manifest.
func gryffindorAllowsSlytherin() networkingv1.NetworkPolicy {
	return networkPolicy("network-policy-conformance-gryffindor", "allow-gress-from-to-slytherin-to-gryffindor", networkingv1.NetworkPolicySpec{
		PolicyTypes: bothTypes,
		Ingress:     []networkingv1.NetworkPolicyIngressRule{ingressFrom(namespacePeer(matchLabels("conformance-house", "slytherin")))},
		Egress:      []networkingv1.NetworkPolicyEgressRule{egressTo(namespacePeer(matchLabels("conformance-house", "slytherin")))},
	})
}

// priorityExample builds the priority manifest: an Admin deny at priority 50,
// an Admin pass at passPriority and a Baseline accept.
func priorityExample(passPriority int32) []v1alpha2.ClusterNetworkPolicy {
	slytherinPods := fromPods(matchLabels("conformance-house", "slytherin"), matchLabels("conformance-house", "slytherin"))
	toSlytherinPods := toPods(matchLabels("conformance-house", "slytherin"), matchLabels("conformance-house", "slytherin"))

	denyPolicy := clusterPolicy("priority-50-example", admin, 50, housePods("gryffindor"))
	denyPolicy.Spec.Ingress = []v1alpha2.ClusterNetworkPolicyIngressRule{clusterIngress("deny-all-ingress-from-slytherin", deny, slytherinPods)}
	denyPolicy.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{clusterEgress("deny-all-egress-to-slytherin", deny, toSlytherinPods)}

	passPolicy := clusterPolicy("old-priority-60-new-priority-40-example", admin, passPriority, housePods("gryffindor"))
	passPolicy.Spec.Ingress = []v1alpha2.ClusterNetworkPolicyIngressRule{clusterIngress("pass-all-ingress-from-slytherin", pass, slytherinPods)}
	passPolicy.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{clusterEgress("pass-all-egress-to-slytherin", pass, toSlytherinPods)}

	acceptPolicy := clusterPolicy("default", base, 10, housePods("gryffindor"))
	acceptPolicy.Spec.Ingress = []v1alpha2.ClusterNetworkPolicyIngressRule{clusterIngress("allow-all-ingress-from-slytherin", accept, slytherinPods)}
	acceptPolicy.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{clusterEgress("allow-all-egress-to-slytherin", accept, toSlytherinPods)}

	return []v1alpha2.ClusterNetworkPolicy{denyPolicy, passPolicy, acceptPolicy}
}

// gressRules builds the combined rules manifest for gryffindor. With
// denyFirst the first two rules of each direction are swapped, as the
// conformance test does to show that rule order decides.
func gressRules(denyFirst bool) v1alpha2.ClusterNetworkPolicy {
	slytherinPorts := []v1alpha2.ClusterNetworkPolicyProtocol{tcpPort(80), udpPort(53), sctpPort(9003)}
	cnp := clusterPolicy("gress-rules", admin, 15, namespacesSubject(matchLabels(namespaceNameLabel, "network-policy-conformance-gryffindor")))
	cnp.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{
		clusterEgress("allow-to-ravenclaw-everything", accept, toHouseNamed("ravenclaw")),
		clusterEgress("deny-to-ravenclaw-everything", deny, toHouseNamed("ravenclaw")),
		clusterEgress("pass-to-ravenclaw-everything", pass, toHouseNamed("ravenclaw")),
		clusterEgress("deny-to-slytherin-at-ports-80-53-9003", deny, toHouseNamed("slytherin"), slytherinPorts...),
		clusterEgress("pass-to-slytherin-at-port-80-53-9003", pass, toHouseNamed("slytherin"), slytherinPorts...),
		clusterEgress("allow-to-hufflepuff-at-ports-8080-5353-9003", accept, toHouseNamed("hufflepuff"), tcpPort(8080), udpPort(5353), sctpPort(9003)),
		clusterEgress("deny-to-hufflepuff-everything-else", deny, toHouseNamed("hufflepuff")),
	}
	cnp.Spec.Ingress = []v1alpha2.ClusterNetworkPolicyIngressRule{
		clusterIngress("allow-from-ravenclaw-everything", accept, houseNamed("ravenclaw")),
		clusterIngress("deny-from-ravenclaw-everything", deny, houseNamed("ravenclaw")),
		clusterIngress("pass-from-ravenclaw-everything", pass, houseNamed("ravenclaw")),
		clusterIngress("deny-from-slytherin-at-port-80-53-9003", deny, houseNamed("slytherin"), slytherinPorts...),
		clusterIngress("pass-from-slytherin-at-port-80-53-9003", pass, houseNamed("slytherin"), slytherinPorts...),
		clusterIngress("allow-from-hufflepuff-at-port-80-5353-9003", accept, houseNamed("hufflepuff"), tcpPort(80), udpPort(5353), sctpPort(9003)),
		clusterIngress("deny-from-hufflepuff-everything-else", deny, houseNamed("hufflepuff")),
	}
	if denyFirst {
		cnp.Spec.Egress[0], cnp.Spec.Egress[1] = cnp.Spec.Egress[1], cnp.Spec.Egress[0]
		cnp.Spec.Ingress[0], cnp.Spec.Ingress[1] = cnp.Spec.Ingress[1], cnp.Spec.Ingress[0]
	}
	return cnp
}

func samePriorityPolicies() []v1alpha2.ClusterNetworkPolicy {
	build := func(name, subjectHouse, peerHouse string, port int32) v1alpha2.ClusterNetworkPolicy {
		cnp := clusterPolicy(name, admin, 15, namespacesSubject(matchLabels(namespaceNameLabel, "network-policy-conformance-"+subjectHouse)))
		cnp.Spec.Ingress = []v1alpha2.ClusterNetworkPolicyIngressRule{clusterIngress("deny-from-"+peerHouse, deny, houseNamed(peerHouse), tcpPort(port))}
		cnp.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{clusterEgress("deny-to-"+peerHouse, deny, toHouseNamed(peerHouse), tcpPort(port))}
		return cnp
	}
	return []v1alpha2.ClusterNetworkPolicy{
		build("same-priority-gryffindor-slytherin", "gryffindor", "slytherin", 80),
		build("same-priority-gryffindor-hufflepuff", "gryffindor", "hufflepuff", 80),
		build("same-priority-hufflepuff-slytherin", "hufflepuff", "slytherin", 8080),
	}
}

type clusterCase struct {
	name     string
	nps      []networkingv1.NetworkPolicy
	cnps     []v1alpha2.ClusterNetworkPolicy
	warnings []WarningKind
	probes   []probe
}

// Cases from the network-policy-api conformance suite
// (kubernetes-sigs/network-policy-api conformance/tests and conformance/base,
// the Admin tier, Baseline tier and api_integration manifests), translated to
// the v1alpha2 types.
var conformanceCases = []clusterCase{
	{
		name: "admin deny overrides a NetworkPolicy allow at ingress",
		nps:  []networkingv1.NetworkPolicy{gryffindorAllowsSlytherin()},
		cnps: []v1alpha2.ClusterNetworkPolicy{passExample(deny, deny), baselineDenySlytherin()},
		probes: []probe{
			{from: dracoMalfoy0, to: harryPotter0, port: 80, allowed: false},
			{from: dracoMalfoy1, to: harryPotter0, port: 8080, allowed: false},
		},
	},
	{
		name: "admin deny overrides a NetworkPolicy allow at egress",
		nps:  []networkingv1.NetworkPolicy{gryffindorAllowsSlytherin()},
		cnps: []v1alpha2.ClusterNetworkPolicy{passExample(deny, deny), baselineDenySlytherin()},
		probes: []probe{
			{from: harryPotter0, to: dracoMalfoy0, port: 80, allowed: false},
			{from: harryPotter1, to: dracoMalfoy0, port: 8080, allowed: false},
		},
	},
	{
		name: "admin pass at ingress hands over to the NetworkPolicy allow",
		nps:  []networkingv1.NetworkPolicy{gryffindorAllowsSlytherin()},
		cnps: []v1alpha2.ClusterNetworkPolicy{passExample(pass, deny), baselineDenySlytherin()},
		probes: []probe{
			{from: dracoMalfoy0, to: harryPotter0, port: 80, allowed: true},
			{from: dracoMalfoy1, to: harryPotter0, port: 8080, allowed: true},
		},
	},
	{
		name: "admin pass at egress hands over to the NetworkPolicy allow",
		nps:  []networkingv1.NetworkPolicy{gryffindorAllowsSlytherin()},
		cnps: []v1alpha2.ClusterNetworkPolicy{passExample(pass, pass), baselineDenySlytherin()},
		probes: []probe{
			{from: harryPotter0, to: dracoMalfoy0, port: 80, allowed: true},
			{from: harryPotter1, to: dracoMalfoy0, port: 8080, allowed: true},
		},
	},
	{
		name: "admin pass without a NetworkPolicy reaches the baseline deny",
		cnps: []v1alpha2.ClusterNetworkPolicy{passExample(pass, pass), baselineDenySlytherin()},
		probes: []probe{
			{from: dracoMalfoy0, to: harryPotter0, port: 80, allowed: false},
			{from: dracoMalfoy1, to: harryPotter0, port: 8080, allowed: false},
			{from: harryPotter0, to: dracoMalfoy0, port: 80, allowed: false},
			{from: harryPotter1, to: dracoMalfoy0, port: 8080, allowed: false},
		},
	},
	{
		name: "lower priority number wins: admin deny at 50 before pass at 60",
		cnps: priorityExample(60),
		probes: []probe{
			{from: dracoMalfoy0, to: harryPotter0, port: 80, allowed: false},
			{from: dracoMalfoy1, to: harryPotter0, port: 8080, allowed: false},
			{from: harryPotter0, to: dracoMalfoy0, port: 80, allowed: false},
			{from: harryPotter1, to: dracoMalfoy0, port: 8080, allowed: false},
		},
	},
	{
		name: "lower priority number wins: pass at 40 before deny at 50 reaches the baseline accept",
		cnps: priorityExample(40),
		probes: []probe{
			{from: dracoMalfoy0, to: harryPotter0, port: 80, allowed: true},
			{from: dracoMalfoy1, to: harryPotter0, port: 8080, allowed: true},
			{from: harryPotter0, to: dracoMalfoy0, port: 80, allowed: true},
			{from: harryPotter1, to: dracoMalfoy0, port: 8080, allowed: true},
		},
	},
	{
		name: "first matching rule wins: accept listed before deny",
		cnps: []v1alpha2.ClusterNetworkPolicy{gressRules(false)},
		probes: []probe{
			{from: harryPotter0, to: lunaLovegood0, port: 80, allowed: true},
			{from: harryPotter1, to: lunaLovegood0, protocol: protocolUDP, port: 53, allowed: true},
			{from: harryPotter0, to: lunaLovegood0, protocol: protocolSCTP, port: 9003, allowed: true},
			{from: lunaLovegood0, to: harryPotter0, port: 80, allowed: true},
			{from: lunaLovegood1, to: harryPotter0, protocol: protocolUDP, port: 53, allowed: true},
			{from: lunaLovegood1, to: harryPotter0, protocol: protocolSCTP, port: 9003, allowed: true},
		},
	},
	{
		name: "first matching rule wins: deny listed before accept",
		cnps: []v1alpha2.ClusterNetworkPolicy{gressRules(true)},
		probes: []probe{
			{from: harryPotter0, to: lunaLovegood1, port: 80, allowed: false},
			{from: harryPotter1, to: lunaLovegood1, protocol: protocolUDP, port: 53, allowed: false},
			{from: harryPotter0, to: lunaLovegood1, protocol: protocolSCTP, port: 9003, allowed: false},
			{from: lunaLovegood0, to: harryPotter1, port: 80, allowed: false},
			{from: lunaLovegood1, to: harryPotter1, protocol: protocolUDP, port: 53, allowed: false},
			{from: lunaLovegood1, to: harryPotter1, protocol: protocolSCTP, port: 9003, allowed: false},
		},
	},
	{
		name: "accept on listed ports then deny everything else",
		cnps: []v1alpha2.ClusterNetworkPolicy{gressRules(false)},
		probes: []probe{
			{from: harryPotter0, to: cedricDiggory1, port: 8080, allowed: true},
			{from: harryPotter1, to: cedricDiggory1, port: 80, allowed: false},
			{from: harryPotter0, to: cedricDiggory1, protocol: protocolUDP, port: 5353, allowed: true},
			{from: harryPotter1, to: cedricDiggory1, protocol: protocolUDP, port: 53, allowed: false},
			{from: harryPotter0, to: cedricDiggory1, protocol: protocolSCTP, port: 9003, allowed: true},
			{from: harryPotter1, to: cedricDiggory1, protocol: protocolSCTP, port: 9005, allowed: false},
			{from: cedricDiggory0, to: harryPotter1, port: 80, allowed: true},
			{from: cedricDiggory1, to: harryPotter1, port: 8080, allowed: false},
			{from: cedricDiggory0, to: harryPotter1, protocol: protocolUDP, port: 5353, allowed: true},
			{from: cedricDiggory1, to: harryPotter1, protocol: protocolUDP, port: 53, allowed: false},
		},
	},
	{
		name: "deny on listed ports leaves other ports to the default",
		cnps: []v1alpha2.ClusterNetworkPolicy{gressRules(false)},
		probes: []probe{
			{from: harryPotter0, to: dracoMalfoy0, port: 80, allowed: false},
			{from: harryPotter1, to: dracoMalfoy0, port: 8080, allowed: true},
			{from: harryPotter0, to: dracoMalfoy0, protocol: protocolUDP, port: 53, allowed: false},
			{from: harryPotter1, to: dracoMalfoy0, protocol: protocolUDP, port: 5353, allowed: true},
			{from: dracoMalfoy0, to: harryPotter0, port: 80, allowed: false},
			{from: dracoMalfoy1, to: harryPotter0, port: 8080, allowed: true},
		},
	},
	{
		name: "networks deny of all addresses also covers pod traffic after a pod accept",
		cnps: []v1alpha2.ClusterNetworkPolicy{func() v1alpha2.ClusterNetworkPolicy {
			cnp := clusterPolicy("inline-cidr-as-peers-example", admin, 85, housePods("gryffindor"))
			cnp.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{
				clusterEgress("allow-egress-to-slytherin", accept, toPods(matchLabels("conformance-house", "slytherin"), matchLabels("conformance-house", "slytherin"))),
				clusterEgress("deny-egress-to-internet", deny, toNetworks("0.0.0.0/0", "::/0")),
			}
			return cnp
		}()},
		probes: []probe{
			{from: harryPotter0, to: dracoMalfoy0, port: 80, allowed: true},
			{from: harryPotter0, to: cedricDiggory0, port: 80, allowed: false},
			{from: harryPotter0, to: outsideHost, port: 443, allowed: false},
			{from: cedricDiggory0, to: harryPotter0, port: 80, allowed: true},
		},
	},
	{
		name: "policy with only ingress rules leaves egress open",
		cnps: []v1alpha2.ClusterNetworkPolicy{func() v1alpha2.ClusterNetworkPolicy {
			cnp := clusterPolicy("admin-ingress-isolation", admin, 20, namespacesSubject(matchLabels(namespaceNameLabel, "network-policy-conformance-gryffindor")))
			cnp.Spec.Ingress = []v1alpha2.ClusterNetworkPolicyIngressRule{clusterIngress("deny-from-slytherin", deny, houseNamed("slytherin"))}
			return cnp
		}()},
		probes: []probe{
			{from: dracoMalfoy0, to: harryPotter0, port: 80, allowed: false},
			{from: harryPotter0, to: dracoMalfoy0, port: 80, allowed: true},
			{from: harryPotter0, to: outsideHost, port: 443, allowed: true},
		},
	},
	{
		name:     "same-priority policies are all applied without bleeding across subjects",
		cnps:     samePriorityPolicies(),
		warnings: []WarningKind{WarningSamePriorityOverlap},
		probes: []probe{
			{from: dracoMalfoy0, to: harryPotter0, port: 80, allowed: false},
			{from: harryPotter0, to: dracoMalfoy0, port: 80, allowed: false},
			{from: cedricDiggory0, to: harryPotter0, port: 80, allowed: false},
			{from: harryPotter1, to: cedricDiggory0, port: 80, allowed: false},
			{from: dracoMalfoy1, to: cedricDiggory0, port: 8080, allowed: false},
			{from: cedricDiggory1, to: dracoMalfoy0, port: 8080, allowed: false},
			{from: dracoMalfoy0, to: harryPotter0, port: 8080, allowed: true},
			{from: harryPotter0, to: dracoMalfoy0, port: 8080, allowed: true},
			{from: dracoMalfoy1, to: cedricDiggory0, port: 80, allowed: true},
			{from: cedricDiggory0, to: dracoMalfoy0, port: 80, allowed: true},
			{from: lunaLovegood0, to: harryPotter0, port: 80, allowed: true},
			{from: harryPotter1, to: lunaLovegood0, port: 80, allowed: true},
		},
	},
	{
		name: "admin deny of the own namespace applies to a pod's traffic to itself",
		cnps: []v1alpha2.ClusterNetworkPolicy{func() v1alpha2.ClusterNetworkPolicy {
			cnp := clusterPolicy("hairpin-ingress-deny", admin, 15, namespacesSubject(matchLabels(namespaceNameLabel, "network-policy-conformance-gryffindor")))
			cnp.Spec.Ingress = []v1alpha2.ClusterNetworkPolicyIngressRule{clusterIngress("deny-gryffindor-ingress", deny, houseNamed("gryffindor"))}
			return cnp
		}()},
		probes: []probe{
			{from: harryPotter0, to: harryPotter0, port: 80, allowed: false},
			{from: harryPotter1, to: harryPotter0, port: 80, allowed: false},
			{from: dracoMalfoy0, to: harryPotter0, port: 80, allowed: true},
		},
	},
	{
		name: "port range matches its inclusive bounds only",
		cnps: []v1alpha2.ClusterNetworkPolicy{func() v1alpha2.ClusterNetworkPolicy {
			cnp := clusterPolicy("port-range-example", admin, 4, house("gryffindor"))
			cnp.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{
				clusterEgress("deny-to-slytherin-80-to-8080", deny, toNamespaces(matchLabels("conformance-house", "slytherin")), tcpRange(80, 8080)),
			}
			return cnp
		}()},
		probes: []probe{
			{from: harryPotter0, to: dracoMalfoy0, port: 80, allowed: false},
			{from: harryPotter0, to: dracoMalfoy0, port: 8080, allowed: false},
			{from: harryPotter0, to: dracoMalfoy0, port: 8081, allowed: true},
			{from: harryPotter0, to: dracoMalfoy0, port: 79, allowed: true},
			{from: harryPotter0, to: dracoMalfoy0, protocol: protocolUDP, port: 5353, allowed: true},
		},
	},
}

// Cases from the ClusterNetworkPolicy doc comments in
// sigs.k8s.io/network-policy-api v0.3.0 apis/v1alpha2.
var docCommentCases = []clusterCase{
	{
		name: "baseline deny is overridden by a NetworkPolicy allow",
		nps:  []networkingv1.NetworkPolicy{gryffindorAllowsSlytherin()},
		cnps: []v1alpha2.ClusterNetworkPolicy{baselineDenySlytherin()},
		probes: []probe{
			{from: dracoMalfoy0, to: harryPotter0, port: 80, allowed: true},
			{from: harryPotter0, to: dracoMalfoy0, port: 80, allowed: true},
		},
	},
	{
		name: "NetworkPolicy isolation decides without consulting a baseline accept",
		nps: []networkingv1.NetworkPolicy{
			networkPolicy("network-policy-conformance-gryffindor", "deny-all", networkingv1.NetworkPolicySpec{PolicyTypes: ingressOnly}),
		},
		cnps: []v1alpha2.ClusterNetworkPolicy{func() v1alpha2.ClusterNetworkPolicy {
			cnp := clusterPolicy("baseline-accept", base, 1, house("gryffindor"))
			cnp.Spec.Ingress = []v1alpha2.ClusterNetworkPolicyIngressRule{clusterIngress("accept-everyone", accept, fromNamespaces(matchLabels()))}
			return cnp
		}()},
		probes: []probe{
			{from: dracoMalfoy0, to: harryPotter0, port: 80, allowed: false},
		},
	},
	{
		name: "baseline pass falls through to the default allow",
		cnps: []v1alpha2.ClusterNetworkPolicy{func() v1alpha2.ClusterNetworkPolicy {
			passPolicy := clusterPolicy("baseline-pass", base, 1, house("gryffindor"))
			passPolicy.Spec.Ingress = []v1alpha2.ClusterNetworkPolicyIngressRule{clusterIngress("pass-slytherin", pass, fromNamespaces(matchLabels("conformance-house", "slytherin")))}
			return passPolicy
		}(), func() v1alpha2.ClusterNetworkPolicy {
			denyPolicy := clusterPolicy("baseline-deny", base, 2, house("gryffindor"))
			denyPolicy.Spec.Ingress = []v1alpha2.ClusterNetworkPolicyIngressRule{clusterIngress("deny-everyone", deny, fromNamespaces(matchLabels()))}
			return denyPolicy
		}()},
		probes: []probe{
			{from: dracoMalfoy0, to: harryPotter0, port: 80, allowed: true},
			{from: cedricDiggory0, to: harryPotter0, port: 80, allowed: false},
		},
	},
	{
		name: "admin egress accept skips NetworkPolicy egress but not the destination's ingress",
		nps: []networkingv1.NetworkPolicy{
			networkPolicy("network-policy-conformance-gryffindor", "deny-egress", networkingv1.NetworkPolicySpec{PolicyTypes: egressOnly}),
			networkPolicy("network-policy-conformance-hufflepuff", "deny-ingress", networkingv1.NetworkPolicySpec{PolicyTypes: ingressOnly}),
		},
		cnps: []v1alpha2.ClusterNetworkPolicy{func() v1alpha2.ClusterNetworkPolicy {
			cnp := clusterPolicy("accept-egress", admin, 1, house("gryffindor"))
			cnp.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{clusterEgress("accept-all", accept, toNamespaces(matchLabels()))}
			return cnp
		}()},
		probes: []probe{
			{from: harryPotter0, to: dracoMalfoy0, port: 80, allowed: true},
			{from: harryPotter0, to: cedricDiggory0, port: 80, allowed: false},
			{from: harryPotter0, to: outsideHost, port: 80, allowed: false},
		},
	},
	{
		name: "destination named port matches the destination's container port",
		cnps: []v1alpha2.ClusterNetworkPolicy{func() v1alpha2.ClusterNetworkPolicy {
			cnp := clusterPolicy("deny-dns-alt", admin, 1, house("gryffindor"))
			cnp.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{clusterEgress("deny-dns-alt", deny, toNamespaces(matchLabels()),
				v1alpha2.ClusterNetworkPolicyProtocol{DestinationNamedPort: "dns-alt"})}
			return cnp
		}()},
		probes: []probe{
			{from: harryPotter0, to: dracoMalfoy0, protocol: protocolUDP, port: 5353, allowed: false},
			{from: harryPotter0, to: dracoMalfoy0, protocol: protocolTCP, port: 5353, allowed: true},
			{from: harryPotter0, to: dracoMalfoy0, protocol: protocolUDP, port: 53, allowed: true},
		},
	},
	{
		name: "nodes peer matches node addresses by node labels",
		cnps: []v1alpha2.ClusterNetworkPolicy{func() v1alpha2.ClusterNetworkPolicy {
			cnp := clusterPolicy("deny-control-plane", admin, 1, house("gryffindor"))
			cnp.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{clusterEgress("deny-control-plane", deny, toNodes(matchExpression("node-role.kubernetes.io/control-plane", metav1.LabelSelectorOpExists)))}
			return cnp
		}()},
		probes: []probe{
			{from: harryPotter0, to: controlPlaneNode, port: 6443, allowed: false},
			{from: harryPotter0, to: workerNode, port: 10250, allowed: true},
			{from: dracoMalfoy0, to: controlPlaneNode, port: 6443, allowed: true},
		},
	},
	{
		name: "networks peer matches addresses outside the cluster",
		cnps: []v1alpha2.ClusterNetworkPolicy{func() v1alpha2.ClusterNetworkPolicy {
			cnp := clusterPolicy("deny-documentation-range", admin, 1, house("gryffindor"))
			cnp.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{clusterEgress("deny-test-net-1", deny, toNetworks("192.0.2.0/24"))}
			return cnp
		}()},
		probes: []probe{
			{from: harryPotter0, to: outsideHost, port: 443, allowed: false},
			{from: harryPotter0, to: external("other", "198.51.100.7"), port: 443, allowed: true},
			{from: harryPotter0, to: dracoMalfoy0, port: 80, allowed: true},
		},
	},
}

var (
	controlPlaneNode = Endpoint{Name: "node/control-plane-1", NodeName: "control-plane-1", IP: netip.MustParseAddr("10.9.0.1"),
		NodeLabels: labelsOf("node-role.kubernetes.io/control-plane", "")}
	workerNode = Endpoint{Name: "node/worker-1", NodeName: "worker-1", IP: netip.MustParseAddr("10.9.0.2"),
		NodeLabels: labelsOf("kubernetes.io/hostname", "worker-1")}
)

func TestClusterNetworkPolicyConformance(t *testing.T) {
	if len(conformanceCases)+len(docCommentCases) < 10 {
		t.Fatalf("only %d ClusterNetworkPolicy cases are translated, expected at least 10", len(conformanceCases)+len(docCommentCases))
	}
	for _, tc := range append(append([]clusterCase{}, conformanceCases...), docCommentCases...) {
		t.Run(tc.name, func(t *testing.T) {
			evaluator, warnings := New(tc.nps, tc.cnps)
			if got := sortedWarningKinds(warnings); !slices.Equal(got, tc.warnings) {
				t.Errorf("warning kinds = %v, expected %v (%v)", got, tc.warnings, warnings)
			}
			checkProbes(t, evaluator, tc.probes)
		})
	}
}
