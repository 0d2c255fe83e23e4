// Package reachability decides whether a connection between two endpoints is
// allowed by a set of Kubernetes NetworkPolicy objects (networking.k8s.io/v1)
// and ClusterNetworkPolicy objects (policy.networking.k8s.io/v1alpha2, module
// sigs.k8s.io/network-policy-api v0.3.0).
//
// It implements the published semantics of both APIs, and it is meant to be
// the reference that a policy compiler checks its output against, so it
// follows the API documentation rather than any one network plugin.
//
// # Evaluation order
//
// A connection is allowed only when the source's egress and the
// destination's ingress both allow it. An endpoint that is not a pod (a node
// address or an address outside the cluster) has no policies on its side.
//
// Each direction of a pod is evaluated in tiers:
//
//  1. Admin tier ClusterNetworkPolicies, by ascending spec.priority. Within
//     a policy the first rule whose peers and protocols match decides:
//     Accept allows and skips NetworkPolicy, Deny denies, and Pass skips the
//     remaining Admin tier policies.
//  2. NetworkPolicy. If any NetworkPolicy selects the pod for this direction,
//     the pod is isolated and the connection is allowed only if some rule of
//     some selecting policy matches. NetworkPolicy then makes the final
//     decision, and the Baseline tier is not consulted.
//  3. Baseline tier ClusterNetworkPolicies, in the same way as the Admin
//     tier. Pass skips to the default.
//  4. The default, which allows the connection.
//
// ClusterNetworkPolicies with equal priority in the same tier have no defined
// order (ClusterNetworkPolicySpec.Priority doc comment). The evaluator orders
// them by name, reports overlapping subjects as a warning from New, and sets
// Verdict.Ambiguous when two of them match the same connection with
// different actions.
//
// # Choices where the APIs leave room
//
//   - NetworkPolicy ipBlock matches the endpoint's IP address whether or not
//     the endpoint is a pod. The Kubernetes "Network Policies" concept page
//     states that ipBlock should hold cluster-external addresses because pod IPs
//     are ephemeral, and that whether address rewriting happens before or
//     after policy processing depends on the network plugin. This evaluator
//     treats a pod IP inside an ipBlock as matching, as the e2e suite's CIDR
//     tests expect, so an isolated pod reaches another pod through an
//     ipBlock rule and an ipBlock except entry removes that pod from the
//     rule. Policies match Endpoint.IP as given, because the evaluator
//     models no address rewriting.
//   - The NetworkPolicy exceptions published in the Kubernetes documentation
//     apply only when NetworkPolicy decides: a pod can always reach itself,
//     and traffic between a pod and the node it runs on (Endpoint.NodeName)
//     is always allowed. ClusterNetworkPolicy rules still apply to such
//     traffic, as the network-policy-api hairpin conformance test expects
//     for Admin tier rules.
//   - A named port resolves against the destination pod's container ports
//     for both ingress and egress rules, and it must match the container
//     port's protocol. A destination without that named port does not match.
//   - ClusterNetworkPolicy domainNames peers cannot be evaluated without DNS
//     data, so they match nothing and New returns a warning.
//   - A ClusterNetworkPolicy peer or protocol entry with no field set fails
//     closed, as the v1alpha2 doc comments require for peers. In an Accept
//     rule it matches nothing. In a Deny or Pass rule it turns the rule into
//     one that denies everything.
//   - An object that the API server or the CRD schema would reject is left
//     out, and New returns an InvalidPolicy warning for it. Verdicts from an
//     Evaluator with such warnings describe a cluster without those objects.
//   - Connection.Protocol is compared literally. Protocols other than TCP,
//     UDP and SCTP are outside the NetworkPolicy API, so only rules without
//     ports or protocols match them.
//
// The namespace label kubernetes.io/metadata.name is set to the endpoint's
// namespace before matching, as the API server does for every namespace.
package reachability
