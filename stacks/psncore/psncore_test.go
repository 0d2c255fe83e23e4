package psncore

import (
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ukhomeoffice/estate/stacks/plan"
)

func validArgs(ranges ...string) Args {
	return Args{
		Name:          "psn-london",
		AmazonSideASN: 64600,
		Gateway:       Gateway{IPAddress: "203.0.113.10", BGPASN: 65010},
		Ranges:        ranges,
	}
}

func TestTransitGatewayRoutesExactlyPSNRanges(t *testing.T) {
	tests := map[string][]string{
		"one range":                 {"51.0.0.0/8"},
		"several ranges":            {"51.0.0.0/8", "194.60.0.0/16", "10.240.0.0/12"},
		"ranges of both families":   {"51.0.0.0/8", "2a00:1940::/32"},
		"ranges given out of order": {"194.60.0.0/16", "51.0.0.0/8"},
	}
	for name, ranges := range tests {
		t.Run(name, func(t *testing.T) {
			resources, err := plan.Run(Project, "test", Program(validArgs(ranges...)))
			if err != nil {
				t.Fatalf("plan.Run: %v", err)
			}

			gateways := plan.OfType(resources, "aws:ec2transitgateway/transitGateway:TransitGateway")
			if len(gateways) != 1 {
				t.Fatalf("planned %d transit gateways, want 1", len(gateways))
			}
			for _, setting := range []string{"defaultRouteTableAssociation", "defaultRouteTablePropagation"} {
				if got := gateways[0].Properties[setting]; got != "disable" {
					t.Errorf("transit gateway %s = %q, want disable", setting, got)
				}
			}
			vpns := plan.OfType(resources, "aws:ec2/vpnConnection:VpnConnection")
			if len(vpns) != 1 {
				t.Fatalf("planned %d VPN connections, want 1", len(vpns))
			}
			vpnAttachment := vpns[0].Name + ".transitGatewayAttachmentId"
			tables := plan.OfType(resources, "aws:ec2transitgateway/routeTable:RouteTable")
			if len(tables) != 1 {
				t.Fatalf("planned %d transit gateway route tables, want 1", len(tables))
			}

			var destinations []string
			for _, route := range plan.OfType(resources, "aws:ec2transitgateway/route:Route") {
				destinations = append(destinations, route.Properties["destinationCidrBlock"])
				if got := route.Properties["transitGatewayAttachmentId"]; got != vpnAttachment {
					t.Errorf("route %s goes to %q, want the VPN attachment %q", route.Name, got, vpnAttachment)
				}
				if got := route.Properties["transitGatewayRouteTableId"]; got != tables[0].Name {
					t.Errorf("route %s is in route table %q, want %q", route.Name, got, tables[0].Name)
				}
				if got := route.Properties["blackhole"]; got == "true" {
					t.Errorf("route %s is a blackhole, want it to forward", route.Name)
				}
			}
			want := append([]string(nil), ranges...)
			sort.Strings(want)
			sort.Strings(destinations)
			if diff := cmp.Diff(want, destinations); diff != "" {
				t.Errorf("routed destinations differ from the PSN ranges (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPSNCoreRejectsInvalidArgs(t *testing.T) {
	tests := map[string]struct {
		change  func(*Args)
		wantErr string
	}{
		"public ASN":            {change: func(a *Args) { a.AmazonSideASN = 3356 }, wantErr: "psn.amazonSideAsn 3356 is not a private ASN"},
		"gateway without an IP": {change: func(a *Args) { a.Gateway.IPAddress = "" }, wantErr: "psn.gateway.ipAddress"},
		"default route":         {change: func(a *Args) { a.Ranges = []string{"0.0.0.0/0"} }, wantErr: "is a default route"},
		"duplicate range":       {change: func(a *Args) { a.Ranges = []string{"51.0.0.0/8", "51.0.0.0/8"} }, wantErr: "is listed twice"},
		"range with host bits":  {change: func(a *Args) { a.Ranges = []string{"51.1.0.0/8"} }, wantErr: "has host bits set; use 51.0.0.0/8"},
		"no ranges":             {change: func(a *Args) { a.Ranges = nil }, wantErr: "psn.ranges is empty"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			args := validArgs("51.0.0.0/8")
			tc.change(&args)
			_, err := plan.Run(Project, "test", Program(args))
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
	if err := plan.ReadStackConfig("Pulumi.production.yaml", Project+":"+ConfigKey, &args); err != nil {
		t.Fatalf("reading the example stack: %v", err)
	}
	resources, err := plan.Run(Project, "production", Program(args))
	if err != nil {
		t.Fatalf("plan.Run of Pulumi.production.yaml: %v", err)
	}
	if got, want := len(plan.OfType(resources, "aws:ec2transitgateway/route:Route")), len(args.Ranges); got != want {
		t.Errorf("planned %d transit gateway routes, want %d", got, want)
	}
}
