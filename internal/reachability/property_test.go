package reachability

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"
)

// propertySeeds is how many random scenarios each property test checks.
const propertySeeds = 300

func TestNoPoliciesAllowsEverything(t *testing.T) {
	for seed := range uint64(50) {
		endpoints := generateScenario(seed, smallScenario).endpoints
		evaluator, warnings := New(nil, nil)
		if len(warnings) != 0 {
			t.Fatalf("New without policies returned warnings: %v", warnings)
		}
		for key, verdict := range evaluator.Matrix(endpoints, scenarioPorts) {
			if !verdict.Allowed {
				t.Errorf("seed %d: %s -> %s %v: Allowed = false without policies (%s)",
					seed, endpoints[key.From].Name, endpoints[key.To].Name, key.Port, verdict.Reason)
			}
			if verdict.Ambiguous {
				t.Errorf("seed %d: %s -> %s: Ambiguous = true without policies", seed, endpoints[key.From].Name, endpoints[key.To].Name)
			}
		}
	}
}

// checkVerdictInvariants checks what holds for every verdict: the
// directions combine with AND, ingress is evaluated exactly when egress
// allows, and the reason covers both directions.
func checkVerdictInvariants(t *testing.T, context string, verdict Verdict) {
	t.Helper()
	if verdict.Allowed != (verdict.Egress.Allowed && verdict.Ingress.Allowed) {
		t.Errorf("%s: Allowed = %v but egress %v and ingress %v", context, verdict.Allowed, verdict.Egress.Allowed, verdict.Ingress.Allowed)
	}
	if !verdict.Egress.Evaluated {
		t.Errorf("%s: egress was not evaluated", context)
	}
	if verdict.Ingress.Evaluated != verdict.Egress.Allowed {
		t.Errorf("%s: ingress Evaluated = %v with egress Allowed = %v", context, verdict.Ingress.Evaluated, verdict.Egress.Allowed)
	}
	if verdict.Ambiguous != (verdict.Egress.Ambiguous || verdict.Ingress.Ambiguous) {
		t.Errorf("%s: Ambiguous = %v does not combine the directions", context, verdict.Ambiguous)
	}
	if verdict.Egress.Reason == "" || (verdict.Ingress.Evaluated && verdict.Ingress.Reason == "") {
		t.Errorf("%s: empty reason in %+v", context, verdict)
	}
}

func TestRandomScenariosAreDeterministic(t *testing.T) {
	for seed := range uint64(propertySeeds) {
		s := generateScenario(seed, smallScenario)
		evaluator, warnings := New(s.networkPolicies, s.clusterPolicies)
		matrix := evaluator.Matrix(s.endpoints, scenarioPorts)

		// The same objects in another order must give the same verdicts.
		shuffler := rand.New(rand.NewPCG(seed, 7))
		networkPolicies := slices.Clone(s.networkPolicies)
		clusterPolicies := slices.Clone(s.clusterPolicies)
		shuffler.Shuffle(len(networkPolicies), func(i, j int) { networkPolicies[i], networkPolicies[j] = networkPolicies[j], networkPolicies[i] })
		shuffler.Shuffle(len(clusterPolicies), func(i, j int) { clusterPolicies[i], clusterPolicies[j] = clusterPolicies[j], clusterPolicies[i] })
		shuffled, shuffledWarnings := New(networkPolicies, clusterPolicies)

		if diff := cmp.Diff(sortedMessages(warnings), sortedMessages(shuffledWarnings)); diff != "" {
			t.Errorf("seed %d: warnings depend on input order (-original +shuffled):\n%s", seed, diff)
		}
		if shuffledMatrix := shuffled.Matrix(s.endpoints, scenarioPorts); !maps.Equal(matrix, shuffledMatrix) {
			t.Errorf("seed %d: verdicts depend on input order (-original +shuffled):\n%s", seed, cmp.Diff(matrix, shuffledMatrix))
		}

		for key, verdict := range matrix {
			connection := Connection{From: s.endpoints[key.From], To: s.endpoints[key.To], Protocol: key.Port.Protocol, Port: key.Port.Port}
			checked := evaluator.Check(connection)
			if checked != verdict {
				t.Errorf("seed %d: Matrix and Check disagree for %s -> %s %v (-matrix +check):\n%s",
					seed, connection.From.Name, connection.To.Name, key.Port, cmp.Diff(verdict, checked))
			}
			checkVerdictInvariants(t, connection.From.Name+" -> "+connection.To.Name, checked)
		}
	}
}

