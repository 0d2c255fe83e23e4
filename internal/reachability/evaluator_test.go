package reachability

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"
)

func denyBothDirections(namespace string) networkingv1.NetworkPolicy {
	return networkPolicy(namespace, "deny-all", networkingv1.NetworkPolicySpec{PolicyTypes: bothTypes})
}

func TestPodReachesItselfUnderNetworkPolicy(t *testing.T) {
	evaluator := newEvaluator(t, []networkingv1.NetworkPolicy{denyBothDirections("server")}, nil)

	verdict := evaluator.Check(Connection{From: trapServer, To: trapServer, Port: 80})
	if !verdict.Allowed {
		t.Errorf("pod -> itself: Allowed = false, expected true (%s)", verdict.Reason)
	}
	if !strings.Contains(verdict.Reason, "connection to itself is always allowed") {
		t.Errorf("Reason %q does not name the self-connection exception", verdict.Reason)
	}
	checkProbes(t, evaluator, []probe{
		{from: trapServerMonitor, to: trapServer, port: 80, allowed: false},
	})
}

func TestOwnNodeAlwaysAllowedByNetworkPolicy(t *testing.T) {
	server := trapServer
	server.NodeName = "worker-1"
	ownNode := Endpoint{Name: "node/worker-1", NodeName: "worker-1", IP: workerNode.IP, NodeLabels: workerNode.NodeLabels}
	otherNode := Endpoint{Name: "node/worker-2", NodeName: "worker-2", IP: controlPlaneNode.IP, NodeLabels: labelsOf("kubernetes.io/hostname", "worker-2")}
	evaluator := newEvaluator(t, []networkingv1.NetworkPolicy{denyBothDirections("server")}, nil)

	checkProbes(t, evaluator, []probe{
		{from: ownNode, to: server, port: 8080, allowed: true},
		{from: server, to: ownNode, port: 10250, allowed: true},
		{from: otherNode, to: server, port: 8080, allowed: false},
		{from: server, to: otherNode, port: 10250, allowed: false},
	})
}

func TestNamespaceNameLabelIsSetFromNamespace(t *testing.T) {
	evaluator := newEvaluator(t, []networkingv1.NetworkPolicy{
		networkPolicy("server", "allow-from-client-namespace", networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(namespacePeer(matchLabels(namespaceNameLabel, "client")))},
		}),
	}, nil)

	withoutLabel := trapClient
	withoutLabel.NamespaceLabels = nil
	withWrongLabel := trapClient
	withWrongLabel.NamespaceLabels = labelsOf(namespaceNameLabel, "server", "team", "web")
	impostor := withNamespaceLabels(pod("intruder", "web", "10.3.9.9", labelsOf("app", "web")), labelsOf(namespaceNameLabel, "client"))

	checkProbes(t, evaluator, []probe{
		{from: withoutLabel, to: trapServer, port: 80, allowed: true},
		{from: withWrongLabel, to: trapServer, port: 80, allowed: true},
		{from: impostor, to: trapServer, port: 80, allowed: false},
	})
	if withWrongLabel.NamespaceLabels[namespaceNameLabel] != "server" {
		t.Errorf("Check changed the caller's NamespaceLabels to %v", withWrongLabel.NamespaceLabels)
	}
}

func TestEndpointsOutsideTheClusterHaveNoPolicies(t *testing.T) {
	denyEverything := clusterPolicy("deny-everything", admin, 0, namespacesSubject(matchLabels()))
	denyEverything.Spec.Ingress = []v1alpha2.ClusterNetworkPolicyIngressRule{clusterIngress("deny-all-in", deny, fromNamespaces(matchLabels()))}
	denyEverything.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{clusterEgress("deny-all-out", deny, toNetworks("0.0.0.0/0"))}
	evaluator := newEvaluator(t, []networkingv1.NetworkPolicy{denyBothDirections("server")}, []v1alpha2.ClusterNetworkPolicy{denyEverything})

	verdict := evaluator.Check(Connection{From: trapPublicResolver, To: workerNode, Port: 10250})
	if !verdict.Allowed {
		t.Errorf("external -> node: Allowed = false, expected true (%s)", verdict.Reason)
	}
	if verdict.Egress.Layer != LayerNotPod {
		t.Errorf("egress Layer = %s, expected %s", verdict.Egress.Layer, LayerNotPod)
	}
	if verdict.Ingress.Layer != LayerNotPod {
		t.Errorf("ingress Layer = %s, expected %s", verdict.Ingress.Layer, LayerNotPod)
	}
}

