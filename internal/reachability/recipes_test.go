package reachability

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

// recipeCase is one recipe: policies and probes with the outcomes the
// recipe states.
type recipeCase struct {
	name     string
	policies []networkingv1.NetworkPolicy
	probes   []probe
}

// Endpoints shared by the recipe cases. The recipes run in namespace
// "default" unless they name another one.
var (
	recipeWeb         = pod("default", "web", "10.1.0.10", labelsOf("app", "web", "env", "prod"), containerPort("http", protocolTCP, 80))
	recipeClient      = pod("default", "test", "10.1.0.11", labelsOf("run", "test"))
	recipeAPIServer   = pod("default", "apiserver", "10.1.0.12", labelsOf("app", "bookstore", "role", "api"), containerPort("http", protocolTCP, 80))
	recipeBookstore   = pod("default", "frontend", "10.1.0.13", labelsOf("app", "bookstore", "role", "frontend"))
	recipeSecondary   = pod("secondary", "web", "10.1.1.10", labelsOf("app", "web"), containerPort("http", protocolTCP, 80))
	recipeSecondaryTo = pod("secondary", "test", "10.1.1.11", labelsOf("run", "test"))
	recipeProd        = pod("prod", "test", "10.1.2.11", labelsOf("run", "test"))
	recipeDev         = pod("dev", "test", "10.1.3.11", labelsOf("run", "test"))
	recipeMonitor     = pod("default", "monitor", "10.1.0.14", labelsOf("type", "monitoring"))
	recipeOther       = pod("other", "test", "10.1.4.11", labelsOf("run", "test"))
	recipeOtherMon    = pod("other", "monitor", "10.1.4.14", labelsOf("type", "monitoring"))
	recipeTwoPorts    = pod("default", "apiserver", "10.1.0.20", labelsOf("app", "apiserver"),
		containerPort("http", protocolTCP, 8000), containerPort("api-port", protocolTCP, 5000))
	recipeMonitoring = pod("default", "metrics", "10.1.0.21", labelsOf("role", "monitoring"))
	recipeRedis      = pod("default", "db", "10.1.0.30", labelsOf("app", "bookstore", "role", "db"), containerPort("redis", protocolTCP, 6379))
	recipeCatalog    = pod("default", "catalog", "10.1.0.31", labelsOf("app", "inventory", "role", "web"))
	recipeStranger   = pod("default", "stranger", "10.1.0.32", labelsOf("app", "other"))
	recipeFoo        = pod("default", "foo", "10.1.0.40", labelsOf("app", "foo"))
	recipeDNS        = pod("kube-system", "kube-dns", "10.1.9.10", labelsOf("k8s-app", "kube-dns"), containerPort("dns", protocolUDP, 53))
	recipeInternet   = external("www.example.com", "93.184.216.34")
)

func withNamespaceLabels(endpoint Endpoint, namespaceLabels map[string]string) Endpoint {
	endpoint.NamespaceLabels = namespaceLabels
	return endpoint
}

