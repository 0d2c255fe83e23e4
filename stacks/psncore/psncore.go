// Package psncore is the program of the psn-core Pulumi project. It declares
// the transit gateway that every AWS site attaches to and its route table.
// Routes in that table send the Public Services Network (PSN) ranges over a
// site-to-site VPN to the department's PSN gateway.
package psncore

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2transitgateway"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

// Project is the Pulumi project name, as in Pulumi.yaml.
const Project = "psn-core"

// ConfigKey is the stack configuration key that holds Args as an object.
const ConfigKey = "psn"

// Args describes the PSN core. Its JSON form is the stack configuration
// under ConfigKey.
type Args struct {
	// Name prefixes every resource name, for example "psn-london".
	Name string `json:"name"`
	// AmazonSideASN is the transit gateway's private BGP ASN, 64512 to
	// 65534 or 4200000000 to 4294967294.
	AmazonSideASN int `json:"amazonSideAsn"`
	// Gateway is the department's PSN gateway that the VPN terminates on.
	Gateway Gateway `json:"gateway"`
	// Ranges are the Network's spec.psn.ranges, routed to the gateway.
	Ranges []string `json:"ranges"`
	// Tags are added to every resource that takes them.
	Tags map[string]string `json:"tags,omitempty"`
}

// Gateway is the customer side of the site-to-site VPN.
type Gateway struct {
	// IPAddress is the gateway's public IPv4 address.
	IPAddress string `json:"ipAddress"`
	// BGPASN is the gateway's BGP ASN. AWS requires one even for a VPN with
	// static routes.
	BGPASN int `json:"bgpAsn"`
}

// ArgsFromConfig reads Args from the stack configuration key ConfigKey.
func ArgsFromConfig(ctx *pulumi.Context) (Args, error) {
	var args Args
	if err := config.New(ctx, "").TryObject(ConfigKey, &args); err != nil {
		return Args{}, fmt.Errorf("reading stack configuration %s:%s: %w; set it as in Pulumi.production.yaml", ctx.Project(), ConfigKey, err)
	}
	return args, nil
}

// Program returns the Pulumi program that declares the PSN core. The stack
// exports transitGatewayId and routeTableId, which site stacks take as
// psn.transitGatewayId and psn.transitGatewayRouteTableId.
func Program(args Args) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		ranges, err := checkArgs(args)
		if err != nil {
			return err
		}
		tags := func(name string) pulumi.StringMap {
			out := pulumi.StringMap{
				"Name":                                pulumi.String(name),
				"estate.homeoffice.gov.uk/managed-by": pulumi.String("pulumi/" + Project),
			}
			for k, v := range args.Tags {
				out[k] = pulumi.String(v)
			}
			return out
		}

		// Default association and propagation are off, so that a new
		// attachment reaches nothing until it is associated with the PSN
		// route table on purpose.
		gateway, err := ec2transitgateway.NewTransitGateway(ctx, args.Name, &ec2transitgateway.TransitGatewayArgs{
			Description:                  pulumi.String("PSN transit gateway " + args.Name),
			AmazonSideAsn:                pulumi.Int(args.AmazonSideASN),
			DefaultRouteTableAssociation: pulumi.String("disable"),
			DefaultRouteTablePropagation: pulumi.String("disable"),
			DnsSupport:                   pulumi.String("enable"),
			VpnEcmpSupport:               pulumi.String("enable"),
			Tags:                         tags(args.Name),
		})
		if err != nil {
			return err
		}
		routeTable, err := ec2transitgateway.NewRouteTable(ctx, args.Name, &ec2transitgateway.RouteTableArgs{
			TransitGatewayId: gateway.ID(),
			Tags:             tags(args.Name),
		})
		if err != nil {
			return err
		}

		customerGateway, err := ec2.NewCustomerGateway(ctx, args.Name+"-gateway", &ec2.CustomerGatewayArgs{
			BgpAsn:    pulumi.String(strconv.Itoa(args.Gateway.BGPASN)),
			IpAddress: pulumi.String(args.Gateway.IPAddress),
			Type:      pulumi.String("ipsec.1"),
			Tags:      tags(args.Name + "-gateway"),
		})
		if err != nil {
			return err
		}
		vpn, err := ec2.NewVpnConnection(ctx, args.Name+"-vpn", &ec2.VpnConnectionArgs{
			CustomerGatewayId: customerGateway.ID(),
			TransitGatewayId:  gateway.ID(),
			Type:              pulumi.String("ipsec.1"),
			StaticRoutesOnly:  pulumi.Bool(true),
			Tags:              tags(args.Name + "-vpn"),
		})
		if err != nil {
			return err
		}
		if _, err := ec2transitgateway.NewRouteTableAssociation(ctx, args.Name+"-vpn", &ec2transitgateway.RouteTableAssociationArgs{
			TransitGatewayAttachmentId: vpn.TransitGatewayAttachmentId,
			TransitGatewayRouteTableId: routeTable.ID(),
		}); err != nil {
			return err
		}

		for _, block := range ranges {
			routeName := args.Name + "-" + strings.NewReplacer(":", "_", "/", "_").Replace(block)
			if _, err := ec2transitgateway.NewRoute(ctx, routeName, &ec2transitgateway.RouteArgs{
				DestinationCidrBlock:       pulumi.String(block),
				TransitGatewayAttachmentId: vpn.TransitGatewayAttachmentId,
				TransitGatewayRouteTableId: routeTable.ID(),
			}); err != nil {
				return err
			}
		}

		ctx.Export("transitGatewayId", gateway.ID())
		ctx.Export("routeTableId", routeTable.ID())
		ctx.Export("vpnConnectionId", vpn.ID())
		return nil
	}
}

