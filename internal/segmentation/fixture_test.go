package segmentation_test

import (
	"net/netip"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ukhomeoffice/estate/internal/segmentation"
)

// fixtureIntent is a small estate that exercises each kind of rule:
//
//   - web/portal (frontend, public cloud "aws", exposed to the internet)
//     calls app/casework on its named port "api".
//   - app/casework (application, "aws") reads data/records at another site,
//     calls its own zone on 9090 and pays through the internet.
//   - app/batch (application, on-premises "dc", exposed to the PSN) reads
//     data/records at its own site.
//   - data/records (data, "dc") shares with the PSN, and declares a flow
//     to the internet that the zone matrix forbids.
//   - sec/knowledge and sec/intercept are in the enclave at the SECRET
//     site "vault": intercept delivers to knowledge, and knowledge declares
//     a flow to the internet that the enclave forbids even though the
//     matrix allows it.
func fixtureIntent() segmentation.Intent {
	tcp := func(port int32) segmentation.Port { return segmentation.Port{Protocol: "TCP", Port: port} }
	return segmentation.Intent{
		Zones: []segmentation.Zone{
			{Name: "frontend", TrustLevel: "Medium"},
			{Name: "application", TrustLevel: "Medium"},
			{Name: "data", TrustLevel: "High"},
			{Name: "enclave", TrustLevel: "Restricted"},
		},
		Matrix: []segmentation.ZoneRule{
			{From: "internet", To: "frontend", Ports: []segmentation.Port{tcp(443)}},
			{From: "psn", To: "application", Ports: []segmentation.Port{tcp(8443)}},
			{From: "frontend", To: "application", Ports: []segmentation.Port{{Name: "api"}}},
			{From: "application", To: "application", Ports: []segmentation.Port{tcp(9090)}},
			{From: "application", To: "data", Ports: []segmentation.Port{tcp(5432)}},
			{From: "application", To: "internet", Ports: []segmentation.Port{tcp(443)}},
			{From: "data", To: "psn", Ports: []segmentation.Port{tcp(443)}},
			{From: "enclave", To: "enclave", Ports: []segmentation.Port{tcp(443)}},
			{From: "enclave", To: "internet"},
		},
		DepartmentSpaces: mustPrefixes("10.64.0.0/10", "51.224.0.0/16", "fd10::/16"),
		PSNRanges:        mustPrefixes("51.0.0.0/8"),
		Sites: []segmentation.Site{
			{Name: "aws", Tier: segmentation.TierPublicCloud, ZoneBlocks: map[string][]netip.Prefix{
				"frontend":    mustPrefixes("10.64.0.0/20", "fd10::/48"),
				"application": mustPrefixes("10.64.16.0/20"),
			}},
			{Name: "dc", Tier: segmentation.TierOnPremises, ZoneBlocks: map[string][]netip.Prefix{
				"application": mustPrefixes("10.65.16.0/20"),
				"data":        mustPrefixes("10.65.32.0/20"),
			}},
			{Name: "vault", Tier: segmentation.TierOnPremises, Enclave: true, ZoneBlocks: map[string][]netip.Prefix{
				"enclave": mustPrefixes("10.66.48.0/20"),
			}},
		},
		Workloads: []segmentation.Workload{
			{
				Namespace: "web", Name: "portal", Zone: "frontend", Site: "aws", Exposure: segmentation.ExposureInternet,
				Addresses: mustPrefixes("10.64.0.0/28", "fd10::/64"),
				Ports:     []segmentation.NamedPort{{Name: "https", Protocol: "TCP", Port: 443}},
				Flows: []segmentation.Flow{
					{Name: "submit", To: segmentation.Peer{Workload: "app/casework"}, Ports: []segmentation.Port{{Name: "api"}}},
				},
			},
			{
				Namespace: "app", Name: "casework", Zone: "application", Site: "aws",
				Addresses: mustPrefixes("10.64.16.0/28"),
				Ports:     []segmentation.NamedPort{{Name: "api", Protocol: "TCP", Port: 8443}, {Name: "metrics", Protocol: "TCP", Port: 9090}},
				Flows: []segmentation.Flow{
					{Name: "records", To: segmentation.Peer{Workload: "data/records"}, Ports: []segmentation.Port{tcp(5432)}},
					{Name: "payments", To: segmentation.Peer{External: segmentation.ExternalInternet}, Ports: []segmentation.Port{tcp(443)}},
					{Name: "peers", To: segmentation.Peer{Zone: "application"}, Ports: []segmentation.Port{tcp(9090)}},
				},
			},
			{
				Namespace: "app", Name: "batch", Zone: "application", Site: "dc", Exposure: segmentation.ExposurePSN,
				Addresses: mustPrefixes("10.65.16.0/28"),
				Ports:     []segmentation.NamedPort{{Name: "api", Protocol: "TCP", Port: 8443}, {Name: "metrics", Protocol: "TCP", Port: 9090}},
				Flows: []segmentation.Flow{
					{Name: "records", To: segmentation.Peer{Workload: "data/records"}, Ports: []segmentation.Port{tcp(5432)}},
				},
			},
			{
				Namespace: "data", Name: "records", Zone: "data", Site: "dc",
				Addresses: mustPrefixes("10.65.32.0/28"),
				Ports:     []segmentation.NamedPort{{Name: "db", Protocol: "TCP", Port: 5432}},
				Flows: []segmentation.Flow{
					{Name: "share", To: segmentation.Peer{External: segmentation.ExternalPSN}, Ports: []segmentation.Port{tcp(443)}},
					{Name: "leak", To: segmentation.Peer{External: segmentation.ExternalInternet}, Ports: []segmentation.Port{tcp(443)}},
				},
			},
			{
				Namespace: "sec", Name: "knowledge", Zone: "enclave", Site: "vault",
				Addresses: mustPrefixes("10.66.48.0/28"),
				Ports:     []segmentation.NamedPort{{Name: "https", Protocol: "TCP", Port: 443}},
				Flows: []segmentation.Flow{
					{Name: "news", To: segmentation.Peer{External: segmentation.ExternalInternet}, Ports: []segmentation.Port{tcp(443)}},
				},
			},
			{
				Namespace: "sec", Name: "intercept", Zone: "enclave", Site: "vault",
				Addresses: mustPrefixes("10.66.48.16/28"),
				Flows: []segmentation.Flow{
					{Name: "deliver", To: segmentation.Peer{Workload: "knowledge"}, Ports: []segmentation.Port{tcp(443)}},
				},
			},
		},
	}
}

