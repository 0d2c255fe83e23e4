package reachability

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"
)

// namespaceNameLabel is set by the API server on every namespace to the
// namespace's name.
const namespaceNameLabel = "kubernetes.io/metadata.name"

// Evaluator decides whether connections are allowed by a fixed set of
// policies. It is safe for concurrent use because Check and Matrix only read
// it.
type Evaluator struct {
	// networkPolicies maps a namespace to its policies, sorted by name.
	networkPolicies map[string][]*compiledNetworkPolicy
	// admin and baseline are sorted by priority, then by name.
	admin    []*compiledClusterPolicy
	baseline []*compiledClusterPolicy
}

// New compiles the policies into an Evaluator. The warnings report objects
// that the API server would reject, which are left out of evaluation, and
// ClusterNetworkPolicy entries that fail closed or cannot be evaluated. They
// also report pairs of ClusterNetworkPolicies whose relative order is
// undefined: same tier and priority, overlapping subjects, and rules in a
// common direction.
func New(nps []networkingv1.NetworkPolicy, cnps []v1alpha2.ClusterNetworkPolicy) (*Evaluator, []Warning) {
	evaluator := &Evaluator{networkPolicies: map[string][]*compiledNetworkPolicy{}}
	var warnings []Warning

	seenNetworkPolicies := map[string]bool{}
	for i := range nps {
		np := &nps[i]
		label := "NetworkPolicy " + np.Namespace + "/" + np.Name
		compiled, err := compileNetworkPolicy(np)
		if err == nil && seenNetworkPolicies[compiled.name] {
			err = fmt.Errorf("another NetworkPolicy in the input has the same namespace and name: rename or remove one")
		}
		if err != nil {
			warnings = append(warnings, invalidPolicyWarning(label, err))
			continue
		}
		seenNetworkPolicies[compiled.name] = true
		evaluator.networkPolicies[compiled.namespace] = append(evaluator.networkPolicies[compiled.namespace], compiled)
	}
	for _, policies := range evaluator.networkPolicies {
		slices.SortFunc(policies, func(a, b *compiledNetworkPolicy) int { return strings.Compare(a.name, b.name) })
	}

	seenClusterPolicies := map[string]bool{}
	for i := range cnps {
		cnp := &cnps[i]
		label := clusterPolicyPrefix + cnp.Name
		compiled, compileWarnings, err := compileClusterPolicy(cnp)
		if err == nil && seenClusterPolicies[compiled.name] {
			err = fmt.Errorf("another ClusterNetworkPolicy in the input has the same name: rename or remove one")
		}
		if err != nil {
			warnings = append(warnings, invalidPolicyWarning(label, err))
			continue
		}
		seenClusterPolicies[compiled.name] = true
		warnings = append(warnings, compileWarnings...)
		if compiled.tier == v1alpha2.AdminTier {
			evaluator.admin = append(evaluator.admin, compiled)
		} else {
			evaluator.baseline = append(evaluator.baseline, compiled)
		}
	}
	byPriorityThenName := func(a, b *compiledClusterPolicy) int {
		return cmp.Or(cmp.Compare(a.priority, b.priority), strings.Compare(a.name, b.name))
	}
	slices.SortFunc(evaluator.admin, byPriorityThenName)
	slices.SortFunc(evaluator.baseline, byPriorityThenName)

	warnings = append(warnings, samePriorityWarnings(evaluator.admin)...)
	warnings = append(warnings, samePriorityWarnings(evaluator.baseline)...)
	return evaluator, warnings
}

func invalidPolicyWarning(label string, err error) Warning {
	return Warning{
		Kind:     WarningInvalidPolicy,
		Policies: []string{label},
		Message:  fmt.Sprintf("%s is invalid and left out of evaluation: %v", label, err),
	}
}

// samePriorityWarnings reports pairs of policies in one tier, sorted by
// priority, whose order the API leaves undefined.
func samePriorityWarnings(policies []*compiledClusterPolicy) []Warning {
	var warnings []Warning
	for i, first := range policies {
		for _, second := range policies[i+1:] {
			if second.priority != first.priority {
				break
			}
			sharesDirection := (len(first.ingress) > 0 && len(second.ingress) > 0) || (len(first.egress) > 0 && len(second.egress) > 0)
			if !sharesDirection || !subjectsMayOverlap(first, second) {
				continue
			}
			warnings = append(warnings, Warning{
				Kind:     WarningSamePriorityOverlap,
				Policies: []string{clusterPolicyPrefix + first.name, clusterPolicyPrefix + second.name},
				Message: fmt.Sprintf("ClusterNetworkPolicies %s and %s are both in the %s tier at priority %d and their subjects can select the same pod, "+
					"so their order is undefined where both match a connection: give them different priorities", first.name, second.name, first.tier, first.priority),
			})
		}
	}
	return warnings
}

func subjectsMayOverlap(a, b *compiledClusterPolicy) bool {
	return selectorsMayOverlap(a.subjectNamespaces, b.subjectNamespaces) && selectorsMayOverlap(a.subjectPods, b.subjectPods)
}

// Check returns the verdict for one connection.
func (e *Evaluator) Check(c Connection) Verdict {
	return e.check(e.prepare(c.From), e.prepare(c.To), newPortProtocol(c.Protocol, c.Port))
}