func TestPortRangeWithEndPort(t *testing.T) {
	evaluator := newEvaluator(t, []networkingv1.NetworkPolicy{
		networkPolicy("server", "allow-range", networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{portRange(&protocolTCP, 8000, 8080)}}},
		}),
	}, nil)

	checkProbes(t, evaluator, []probe{
		{from: trapClient, to: trapServer, port: 7999, allowed: false},
		{from: trapClient, to: trapServer, port: 8000, allowed: true},
		{from: trapClient, to: trapServer, port: 8080, allowed: true},
		{from: trapClient, to: trapServer, port: 8081, allowed: false},
		{from: trapClient, to: trapServer, protocol: protocolUDP, port: 8000, allowed: false},
	})
}

func TestEmptyProtocolMeansTCP(t *testing.T) {
	evaluator := newEvaluator(t, []networkingv1.NetworkPolicy{
		networkPolicy("server", "allow-80", networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{numberedPort(nil, 80)}}},
		}),
	}, nil)

	checkProbes(t, evaluator, []probe{
		{from: trapClient, to: trapServer, protocol: "", port: 80, allowed: true},
		{from: trapClient, to: trapServer, protocol: protocolTCP, port: 80, allowed: true},
		{from: trapClient, to: trapServer, protocol: protocolUDP, port: 80, allowed: false},
		{from: trapClient, to: trapServer, protocol: protocolSCTP, port: 80, allowed: false},
	})
}

func TestVerdictDecisions(t *testing.T) {
	adminPass := clusterPolicy("admin-pass-web", admin, 3, namespacesSubject(matchLabels(namespaceNameLabel, "server")))
	adminPass.Spec.Ingress = []v1alpha2.ClusterNetworkPolicyIngressRule{
		clusterIngress("", pass, fromNamespaces(matchLabels(namespaceNameLabel, "client"))),
	}
	baselineDeny := clusterPolicy("baseline-deny-ops", base, 8, namespacesSubject(matchLabels(namespaceNameLabel, "server")))
	baselineDeny.Spec.Ingress = []v1alpha2.ClusterNetworkPolicyIngressRule{
		clusterIngress("deny-ops", deny, fromNamespaces(matchLabels("team", "ops"))),
	}
	evaluator := newEvaluator(t, []networkingv1.NetworkPolicy{
		networkPolicy("client", "egress-to-server", networkingv1.NetworkPolicySpec{
			PolicyTypes: egressOnly,
			Egress:      []networkingv1.NetworkPolicyEgressRule{egressTo(namespacePeer(matchLabels(namespaceNameLabel, "server")))},
		}),
	}, []v1alpha2.ClusterNetworkPolicy{adminPass, baselineDeny})

	tests := []struct {
		name       string
		connection Connection
		expected   Verdict
	}{
		{
			name:       "NetworkPolicy allow then admin pass to the default",
			connection: Connection{From: trapClient, To: trapServer, Port: 80},
			expected: Verdict{
				Allowed: true,
				Egress:  Decision{Evaluated: true, Allowed: true, Layer: LayerNetworkPolicy, Policy: "client/egress-to-server", Rule: "egress[0]", Reason: "NetworkPolicy client/egress-to-server rule egress[0] allows"},
				Ingress: Decision{Evaluated: true, Allowed: true, Layer: LayerDefault,
					Reason: "ClusterNetworkPolicy admin-pass-web rule ingress[0] (Admin, priority 3) passes; then no policy decides, so the connection is allowed by default"},
				Reason: "egress: NetworkPolicy client/egress-to-server rule egress[0] allows; " +
					"ingress: ClusterNetworkPolicy admin-pass-web rule ingress[0] (Admin, priority 3) passes; then no policy decides, so the connection is allowed by default",
			},
		},
		{
			name:       "NetworkPolicy egress denial leaves ingress unevaluated",
			connection: Connection{From: trapClient, To: trapOpsMonitor, Port: 9090},
			expected: Verdict{
				Allowed: false,
				Egress: Decision{Evaluated: true, Allowed: false, Layer: LayerNetworkPolicy,
					Reason: "NetworkPolicy client/egress-to-server isolates the pod for egress and no egress rule matches, so it is denied"},
				Reason: "egress: NetworkPolicy client/egress-to-server isolates the pod for egress and no egress rule matches, so it is denied; ingress: not evaluated",
			},
		},
		{
			name:       "baseline deny",
			connection: Connection{From: trapOpsMonitor, To: trapServer, Port: 80},
			expected: Verdict{
				Allowed: false,
				Egress:  Decision{Evaluated: true, Allowed: true, Layer: LayerDefault, Reason: "no policy decides, so the connection is allowed by default"},
				Ingress: Decision{Evaluated: true, Allowed: false, Layer: LayerBaseline, Policy: "baseline-deny-ops", Rule: "deny-ops",
					Reason: "ClusterNetworkPolicy baseline-deny-ops rule deny-ops (Baseline, priority 8) denies"},
				Reason: "egress: no policy decides, so the connection is allowed by default; ingress: ClusterNetworkPolicy baseline-deny-ops rule deny-ops (Baseline, priority 8) denies",
			},
		},
		{
			name:       "endpoint outside the cluster",
			connection: Connection{From: trapPublicResolver, To: trapClient, Protocol: protocolUDP, Port: 53},
			expected: Verdict{
				Allowed: true,
				Egress:  Decision{Evaluated: true, Allowed: true, Layer: LayerNotPod, Reason: "source is not a pod, so no policy applies"},
				Ingress: Decision{Evaluated: true, Allowed: true, Layer: LayerDefault, Reason: "no policy decides, so the connection is allowed by default"},
				Reason:  "egress: source is not a pod, so no policy applies; ingress: no policy decides, so the connection is allowed by default",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			verdict := evaluator.Check(tc.connection)
			if diff := cmp.Diff(tc.expected, verdict); diff != "" {
				t.Errorf("Check returned an unexpected verdict (-expected +got):\n%s", diff)
			}
		})
	}
}

