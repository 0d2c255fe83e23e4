package segmentation_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"

	"github.com/ukhomeoffice/estate/internal/segmentation"
)

func TestClusterNetworkPolicies(t *testing.T) {
	out, err := segmentation.Compile(fixtureIntent())
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	allNamespaces := &metav1.LabelSelector{}
	zonePods := func(zone string) *v1alpha2.NamespacedPod {
		return &v1alpha2.NamespacedPod{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"estate.homeoffice.gov.uk/zone": zone}}}
	}
	tcp := func(n int32) v1alpha2.ClusterNetworkPolicyProtocol {
		return v1alpha2.ClusterNetworkPolicyProtocol{TCP: &v1alpha2.ClusterNetworkPolicyProtocolTCP{DestinationPort: &v1alpha2.Port{Number: n}}}
	}
	udp := func(n int32) v1alpha2.ClusterNetworkPolicyProtocol {
		return v1alpha2.ClusterNetworkPolicyProtocol{UDP: &v1alpha2.ClusterNetworkPolicyProtocolUDP{DestinationPort: &v1alpha2.Port{Number: n}}}
	}
	dnsPods := &v1alpha2.NamespacedPod{
		NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
		PodSelector:       metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
	}
	everything := []v1alpha2.ClusterNetworkPolicyEgressPeer{{Namespaces: allNamespaces}, {Networks: []v1alpha2.CIDR{"0.0.0.0/0", "::/0"}}}
	ruleNames := func(p v1alpha2.ClusterNetworkPolicy, egress bool) []string {
		var names []string
		if egress {
			for _, r := range p.Spec.Egress {
				names = append(names, string(r.Action)+" "+r.Name)
			}
		} else {
			for _, r := range p.Spec.Ingress {
				names = append(names, string(r.Action)+" "+r.Name)
			}
		}
		return names
	}
	egressRule := func(p v1alpha2.ClusterNetworkPolicy, name string) v1alpha2.ClusterNetworkPolicyEgressRule {
		for _, r := range p.Spec.Egress {
			if r.Name == name {
				return r
			}
		}
		t.Fatalf("%s has no egress rule %s", p.Name, name)
		return v1alpha2.ClusterNetworkPolicyEgressRule{}
	}
	application := findClusterNetworkPolicy(t, out, "estate-zone-application")
	frontend := findClusterNetworkPolicy(t, out, "estate-zone-frontend")
	data := findClusterNetworkPolicy(t, out, "estate-zone-data")
	enclave := findClusterNetworkPolicy(t, out, "estate-zone-enclave")
	baseline := findClusterNetworkPolicy(t, out, "estate-baseline-default-deny")

	type tierPriority struct {
		Name     string
		Tier     v1alpha2.Tier
		Priority int32
	}
	var order []tierPriority
	for _, p := range out.ClusterNetworkPolicies {
		order = append(order, tierPriority{p.Name, p.Spec.Tier, p.Spec.Priority})
	}

	tests := []struct {
		name string
		got  any
		want any
	}{
		{
			name: "policies are ordered by tier and priority, metadata first",
			got:  order,
			want: []tierPriority{
				{"estate-block-metadata", v1alpha2.AdminTier, 10},
				{"estate-enclave-no-internet", v1alpha2.AdminTier, 20},
				{"estate-zone-application", v1alpha2.AdminTier, 100},
				{"estate-zone-data", v1alpha2.AdminTier, 100},
				{"estate-zone-enclave", v1alpha2.AdminTier, 100},
				{"estate-zone-frontend", v1alpha2.AdminTier, 100},
				{"estate-baseline-cluster-dns", v1alpha2.BaselineTier, 10},
				{"estate-baseline-default-deny", v1alpha2.BaselineTier, 20},
			},
		},
		{
			name: "metadata policy denies the metadata addresses to every pod",
			got:  findClusterNetworkPolicy(t, out, "estate-block-metadata").Spec,
			want: v1alpha2.ClusterNetworkPolicySpec{
				Tier: v1alpha2.AdminTier, Priority: 10,
				Subject: v1alpha2.ClusterNetworkPolicySubject{Namespaces: allNamespaces},
				Egress: []v1alpha2.ClusterNetworkPolicyEgressRule{{
					Name: "deny-metadata", Action: v1alpha2.ClusterNetworkPolicyRuleActionDeny,
					To: []v1alpha2.ClusterNetworkPolicyEgressPeer{{Networks: []v1alpha2.CIDR{"169.254.169.254/32", "fd00:ec2::254/128"}}},
				}},
			},
		},
		{
			name: "enclave policy selects the enclave zone's pods",
			got:  findClusterNetworkPolicy(t, out, "estate-enclave-no-internet").Spec.Subject,
			want: v1alpha2.ClusterNetworkPolicySubject{Pods: zonePods("enclave")},
		},
		{
			name: "zone passes allowed source zones, then denies other pods",
			got:  ruleNames(application, false),
			want: []string{"Pass pass-from-application", "Pass pass-from-frontend", "Deny deny-other-pods"},
		},
		{
			name: "zone passes a named matrix port as a destination named port",
			got:  application.Spec.Ingress[1],
			want: v1alpha2.ClusterNetworkPolicyIngressRule{
				Name: "pass-from-frontend", Action: v1alpha2.ClusterNetworkPolicyRuleActionPass,
				From:      []v1alpha2.ClusterNetworkPolicyIngressPeer{{Pods: zonePods("frontend")}},
				Protocols: []v1alpha2.ClusterNetworkPolicyProtocol{{DestinationNamedPort: "api"}},
			},
		},
		{
			name: "zone passes DNS, allowed zones, their addresses and the internet, then denies",
			got:  ruleNames(application, true),
			want: []string{
				"Pass pass-cluster-dns", "Pass pass-to-application", "Pass pass-to-data",
				"Pass pass-to-data-addresses", "Pass pass-to-application-addresses",
				"Pass pass-to-internet", "Deny deny-everything-else",
			},
		},
		{
			name: "zone passes DNS only to the cluster DNS pods",
			got:  egressRule(application, "pass-cluster-dns"),
			want: v1alpha2.ClusterNetworkPolicyEgressRule{
				Name: "pass-cluster-dns", Action: v1alpha2.ClusterNetworkPolicyRuleActionPass,
				To:        []v1alpha2.ClusterNetworkPolicyEgressPeer{{Pods: dnsPods}},
				Protocols: []v1alpha2.ClusterNetworkPolicyProtocol{tcp(53), udp(53)},
			},
		},
		{
			name: "zone passes the allowed zone's blocks at every site",
			got:  egressRule(application, "pass-to-application-addresses"),
			want: v1alpha2.ClusterNetworkPolicyEgressRule{
				Name: "pass-to-application-addresses", Action: v1alpha2.ClusterNetworkPolicyRuleActionPass,
				To:        []v1alpha2.ClusterNetworkPolicyEgressPeer{{Networks: []v1alpha2.CIDR{"10.64.16.0/20", "10.65.16.0/20"}}},
				Protocols: []v1alpha2.ClusterNetworkPolicyProtocol{tcp(9090)},
			},
		},
		{
			name: "zone denies every other pod and address last",
			got:  application.Spec.Egress[len(application.Spec.Egress)-1].To,
			want: everything,
		},
		{
			name: "named matrix port becomes the zone's numbers for addresses",
			got:  egressRule(frontend, "pass-to-application-addresses").Protocols,
			want: []v1alpha2.ClusterNetworkPolicyProtocol{tcp(8443)},
		},
		{
			name: "zone without inbound matrix rules denies all pods",
			got:  ruleNames(frontend, false),
			want: []string{"Deny deny-other-pods"},
		},
		{
			name: "zone passes the PSN without the department's space in it",
			got:  egressRule(data, "pass-to-psn").To,
			want: []v1alpha2.ClusterNetworkPolicyEgressPeer{{Networks: []v1alpha2.CIDR{
				"51.0.0.0/9", "51.128.0.0/10", "51.192.0.0/11", "51.225.0.0/16", "51.226.0.0/15", "51.228.0.0/14", "51.232.0.0/13", "51.240.0.0/12",
			}}},
		},
		{
			name: "enclave zone gets no internet pass although the matrix allows it",
			got:  ruleNames(enclave, true),
			want: []string{"Pass pass-cluster-dns", "Pass pass-to-enclave", "Pass pass-to-enclave-addresses", "Deny deny-everything-else"},
		},
		{
			name: "baseline denies all ingress from pods",
			got:  baseline.Spec.Ingress,
			want: []v1alpha2.ClusterNetworkPolicyIngressRule{{
				Name: "deny-all", Action: v1alpha2.ClusterNetworkPolicyRuleActionDeny,
				From: []v1alpha2.ClusterNetworkPolicyIngressPeer{{Namespaces: allNamespaces}},
			}},
		},
		{
			name: "baseline accepts DNS to the cluster DNS and denies all other egress",
			got:  baseline.Spec.Egress,
			want: []v1alpha2.ClusterNetworkPolicyEgressRule{
				{
					Name: "accept-cluster-dns", Action: v1alpha2.ClusterNetworkPolicyRuleActionAccept,
					To:        []v1alpha2.ClusterNetworkPolicyEgressPeer{{Pods: dnsPods}},
					Protocols: []v1alpha2.ClusterNetworkPolicyProtocol{tcp(53), udp(53)},
				},
				{Name: "deny-all", Action: v1alpha2.ClusterNetworkPolicyRuleActionDeny, To: everything},
			},
		},
		{
			name: "baseline applies to every namespace",
			got:  baseline.Spec.Subject,
			want: v1alpha2.ClusterNetworkPolicySubject{Namespaces: allNamespaces},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestEnclavePolicyDeniesExactlyTheInternet(t *testing.T) {
	out, err := segmentation.Compile(fixtureIntent())
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	p := findClusterNetworkPolicy(t, out, "estate-enclave-no-internet")
	var networks []netip.Prefix
	for _, r := range p.Spec.Egress {
		if r.Action != v1alpha2.ClusterNetworkPolicyRuleActionDeny {
			t.Errorf("rule %s has action %s, want Deny", r.Name, r.Action)
		}
		if r.Protocols != nil {
			t.Errorf("rule %s limits protocols %+v, want every port", r.Name, r.Protocols)
		}
		for _, peer := range r.To {
			if len(peer.Networks) > 25 {
				t.Errorf("rule %s has a peer with %d networks, above the API limit of 25", r.Name, len(peer.Networks))
			}
			for _, n := range peer.Networks {
				networks = append(networks, netip.MustParsePrefix(string(n)))
			}
		}
	}
	want, err := segmentation.Internet(fixtureIntent().DepartmentSpaces, fixtureIntent().PSNRanges, mustPrefixes("169.254.169.254/32", "fd00:ec2::254/128"))
	if err != nil {
		t.Fatalf("Internet: %v", err)
	}
	if diff := cmp.Diff(want.Prefixes(), networks, prefixComparer); diff != "" {
		t.Errorf("enclave policy networks (-want +got):\n%s", diff)
	}
}

// subjectZones returns the zones a subject is limited to, or nil when it
// selects pods of every zone.
func subjectZones(s v1alpha2.ClusterNetworkPolicySubject) []string {
	if s.Pods == nil || len(s.Pods.NamespaceSelector.MatchLabels) > 0 || len(s.Pods.NamespaceSelector.MatchExpressions) > 0 {
		return nil
	}
	sel := s.Pods.PodSelector
	if z, ok := sel.MatchLabels["estate.homeoffice.gov.uk/zone"]; ok {
		return []string{z}
	}
	for _, e := range sel.MatchExpressions {
		if e.Key == "estate.homeoffice.gov.uk/zone" && e.Operator == metav1.LabelSelectorOpIn {
			return e.Values
		}
	}
	return nil
}

func TestAdminPrioritiesHaveDisjointSubjects(t *testing.T) {
	intents := map[string]segmentation.Intent{"fixture": fixtureIntent()}
	for seed := range uint64(10) {
		intents["generated estate "+string(rune('a'+seed))] = generateEstate(seed, estateConfig{workloads: 80, flows: 300, zones: 14, sites: 4, zoneFlowPerMille: 100, conformingPercent: 50})
	}
	for name, in := range intents {
		t.Run(name, func(t *testing.T) {
			out, err := segmentation.Compile(in)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			byPriority := map[int32][]v1alpha2.ClusterNetworkPolicy{}
			for _, p := range out.ClusterNetworkPolicies {
				if p.Spec.Tier == v1alpha2.AdminTier {
					byPriority[p.Spec.Priority] = append(byPriority[p.Spec.Priority], p)
				}
				if p.Spec.Priority < 0 || p.Spec.Priority > 1000 {
					t.Errorf("%s has priority %d, outside 0 to 1000", p.Name, p.Spec.Priority)
				}
				if len(p.Spec.Ingress) > 25 || len(p.Spec.Egress) > 25 {
					t.Errorf("%s has %d ingress and %d egress rules, above the API limit of 25", p.Name, len(p.Spec.Ingress), len(p.Spec.Egress))
				}
			}
			for priority, policies := range byPriority {
				for i := range policies {
					for j := range i {
						a, b := subjectZones(policies[i].Spec.Subject), subjectZones(policies[j].Spec.Subject)
						if a == nil || b == nil || slices.ContainsFunc(a, func(z string) bool { return slices.Contains(b, z) }) {
							t.Errorf("%s and %s share priority %d and their subjects overlap; give one of them another priority", policies[i].Name, policies[j].Name, priority)
						}
					}
				}
			}
		})
	}
}

func TestZonePolicySplitsAtTheRuleLimit(t *testing.T) {
	in := segmentation.Intent{DepartmentSpaces: mustPrefixes("10.64.0.0/10")}
	in.Zones = append(in.Zones, segmentation.Zone{Name: "hub"})
	for i := range 30 {
		zone := "spoke-" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		in.Zones = append(in.Zones, segmentation.Zone{Name: zone})
		// A distinct port per spoke keeps each in its own rule.
		in.Matrix = append(in.Matrix, segmentation.ZoneRule{From: "hub", To: zone, Ports: []segmentation.Port{{Protocol: "TCP", Port: int32(8000 + i)}}})
	}
	out, err := segmentation.Compile(in)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	first := findClusterNetworkPolicy(t, out, "estate-zone-hub")
	second := findClusterNetworkPolicy(t, out, "estate-zone-hub-2")

	tests := []struct {
		name string
		got  any
		want any
	}{
		{"first part has the top zone priority", first.Spec.Priority, int32(100)},
		{"second part follows it", second.Spec.Priority, int32(101)},
		{"first part is full", len(first.Spec.Egress), 25},
		{"second part holds the rest", len(second.Spec.Egress), 1 + 30 + 1 - 25},
		{"first part starts with DNS", first.Spec.Egress[0].Name, "pass-cluster-dns"},
		{"deny comes last, in the second part", second.Spec.Egress[len(second.Spec.Egress)-1].Name, "deny-everything-else"},
		{"ingress deny stays in the first part", first.Spec.Ingress[len(first.Spec.Ingress)-1].Name, "deny-other-pods"},
		{"second part has no ingress rules", len(second.Spec.Ingress), 0},
		{"both parts select the zone", second.Spec.Subject, first.Spec.Subject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