// Matrix checks every ordered pair of endpoints, including each endpoint
// with itself, on every port. Endpoint preparation and policy selection run
// once per endpoint, so the cost per pair is rule matching only.
func (e *Evaluator) Matrix(endpoints []Endpoint, ports []PortProtocol) map[MatrixKey]Verdict {
	prepared := make([]*preparedEndpoint, len(endpoints))
	for i, endpoint := range endpoints {
		prepared[i] = e.prepare(endpoint)
	}

	verdicts := make(map[MatrixKey]Verdict, len(endpoints)*len(endpoints)*len(ports))
	for from, source := range prepared {
		for to, destination := range prepared {
			for _, port := range ports {
				key := MatrixKey{From: from, To: to, Port: port}
				verdicts[key] = e.check(source, destination, newPortProtocol(port.Protocol, port.Port))
			}
		}
	}
	return verdicts
}

type direction int

const (
	egress direction = iota
	ingress
)

func (d direction) String() string {
	if d == ingress {
		return "ingress"
	}
	return "egress"
}

// portProtocol is the destination port of a connection with its protocol
// defaulted.
type portProtocol struct {
	protocol corev1.Protocol
	port     int32
}

func newPortProtocol(protocol corev1.Protocol, port int32) portProtocol {
	if protocol == "" {
		protocol = corev1.ProtocolTCP
	}
	return portProtocol{protocol: protocol, port: port}
}

type endpointKind int

const (
	kindExternal endpointKind = iota
	kindNode
	kindPod
)

// preparedEndpoint is an Endpoint with label sets ready for matching and the
// policies that select it, so repeated checks do not redo that work.
type preparedEndpoint struct {
	Endpoint
	kind            endpointKind
	ip              netip.Addr
	namespaceLabels labels.Set
	podLabels       labels.Set
	nodeLabels      labels.Set
	// The policies selecting the pod per direction, in evaluation order.
	// They are empty for endpoints that are not pods.
	networkPolicies [2][]*compiledNetworkPolicy
	admin           [2][]*compiledClusterPolicy
	baseline        [2][]*compiledClusterPolicy
}

func (e *Evaluator) prepare(endpoint Endpoint) *preparedEndpoint {
	prepared := &preparedEndpoint{
		Endpoint:   endpoint,
		ip:         endpoint.IP.Unmap(),
		podLabels:  labels.Set(endpoint.PodLabels),
		nodeLabels: labels.Set(endpoint.NodeLabels),
	}
	switch {
	case endpoint.Namespace != "":
		prepared.kind = kindPod
	case endpoint.NodeLabels != nil || endpoint.NodeName != "":
		prepared.kind = kindNode
	default:
		prepared.kind = kindExternal
	}
	if prepared.kind != kindPod {
		return prepared
	}

	namespaceLabels := make(labels.Set, len(endpoint.NamespaceLabels)+1)
	for key, value := range endpoint.NamespaceLabels {
		namespaceLabels[key] = value
	}
	namespaceLabels[namespaceNameLabel] = endpoint.Namespace
	prepared.namespaceLabels = namespaceLabels

	for _, policy := range e.networkPolicies[endpoint.Namespace] {
		if !policy.podSelector.Matches(prepared.podLabels) {
			continue
		}
		if policy.affectsIngress {
			prepared.networkPolicies[ingress] = append(prepared.networkPolicies[ingress], policy)
		}
		if policy.affectsEgress {
			prepared.networkPolicies[egress] = append(prepared.networkPolicies[egress], policy)
		}
	}
	prepared.admin = selectClusterPolicies(e.admin, prepared)
	prepared.baseline = selectClusterPolicies(e.baseline, prepared)
	return prepared
}

// selectClusterPolicies returns, per direction, the policies whose subject
// selects pod and that have rules in that direction. A policy without rules
// in a direction does not affect that direction.
func selectClusterPolicies(policies []*compiledClusterPolicy, pod *preparedEndpoint) [2][]*compiledClusterPolicy {
	var selected [2][]*compiledClusterPolicy
	for _, policy := range policies {
		if !policy.selects(pod) {
			continue
		}
		for _, dir := range []direction{egress, ingress} {
			if len(policy.rules(dir)) > 0 {
				selected[dir] = append(selected[dir], policy)
			}
		}
	}
	return selected
}

// servesNamedPort reports whether the endpoint is a pod with a container
// port of that name, protocol and number.
func (p *preparedEndpoint) servesNamedPort(name string, traffic portProtocol) bool {
	if p.kind != kindPod {
		return false
	}
	for _, port := range p.Ports {
		protocol := port.Protocol
		if protocol == "" {
			protocol = corev1.ProtocolTCP
		}
		if port.Name == name && protocol == traffic.protocol && port.ContainerPort == traffic.port {
			return true
		}
	}
	return false
}

// isSamePod reports whether a and b are the same pod, by namespace and
// either name or IP address.
func isSamePod(a, b *preparedEndpoint) bool {
	if a.kind != kindPod || b.kind != kindPod || a.Namespace != b.Namespace {
		return false
	}
	if a.Name != "" && a.Name == b.Name {
		return true
	}
	return a.ip.IsValid() && a.ip == b.ip
}

// isOwnNode reports whether peer is the node that pod runs on.
func isOwnNode(pod, peer *preparedEndpoint) bool {
	return peer.kind == kindNode && peer.NodeName != "" && peer.NodeName == pod.NodeName
}

func (e *Evaluator) check(source, destination *preparedEndpoint, traffic portProtocol) Verdict {
	verdict := Verdict{Egress: decide(egress, source, destination, destination, traffic)}
	ingressReason := "not evaluated"
	if verdict.Egress.Allowed {
		verdict.Ingress = decide(ingress, destination, source, destination, traffic)
		ingressReason = verdict.Ingress.Reason
	}

	verdict.Allowed = verdict.Egress.Allowed && verdict.Ingress.Allowed
	verdict.Ambiguous = verdict.Egress.Ambiguous || verdict.Ingress.Ambiguous
	verdict.Reason = "egress: " + verdict.Egress.Reason + "; ingress: " + ingressReason
	return verdict
}
