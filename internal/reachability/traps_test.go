package reachability

import (
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"
)

// Pods for the trap tests: a server, monitoring pods inside and outside the
// operations namespace, and other pods.
var (
	trapServer         = pod("server", "api", "10.3.0.10", labelsOf("app", "api"), containerPort("http", protocolTCP, 80))
	trapOpsMonitor     = withNamespaceLabels(pod("ops", "monitor", "10.3.1.10", labelsOf("role", "monitor")), labelsOf("team", "ops"))
	trapOpsOther       = withNamespaceLabels(pod("ops", "other", "10.3.1.11", labelsOf("role", "batch")), labelsOf("team", "ops"))
	trapDevMonitor     = withNamespaceLabels(pod("dev", "monitor", "10.3.2.10", labelsOf("role", "monitor")), labelsOf("team", "dev"))
	trapServerMonitor  = pod("server", "monitor", "10.3.0.11", labelsOf("role", "monitor"))
	trapClient         = pod("client", "web", "10.3.3.10", labelsOf("app", "web"), containerPort("http", protocolTCP, 8080))
	trapMetadata       = external("instance-metadata", "169.254.169.254")
	trapPublicResolver = external("public-resolver", "8.8.8.8")
)

func TestOnePeerWithBothSelectorsIsAnd(t *testing.T) {
	evaluator := newEvaluator(t, []networkingv1.NetworkPolicy{
		networkPolicy("server", "allow-ops-monitors", networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(namespaceAndPodPeer(matchLabels("team", "ops"), matchLabels("role", "monitor")))},
		}),
	}, nil)

	checkProbes(t, evaluator, []probe{
		{from: trapOpsMonitor, to: trapServer, port: 80, allowed: true},
		{from: trapOpsOther, to: trapServer, port: 80, allowed: false},
		{from: trapDevMonitor, to: trapServer, port: 80, allowed: false},
		{from: trapServerMonitor, to: trapServer, port: 80, allowed: false},
	})
}

func TestTwoPeersWithOneSelectorEachAreOr(t *testing.T) {
	evaluator := newEvaluator(t, []networkingv1.NetworkPolicy{
		networkPolicy("server", "allow-ops-or-monitors", networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(namespacePeer(matchLabels("team", "ops")), podPeer(matchLabels("role", "monitor")))},
		}),
	}, nil)

	checkProbes(t, evaluator, []probe{
		{from: trapOpsMonitor, to: trapServer, port: 80, allowed: true},
		{from: trapOpsOther, to: trapServer, port: 80, allowed: true},
		// A podSelector alone selects only pods in the policy's namespace.
		{from: trapServerMonitor, to: trapServer, port: 80, allowed: true},
		{from: trapDevMonitor, to: trapServer, port: 80, allowed: false},
	})
}

func TestIPBlockExceptNarrowsOnlyItsOwnRule(t *testing.T) {
	clientEgress := func(rules ...networkingv1.NetworkPolicyEgressRule) networkingv1.NetworkPolicy {
		return networkPolicy("client", "egress", networkingv1.NetworkPolicySpec{PolicyTypes: egressOnly, Egress: rules})
	}
	exceptRule := egressTo(ipBlockPeer("10.0.0.0/8", "10.1.0.0/16"))
	httpsRule := networkingv1.NetworkPolicyEgressRule{
		To:    []networkingv1.NetworkPolicyPeer{ipBlockPeer("10.1.2.0/24")},
		Ports: []networkingv1.NetworkPolicyPort{numberedPort(nil, 443)},
	}
	inExcept := external("excepted-host", "10.1.2.5")
	otherExcepted := external("other-excepted-host", "10.1.3.5")
	outsideExcept := external("plain-host", "10.2.0.1")

	t.Run("another rule of the same policy", func(t *testing.T) {
		evaluator := newEvaluator(t, []networkingv1.NetworkPolicy{clientEgress(exceptRule, httpsRule)}, nil)
		checkProbes(t, evaluator, []probe{
			{from: trapClient, to: inExcept, port: 443, allowed: true},
			{from: trapClient, to: inExcept, port: 80, allowed: false},
			{from: trapClient, to: otherExcepted, port: 443, allowed: false},
			{from: trapClient, to: outsideExcept, port: 80, allowed: true},
		})
	})

	t.Run("another policy", func(t *testing.T) {
		evaluator := newEvaluator(t, []networkingv1.NetworkPolicy{
			clientEgress(exceptRule),
			networkPolicy("client", "allow-10-1-3", networkingv1.NetworkPolicySpec{
				PolicyTypes: egressOnly, Egress: []networkingv1.NetworkPolicyEgressRule{egressTo(ipBlockPeer("10.1.3.0/24"))},
			}),
		}, nil)
		checkProbes(t, evaluator, []probe{
			{from: trapClient, to: otherExcepted, port: 80, allowed: true},
			{from: trapClient, to: inExcept, port: 80, allowed: false},
		})
	})

	t.Run("another peer of the same rule", func(t *testing.T) {
		excludedPod := pod("client", "cache", "10.1.9.9", labelsOf("app", "cache"))
		evaluator := newEvaluator(t, []networkingv1.NetworkPolicy{
			clientEgress(egressTo(ipBlockPeer("10.0.0.0/8", "10.1.0.0/16"), podPeer(matchLabels("app", "cache")))),
		}, nil)
		checkProbes(t, evaluator, []probe{
			{from: trapClient, to: excludedPod, port: 6379, allowed: true},
			{from: trapClient, to: inExcept, port: 80, allowed: false},
		})
	})
}