func TestAmbiguousSamePriorityVerdict(t *testing.T) {
	acceptWeb := clusterPolicy("a-accept-web", admin, 5, namespacesSubject(matchLabels(namespaceNameLabel, "server")))
	acceptWeb.Spec.Ingress = []v1alpha2.ClusterNetworkPolicyIngressRule{clusterIngress("accept-client", accept, fromNamespaces(matchLabels(namespaceNameLabel, "client")))}
	denyWeb := clusterPolicy("b-deny-web", admin, 5, namespacesSubject(matchLabels(namespaceNameLabel, "server")))
	denyWeb.Spec.Ingress = []v1alpha2.ClusterNetworkPolicyIngressRule{
		clusterIngress("deny-client", deny, fromNamespaces(matchLabels(namespaceNameLabel, "client"))),
		clusterIngress("accept-ops", accept, fromNamespaces(matchLabels("team", "ops"))),
	}
	evaluator, warnings := New(nil, []v1alpha2.ClusterNetworkPolicy{denyWeb, acceptWeb})
	if got := sortedWarningKinds(warnings); !cmp.Equal(got, []WarningKind{WarningSamePriorityOverlap}) {
		t.Errorf("warning kinds = %v, expected one %s", got, WarningSamePriorityOverlap)
	}

	conflicting := evaluator.Check(Connection{From: trapClient, To: trapServer, Port: 80})
	if !conflicting.Ambiguous {
		t.Errorf("client -> server: Ambiguous = false, expected true (%s)", conflicting.Reason)
	}
	if !conflicting.Ingress.Ambiguous {
		t.Errorf("client -> server: Ingress.Ambiguous = false, expected true")
	}
	if conflicting.Ingress.Policy != "a-accept-web" {
		t.Errorf("client -> server: deciding policy = %q, expected the first by name, a-accept-web", conflicting.Ingress.Policy)
	}
	if !strings.Contains(conflicting.Reason, "order undefined: ClusterNetworkPolicy b-deny-web rule deny-client at the same priority would deny") {
		t.Errorf("Reason %q does not name the conflicting rule", conflicting.Reason)
	}

	unambiguous := evaluator.Check(Connection{From: trapOpsMonitor, To: trapServer, Port: 80})
	if unambiguous.Ambiguous {
		t.Errorf("ops -> server: Ambiguous = true, expected false because only one policy matches (%s)", unambiguous.Reason)
	}
	if !unambiguous.Allowed {
		t.Errorf("ops -> server: Allowed = false, expected true (%s)", unambiguous.Reason)
	}
}