// checkArgs checks Args and returns the PSN ranges in canonical form.
func checkArgs(args Args) ([]string, error) {
	if args.Name == "" {
		return nil, fmt.Errorf("psn.name is empty; set a name such as psn-london")
	}
	asn := int64(args.AmazonSideASN)
	if !(asn >= 64512 && asn <= 65534) && !(asn >= 4200000000 && asn <= 4294967294) {
		return nil, fmt.Errorf("psn.amazonSideAsn %d is not a private ASN; use 64512 to 65534 or 4200000000 to 4294967294", args.AmazonSideASN)
	}
	address, err := netip.ParseAddr(args.Gateway.IPAddress)
	if err != nil || !address.Is4() {
		return nil, fmt.Errorf("psn.gateway.ipAddress %q is not an IPv4 address; give the PSN gateway's public address", args.Gateway.IPAddress)
	}
	if args.Gateway.BGPASN < 1 {
		return nil, fmt.Errorf("psn.gateway.bgpAsn %d is invalid; give the gateway's BGP ASN, for example 65000", args.Gateway.BGPASN)
	}
	if len(args.Ranges) == 0 {
		return nil, fmt.Errorf("psn.ranges is empty; give the Network's spec.psn.ranges, for example 51.0.0.0/8")
	}
	seen := map[string]bool{}
	var ranges []string
	for i, value := range args.Ranges {
		block, err := netip.ParsePrefix(value)
		if err != nil {
			return nil, fmt.Errorf("psn.ranges[%d] %q is not a CIDR block; use a form such as 51.0.0.0/8", i, value)
		}
		if block != block.Masked() {
			return nil, fmt.Errorf("psn.ranges[%d] %q has host bits set; use %s", i, value, block.Masked())
		}
		if block.Bits() == 0 {
			return nil, fmt.Errorf("psn.ranges[%d] %q is a default route; list the PSN's own ranges instead", i, value)
		}
		if seen[block.String()] {
			return nil, fmt.Errorf("psn.ranges[%d] %q is listed twice; remove the duplicate", i, value)
		}
		seen[block.String()] = true
		ranges = append(ranges, block.String())
	}
	return ranges, nil
}