func TestEgressOnlyPolicyDoesNotCutIngress(t *testing.T) {
	evaluator := newEvaluator(t, []networkingv1.NetworkPolicy{
		networkPolicy("server", "deny-egress", networkingv1.NetworkPolicySpec{PolicyTypes: egressOnly}),
	}, nil)

	checkProbes(t, evaluator, []probe{
		{from: trapClient, to: trapServer, port: 80, allowed: true},
		{from: trapPublicResolver, to: trapServer, port: 80, allowed: true},
		{from: trapServer, to: trapClient, port: 8080, allowed: false},
	})
}

func TestPolicyTypesOmittedWithoutEgressRules(t *testing.T) {
	// Without policyTypes and without egress rules the policy affects
	// ingress only.
	evaluator := newEvaluator(t, []networkingv1.NetworkPolicy{
		networkPolicy("server", "allow-web", networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(namespacePeer(matchLabels(namespaceNameLabel, "client")))},
		}),
	}, nil)

	checkProbes(t, evaluator, []probe{
		{from: trapClient, to: trapServer, port: 80, allowed: true},
		{from: trapOpsMonitor, to: trapServer, port: 80, allowed: false},
		{from: trapServer, to: trapPublicResolver, port: 443, allowed: true},
		{from: trapServer, to: trapOpsMonitor, port: 9090, allowed: true},
	})
}

func TestPolicyTypesOmittedWithEgressRules(t *testing.T) {
	// With egress rules and without policyTypes the policy affects both
	// directions, and having no ingress rules denies all ingress.
	evaluator := newEvaluator(t, []networkingv1.NetworkPolicy{
		networkPolicy("server", "egress-to-resolver", networkingv1.NetworkPolicySpec{
			Egress: []networkingv1.NetworkPolicyEgressRule{egressTo(ipBlockPeer("8.8.8.8/32"))},
		}),
	}, nil)

	checkProbes(t, evaluator, []probe{
		{from: trapServer, to: trapPublicResolver, port: 53, allowed: true},
		{from: trapServer, to: trapClient, port: 8080, allowed: false},
		{from: trapClient, to: trapServer, port: 80, allowed: false},
	})
}

func TestPolicyTypesEgressIgnoresIngressRules(t *testing.T) {
	evaluator := newEvaluator(t, []networkingv1.NetworkPolicy{
		networkPolicy("server", "egress-only-with-ingress-rules", networkingv1.NetworkPolicySpec{
			PolicyTypes: egressOnly,
			Ingress:     []networkingv1.NetworkPolicyIngressRule{ingressFrom(podPeer(matchLabels("role", "monitor")))},
		}),
	}, nil)

	checkProbes(t, evaluator, []probe{
		{from: trapClient, to: trapServer, port: 80, allowed: true},
		{from: trapServer, to: trapClient, port: 8080, allowed: false},
	})
}