func TestFailClosedClusterPolicyEntries(t *testing.T) {
	denyWithEmptyPeer := clusterPolicy("deny-with-empty-peer", admin, 1, namespacesSubject(matchLabels(namespaceNameLabel, "server")))
	denyWithEmptyPeer.Spec.Ingress = []v1alpha2.ClusterNetworkPolicyIngressRule{
		clusterIngress("deny-ops", deny, []v1alpha2.ClusterNetworkPolicyIngressPeer{{Namespaces: matchLabels("team", "ops")}, {}}),
	}
	passWithEmptyProtocol := clusterPolicy("pass-with-empty-protocol", admin, 2, namespacesSubject(matchLabels(namespaceNameLabel, "client")))
	passWithEmptyProtocol.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{
		clusterEgress("pass-dns", pass, toNetworks("8.8.8.8/32"), udpPort(53), v1alpha2.ClusterNetworkPolicyProtocol{}),
	}
	acceptWithEmptyPeer := clusterPolicy("accept-with-empty-peer", admin, 3, namespacesSubject(matchLabels(namespaceNameLabel, "dev")))
	acceptWithEmptyPeer.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{
		clusterEgress("accept-resolver", accept, []v1alpha2.ClusterNetworkPolicyEgressPeer{{}, {Networks: []v1alpha2.CIDR{"8.8.8.8/32"}}}),
	}
	devDenyEgress := networkPolicy("dev", "deny-egress", networkingv1.NetworkPolicySpec{PolicyTypes: egressOnly})

	evaluator, warnings := New([]networkingv1.NetworkPolicy{devDenyEgress}, []v1alpha2.ClusterNetworkPolicy{denyWithEmptyPeer, passWithEmptyProtocol, acceptWithEmptyPeer})
	expectedKinds := []WarningKind{WarningFailClosed, WarningFailClosed, WarningFailClosed}
	if got := sortedWarningKinds(warnings); !cmp.Equal(got, expectedKinds) {
		t.Errorf("warning kinds = %v, expected %v (%v)", got, expectedKinds, warnings)
	}

	checkProbes(t, evaluator, []probe{
		// The Deny rule with an empty peer denies every source.
		{from: trapClient, to: trapServer, port: 80, allowed: false},
		// The Pass rule with an empty protocol entry denies every destination.
		{from: trapClient, to: trapMetadata, port: 80, allowed: false},
		// The Accept rule ignores its empty peer and still accepts the
		// resolver, which the NetworkPolicy alone would deny.
		{from: trapDevMonitor, to: trapPublicResolver, protocol: protocolUDP, port: 53, allowed: true},
		{from: trapDevMonitor, to: trapMetadata, port: 80, allowed: false},
	})
}

func TestDomainNamesPeerMatchesNothing(t *testing.T) {
	acceptDomain := clusterPolicy("accept-example-domain", admin, 1, namespacesSubject(matchLabels(namespaceNameLabel, "client")))
	acceptDomain.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{
		clusterEgress("accept-example", accept, []v1alpha2.ClusterNetworkPolicyEgressPeer{{DomainNames: []v1alpha2.DomainName{"*.example.com"}}}),
		clusterEgress("deny-rest", deny, toNetworks("0.0.0.0/0")),
	}
	evaluator, warnings := New(nil, []v1alpha2.ClusterNetworkPolicy{acceptDomain})
	if got := sortedWarningKinds(warnings); !cmp.Equal(got, []WarningKind{WarningUnevaluatedPeer}) {
		t.Errorf("warning kinds = %v, expected one %s (%v)", got, WarningUnevaluatedPeer, warnings)
	}
	checkProbes(t, evaluator, []probe{
		{from: trapClient, to: recipeInternet, port: 443, allowed: false},
	})
}

