package enclave

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"

	"github.com/ukhomeoffice/estate/internal/reachability"
)

// siteState is what a site holds: its namespaces and ClusterNetworkPolicies.
type siteState struct {
	namespaces []corev1.Namespace
	policies   []v1alpha2.ClusterNetworkPolicy
}

// builtSite returns the state of a site where the enclave's objects were
// applied and nothing else, plus a namespace of the official zone.
func builtSite(t *testing.T) siteState {
	t.Helper()
	objects := mustBuild(t, testEnclave())
	official := corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "official-apps", Labels: map[string]string{LabelZone: "official"}}}
	return siteState{
		namespaces: append(slices.Clone(objects.Namespaces), official),
		policies:   objects.ClusterNetworkPolicies,
	}
}

func withoutPolicy(policies []v1alpha2.ClusterNetworkPolicy, name string) []v1alpha2.ClusterNetworkPolicy {
	return slices.DeleteFunc(slices.Clone(policies), func(p v1alpha2.ClusterNetworkPolicy) bool { return p.Name == name })
}

// acceptAllPolicy accepts every connection of its pods at a priority ahead
// of the enclave's.
func acceptAllPolicy(name string, tier v1alpha2.Tier, ingress bool) v1alpha2.ClusterNetworkPolicy {
	p := v1alpha2.ClusterNetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha2.ClusterNetworkPolicySpec{
			Tier:     tier,
			Priority: 50,
			Subject:  v1alpha2.ClusterNetworkPolicySubject{Namespaces: &metav1.LabelSelector{}},
		},
	}
	if ingress {
		p.Spec.Ingress = []v1alpha2.ClusterNetworkPolicyIngressRule{{
			Action: v1alpha2.ClusterNetworkPolicyRuleActionAccept,
			From:   []v1alpha2.ClusterNetworkPolicyIngressPeer{{Namespaces: &metav1.LabelSelector{}}},
		}}
	} else {
		p.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{{
			Action: v1alpha2.ClusterNetworkPolicyRuleActionAccept,
			To:     []v1alpha2.ClusterNetworkPolicyEgressPeer{{Networks: []v1alpha2.CIDR{"8.8.8.0/24"}}},
		}}
	}
	return p
}

func TestVerifyNoInternetEgress(t *testing.T) {
	e := testEnclave()
	tests := map[string]struct {
		change         func(s *siteState)
		expectedStatus metav1.ConditionStatus
		expectedReason string
		expectedText   string
	}{
		"enclave policies applied": {
			change:         func(*siteState) {},
			expectedStatus: metav1.ConditionTrue,
			expectedReason: ReasonVerified,
			expectedText:   DenyInternetEgressPolicyName(e),
		},
		"internet policy deleted": {
			change: func(s *siteState) {
				s.policies = withoutPolicy(s.policies, DenyInternetEgressPolicyName(e))
			},
			expectedStatus: metav1.ConditionFalse,
			expectedReason: ReasonInternetReachable,
			expectedText:   "can reach 8.8.8.8:443/TCP",
		},
		"earlier policy accepts an internet range": {
			change: func(s *siteState) {
				s.policies = append(s.policies, acceptAllPolicy("platform-allow-dns", v1alpha2.AdminTier, false))
			},
			expectedStatus: metav1.ConditionFalse,
			expectedReason: ReasonInternetReachable,
			expectedText:   "platform-allow-dns",
		},
		"deny only in the baseline tier": {
			change: func(s *siteState) {
				for i := range s.policies {
					if s.policies[i].Name == DenyInternetEgressPolicyName(e) {
						s.policies[i].Spec.Tier = v1alpha2.BaselineTier
					}
				}
			},
			expectedStatus: metav1.ConditionFalse,
			expectedReason: ReasonInternetReachable,
			expectedText:   "Baseline",
		},
		"enclave label removed from a namespace": {
			change: func(s *siteState) {
				for i := range s.namespaces {
					if s.namespaces[i].Name == "ho-data" {
						delete(s.namespaces[i].Labels, LabelEnclave)
					}
				}
			},
			expectedStatus: metav1.ConditionFalse,
			expectedReason: ReasonInternetReachable,
			expectedText:   "ho-data",
		},
		"tenant namespace missing": {
			change: func(s *siteState) {
				s.namespaces = slices.DeleteFunc(s.namespaces, func(ns corev1.Namespace) bool { return ns.Name == "nca-cases" })
			},
			expectedStatus: metav1.ConditionFalse,
			expectedReason: ReasonNamespaceMissing,
			expectedText:   "nca-cases",
		},
	}
	for sentence, tc := range tests {
		t.Run(sentence, func(t *testing.T) {
			site := builtSite(t)
			tc.change(&site)
			got := VerifyNoInternetEgress(e, site.namespaces, site.policies)
			if got.Status != tc.expectedStatus {
				t.Errorf("status = %s, expected %s (message: %s)", got.Status, tc.expectedStatus, got.Message)
			}
			if got.Reason != tc.expectedReason {
				t.Errorf("reason = %s, expected %s", got.Reason, tc.expectedReason)
			}
			if !strings.Contains(got.Message, tc.expectedText) {
				t.Errorf("message %q does not contain %q", got.Message, tc.expectedText)
			}
		})
	}
}

