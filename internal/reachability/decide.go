package reachability

import (
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/network-policy-api/apis/v1alpha2"
)

// decide evaluates one direction. subject is the pod whose policies apply
// (the source for egress, the destination for ingress), peer is the other
// end, and destination resolves named ports.
func decide(dir direction, subject, peer, destination *preparedEndpoint, traffic portProtocol) Decision {
	if subject.kind != kindPod {
		role := "source"
		if dir == ingress {
			role = "destination"
		}
		return Decision{Evaluated: true, Allowed: true, Layer: LayerNotPod, Reason: role + " is not a pod, so no policy applies"}
	}

	// passed collects the reasons of Pass rules, which precede the final
	// reason.
	var passed []string
	ambiguous := false

	admin := decideTier(dir, subject.admin[dir], peer, destination, traffic)
	ambiguous = ambiguous || admin.ambiguous
	if admin.matched {
		if admin.action != v1alpha2.ClusterNetworkPolicyRuleActionPass {
			return admin.decision(LayerAdmin, passed, ambiguous)
		}
		passed = append(passed, admin.reason())
	}

	if decision, decided := decideNetworkPolicy(dir, subject, peer, destination, traffic); decided {
		decision.Reason = joinReasons(passed, decision.Reason)
		decision.Ambiguous = ambiguous
		return decision
	}

	baseline := decideTier(dir, subject.baseline[dir], peer, destination, traffic)
	ambiguous = ambiguous || baseline.ambiguous
	if baseline.matched {
		if baseline.action != v1alpha2.ClusterNetworkPolicyRuleActionPass {
			return baseline.decision(LayerBaseline, passed, ambiguous)
		}
		passed = append(passed, baseline.reason())
	}

	return Decision{
		Evaluated: true,
		Allowed:   true,
		Layer:     LayerDefault,
		Ambiguous: ambiguous,
		Reason:    joinReasons(passed, "no policy decides, so the connection is allowed by default"),
	}
}

func joinReasons(passed []string, final string) string {
	return strings.Join(slices.Concat(passed, []string{final}), "; then ")
}

// tierMatch is the outcome of one ClusterNetworkPolicy tier.
type tierMatch struct {
	matched bool
	policy  *compiledClusterPolicy
	rule    clusterPolicyRule
	action  v1alpha2.ClusterNetworkPolicyRuleAction
	// ambiguous is set when a policy at the same priority also matched with
	// a different action. conflict names that policy and its rule.
	ambiguous bool
	conflict  string
}

// decideTier walks the tier's policies in priority order. Policies at equal
// priority have no defined order, so every policy of the first priority
// level with a match is examined: the first by name decides, and a
// different action from another makes the outcome ambiguous.
func decideTier(dir direction, policies []*compiledClusterPolicy, peer, destination *preparedEndpoint, traffic portProtocol) tierMatch {
	for start := 0; start < len(policies); {
		end := start
		for end < len(policies) && policies[end].priority == policies[start].priority {
			end++
		}

		var match tierMatch
		for _, policy := range policies[start:end] {
			index := policy.firstMatch(dir, peer, destination, traffic)
			if index < 0 {
				continue
			}
			rule := policy.rules(dir)[index]
			if !match.matched {
				match = tierMatch{matched: true, policy: policy, rule: rule, action: rule.action}
				continue
			}
			if rule.action != match.action && !match.ambiguous {
				match.ambiguous = true
				match.conflict = fmt.Sprintf("ClusterNetworkPolicy %s rule %s at the same priority would %s", policy.name, rule.label, actionVerb(rule.action, false))
			}
		}
		if match.matched {
			return match
		}
		start = end
	}
	return tierMatch{}
}

// reason describes the matched rule, for example "ClusterNetworkPolicy
// admin-deny-metadata rule deny-metadata (Admin, priority 10) denies".
func (m tierMatch) reason() string {
	reason := fmt.Sprintf("ClusterNetworkPolicy %s rule %s (%s, priority %d) %s",
		m.policy.name, m.rule.label, m.policy.tier, m.policy.priority, actionVerb(m.action, true))
	if m.rule.failClosed {
		reason += " because the rule has an entry with no field set and fails closed"
	}
	if m.ambiguous {
		reason += " (order undefined: " + m.conflict + ")"
	}
	return reason
}

func (m tierMatch) decision(layer Layer, passed []string, ambiguous bool) Decision {
	return Decision{
		Evaluated: true,
		Allowed:   m.action == v1alpha2.ClusterNetworkPolicyRuleActionAccept,
		Layer:     layer,
		Policy:    m.policy.name,
		Rule:      m.rule.label,
		Ambiguous: ambiguous,
		Reason:    joinReasons(passed, m.reason()),
	}
}

// actionVerb returns "accepts", "denies" or "passes", or the base form when
// thirdPerson is false.
func actionVerb(action v1alpha2.ClusterNetworkPolicyRuleAction, thirdPerson bool) string {
	switch action {
	case v1alpha2.ClusterNetworkPolicyRuleActionAccept:
		return pickForm("accept", "accepts", thirdPerson)
	case v1alpha2.ClusterNetworkPolicyRuleActionDeny:
		return pickForm("deny", "denies", thirdPerson)
	default:
		return pickForm("pass", "passes", thirdPerson)
	}
}

func pickForm(base, thirdPersonForm string, thirdPerson bool) string {
	if thirdPerson {
		return thirdPersonForm
	}
	return base
}

// decideNetworkPolicy applies the NetworkPolicy tier. decided is false when
// no NetworkPolicy isolates the pod in this direction.
func decideNetworkPolicy(dir direction, subject, peer, destination *preparedEndpoint, traffic portProtocol) (Decision, bool) {
	policies := subject.networkPolicies[dir]
	if len(policies) == 0 {
		return Decision{}, false
	}

	names := make([]string, len(policies))
	for i, policy := range policies {
		names[i] = policy.name
	}
	isolatedBy := fmt.Sprintf("NetworkPolicy %s isolates the pod for %s", strings.Join(names, ", "), dir)
	allowed := Decision{Evaluated: true, Allowed: true, Layer: LayerNetworkPolicy}

	// The Kubernetes "Network Policies" concept page lists two exceptions
	// to NetworkPolicy isolation: a pod cannot block access to itself, and
	// traffic between a pod and the node where it runs is allowed.
	if isSamePod(subject, peer) {
		allowed.Reason = isolatedBy + ", but a pod's connection to itself is always allowed"
		return allowed, true
	}
	if isOwnNode(subject, peer) {
		allowed.Reason = isolatedBy + ", but traffic between a pod and its own node is always allowed"
		return allowed, true
	}

	for _, policy := range policies {
		for i, rule := range policy.rules(dir) {
			if rule.matches(policy.namespace, peer, destination, traffic) {
				allowed.Policy = policy.name
				allowed.Rule = fmt.Sprintf("%s[%d]", dir, i)
				allowed.Reason = fmt.Sprintf("NetworkPolicy %s rule %s allows", policy.name, allowed.Rule)
				return allowed, true
			}
		}
	}
	return Decision{
		Evaluated: true,
		Allowed:   false,
		Layer:     LayerNetworkPolicy,
		Reason:    fmt.Sprintf("%s and no %s rule matches, so it is denied", isolatedBy, dir),
	}, true
}
