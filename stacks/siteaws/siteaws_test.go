package siteaws

import (
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ukhomeoffice/estate/modules/segmentation"
	"github.com/ukhomeoffice/estate/stacks/plan"
)

const (
	vpcType             = "aws:ec2/vpc:Vpc"
	subnetType          = "aws:ec2/subnet:Subnet"
	routeType           = "aws:ec2/route:Route"
	routeTableType      = "aws:ec2/routeTable:RouteTable"
	associationType     = "aws:ec2/routeTableAssociation:RouteTableAssociation"
	internetGatewayType = "aws:ec2/internetGateway:InternetGateway"
	securityGroupType   = "aws:ec2/securityGroup:SecurityGroup"
	ingressRuleType     = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
	egressRuleType      = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
	attachmentType      = "aws:ec2transitgateway/vpcAttachment:VpcAttachment"
	tgwAssociationType  = "aws:ec2transitgateway/routeTableAssociation:RouteTableAssociation"
	tgwPropagationType  = "aws:ec2transitgateway/routeTablePropagation:RouteTablePropagation"
)

func london() SiteArgs {
	return SiteArgs{
		Site:    "aws-london",
		VPCCIDR: "10.64.0.0/16",
		Subnets: map[string]string{
			"internet-edge": "10.64.0.0/20",
			"psn-edge":      "10.64.16.0/20",
			"application":   "10.64.32.0/20",
		},
	}
}

func mustPlan(t *testing.T, args SiteArgs) []plan.Resource {
	t.Helper()
	resources, err := Plan(args)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return resources
}

// subnetsByZone returns each planned subnet's block keyed by its zone tag.
func subnetsByZone(resources []plan.Resource) map[string]string {
	out := map[string]string{}
	for _, subnet := range plan.OfType(resources, subnetType) {
		out[subnet.Properties["tags.estate.homeoffice.gov.uk/zone"]] = subnet.Properties["cidrBlock"]
	}
	return out
}

func TestSubnetsMatchAddressPlan(t *testing.T) {
	tests := map[string]struct {
		vpc     string
		subnets map[string]string
	}{
		"one zone takes one subnet": {
			vpc:     "10.80.0.0/16",
			subnets: map[string]string{"application": "10.80.0.0/20"},
		},
		"three zones take three subnets": {
			vpc: "10.64.0.0/16",
			subnets: map[string]string{
				"frontend":    "10.64.0.0/20",
				"application": "10.64.16.0/20",
				"data":        "10.64.32.0/20",
			},
		},
		"zones of different sizes keep their sizes": {
			vpc: "10.96.0.0/18",
			subnets: map[string]string{
				"management": "10.96.0.0/24",
				"data":       "10.96.16.0/20",
				"psn-edge":   "10.96.1.0/28",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			resources := mustPlan(t, SiteArgs{Site: "aws-test", VPCCIDR: tc.vpc, Subnets: tc.subnets})

			vpcs := plan.OfType(resources, vpcType)
			if len(vpcs) != 1 {
				t.Fatalf("planned %d VPCs, want 1", len(vpcs))
			}
			if got := vpcs[0].Properties["cidrBlock"]; got != tc.vpc {
				t.Errorf("VPC cidrBlock = %q, want %q", got, tc.vpc)
			}
			if diff := cmp.Diff(tc.subnets, subnetsByZone(resources)); diff != "" {
				t.Errorf("subnets by zone differ from the address plan (-want +got):\n%s", diff)
			}
			for _, subnet := range plan.OfType(resources, subnetType) {
				if got := subnet.Properties["vpcId"]; got != vpcs[0].Name {
					t.Errorf("subnet %s is in VPC %q, want %q", subnet.Name, got, vpcs[0].Name)
				}
			}
			if got, want := len(plan.OfType(resources, associationType)), len(tc.subnets); got != want {
				t.Errorf("planned %d route table associations, want one per subnet (%d)", got, want)
			}
		})
	}
}

