package reachability

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
)

// Endpoint is one end of a connection: a pod, a node address or an address
// outside the cluster.
//
// NOTE: host-networked pods are not modelled. Policies do not select them,
// so pass such a pod as a node endpoint (empty Namespace) rather than as a
// pod.
type Endpoint struct {
	// Name identifies the endpoint in reasons, for example
	// "border-force/warnings-index". Two pod endpoints with the same
	// namespace and a non-empty equal Name are the same pod.
	Name string
	// Namespace is the pod's namespace. It is empty for a node or an address
	// outside the cluster, and no policy selects such an endpoint.
	Namespace string
	// NamespaceLabels are the labels of the pod's namespace. The evaluator
	// sets kubernetes.io/metadata.name to Namespace, as the API server does.
	NamespaceLabels map[string]string
	PodLabels       map[string]string
	IP              netip.Addr
	// Ports are the container ports the pod serves. Named ports in policy
	// rules resolve against the destination's Ports.
	Ports []corev1.ContainerPort
	// NodeName is the node a pod runs on, or the node's own name for a node
	// endpoint. NetworkPolicy always allows traffic between a pod and its
	// own node, so leave it empty when that is unknown.
	NodeName string
	// NodeLabels are the node's labels when the endpoint is a node address.
	// An endpoint with an empty Namespace and a non-nil NodeLabels or a
	// NodeName is a node, and ClusterNetworkPolicy nodes peers match only
	// nodes. The field is ignored for pods.
	NodeLabels map[string]string
}

// Connection is a connection attempt from From to port Port on To.
type Connection struct {
	From, To Endpoint
	// Protocol is TCP, UDP or SCTP. Empty means TCP, as in NetworkPolicyPort.
	Protocol corev1.Protocol
	// Port is the destination port number.
	Port int32
}

// PortProtocol is a destination port and its protocol, one column of a
// Matrix. An empty Protocol means TCP.
type PortProtocol struct {
	Protocol corev1.Protocol
	Port     int32
}

// MatrixKey indexes a Matrix result: From and To are indexes into the
// endpoints passed to Matrix.
type MatrixKey struct {
	From, To int
	Port     PortProtocol
}

// Layer is the stage of evaluation that decided one direction of a
// connection.
type Layer string

const (
	// LayerNotPod means the endpoint on this side is not a pod, so no policy
	// applies and the direction is allowed.
	LayerNotPod Layer = "NotPod"
	// LayerAdmin is the Admin tier of ClusterNetworkPolicy.
	LayerAdmin Layer = "Admin"
	// LayerNetworkPolicy is the namespaced NetworkPolicy tier.
	LayerNetworkPolicy Layer = "NetworkPolicy"
	// LayerBaseline is the Baseline tier of ClusterNetworkPolicy.
	LayerBaseline Layer = "Baseline"
	// LayerDefault means no policy decided, so the connection is allowed.
	LayerDefault Layer = "Default"
)

// Decision is the outcome of one direction of a connection: egress at the
// source or ingress at the destination.
type Decision struct {
	// Evaluated is false for ingress when egress already denied the
	// connection.
	Evaluated bool
	Allowed   bool
	Layer     Layer
	// Policy is the deciding ClusterNetworkPolicy name or NetworkPolicy
	// namespace/name. It is empty when no single rule decides: for
	// LayerNotPod, LayerDefault, a NetworkPolicy denial, and the
	// NetworkPolicy exceptions for a pod's own traffic and its node.
	Policy string
	// Rule is the deciding ClusterNetworkPolicy rule's name, or "ingress[i]"
	// or "egress[i]" for NetworkPolicy rules and unnamed rules.
	Rule string
	// Ambiguous reports that ClusterNetworkPolicies with equal priority in
	// one tier matched this connection with different actions, so a
	// conforming implementation may decide either way.
	Ambiguous bool
	Reason    string
}

// Verdict is the outcome for one connection.
type Verdict struct {
	Allowed bool
	Egress  Decision
	Ingress Decision
	// Ambiguous is true when either evaluated direction is ambiguous.
	Ambiguous bool
	// Reason names the policy and rule that decided each direction, for
	// example "egress: ClusterNetworkPolicy admin-deny-metadata rule
	// deny-metadata (Admin, priority 10) denies; ingress: not evaluated".
	Reason string
}

// WarningKind classifies a Warning.
type WarningKind string

const (
	// WarningSamePriorityOverlap reports ClusterNetworkPolicies in one tier
	// with equal priority, subjects that can select the same pod, and rules
	// in a common direction. Their relative order is undefined.
	WarningSamePriorityOverlap WarningKind = "SamePriorityOverlap"
	// WarningInvalidPolicy reports an object that the API server or the CRD
	// schema would reject. The evaluator leaves the object out.
	WarningInvalidPolicy WarningKind = "InvalidPolicy"
	// WarningFailClosed reports a ClusterNetworkPolicy peer or protocol
	// entry with no field set, which the evaluator treats as failing closed.
	WarningFailClosed WarningKind = "FailClosed"
	// WarningUnevaluatedPeer reports a ClusterNetworkPolicy domainNames peer,
	// which matches nothing because the evaluator has no DNS data.
	WarningUnevaluatedPeer WarningKind = "UnevaluatedPeer"
)

// Warning is a problem New found in the policies.
type Warning struct {
	Kind WarningKind
	// Policies name the objects involved, as "ClusterNetworkPolicy <name>"
	// or "NetworkPolicy <namespace>/<name>".
	Policies []string
	Message  string
}

// String returns the warning as "<kind>: <message>".
func (w Warning) String() string {
	return string(w.Kind) + ": " + w.Message
}