func TestVerifyTenantIsolation(t *testing.T) {
	e := testEnclave()
	tests := map[string]struct {
		change         func(s *siteState)
		expectedStatus metav1.ConditionStatus
		expectedReason string
		expectedText   string
	}{
		"enclave policies applied": {
			change:         func(*siteState) {},
			expectedStatus: metav1.ConditionTrue,
			expectedReason: ReasonVerified,
			expectedText:   "2 tenants",
		},
		"one tenant's isolation policy deleted": {
			change: func(s *siteState) {
				s.policies = withoutPolicy(s.policies, TenantIsolationPolicyName(e, "home-office"))
			},
			expectedStatus: metav1.ConditionFalse,
			expectedReason: ReasonTenantsConnected,
			expectedText:   "(tenant national-crime-agency) to pod ho-",
		},
		"earlier policy accepts every ingress": {
			change: func(s *siteState) {
				s.policies = append(s.policies, acceptAllPolicy("platform-open", v1alpha2.AdminTier, true))
			},
			expectedStatus: metav1.ConditionFalse,
			expectedReason: ReasonTenantsConnected,
			expectedText:   "platform-open",
		},
		"namespace relabelled to another tenant": {
			change: func(s *siteState) {
				for i := range s.namespaces {
					if s.namespaces[i].Name == "nca-cases" {
						s.namespaces[i].Labels[LabelTenant] = "home-office"
					}
				}
			},
			expectedStatus: metav1.ConditionFalse,
			expectedReason: ReasonTenantsConnected,
			expectedText:   "nca-cases",
		},
		"enclave policy denies within a tenant": {
			change: func(s *siteState) {
				for i := range s.policies {
					if s.policies[i].Name == TenantIsolationPolicyName(e, "home-office") {
						s.policies[i].Spec.Ingress[0].From[0].Namespaces = &metav1.LabelSelector{}
					}
				}
			},
			expectedStatus: metav1.ConditionFalse,
			expectedReason: ReasonTenantTrafficDenied,
			expectedText:   "denied by enclave policy " + TenantIsolationPolicyName(e, "home-office"),
		},
		"policy of others denies within a tenant": {
			change: func(s *siteState) {
				deny := acceptAllPolicy("platform-lockdown", v1alpha2.AdminTier, true)
				deny.Spec.Ingress[0].Action = v1alpha2.ClusterNetworkPolicyRuleActionDeny
				s.policies = append(s.policies, deny)
			},
			expectedStatus: metav1.ConditionTrue,
			expectedReason: ReasonVerified,
			expectedText:   "none within a tenant is denied by the enclave",
		},
		"tenant namespace missing": {
			change: func(s *siteState) {
				s.namespaces = slices.DeleteFunc(s.namespaces, func(ns corev1.Namespace) bool { return ns.Name == "ho-apps" })
			},
			expectedStatus: metav1.ConditionFalse,
			expectedReason: ReasonNamespaceMissing,
			expectedText:   "ho-apps",
		},
	}
	for sentence, tc := range tests {
		t.Run(sentence, func(t *testing.T) {
			site := builtSite(t)
			tc.change(&site)
			got := VerifyTenantIsolation(e, site.namespaces, site.policies)
			if got.Status != tc.expectedStatus {
				t.Errorf("status = %s, expected %s (message: %s)", got.Status, tc.expectedStatus, got.Message)
			}
			if got.Reason != tc.expectedReason {
				t.Errorf("reason = %s, expected %s", got.Reason, tc.expectedReason)
			}
			if !strings.Contains(got.Message, tc.expectedText) {
				t.Errorf("message %q does not contain %q", got.Message, tc.expectedText)
			}
		})
	}
}

