package segmentation_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ukhomeoffice/estate/internal/segmentation"
)

func TestNetworkPolicies(t *testing.T) {
	out, err := segmentation.Compile(fixtureIntent())
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	psnBlock := ipBlock("51.0.0.0/8", "51.224.0.0/16")
	egress := func(peers []networkingv1.NetworkPolicyPeer, ports ...networkingv1.NetworkPolicyPort) networkingv1.NetworkPolicyEgressRule {
		return networkingv1.NetworkPolicyEgressRule{To: peers, Ports: ports}
	}
	ingress := func(peers []networkingv1.NetworkPolicyPeer, ports ...networkingv1.NetworkPolicyPort) networkingv1.NetworkPolicyIngressRule {
		return networkingv1.NetworkPolicyIngressRule{From: peers, Ports: ports}
	}
	peers := func(list ...networkingv1.NetworkPolicyPeer) []networkingv1.NetworkPolicyPeer { return list }

	tests := []struct {
		name        string
		workload    string
		wantIngress []networkingv1.NetworkPolicyIngressRule
		wantEgress  []networkingv1.NetworkPolicyEgressRule
	}{
		{
			name:        "internet exposure and a named port to a same-site workload",
			workload:    "web/portal",
			wantIngress: []networkingv1.NetworkPolicyIngressRule{ingress(fixtureInternetBlocks(), namedPort("https"))},
			wantEgress: []networkingv1.NetworkPolicyEgressRule{
				dnsEgress(),
				egress(peers(workloadPeer("app", "casework")), namedPort("api")),
			},
		},
		{
			name:     "cross-site workload, own zone and internet egress",
			workload: "app/casework",
			wantIngress: []networkingv1.NetworkPolicyIngressRule{
				ingress(peers(workloadPeer("app", "casework")), tcpPort(9090)),
				ingress(peers(workloadPeer("web", "portal")), namedPort("api")),
			},
			wantEgress: []networkingv1.NetworkPolicyEgressRule{
				dnsEgress(),
				egress(peers(workloadPeer("data", "records")), tcpPort(5432)),
				egress(peers(zonePeer("application")), tcpPort(9090)),
				egress(fixtureInternetBlocks(), tcpPort(443)),
				egress(peers(ipBlock("10.65.16.0/20")), tcpPort(9090)),
				egress(peers(ipBlock("10.65.32.0/28")), tcpPort(5432)),
			},
		},
		{
			name:     "zone flow from another site and PSN exposure on the matrix port",
			workload: "app/batch",
			wantIngress: []networkingv1.NetworkPolicyIngressRule{
				ingress(peers(workloadPeer("app", "casework"), ipBlock("10.64.16.0/28")), tcpPort(9090)),
				ingress(peers(psnBlock), namedPort("api")),
			},
			wantEgress: []networkingv1.NetworkPolicyEgressRule{
				dnsEgress(),
				egress(peers(workloadPeer("data", "records")), tcpPort(5432)),
			},
		},
		{
			name:     "ingress from every declared flow and PSN egress without department space",
			workload: "data/records",
			wantIngress: []networkingv1.NetworkPolicyIngressRule{
				ingress(peers(workloadPeer("app", "batch")), tcpPort(5432)),
				ingress(peers(workloadPeer("app", "casework"), ipBlock("10.64.16.0/28")), tcpPort(5432)),
			},
			wantEgress: []networkingv1.NetworkPolicyEgressRule{
				dnsEgress(),
				egress(peers(psnBlock), tcpPort(443)),
			},
		},
		{
			name:        "enclave workload keeps only DNS after its internet flow is rejected",
			workload:    "sec/knowledge",
			wantIngress: []networkingv1.NetworkPolicyIngressRule{ingress(peers(workloadPeer("sec", "intercept")), tcpPort(443))},
			wantEgress:  []networkingv1.NetworkPolicyEgressRule{dnsEgress()},
		},
		{
			name:       "workload nothing calls has no ingress rule",
			workload:   "sec/intercept",
			wantEgress: []networkingv1.NetworkPolicyEgressRule{dnsEgress(), egress(peers(workloadPeer("sec", "knowledge")), tcpPort(443))},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			np := findNetworkPolicy(t, out, tt.workload)
			if diff := cmp.Diff(tt.wantIngress, np.Spec.Ingress); diff != "" {
				t.Errorf("ingress of %s (-want +got):\n%s", tt.workload, diff)
			}
			if diff := cmp.Diff(tt.wantEgress, np.Spec.Egress); diff != "" {
				t.Errorf("egress of %s (-want +got):\n%s", tt.workload, diff)
			}
		})
	}
}

