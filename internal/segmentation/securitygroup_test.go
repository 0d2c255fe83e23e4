package segmentation_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ukhomeoffice/estate/internal/segmentation"
)

func TestSecurityGroups(t *testing.T) {
	out, err := segmentation.Compile(fixtureIntent())
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	internet, err := segmentation.Internet(fixtureIntent().DepartmentSpaces, fixtureIntent().PSNRanges, mustPrefixes("169.254.169.254/32", "fd00:ec2::254/128"))
	if err != nil {
		t.Fatalf("Internet: %v", err)
	}
	internetPrefixes := internet.Prefixes()

	var sites []string
	groupsBySite := map[string][]string{}
	for site, groups := range out.SecurityGroups {
		sites = append(sites, site)
		for _, g := range groups {
			groupsBySite[site] = append(groupsBySite[site], g.Name+" for "+g.Workload)
		}
	}

	tests := []struct {
		name string
		got  any
		want any
	}{
		{
			name: "only public cloud sites get security groups",
			got:  slices.Sorted(slices.Values(sites)),
			want: []string{"aws"},
		},
		{
			name: "each workload on the site gets its own group, sorted by name",
			got:  groupsBySite,
			want: map[string][]string{"aws": {"estate.app.casework for app/casework", "estate.web.portal for web/portal"}},
		},
		{
			name: "same-site callers are referenced by group and named ports resolve to numbers",
			got:  findSecurityGroup(t, out, "app/casework").Ingress,
			want: []segmentation.SGRule{
				{Protocol: "tcp", FromPort: 8443, ToPort: 8443, SourceGroup: "estate.web.portal", Description: "web/portal/submit"},
				{Protocol: "tcp", FromPort: 9090, ToPort: 9090, SourceGroup: "estate.app.casework", Description: "app/casework/peers"},
			},
		},
		{
			name: "other sites are referenced by address and the internet by its complement",
			got:  findSecurityGroup(t, out, "app/casework").Egress,
			want: []segmentation.SGRule{
				{Protocol: "tcp", FromPort: 443, ToPort: 443, CIDRs: internetPrefixes, Description: "app/casework/payments"},
				{Protocol: "tcp", FromPort: 5432, ToPort: 5432, CIDRs: mustPrefixes("10.65.32.0/28"), Description: "app/casework/records"},
				{Protocol: "tcp", FromPort: 9090, ToPort: 9090, CIDRs: mustPrefixes("10.64.16.0/20", "10.65.16.0/20"), Description: "app/casework/peers"},
			},
		},
		{
			name: "internet exposure admits the internet on the served port",
			got:  findSecurityGroup(t, out, "web/portal").Ingress,
			want: []segmentation.SGRule{
				{Protocol: "tcp", FromPort: 443, ToPort: 443, CIDRs: internetPrefixes, Description: "exposure Internet"},
			},
		},
		{
			name: "egress to a same-site workload names its group",
			got:  findSecurityGroup(t, out, "web/portal").Egress,
			want: []segmentation.SGRule{
				{Protocol: "tcp", FromPort: 8443, ToPort: 8443, SourceGroup: "estate.app.casework", Description: "web/portal/submit"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got, prefixComparer); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSecurityGroupAllPortsExposure(t *testing.T) {
	in := fixtureIntent()
	in.Matrix = append(in.Matrix, segmentation.ZoneRule{From: "psn", To: "frontend"})
	in.Workloads = append(in.Workloads, segmentation.Workload{
		Namespace: "web", Name: "gateway", Zone: "frontend", Site: "aws", Exposure: segmentation.ExposurePSN,
		Addresses: mustPrefixes("10.64.0.16/28"),
	})
	out, err := segmentation.Compile(in)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	want := []segmentation.SGRule{{
		Protocol: "-1",
		CIDRs: mustPrefixes("51.0.0.0/9", "51.128.0.0/10", "51.192.0.0/11", "51.225.0.0/16", "51.226.0.0/15",
			"51.228.0.0/14", "51.232.0.0/13", "51.240.0.0/12"),
		Description: "exposure PSN",
	}}
	if diff := cmp.Diff(want, findSecurityGroup(t, out, "web/gateway").Ingress, prefixComparer); diff != "" {
		t.Errorf("ingress of a workload with no declared ports under an every-port matrix rule (-want +got):\n%s", diff)
	}
}

func TestSecurityGroupDescriptionLimit(t *testing.T) {
	in := fixtureIntent()
	var flows []segmentation.Flow
	for _, name := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t"} {
		flows = append(flows, segmentation.Flow{
			Name:  "payments-to-a-very-long-named-provider-" + name,
			To:    segmentation.Peer{External: segmentation.ExternalInternet},
			Ports: []segmentation.Port{{Protocol: "TCP", Port: 443}},
		})
	}
	for i := range in.Workloads {
		if in.Workloads[i].Name == "casework" {
			in.Workloads[i].Flows = append(in.Workloads[i].Flows, flows...)
		}
	}
	out, err := segmentation.Compile(in)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	for _, r := range findSecurityGroup(t, out, "app/casework").Egress {
		if len(r.Description) > 255 {
			t.Errorf("description of %s/%d is %d bytes, above the limit of 255: %q", r.Protocol, r.FromPort, len(r.Description), r.Description)
		}
	}
	egress := findSecurityGroup(t, out, "app/casework").Egress
	var internetRules int
	for _, r := range egress {
		if r.FromPort == 443 {
			internetRules++
		}
	}
	if internetRules != 1 {
		t.Errorf("got %d rules for TCP 443, want the 21 flows merged into 1", internetRules)
	}
}