// TestGatewayFlows checks the built policies with the evaluator: only the
// gateway's pods take the allowed flows, and only on the allowed ports.
func TestGatewayFlows(t *testing.T) {
	site := builtSite(t)
	evaluator, warnings := reachability.New(nil, site.policies)
	if len(warnings) > 0 {
		t.Fatalf("evaluator warnings: %v", warnings)
	}
	labelsOf := map[string]map[string]string{}
	for _, ns := range site.namespaces {
		labelsOf[ns.Name] = ns.Labels
	}
	pod := func(namespace string, podLabels map[string]string, last byte) reachability.Endpoint {
		return reachability.Endpoint{
			Name: namespace + "/pod", Namespace: namespace, NamespaceLabels: labelsOf[namespace], PodLabels: podLabels,
			IP: netip.AddrFrom4([4]byte{10, 1, 0, last}),
		}
	}
	official := pod("official-apps", nil, 1)
	partner := reachability.Endpoint{
		Name: "partner-apps/pod", Namespace: "partner-apps",
		NamespaceLabels: map[string]string{LabelZone: "partner"}, IP: netip.MustParseAddr("10.1.0.2"),
	}
	gateway := pod("ho-apps", map[string]string{LabelWorkload: "cds"}, 3)
	plain := pod("ho-apps", nil, 4)

	tests := map[string]struct {
		from, to reachability.Endpoint
		protocol corev1.Protocol
		port     int32
		allowed  bool
	}{
		"official zone to gateway on 443/TCP":   {official, gateway, corev1.ProtocolTCP, 443, true},
		"official zone to gateway on 514/UDP":   {official, gateway, corev1.ProtocolUDP, 514, true},
		"official zone to gateway on 22/TCP":    {official, gateway, corev1.ProtocolTCP, 22, false},
		"partner zone to gateway on 8443/TCP":   {partner, gateway, corev1.ProtocolTCP, 8443, true},
		"partner zone to gateway on 443/TCP":    {partner, gateway, corev1.ProtocolTCP, 443, false},
		"official zone to a non-gateway pod":    {official, plain, corev1.ProtocolTCP, 443, false},
		"gateway to a pod of the same tenant":   {gateway, plain, corev1.ProtocolTCP, 8080, true},
		"tenant pod to the official zone":       {plain, official, corev1.ProtocolTCP, 443, true},
		"other tenant to home office's gateway": {pod("nca-cases", nil, 5), gateway, corev1.ProtocolTCP, 443, false},
	}
	for sentence, tc := range tests {
		t.Run(sentence, func(t *testing.T) {
			verdict := evaluator.Check(reachability.Connection{From: tc.from, To: tc.to, Protocol: tc.protocol, Port: tc.port})
			if verdict.Allowed != tc.allowed {
				t.Errorf("allowed = %t, expected %t: %s", verdict.Allowed, tc.allowed, verdict.Reason)
			}
		})
	}
}
