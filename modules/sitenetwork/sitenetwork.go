// Package sitenetwork declares a cloud site's AWS network: a VPC and one
// subnet per trust zone of the address plan.
package sitenetwork

import (
	"fmt"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/ukhomeoffice/estate/modules/internal/addressplan"
)

// TypeToken is the component's Pulumi type.
const TypeToken = "estate:network:SiteNetwork"

// Tag keys the module sets on every resource it declares.
const (
	SiteTag = "estate.homeoffice.gov.uk/site"
	ZoneTag = "estate.homeoffice.gov.uk/zone"
)

// Args describes a site's network.
type Args struct {
	// SiteName is the HostingSite the network belongs to, for example "aws-london".
	SiteName string
	// VPCCIDR is the site's IPv4 block from the Network's status.sites, for example "10.64.0.0/16".
	VPCCIDR string
	// Subnets maps each trust zone to its IPv4 block within VPCCIDR, from
	// the site's status.sites[].zones entries.
	Subnets map[string]string
	// AvailabilityZone places every subnet in one availability zone, for
	// example "eu-west-2a". Empty lets AWS choose.
	AvailabilityZone string
	// PublicZones lists the zones whose subnets route 0.0.0.0/0 to an
	// internet gateway, for example "internet-edge". When it is empty the
	// module declares no internet gateway.
	PublicZones []string
	// Tags are added to every resource.
	Tags map[string]string
}

// SiteNetwork is the declared network.
type SiteNetwork struct {
	pulumi.ResourceState

	// VpcID is the VPC's ID.
	VpcID pulumi.IDOutput `pulumi:"vpcId"`
	// SubnetIDs maps each zone to its subnet's ID.
	SubnetIDs pulumi.StringMapOutput `pulumi:"subnetIds"`
	// PrivateRouteTableID is the route table of the zones not in PublicZones.
	// Other modules add routes to it, such as the PSN routes.
	PrivateRouteTableID pulumi.IDOutput `pulumi:"privateRouteTableId"`
}

// New declares the network. It checks the address plan first and returns an
// error naming the bad field without declaring anything.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*SiteNetwork, error) {
	if args.SiteName == "" {
		return nil, fmt.Errorf("sitenetwork %s: SiteName is empty; set it to the HostingSite name, for example aws-london", name)
	}
	vpcBlock, err := addressplan.ParseIPv4Block("VPCCIDR", args.VPCCIDR)
	if err != nil {
		return nil, fmt.Errorf("sitenetwork %s: %w", name, err)
	}
	subnets, err := addressplan.Subnets(vpcBlock, args.Subnets)
	if err != nil {
		return nil, fmt.Errorf("sitenetwork %s: %w", name, err)
	}
	for _, zone := range args.PublicZones {
		if _, ok := args.Subnets[zone]; !ok {
			return nil, fmt.Errorf("sitenetwork %s: PublicZones names %q, which has no entry in Subnets; add its block or remove it", name, zone)
		}
	}

	component := &SiteNetwork{}
	if err := ctx.RegisterComponentResource(TypeToken, name, component, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(component)
	tags := func(resourceName string, extra map[string]string) pulumi.StringMap {
		merged := addressplan.MergeTags(args.Tags, map[string]string{"Name": resourceName, SiteTag: args.SiteName})
		return pulumi.ToStringMap(addressplan.MergeTags(merged, extra))
	}

	vpc, err := ec2.NewVpc(ctx, name+"-vpc", &ec2.VpcArgs{
		CidrBlock:          pulumi.String(vpcBlock.String()),
		EnableDnsSupport:   pulumi.Bool(true),
		EnableDnsHostnames: pulumi.Bool(true),
		Tags:               tags(name+"-vpc", nil),
	}, parent)
	if err != nil {
		return nil, err
	}

	privateRoutes, err := ec2.NewRouteTable(ctx, name+"-private", &ec2.RouteTableArgs{
		VpcId: vpc.ID(),
		Tags:  tags(name+"-private", nil),
	}, parent)
	if err != nil {
		return nil, err
	}

	var publicRoutes *ec2.RouteTable
	if len(args.PublicZones) > 0 {
		publicRoutes, err = declareInternetEdge(ctx, name, vpc, tags, parent)
		if err != nil {
			return nil, err
		}
	}

	subnetIDs := pulumi.StringMap{}
	for _, subnet := range subnets {
		subnetName := name + "-" + subnet.Zone
		subnetArgs := &ec2.SubnetArgs{
			VpcId:     vpc.ID(),
			CidrBlock: pulumi.String(subnet.CIDR.String()),
			Tags:      tags(subnetName, map[string]string{ZoneTag: subnet.Zone}),
		}
		if args.AvailabilityZone != "" {
			subnetArgs.AvailabilityZone = pulumi.String(args.AvailabilityZone)
		}
		created, err := ec2.NewSubnet(ctx, subnetName, subnetArgs, parent)
		if err != nil {
			return nil, err
		}
		subnetIDs[subnet.Zone] = created.ID().ToStringOutput()

		routeTable := privateRoutes
		if slices.Contains(args.PublicZones, subnet.Zone) {
			routeTable = publicRoutes
		}
		if _, err := ec2.NewRouteTableAssociation(ctx, subnetName, &ec2.RouteTableAssociationArgs{
			SubnetId:     created.ID(),
			RouteTableId: routeTable.ID(),
		}, parent); err != nil {
			return nil, err
		}
	}

	component.VpcID = vpc.ID()
	component.SubnetIDs = subnetIDs.ToStringMapOutput()
	component.PrivateRouteTableID = privateRoutes.ID()
	if err := ctx.RegisterResourceOutputs(component, pulumi.Map{
		"vpcId":               component.VpcID,
		"subnetIds":           component.SubnetIDs,
		"privateRouteTableId": component.PrivateRouteTableID,
	}); err != nil {
		return nil, err
	}
	return component, nil
}

// declareInternetEdge declares the internet gateway and the route table that
// sends 0.0.0.0/0 to it, for the subnets of PublicZones only.
func declareInternetEdge(ctx *pulumi.Context, name string, vpc *ec2.Vpc, tags func(string, map[string]string) pulumi.StringMap, parent pulumi.ResourceOption) (*ec2.RouteTable, error) {
	gateway, err := ec2.NewInternetGateway(ctx, name+"-igw", &ec2.InternetGatewayArgs{
		VpcId: vpc.ID(),
		Tags:  tags(name+"-igw", nil),
	}, parent)
	if err != nil {
		return nil, err
	}
	publicRoutes, err := ec2.NewRouteTable(ctx, name+"-public", &ec2.RouteTableArgs{
		VpcId: vpc.ID(),
		Tags:  tags(name+"-public", nil),
	}, parent)
	if err != nil {
		return nil, err
	}
	if _, err := ec2.NewRoute(ctx, name+"-public-default", &ec2.RouteArgs{
		RouteTableId:         publicRoutes.ID(),
		DestinationCidrBlock: pulumi.String("0.0.0.0/0"),
		GatewayId:            gateway.ID(),
	}, parent); err != nil {
		return nil, err
	}
	return publicRoutes, nil
}
