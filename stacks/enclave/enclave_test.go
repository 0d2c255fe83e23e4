package enclave

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ukhomeoffice/estate/stacks/plan"
)

// internetTypes are the AWS resources that give a VPC a path to or from the
// internet.
var internetTypes = []string{
	"aws:ec2/internetGateway:InternetGateway",
	"aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway",
	"aws:ec2/natGateway:NatGateway",
	"aws:ec2/eip:Eip",
	"aws:ec2/internetGatewayAttachment:InternetGatewayAttachment",
}

func planEnclave(t *testing.T, args Args) []plan.Resource {
	t.Helper()
	resources, err := plan.Run(Project, "test", Program(args))
	if err != nil {
		t.Fatalf("plan.Run: %v", err)
	}
	return resources
}

var plans = map[string]Args{
	"one zone": {
		Site: "enclave-aws", VPCCIDR: "10.120.0.0/16",
		Subnets: map[string]string{"enclave": "10.120.0.0/20"},
	},
	"three zones in one availability zone": {
		Site: "enclave-aws", VPCCIDR: "10.120.0.0/16", AvailabilityZone: "eu-west-2b",
		Subnets: map[string]string{
			"enclave":    "10.120.0.0/20",
			"management": "10.120.16.0/24",
			"restricted": "10.120.32.0/20",
		},
	},
}

func TestEnclaveHasNoInternetPath(t *testing.T) {
	for name, args := range plans {
		t.Run(name, func(t *testing.T) {
			resources := planEnclave(t, args)
			for _, typeToken := range internetTypes {
				if found := plan.OfType(resources, typeToken); len(found) > 0 {
					t.Errorf("planned %d of %s, want none", len(found), typeToken)
				}
			}
			// Every route, inline or separate, has a destination property;
			// none may be a default route of either family.
			for _, r := range resources {
				for key, value := range r.Properties {
					if (value == "0.0.0.0/0" || value == "::/0") && !strings.HasPrefix(key, "tags.") {
						t.Errorf("%s %s has %s = %s, want no default route", r.Type, r.Name, key, value)
					}
				}
			}
			if found := plan.OfType(resources, "aws:ec2/route:Route"); len(found) > 0 {
				t.Errorf("planned %d routes, want none beyond the VPC's local route", len(found))
			}
			for _, table := range plan.OfType(resources, "aws:ec2/routeTable:RouteTable") {
				if got := table.Properties["routes[0].cidrBlock"] + table.Properties["routes[0].ipv6CidrBlock"]; got != "" {
					t.Errorf("route table %s has an inline route to %q, want none", table.Name, got)
				}
			}
			for _, subnet := range plan.OfType(resources, "aws:ec2/subnet:Subnet") {
				if got := subnet.Properties["mapPublicIpOnLaunch"]; got != "false" {
					t.Errorf("subnet %s mapPublicIpOnLaunch = %q, want false", subnet.Name, got)
				}
			}
		})
	}
}

func TestEnclaveDefaultSecurityGroupIsEmpty(t *testing.T) {
	for name, args := range plans {
		t.Run(name, func(t *testing.T) {
			groups := plan.OfType(planEnclave(t, args), "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
			if len(groups) != 1 {
				t.Fatalf("planned %d default security groups, want 1", len(groups))
			}
			for key := range groups[0].Properties {
				if strings.HasPrefix(key, "ingress") || strings.HasPrefix(key, "egress") {
					t.Errorf("default security group has rule property %s, want no rules", key)
				}
			}
		})
	}
}

func TestEnclaveSubnetsMatchAddressPlan(t *testing.T) {
	for name, args := range plans {
		t.Run(name, func(t *testing.T) {
			resources := planEnclave(t, args)
			vpcs := plan.OfType(resources, "aws:ec2/vpc:Vpc")
			if len(vpcs) != 1 {
				t.Fatalf("planned %d VPCs, want 1", len(vpcs))
			}
			if got := vpcs[0].Properties["cidrBlock"]; got != args.VPCCIDR {
				t.Errorf("VPC cidrBlock = %q, want %q", got, args.VPCCIDR)
			}
			if got := vpcs[0].Properties["assignGeneratedIpv6CidrBlock"]; got != "false" {
				t.Errorf("VPC assignGeneratedIpv6CidrBlock = %q, want false", got)
			}

			subnets := map[string]string{}
			for _, subnet := range plan.OfType(resources, "aws:ec2/subnet:Subnet") {
				subnets[subnet.Properties["tags.estate.homeoffice.gov.uk/zone"]] = subnet.Properties["cidrBlock"]
				if got := subnet.Properties["availabilityZone"]; got != args.AvailabilityZone {
					t.Errorf("subnet %s availabilityZone = %q, want %q", subnet.Name, got, args.AvailabilityZone)
				}
			}
			if diff := cmp.Diff(args.Subnets, subnets); diff != "" {
				t.Errorf("subnets by zone differ from the address plan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEnclaveRejectsInvalidPlan(t *testing.T) {
	tests := map[string]struct {
		args    Args
		wantErr string
	}{
		"IPv6 VPC block": {
			args:    Args{Site: "enclave-aws", VPCCIDR: "fd00::/56", Subnets: map[string]string{"enclave": "fd00::/64"}},
			wantErr: `VPCCIDR "fd00::/56" is not IPv4`,
		},
		"no subnets": {
			args:    Args{Site: "enclave-aws", VPCCIDR: "10.120.0.0/16"},
			wantErr: "Subnets is empty",
		},
		"missing site name": {
			args:    Args{VPCCIDR: "10.120.0.0/16", Subnets: map[string]string{"enclave": "10.120.0.0/20"}},
			wantErr: "enclave.site is empty",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := plan.Run(Project, "test", Program(tc.args))
			if err == nil {
				t.Fatalf("plan.Run succeeded, want an error containing %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("plan.Run error = %q, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestExampleStackConfigPlans(t *testing.T) {
	var args Args
	if err := plan.ReadStackConfig("Pulumi.tier2.yaml", Project+":"+ConfigKey, &args); err != nil {
		t.Fatalf("reading the example stack: %v", err)
	}
	resources := planEnclave(t, args)
	if got, want := len(plan.OfType(resources, "aws:ec2/subnet:Subnet")), len(args.Subnets); got != want {
		t.Errorf("planned %d subnets, want %d", got, want)
	}
}