func TestInvalidPoliciesAreReportedAndLeftOut(t *testing.T) {
	invalidPort := intstr.FromInt32(0)
	endBeforeStart := int32(79)
	networkPolicies := []struct {
		name     string
		policy   networkingv1.NetworkPolicy
		mentions string
	}{
		{"empty namespace", networkPolicy("", "deny-all", networkingv1.NetworkPolicySpec{}), "metadata.namespace"},
		{"invalid selector operator", networkPolicy("server", "bad-operator", networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}},
		}), "spec.podSelector"},
		{"invalid cidr", networkPolicy("server", "bad-cidr", networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(ipBlockPeer("10.0.0.0/33"))},
		}), "spec.ingress[0].from[0].ipBlock.cidr"},
		{"except outside cidr", networkPolicy("server", "bad-except", networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(ipBlockPeer("10.0.0.0/16", "10.1.0.0/24"))},
		}), "spec.ingress[0].from[0].ipBlock.except[0]"},
		{"except equal to cidr", networkPolicy("server", "bad-except", networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(ipBlockPeer("10.0.0.0/16", "10.0.0.0/16"))},
		}), "strict subset"},
		{"ipBlock with a selector", networkPolicy("server", "mixed-peer", networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(networkingv1.NetworkPolicyPeer{
				PodSelector: matchLabels(), IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8"},
			})},
		}), "spec.ingress[0].from[0]"},
		{"empty peer", networkPolicy("server", "empty-peer", networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(networkingv1.NetworkPolicyPeer{})},
		}), "sets no field"},
		{"port zero", networkPolicy("server", "port-zero", networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: &invalidPort}}}},
		}), "spec.ingress[0].ports[0].port"},
		{"endPort before port", networkPolicy("server", "bad-range", networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{portRange(nil, 80, endBeforeStart)}}},
		}), "spec.ingress[0].ports[0].endPort"},
		{"endPort with a named port", networkPolicy("server", "named-range", networkingv1.NetworkPolicySpec{
			Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{func() networkingv1.NetworkPolicyPort {
				port := namedPort(nil, "http")
				port.EndPort = &endBeforeStart
				return port
			}()}}},
		}), "spec.egress[0].ports[0].endPort"},
		{"unsupported protocol", networkPolicy("server", "icmp", networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptrTo(corev1.Protocol("ICMP"))}}}},
		}), "spec.ingress[0].ports[0].protocol"},
		{"unknown policy type", networkPolicy("server", "sideways", networkingv1.NetworkPolicySpec{
			PolicyTypes: policyTypes("Sideways"),
		}), "spec.policyTypes[0]"},
	}
	for _, tc := range networkPolicies {
		t.Run("NetworkPolicy "+tc.name, func(t *testing.T) {
			evaluator, warnings := New([]networkingv1.NetworkPolicy{tc.policy}, nil)
			expectOneInvalidWarning(t, warnings, tc.mentions)
			// Left out, the policy cannot isolate the server.
			checkProbes(t, evaluator, []probe{{from: trapClient, to: trapServer, port: 80, allowed: true}})
		})
	}

	validDeny := func(name string) v1alpha2.ClusterNetworkPolicy {
		cnp := clusterPolicy(name, admin, 1, namespacesSubject(matchLabels(namespaceNameLabel, "server")))
		cnp.Spec.Ingress = []v1alpha2.ClusterNetworkPolicyIngressRule{clusterIngress("deny-all", deny, fromNamespaces(matchLabels()))}
		return cnp
	}
	clusterPolicies := []struct {
		name     string
		mutate   func(*v1alpha2.ClusterNetworkPolicy)
		mentions string
	}{
		{"unknown tier", func(c *v1alpha2.ClusterNetworkPolicy) { c.Spec.Tier = "Developer" }, "spec.tier"},
		{"priority above 1000", func(c *v1alpha2.ClusterNetworkPolicy) { c.Spec.Priority = 1001 }, "spec.priority"},
		{"subject with no field", func(c *v1alpha2.ClusterNetworkPolicy) { c.Spec.Subject = v1alpha2.ClusterNetworkPolicySubject{} }, "spec.subject"},
		{"subject with both fields", func(c *v1alpha2.ClusterNetworkPolicy) {
			c.Spec.Subject.Pods = &v1alpha2.NamespacedPod{}
		}, "spec.subject"},
		{"unknown action", func(c *v1alpha2.ClusterNetworkPolicy) { c.Spec.Ingress[0].Action = "Allow" }, "spec.ingress[0].action"},
		{"rule without peers", func(c *v1alpha2.ClusterNetworkPolicy) { c.Spec.Ingress[0].From = nil }, "spec.ingress[0].from"},
		{"peer with two fields", func(c *v1alpha2.ClusterNetworkPolicy) {
			c.Spec.Ingress[0].From[0].Pods = &v1alpha2.NamespacedPod{}
		}, "spec.ingress[0].from[0]"},
		{"network with host bits", func(c *v1alpha2.ClusterNetworkPolicy) {
			c.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{clusterEgress("deny-host", deny, toNetworks("10.0.0.1/8"))}
		}, "spec.egress[0].to[0].networks[0]"},
		{"tcp without destinationPort", func(c *v1alpha2.ClusterNetworkPolicy) {
			c.Spec.Ingress[0].Protocols = []v1alpha2.ClusterNetworkPolicyProtocol{{TCP: &v1alpha2.ClusterNetworkPolicyProtocolTCP{}}}
		}, "spec.ingress[0].protocols[0].tcp"},
		{"port range with start after end", func(c *v1alpha2.ClusterNetworkPolicy) {
			c.Spec.Ingress[0].Protocols = []v1alpha2.ClusterNetworkPolicyProtocol{tcpRange(90, 80)}
		}, "spec.ingress[0].protocols[0].tcp.destinationPort.range"},
		{"named port with a networks peer", func(c *v1alpha2.ClusterNetworkPolicy) {
			c.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{clusterEgress("deny-http", deny, toNetworks("10.0.0.0/8"),
				v1alpha2.ClusterNetworkPolicyProtocol{DestinationNamedPort: "http"})}
		}, "destinationNamedPort"},
		{"domainNames in a deny rule", func(c *v1alpha2.ClusterNetworkPolicy) {
			c.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{clusterEgress("deny-example", deny,
				[]v1alpha2.ClusterNetworkPolicyEgressPeer{{DomainNames: []v1alpha2.DomainName{"example.com"}}})}
		}, "only in Accept rules"},
	}
	for _, tc := range clusterPolicies {
		t.Run("ClusterNetworkPolicy "+tc.name, func(t *testing.T) {
			cnp := validDeny("broken")
			tc.mutate(&cnp)
			evaluator, warnings := New(nil, []v1alpha2.ClusterNetworkPolicy{cnp})
			expectOneInvalidWarning(t, warnings, tc.mentions)
			checkProbes(t, evaluator, []probe{{from: trapClient, to: trapServer, port: 80, allowed: true}})
		})
	}

	t.Run("duplicate names keep the first object", func(t *testing.T) {
		first := validDeny("same-name")
		second := clusterPolicy("same-name", base, 1, namespacesSubject(matchLabels()))
		second.Spec.Ingress = []v1alpha2.ClusterNetworkPolicyIngressRule{clusterIngress("accept-all", accept, fromNamespaces(matchLabels()))}
		evaluator, warnings := New(nil, []v1alpha2.ClusterNetworkPolicy{first, second})
		expectOneInvalidWarning(t, warnings, "same name")
		checkProbes(t, evaluator, []probe{{from: trapClient, to: trapServer, port: 80, allowed: false}})
	})
}

func ptrTo[T any](value T) *T {
	return &value
}

func expectOneInvalidWarning(t *testing.T, warnings []Warning, mentions string) {
	t.Helper()
	if len(warnings) != 1 {
		t.Fatalf("got %d warnings, expected 1: %v", len(warnings), warnings)
	}
	if warnings[0].Kind != WarningInvalidPolicy {
		t.Errorf("warning kind = %s, expected %s", warnings[0].Kind, WarningInvalidPolicy)
	}
	if !strings.Contains(warnings[0].Message, mentions) {
		t.Errorf("warning message %q does not mention %q", warnings[0].Message, mentions)
	}
}