func TestAllowAllNetworkPoliciesAllowEverything(t *testing.T) {
	for seed := range uint64(propertySeeds) {
		s := generateScenario(seed, smallScenario)
		// Every pod is isolated by the allow-all policies, whose empty rules
		// match every peer and port, so adding them to any NetworkPolicies
		// allows every connection.
		policies := slices.Clone(s.networkPolicies)
		for namespace := range smallScenario.namespaces {
			policies = append(policies, networkPolicy(nsName(namespace), "allow-everything", networkingv1.NetworkPolicySpec{
				PolicyTypes: bothTypes,
				Ingress:     []networkingv1.NetworkPolicyIngressRule{{}},
				Egress:      []networkingv1.NetworkPolicyEgressRule{{}},
			}))
		}
		evaluator, _ := New(policies, nil)
		for key, verdict := range evaluator.Matrix(s.endpoints, scenarioPorts) {
			if !verdict.Allowed {
				t.Errorf("seed %d: %s -> %s %v: Allowed = false despite allow-all policies (%s)",
					seed, s.endpoints[key.From].Name, s.endpoints[key.To].Name, key.Port, verdict.Reason)
			}
		}
	}
}

func TestAdminDenyAllDeniesEveryPodEgress(t *testing.T) {
	denyAll := clusterPolicy("deny-all-egress", admin, 0, namespacesSubject(matchLabels()))
	denyAll.Spec.Egress = []v1alpha2.ClusterNetworkPolicyEgressRule{clusterEgress("deny-everything", deny, toNetworks("0.0.0.0/0", "::/0"))}

	for seed := range uint64(propertySeeds) {
		s := generateScenario(seed, smallScenario)
		// Generated ClusterNetworkPolicies have priority 1 or more, so the
		// deny at priority 0 comes first whatever they contain.
		evaluator, _ := New(s.networkPolicies, append(slices.Clone(s.clusterPolicies), denyAll))
		for key, verdict := range evaluator.Matrix(s.endpoints, scenarioPorts) {
			source := s.endpoints[key.From]
			if source.Namespace == "" {
				continue
			}
			if verdict.Allowed {
				t.Errorf("seed %d: %s -> %s %v: Allowed = true despite an admin deny of all egress (%s)",
					seed, source.Name, s.endpoints[key.To].Name, key.Port, verdict.Reason)
			}
			if verdict.Egress.Policy != "deny-all-egress" {
				t.Errorf("seed %d: %s -> %s: egress decided by %q, expected deny-all-egress", seed, source.Name, s.endpoints[key.To].Name, verdict.Egress.Policy)
			}
		}
	}
}

func nsName(index int) string {
	return fmt.Sprintf("ns-%d", index)
}

func sortedMessages(warnings []Warning) []string {
	messages := make([]string, len(warnings))
	for i, warning := range warnings {
		messages[i] = warning.String()
	}
	slices.Sort(messages)
	return messages
}

// FuzzCheck builds a random scenario from the seed and checks that Check
// does not panic, returns the same verdict twice and keeps the verdict
// invariants. Plain go test runs the seed corpus only.
func FuzzCheck(f *testing.F) {
	for _, seed := range []uint64{0, 1, 2, 42, 1234, 99999} {
		f.Add(seed, uint16(80), uint8(0), uint8(3), uint8(5))
	}
	f.Fuzz(func(t *testing.T, seed uint64, port uint16, protocolIndex, fromIndex, toIndex uint8) {
		s := generateScenario(seed, smallScenario)
		evaluator, _ := New(s.networkPolicies, s.clusterPolicies)
		connection := Connection{
			From:     s.endpoints[int(fromIndex)%len(s.endpoints)],
			To:       s.endpoints[int(toIndex)%len(s.endpoints)],
			Protocol: []corev1.Protocol{"", protocolTCP, protocolUDP, protocolSCTP, "ICMP"}[int(protocolIndex)%5],
			Port:     int32(port),
		}
		first := evaluator.Check(connection)
		second := evaluator.Check(connection)
		if diff := cmp.Diff(first, second); diff != "" {
			t.Errorf("Check is not deterministic (-first +second):\n%s", diff)
		}
		checkVerdictInvariants(t, connection.From.Name+" -> "+connection.To.Name, first)
	})
}

// BenchmarkMatrix checks every pair of 80 pods, one node and two external
// addresses on four ports, against 60 NetworkPolicies and 20
// ClusterNetworkPolicies.
func BenchmarkMatrix(b *testing.B) {
	s := generateScenario(7, scenarioSize{namespaces: 8, pods: 80, networkPolicies: 60, clusterPolicies: 20})
	evaluator, _ := New(s.networkPolicies, s.clusterPolicies)
	pairs := len(s.endpoints) * len(s.endpoints) * len(scenarioPorts)
	b.ReportAllocs()
	for b.Loop() {
		evaluator.Matrix(s.endpoints, scenarioPorts)
	}
	b.ReportMetric(float64(pairs), "checks/op")
}