func TestInternetGatewayOnlyForPublicZones(t *testing.T) {
	tests := map[string]struct {
		publicZones  []string
		wantGateways int
		wantPublic   []string
	}{
		"no public zone declares no gateway": {publicZones: nil, wantGateways: 0, wantPublic: nil},
		"internet edge alone routes to the gateway": {
			publicZones: []string{"internet-edge"}, wantGateways: 1, wantPublic: []string{"internet-edge"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			args := london()
			args.PublicZones = tc.publicZones
			resources := mustPlan(t, args)

			if got := len(plan.OfType(resources, internetGatewayType)); got != tc.wantGateways {
				t.Errorf("planned %d internet gateways, want %d", got, tc.wantGateways)
			}

			defaultRouteTables := map[string]bool{}
			for _, route := range plan.OfType(resources, routeType) {
				if route.Properties["destinationCidrBlock"] == "0.0.0.0/0" {
					defaultRouteTables[route.Properties["routeTableId"]] = true
				}
			}
			subnetZone := map[string]string{}
			for _, subnet := range plan.OfType(resources, subnetType) {
				subnetZone[subnet.Name] = subnet.Properties["tags.estate.homeoffice.gov.uk/zone"]
			}
			var public []string
			for _, association := range plan.OfType(resources, associationType) {
				if defaultRouteTables[association.Properties["routeTableId"]] {
					public = append(public, subnetZone[association.Properties["subnetId"]])
				}
			}
			sort.Strings(public)
			if diff := cmp.Diff(tc.wantPublic, public); diff != "" {
				t.Errorf("zones routed to 0.0.0.0/0 differ (-want +got):\n%s", diff)
			}
		})
	}
}

// ruleView is a planned security group rule as the tests compare it.
type ruleView struct {
	Group, Direction, Protocol, From, To, Peer, Description string
}

func plannedRules(resources []plan.Resource) []ruleView {
	groupOf := map[string]string{}
	for _, group := range plan.OfType(resources, securityGroupType) {
		groupOf[group.Name] = group.Properties["tags."+segmentation.GroupTag]
	}
	var out []ruleView
	for direction, typeToken := range map[string]string{"ingress": ingressRuleType, "egress": egressRuleType} {
		for _, rule := range plan.OfType(resources, typeToken) {
			p := rule.Properties
			peer := p["cidrIpv4"] + p["cidrIpv6"]
			if ref := p["referencedSecurityGroupId"]; ref != "" {
				peer = "group:" + groupOf[ref]
			}
			out = append(out, ruleView{
				Group:       groupOf[p["securityGroupId"]],
				Direction:   direction,
				Protocol:    p["ipProtocol"],
				From:        p["fromPort"],
				To:          p["toPort"],
				Peer:        peer,
				Description: p["description"],
			})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return strings.Join([]string{out[i].Group, out[i].Direction, out[i].Peer, out[i].From}, "|") <
			strings.Join([]string{out[j].Group, out[j].Direction, out[j].Peer, out[j].From}, "|")
	})
	return out
}