// Expected values below are written from the rules in the package
// documentation, not copied from the compiler's output.

var prefixComparer = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

func workloadPeer(namespace, name string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": namespace}},
		PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"estate.homeoffice.gov.uk/workload": name}},
	}
}

func zonePeer(zone string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{},
		PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"estate.homeoffice.gov.uk/zone": zone}},
	}
}

func dnsPeer() networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
		PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
	}
}

func ipBlock(cidr string, except ...string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr, Except: except}}
}

func npPort(protocol string, port intstr.IntOrString) networkingv1.NetworkPolicyPort {
	p := corev1.Protocol(protocol)
	return networkingv1.NetworkPolicyPort{Protocol: &p, Port: &port}
}

func tcpPort(n int32) networkingv1.NetworkPolicyPort { return npPort("TCP", intstr.FromInt32(n)) }
func udpPort(n int32) networkingv1.NetworkPolicyPort { return npPort("UDP", intstr.FromInt32(n)) }
func namedPort(name string) networkingv1.NetworkPolicyPort {
	return npPort("TCP", intstr.FromString(name))
}

func dnsEgress() networkingv1.NetworkPolicyEgressRule {
	return networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{dnsPeer()}, Ports: []networkingv1.NetworkPolicyPort{tcpPort(53), udpPort(53)}}
}

// fixtureInternetBlocks is 0.0.0.0/0 and ::/0 except the fixture's department
// spaces, PSN range, metadata addresses and private ranges, merged where they
// nest: 10.64.0.0/10 lies in 10.0.0.0/8, 51.224.0.0/16 in 51.0.0.0/8, the
// metadata addresses in link-local and ULA space, and fd10::/16 in ULA.
func fixtureInternetBlocks() []networkingv1.NetworkPolicyPeer {
	return []networkingv1.NetworkPolicyPeer{
		ipBlock("0.0.0.0/0", "10.0.0.0/8", "51.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"),
		ipBlock("::/0", "fc00::/7", "fe80::/10"),
	}
}