func TestNetworkPolicyObject(t *testing.T) {
	out, err := segmentation.Compile(fixtureIntent())
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if got, want := len(out.NetworkPolicies), len(fixtureIntent().Workloads); got != want {
		t.Errorf("got %d NetworkPolicies, want one per workload (%d)", got, want)
	}
	np := findNetworkPolicy(t, out, "data/records")

	tests := []struct {
		name string
		got  any
		want any
	}{
		{"policy is a networking.k8s.io/v1 NetworkPolicy", np.TypeMeta, metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"}},
		{"policy is named after the workload in its namespace", np.Namespace + "/" + np.Name, "data/records"},
		{"policy selects the workload's pods by label", np.Spec.PodSelector, metav1.LabelSelector{MatchLabels: map[string]string{"estate.homeoffice.gov.uk/workload": "records"}}},
		{"policy denies both directions by default", np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}},
		{"policy is labelled as managed by estate", np.Labels["app.kubernetes.io/managed-by"], "estate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestNetworkPolicyZoneFlowAcrossSites(t *testing.T) {
	in := fixtureIntent()
	in.Matrix = append(in.Matrix, segmentation.ZoneRule{From: "frontend", To: "application", Ports: []segmentation.Port{{Protocol: "UDP", Port: 514}, {Name: "syslog"}}})
	for i := range in.Workloads {
		w := &in.Workloads[i]
		switch w.Namespace + "/" + w.Name {
		case "app/batch":
			w.Ports = append(w.Ports, segmentation.NamedPort{Name: "syslog", Protocol: "UDP", Port: 514})
		case "web/portal":
			w.Flows = append(w.Flows,
				segmentation.Flow{Name: "logs", To: segmentation.Peer{Zone: "application"}, Ports: []segmentation.Port{{Protocol: "UDP", Port: 514}}},
				segmentation.Flow{Name: "named-logs", To: segmentation.Peer{Zone: "application"}, Ports: []segmentation.Port{{Name: "syslog"}}},
			)
		}
	}
	out, err := segmentation.Compile(in)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if len(out.Rejected) != 2 {
		t.Errorf("got rejections %+v, want only the fixture's two", out.Rejected)
	}

	udpNamed := npPort("UDP", intstr.FromString("syslog"))
	tests := []struct {
		name     string
		workload string
		egress   bool
		want     any
	}{
		{
			name:     "zone peer keeps the named port with the protocol its servers use",
			workload: "web/portal",
			egress:   true,
			want:     networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{zonePeer("application")}, Ports: []networkingv1.NetworkPolicyPort{udpNamed, udpPort(514)}},
		},
		{
			name:     "numbered zone flow reaches the zone's block at the other site",
			workload: "web/portal",
			egress:   true,
			want:     networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{ipBlock("10.65.16.0/20")}, Ports: []networkingv1.NetworkPolicyPort{udpPort(514)}},
		},
		{
			name:     "named zone flow reaches each server at the other site by number",
			workload: "web/portal",
			egress:   true,
			want:     networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{ipBlock("10.65.16.0/28")}, Ports: []networkingv1.NetworkPolicyPort{udpPort(514)}},
		},
		{
			name:     "server at another site admits the client's pods and addresses",
			workload: "app/batch",
			want: networkingv1.NetworkPolicyIngressRule{
				From:  []networkingv1.NetworkPolicyPeer{workloadPeer("web", "portal"), ipBlock("10.64.0.0/28"), ipBlock("fd10::/64")},
				Ports: []networkingv1.NetworkPolicyPort{udpNamed, udpPort(514)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			np := findNetworkPolicy(t, out, tt.workload)
			var rules []any
			if tt.egress {
				for _, r := range np.Spec.Egress {
					rules = append(rules, r)
				}
			} else {
				for _, r := range np.Spec.Ingress {
					rules = append(rules, r)
				}
			}
			for _, r := range rules {
				if cmp.Equal(r, tt.want) {
					return
				}
			}
			t.Errorf("%s has no rule %+v; rules are %+v", tt.workload, tt.want, rules)
		})
	}
}