func TestNamedPortResolvesOnDestination(t *testing.T) {
	// The client's "http" port is 8080 and the server's is 80: a rule naming
	// "http" must mean port 80 when the server is the destination.
	t.Run("ingress rule", func(t *testing.T) {
		evaluator := newEvaluator(t, []networkingv1.NetworkPolicy{
			networkPolicy("server", "allow-http", networkingv1.NetworkPolicySpec{
				Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{namedPort(nil, "http")}}},
			}),
		}, nil)
		checkProbes(t, evaluator, []probe{
			{from: trapClient, to: trapServer, port: 80, allowed: true},
			{from: trapClient, to: trapServer, port: 8080, allowed: false},
			{from: trapClient, to: trapServer, protocol: protocolUDP, port: 80, allowed: false},
		})
	})

	t.Run("egress rule", func(t *testing.T) {
		evaluator := newEvaluator(t, []networkingv1.NetworkPolicy{
			networkPolicy("client", "allow-http-out", networkingv1.NetworkPolicySpec{
				PolicyTypes: egressOnly,
				Egress:      []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{namedPort(nil, "http")}}},
			}),
		}, nil)
		checkProbes(t, evaluator, []probe{
			{from: trapClient, to: trapServer, port: 80, allowed: true},
			{from: trapClient, to: trapServer, port: 8080, allowed: false},
			// An address outside the cluster has no named ports.
			{from: trapClient, to: trapPublicResolver, port: 80, allowed: false},
		})
	})
}

func TestEgressExceptMetadataAddress(t *testing.T) {
	t.Run("NetworkPolicy ipBlock except", func(t *testing.T) {
		evaluator := newEvaluator(t, []networkingv1.NetworkPolicy{
			networkPolicy("client", "egress-except-metadata", networkingv1.NetworkPolicySpec{
				PolicyTypes: egressOnly,
				Egress:      []networkingv1.NetworkPolicyEgressRule{egressTo(ipBlockPeer("0.0.0.0/0", "169.254.169.254/32"))},
			}),
		}, nil)
		checkProbes(t, evaluator, []probe{
			{from: trapClient, to: trapMetadata, port: 80, allowed: false},
			{from: trapClient, to: external("metadata-neighbour", "169.254.169.253"), port: 80, allowed: true},
			{from: trapClient, to: trapPublicResolver, protocol: protocolUDP, port: 53, allowed: true},
			{from: trapClient, to: trapServer, port: 80, allowed: true},
		})
	})

	t.Run("admin ClusterNetworkPolicy networks", func(t *testing.T) {
		cnp := clusterPolicy("admin-deny-metadata", admin, 10, namespacesSubject(matchLabels()))
		cnp.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{clusterEgress("deny-metadata", deny, toNetworks("169.254.169.254/32"))}
		evaluator := newEvaluator(t, nil, []v1alpha2.ClusterNetworkPolicy{cnp})

		verdict := evaluator.Check(Connection{From: trapClient, To: trapMetadata, Port: 80})
		if verdict.Allowed {
			t.Errorf("client -> metadata address: Allowed = true, expected false")
		}
		expectedReason := "egress: ClusterNetworkPolicy admin-deny-metadata rule deny-metadata (Admin, priority 10) denies; ingress: not evaluated"
		if verdict.Reason != expectedReason {
			t.Errorf("Reason = %q, expected %q", verdict.Reason, expectedReason)
		}
		checkProbes(t, evaluator, []probe{
			{from: trapClient, to: trapPublicResolver, port: 443, allowed: true},
		})
	})
}