func TestSecurityGroupsMatchRules(t *testing.T) {
	tests := map[string]struct {
		groups     []segmentation.Group
		wantGroups []string
		wantRules  []ruleView
	}{
		"group with no rules has no rules": {
			groups:     []segmentation.Group{{Name: "quarantine"}},
			wantGroups: []string{"quarantine"},
			wantRules:  nil,
		},
		"each CIDR of a rule becomes its own rule": {
			groups: []segmentation.Group{{
				Name: "frontend",
				Ingress: []segmentation.Rule{{
					Protocol: "tcp", FromPort: 443, ToPort: 443,
					CIDRs:       []string{"51.0.0.0/8", "2001:db8::/32"},
					Description: "HTTPS from the PSN",
				}},
			}},
			wantGroups: []string{"frontend"},
			wantRules: []ruleView{
				{Group: "frontend", Direction: "ingress", Protocol: "tcp", From: "443", To: "443", Peer: "2001:db8::/32", Description: "HTTPS from the PSN"},
				{Group: "frontend", Direction: "ingress", Protocol: "tcp", From: "443", To: "443", Peer: "51.0.0.0/8", Description: "HTTPS from the PSN"},
			},
		},
		"source group refers to the other group's ID": {
			groups: []segmentation.Group{
				{Name: "application", Ingress: []segmentation.Rule{{Protocol: "tcp", FromPort: 8443, ToPort: 8443, SourceGroup: "frontend"}}},
				{Name: "frontend", Egress: []segmentation.Rule{{Protocol: "tcp", FromPort: 8443, ToPort: 8443, SourceGroup: "application"}}},
			},
			wantGroups: []string{"application", "frontend"},
			wantRules: []ruleView{
				{Group: "application", Direction: "ingress", Protocol: "tcp", From: "8443", To: "8443", Peer: "group:frontend"},
				{Group: "frontend", Direction: "egress", Protocol: "tcp", From: "8443", To: "8443", Peer: "group:application"},
			},
		},
		"all protocols drop the port range": {
			groups: []segmentation.Group{{
				Name:   "management",
				Egress: []segmentation.Rule{{Protocol: "all", FromPort: 1, ToPort: 2, CIDRs: []string{"10.64.0.0/16"}}},
			}},
			wantGroups: []string{"management"},
			wantRules: []ruleView{
				{Group: "management", Direction: "egress", Protocol: "-1", Peer: "10.64.0.0/16"},
			},
		},
		"protocol number 6 is named tcp": {
			groups: []segmentation.Group{{
				Name:    "data",
				Ingress: []segmentation.Rule{{Protocol: "6", FromPort: 5432, ToPort: 5432, CIDRs: []string{"10.64.0.0/20"}}},
			}},
			wantGroups: []string{"data"},
			wantRules: []ruleView{
				{Group: "data", Direction: "ingress", Protocol: "tcp", From: "5432", To: "5432", Peer: "10.64.0.0/20"},
			},
		},
		"other protocol numbers allow the whole protocol": {
			groups: []segmentation.Group{{
				Name:    "vpn",
				Ingress: []segmentation.Rule{{Protocol: "50", CIDRs: []string{"203.0.113.10/32"}, Description: "ESP from the PSN gateway"}},
			}},
			wantGroups: []string{"vpn"},
			wantRules: []ruleView{
				{Group: "vpn", Direction: "ingress", Protocol: "50", Peer: "203.0.113.10/32", Description: "ESP from the PSN gateway"},
			},
		},
		"rule with both CIDRs and a source group keeps both peers": {
			groups: []segmentation.Group{
				{Name: "data", Ingress: []segmentation.Rule{{Protocol: "udp", FromPort: 53, ToPort: 53, CIDRs: []string{"10.64.0.0/20"}, SourceGroup: "application"}}},
				{Name: "application"},
			},
			wantGroups: []string{"application", "data"},
			wantRules: []ruleView{
				{Group: "data", Direction: "ingress", Protocol: "udp", From: "53", To: "53", Peer: "10.64.0.0/20"},
				{Group: "data", Direction: "ingress", Protocol: "udp", From: "53", To: "53", Peer: "group:application"},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			args := london()
			args.SecurityGroups = tc.groups
			resources := mustPlan(t, args)

			var groups []string
			for _, group := range plan.OfType(resources, securityGroupType) {
				groups = append(groups, group.Properties["tags."+segmentation.GroupTag])
				if got := group.Properties["vpcId"]; got != "aws-london-vpc" {
					t.Errorf("security group %s is in VPC %q, want aws-london-vpc", group.Name, got)
				}
				if got := group.Properties["ingress[0].protocol"] + group.Properties["egress[0].protocol"]; got != "" {
					t.Errorf("security group %s has inline rules (%q); rules must be separate resources", group.Name, got)
				}
			}
			sort.Strings(groups)
			if diff := cmp.Diff(tc.wantGroups, groups); diff != "" {
				t.Errorf("security groups differ (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantRules, plannedRules(resources)); diff != "" {
				t.Errorf("rules differ from those given (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPSNAttachmentRoutesExactlyPSNRanges(t *testing.T) {
	tests := map[string]struct {
		ranges     []string
		routeTable string
	}{
		"one IPv4 range": {ranges: []string{"51.0.0.0/8"}},
		"several ranges of both families": {
			ranges: []string{"51.0.0.0/8", "194.60.0.0/16", "2a00:1940::/32"},
		},
		"associated with the PSN route table": {
			ranges: []string{"51.0.0.0/8"}, routeTable: "tgw-rtb-psn",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			args := london()
			args.PSN = &PSNArgs{
				TransitGatewayID:           "tgw-psn",
				TransitGatewayRouteTableID: tc.routeTable,
				AttachmentZones:            []string{"psn-edge"},
				Ranges:                     tc.ranges,
			}
			resources := mustPlan(t, args)

			attachments := plan.OfType(resources, attachmentType)
			if len(attachments) != 1 {
				t.Fatalf("planned %d transit gateway attachments, want 1", len(attachments))
			}
			attachment := attachments[0]
			if got := attachment.Properties["transitGatewayId"]; got != "tgw-psn" {
				t.Errorf("attachment transitGatewayId = %q, want tgw-psn", got)
			}
			if got := attachment.Properties["subnetIds[0]"]; got != "aws-london-psn-edge" {
				t.Errorf("attachment subnetIds[0] = %q, want the psn-edge subnet aws-london-psn-edge", got)
			}
			if got := attachment.Properties["subnetIds[1]"]; got != "" {
				t.Errorf("attachment has a second subnet %q, want only the psn-edge subnet", got)
			}

			var destinations []string
			for _, route := range plan.OfType(resources, routeType) {
				destinations = append(destinations, route.Properties["destinationCidrBlock"]+route.Properties["destinationIpv6CidrBlock"])
				if got := route.Properties["transitGatewayId"]; got != "tgw-psn" {
					t.Errorf("route %s goes to %q, want the transit gateway tgw-psn", route.Name, got)
				}
				if got := route.Properties["routeTableId"]; got != "aws-london-private" {
					t.Errorf("route %s is in route table %q, want aws-london-private", route.Name, got)
				}
				if !contains(route.DependsOn, attachment.Name) {
					t.Errorf("route %s depends on %v, want it to wait for the attachment %s", route.Name, route.DependsOn, attachment.Name)
				}
			}
			want := append([]string(nil), tc.ranges...)
			sort.Strings(want)
			sort.Strings(destinations)
			if diff := cmp.Diff(want, destinations); diff != "" {
				t.Errorf("routed destinations differ from the PSN ranges (-want +got):\n%s", diff)
			}

			wantAssociations := 0
			if tc.routeTable != "" {
				wantAssociations = 1
			}
			for _, typeToken := range []string{tgwAssociationType, tgwPropagationType} {
				found := plan.OfType(resources, typeToken)
				if len(found) != wantAssociations {
					t.Errorf("planned %d of %s, want %d", len(found), typeToken, wantAssociations)
					continue
				}
				for _, r := range found {
					if got := r.Properties["transitGatewayRouteTableId"]; got != tc.routeTable {
						t.Errorf("%s uses route table %q, want %q", typeToken, got, tc.routeTable)
					}
				}
			}
		})
	}
}

func contains(list []string, value string) bool {
	for _, item := range list {
		if item == value {
			return true
		}
	}
	return false
}

func TestPlanRejectsInvalidSite(t *testing.T) {
	tests := map[string]struct {
		change  func(*SiteArgs)
		wantErr string
	}{
		"missing site name": {
			change:  func(a *SiteArgs) { a.Site = "" },
			wantErr: "site is empty",
		},
		"subnet outside the VPC": {
			change:  func(a *SiteArgs) { a.Subnets["data"] = "10.65.0.0/20" },
			wantErr: `Subnets["data"] 10.65.0.0/20 is outside the VPC block 10.64.0.0/16`,
		},
		"overlapping subnets": {
			change:  func(a *SiteArgs) { a.Subnets["data"] = "10.64.8.0/21" },
			wantErr: "overlaps",
		},
		"VPC block with host bits": {
			change:  func(a *SiteArgs) { a.VPCCIDR = "10.64.1.0/16" },
			wantErr: "has host bits set; use the network address 10.64.0.0/16",
		},
		"public zone without a subnet": {
			change:  func(a *SiteArgs) { a.PublicZones = []string{"frontend"} },
			wantErr: `PublicZones names "frontend"`,
		},
		"rule naming an unknown source group": {
			change: func(a *SiteArgs) {
				a.SecurityGroups = []segmentation.Group{{Name: "data", Ingress: []segmentation.Rule{{Protocol: "tcp", FromPort: 5432, ToPort: 5432, SourceGroup: "app"}}}}
			},
			wantErr: `SourceGroup "app" is not one of the groups given`,
		},
		"rule with no peer": {
			change: func(a *SiteArgs) {
				a.SecurityGroups = []segmentation.Group{{Name: "data", Ingress: []segmentation.Rule{{Protocol: "tcp", FromPort: 5432, ToPort: 5432}}}}
			},
			wantErr: "has no peer",
		},
		"rule with an inverted port range": {
			change: func(a *SiteArgs) {
				a.SecurityGroups = []segmentation.Group{{Name: "data", Ingress: []segmentation.Rule{{Protocol: "tcp", FromPort: 443, ToPort: 80, CIDRs: []string{"10.0.0.0/8"}}}}}
			},
			wantErr: "port range 443-80 is invalid",
		},
		"SCTP rule limited to a port": {
			change: func(a *SiteArgs) {
				a.SecurityGroups = []segmentation.Group{{Name: "signalling", Ingress: []segmentation.Rule{{Protocol: "sctp", FromPort: 3868, ToPort: 3868, CIDRs: []string{"10.0.0.0/8"}}}}}
			},
			wantErr: "protocol sctp cannot be limited to ports",
		},
		"protocol number with ports": {
			change: func(a *SiteArgs) {
				a.SecurityGroups = []segmentation.Group{{Name: "signalling", Ingress: []segmentation.Rule{{Protocol: "132", FromPort: 3868, ToPort: 3868, CIDRs: []string{"10.0.0.0/8"}}}}}
			},
			wantErr: "protocol 132 cannot be limited to ports 3868-3868",
		},
		"unknown protocol name": {
			change: func(a *SiteArgs) {
				a.SecurityGroups = []segmentation.Group{{Name: "data", Ingress: []segmentation.Rule{{Protocol: "gre", CIDRs: []string{"10.0.0.0/8"}}}}}
			},
			wantErr: `protocol "gre" is not supported`,
		},
		"PSN default route": {
			change: func(a *SiteArgs) {
				a.PSN = &PSNArgs{TransitGatewayID: "tgw-psn", AttachmentZones: []string{"psn-edge"}, Ranges: []string{"0.0.0.0/0"}}
			},
			wantErr: "is a default route",
		},
		"PSN attachment zone without a subnet": {
			change: func(a *SiteArgs) {
				a.PSN = &PSNArgs{TransitGatewayID: "tgw-psn", AttachmentZones: []string{"psn"}, Ranges: []string{"51.0.0.0/8"}}
			},
			wantErr: `psn.attachmentZones names "psn"`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			args := london()
			tc.change(&args)
			_, err := Plan(args)
			if err == nil {
				t.Fatalf("Plan succeeded, want an error containing %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Plan error = %q, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

// The provisioning operator plans several sites at once, so Plan must give
// each caller its own, complete result.
func TestPlanConcurrentCallsAgree(t *testing.T) {
	args := london()
	args.SecurityGroups = []segmentation.Group{{Name: "application", Ingress: []segmentation.Rule{{Protocol: "tcp", FromPort: 443, ToPort: 443, CIDRs: []string{"10.0.0.0/8"}}}}}
	args.PSN = &PSNArgs{TransitGatewayID: "tgw-psn", AttachmentZones: []string{"psn-edge"}, Ranges: []string{"51.0.0.0/8"}}
	want := mustPlan(t, args)

	const callers = 8
	results := make(chan []plan.Resource, callers)
	errs := make(chan error, callers)
	for range callers {
		go func() {
			got, err := Plan(args)
			errs <- err
			results <- got
		}()
	}
	for range callers {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Plan: %v", err)
		}
		if diff := cmp.Diff(want, <-results); diff != "" {
			t.Errorf("concurrent Plan result differs from a single call (-want +got):\n%s", diff)
		}
	}
}

func TestExampleStackConfigPlans(t *testing.T) {
	var args SiteArgs
	if err := plan.ReadStackConfig("Pulumi.london.yaml", Project+":"+ConfigKey, &args); err != nil {
		t.Fatalf("reading the example stack: %v", err)
	}
	resources, err := Plan(args)
	if err != nil {
		t.Fatalf("Plan of Pulumi.london.yaml: %v", err)
	}
	if got, want := len(plan.OfType(resources, subnetType)), len(args.Subnets); got != want {
		t.Errorf("planned %d subnets, want %d", got, want)
	}
	if got, want := len(plan.OfType(resources, securityGroupType)), len(args.SecurityGroups); got != want {
		t.Errorf("planned %d security groups, want %d", got, want)
	}
	if got := len(plan.OfType(resources, attachmentType)); got != 1 {
		t.Errorf("planned %d PSN attachments, want 1", got)
	}
}