// Cases from the Kubernetes network policy recipes
// (github.com/ahmetb/kubernetes-network-policy-recipes), with the outcomes
// each recipe states.
var recipeCases = []recipeCase{
	{
		name: "deny all traffic to an application",
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("default", "web-deny-all", networkingv1.NetworkPolicySpec{PodSelector: *matchLabels("app", "web", "env", "prod")}),
		},
		probes: []probe{
			{from: recipeClient, to: recipeWeb, port: 80, allowed: false},
			{from: recipeSecondaryTo, to: recipeWeb, port: 80, allowed: false},
			{from: recipeInternet, to: recipeWeb, port: 80, allowed: false},
			{from: recipeWeb, to: recipeClient, port: 80, allowed: true},
		},
	},
	{
		name: "limit traffic to an application to pods with a label",
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("default", "api-allow", networkingv1.NetworkPolicySpec{
				PodSelector: *matchLabels("app", "bookstore", "role", "api"),
				Ingress:     []networkingv1.NetworkPolicyIngressRule{ingressFrom(podPeer(matchLabels("app", "bookstore")))},
			}),
		},
		probes: []probe{
			{from: recipeClient, to: recipeAPIServer, port: 80, allowed: false},
			{from: recipeBookstore, to: recipeAPIServer, port: 80, allowed: true},
		},
	},
	{
		name: "allow all traffic to an application voids a deny all",
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("default", "web-deny-all", networkingv1.NetworkPolicySpec{PodSelector: *matchLabels("app", "web")}),
			networkPolicy("default", "web-allow-all", networkingv1.NetworkPolicySpec{
				PodSelector: *matchLabels("app", "web"), Ingress: []networkingv1.NetworkPolicyIngressRule{{}},
			}),
		},
		probes: []probe{
			{from: recipeClient, to: recipeWeb, port: 80, allowed: true},
			{from: recipeSecondaryTo, to: recipeWeb, port: 80, allowed: true},
		},
	},
	{
		name: "deny all non-allowed traffic in the namespace",
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("default", "default-deny-all", networkingv1.NetworkPolicySpec{}),
		},
		probes: []probe{
			{from: recipeClient, to: recipeWeb, port: 80, allowed: false},
			{from: recipeWeb, to: recipeAPIServer, port: 80, allowed: false},
			{from: recipeClient, to: recipeSecondary, port: 80, allowed: true},
		},
	},
	{
		name: "deny traffic from other namespaces",
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("secondary", "deny-from-other-namespaces", networkingv1.NetworkPolicySpec{
				Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(podPeer(matchLabels()))},
			}),
		},
		probes: []probe{
			{from: recipeClient, to: recipeSecondary, port: 80, allowed: false},
			{from: recipeSecondaryTo, to: recipeSecondary, port: 80, allowed: true},
		},
	},
	{
		name: "allow traffic from a namespace with a label",
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("default", "web-allow-prod", networkingv1.NetworkPolicySpec{
				PodSelector: *matchLabels("app", "web"),
				Ingress:     []networkingv1.NetworkPolicyIngressRule{ingressFrom(namespacePeer(matchLabels("purpose", "production")))},
			}),
		},
		probes: []probe{
			{from: withNamespaceLabels(recipeDev, labelsOf("purpose", "testing")), to: recipeWeb, port: 80, allowed: false},
			{from: withNamespaceLabels(recipeProd, labelsOf("purpose", "production")), to: recipeWeb, port: 80, allowed: true},
		},
	},
	{
		name: "allow traffic from some pods in another namespace, AND form",
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("default", "web-allow-all-ns-monitoring", networkingv1.NetworkPolicySpec{
				PodSelector: *matchLabels("app", "web"),
				Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(namespaceAndPodPeer(
					matchLabels("team", "operations"), matchLabels("type", "monitoring")))},
			}),
		},
		probes: []probe{
			{from: recipeClient, to: recipeWeb, port: 80, allowed: false},
			{from: recipeMonitor, to: recipeWeb, port: 80, allowed: false},
			{from: withNamespaceLabels(recipeOther, labelsOf("team", "operations")), to: recipeWeb, port: 80, allowed: false},
			{from: withNamespaceLabels(recipeOtherMon, labelsOf("team", "operations")), to: recipeWeb, port: 80, allowed: true},
		},
	},
	{
		name: "allow traffic from some pods in another namespace, OR form",
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("default", "web-allow-all-ns-monitoring", networkingv1.NetworkPolicySpec{
				PodSelector: *matchLabels("app", "web"),
				Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(
					namespacePeer(matchLabels("team", "operations")), podPeer(matchLabels("type", "monitoring")))},
			}),
		},
		probes: []probe{
			{from: recipeClient, to: recipeWeb, port: 80, allowed: false},
			{from: recipeMonitor, to: recipeWeb, port: 80, allowed: true},
			{from: withNamespaceLabels(recipeOther, labelsOf("team", "operations")), to: recipeWeb, port: 80, allowed: true},
		},
	},
	{
		name: "allow traffic from external clients",
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("default", "web-deny-all", networkingv1.NetworkPolicySpec{}),
			networkPolicy("default", "web-allow-external", networkingv1.NetworkPolicySpec{
				PodSelector: *matchLabels("app", "web"), Ingress: []networkingv1.NetworkPolicyIngressRule{{}},
			}),
		},
		probes: []probe{
			{from: recipeInternet, to: recipeWeb, port: 80, allowed: true},
			{from: recipeClient, to: recipeWeb, port: 80, allowed: true},
		},
	},
	{
		name: "allow external traffic only to port 80",
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("default", "web-allow-external", networkingv1.NetworkPolicySpec{
				PodSelector: *matchLabels("app", "web"),
				Ingress:     []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{numberedPort(nil, 80)}}},
			}),
		},
		probes: []probe{
			{from: recipeInternet, to: recipeWeb, port: 80, allowed: true},
			{from: recipeInternet, to: recipeWeb, port: 443, allowed: false},
		},
	},
	{
		name: "allow traffic only to a port number from monitoring pods",
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("default", "api-allow-5000", networkingv1.NetworkPolicySpec{
				PodSelector: *matchLabels("app", "apiserver"),
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					Ports: []networkingv1.NetworkPolicyPort{numberedPort(nil, 5000)},
					From:  []networkingv1.NetworkPolicyPeer{podPeer(matchLabels("role", "monitoring"))},
				}},
			}),
		},
		probes: []probe{
			{from: recipeClient, to: recipeTwoPorts, port: 8000, allowed: false},
			{from: recipeClient, to: recipeTwoPorts, port: 5000, allowed: false},
			{from: recipeMonitoring, to: recipeTwoPorts, port: 8000, allowed: false},
			{from: recipeMonitoring, to: recipeTwoPorts, port: 5000, allowed: true},
		},
	},
	{
		name: "allow traffic only to a named port from monitoring pods",
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("default", "api-allow-5000", networkingv1.NetworkPolicySpec{
				PodSelector: *matchLabels("app", "apiserver"),
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					Ports: []networkingv1.NetworkPolicyPort{namedPort(nil, "api-port")},
					From:  []networkingv1.NetworkPolicyPeer{podPeer(matchLabels("role", "monitoring"))},
				}},
			}),
		},
		probes: []probe{
			{from: recipeMonitoring, to: recipeTwoPorts, port: 8000, allowed: false},
			{from: recipeMonitoring, to: recipeTwoPorts, port: 5000, allowed: true},
		},
	},
	{
		name: "allow traffic from applications using multiple selectors",
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("default", "redis-allow-services", networkingv1.NetworkPolicySpec{
				PodSelector: *matchLabels("app", "bookstore", "role", "db"),
				Ingress: []networkingv1.NetworkPolicyIngressRule{ingressFrom(
					podPeer(matchLabels("app", "bookstore", "role", "search")),
					podPeer(matchLabels("app", "bookstore", "role", "api")),
					podPeer(matchLabels("app", "inventory", "role", "web")),
				)},
			}),
		},
		probes: []probe{
			{from: recipeCatalog, to: recipeRedis, port: 6379, allowed: true},
			{from: recipeAPIServer, to: recipeRedis, port: 6379, allowed: true},
			{from: recipeStranger, to: recipeRedis, port: 6379, allowed: false},
		},
	},
	{
		name: "deny egress traffic from an application",
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("default", "foo-deny-egress", networkingv1.NetworkPolicySpec{
				PodSelector: *matchLabels("app", "foo"), PolicyTypes: egressOnly, Egress: []networkingv1.NetworkPolicyEgressRule{},
			}),
		},
		probes: []probe{
			{from: recipeFoo, to: recipeWeb, port: 80, allowed: false},
			{from: recipeFoo, to: recipeDNS, protocol: protocolUDP, port: 53, allowed: false},
			{from: recipeFoo, to: recipeInternet, port: 80, allowed: false},
			{from: recipeClient, to: recipeFoo, port: 80, allowed: true},
		},
	},
	{
		name: "deny egress except DNS to any host",
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("default", "foo-deny-egress", networkingv1.NetworkPolicySpec{
				PodSelector: *matchLabels("app", "foo"), PolicyTypes: egressOnly,
				Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{
					numberedPort(&protocolUDP, 53), numberedPort(&protocolTCP, 53),
				}}},
			}),
		},
		probes: []probe{
			{from: recipeFoo, to: recipeDNS, protocol: protocolUDP, port: 53, allowed: true},
			{from: recipeFoo, to: recipeInternet, protocol: protocolUDP, port: 53, allowed: true},
			{from: recipeFoo, to: recipeWeb, port: 80, allowed: false},
			{from: recipeFoo, to: recipeInternet, port: 80, allowed: false},
		},
	},
	{
		name: "deny external egress traffic but allow pods in the cluster",
		policies: []networkingv1.NetworkPolicy{
			networkPolicy("default", "foo-deny-external-egress", networkingv1.NetworkPolicySpec{
				PodSelector: *matchLabels("app", "foo"), PolicyTypes: egressOnly,
				Egress: []networkingv1.NetworkPolicyEgressRule{
					{Ports: []networkingv1.NetworkPolicyPort{numberedPort(&protocolUDP, 53), numberedPort(&protocolTCP, 53)}},
					egressTo(namespacePeer(matchLabels())),
				},
			}),
		},
		probes: []probe{
			{from: recipeFoo, to: recipeWeb, port: 80, allowed: true},
			{from: recipeFoo, to: recipeSecondary, port: 80, allowed: true},
			{from: recipeFoo, to: recipeInternet, port: 80, allowed: false},
			{from: recipeFoo, to: recipeInternet, protocol: protocolUDP, port: 53, allowed: true},
		},
	},
}

func TestNetworkPolicyRecipes(t *testing.T) {
	for _, tc := range recipeCases {
		t.Run(tc.name, func(t *testing.T) {
			evaluator := newEvaluator(t, tc.policies, nil)
			checkProbes(t, evaluator, tc.probes)
		})
	}
}