func TestSamePriorityOverlapWarning(t *testing.T) {
	withEgress := func(cnp v1alpha2.ClusterNetworkPolicy) v1alpha2.ClusterNetworkPolicy {
		cnp.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{clusterEgress("deny-metadata", deny, toNetworks("169.254.169.254/32"))}
		return cnp
	}
	withIngress := func(cnp v1alpha2.ClusterNetworkPolicy) v1alpha2.ClusterNetworkPolicy {
		cnp.Spec.Ingress = []v1alpha2.ClusterNetworkPolicyIngressRule{clusterIngress("deny-all", deny, fromNamespaces(matchLabels()))}
		return cnp
	}
	prod := namespacesSubject(matchLabels("env", "prod"))
	tests := []struct {
		name     string
		cnps     []v1alpha2.ClusterNetworkPolicy
		expected int
	}{
		{
			name: "namespace subject overlaps a pods subject in the same namespaces",
			cnps: []v1alpha2.ClusterNetworkPolicy{
				withEgress(clusterPolicy("a", admin, 5, prod)),
				withEgress(clusterPolicy("b", admin, 5, podsSubject(matchLabels("team", "payments"), matchLabels("app", "ledger")))),
			},
			expected: 1,
		},
		{
			name: "identical subjects in the baseline tier",
			cnps: []v1alpha2.ClusterNetworkPolicy{
				withIngress(clusterPolicy("a", base, 7, prod)),
				withIngress(clusterPolicy("b", base, 7, prod)),
			},
			expected: 1,
		},
		{
			name: "three overlapping policies produce one warning per pair",
			cnps: []v1alpha2.ClusterNetworkPolicy{
				withEgress(clusterPolicy("a", admin, 5, namespacesSubject(matchLabels()))),
				withEgress(clusterPolicy("b", admin, 5, prod)),
				withEgress(clusterPolicy("c", admin, 5, namespacesSubject(matchLabels("tier", "web")))),
			},
			expected: 3,
		},
		{
			name: "namespace name labels with different values do not overlap",
			cnps: []v1alpha2.ClusterNetworkPolicy{
				withEgress(clusterPolicy("a", admin, 5, namespacesSubject(matchLabels(namespaceNameLabel, "alpha")))),
				withEgress(clusterPolicy("b", admin, 5, namespacesSubject(matchLabels(namespaceNameLabel, "beta")))),
			},
		},
		{
			name: "In and NotIn on the same value do not overlap",
			cnps: []v1alpha2.ClusterNetworkPolicy{
				withEgress(clusterPolicy("a", admin, 5, namespacesSubject(matchExpression("env", metav1.LabelSelectorOpIn, "prod")))),
				withEgress(clusterPolicy("b", admin, 5, namespacesSubject(matchExpression("env", metav1.LabelSelectorOpNotIn, "prod")))),
			},
		},
		{
			name: "Exists and DoesNotExist do not overlap",
			cnps: []v1alpha2.ClusterNetworkPolicy{
				withEgress(clusterPolicy("a", admin, 5, podsSubject(matchLabels(), matchExpression("canary", metav1.LabelSelectorOpExists)))),
				withEgress(clusterPolicy("b", admin, 5, podsSubject(matchLabels(), matchExpression("canary", metav1.LabelSelectorOpDoesNotExist)))),
			},
		},
		{
			name: "different priorities do not warn",
			cnps: []v1alpha2.ClusterNetworkPolicy{
				withEgress(clusterPolicy("a", admin, 5, prod)),
				withEgress(clusterPolicy("b", admin, 6, prod)),
			},
		},
		{
			name: "different tiers do not warn",
			cnps: []v1alpha2.ClusterNetworkPolicy{
				withEgress(clusterPolicy("a", admin, 5, prod)),
				withEgress(clusterPolicy("b", base, 5, prod)),
			},
		},
		{
			name: "rules in different directions do not warn",
			cnps: []v1alpha2.ClusterNetworkPolicy{
				withEgress(clusterPolicy("a", admin, 5, prod)),
				withIngress(clusterPolicy("b", admin, 5, prod)),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, warnings := New(nil, tc.cnps)
			if len(warnings) != tc.expected {
				t.Fatalf("got %d warnings, expected %d: %v", len(warnings), tc.expected, warnings)
			}
			for _, warning := range warnings {
				if warning.Kind != WarningSamePriorityOverlap {
					t.Errorf("warning kind = %s, expected %s", warning.Kind, WarningSamePriorityOverlap)
				}
				if len(warning.Policies) != 2 {
					t.Errorf("warning names %d policies, expected 2: %v", len(warning.Policies), warning.Policies)
				}
				if !strings.Contains(warning.Message, "order is undefined") {
					t.Errorf("warning message %q does not say the order is undefined", warning.Message)
				}
			}
		})
	}
}
