// Package enclavenetwork declares an isolated AWS network for the Tier 2
// enclave: a VPC and one subnet per trust zone, with no internet gateway, no
// NAT or egress-only gateway, and no route to 0.0.0.0/0 or ::/0. Its subnets
// use a route table holding only the VPC's local route, and the VPC's default
// security group is emptied of AWS's allow-all rules.
package enclavenetwork

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/ukhomeoffice/estate/modules/internal/addressplan"
)

// TypeToken is the component's Pulumi type.
const TypeToken = "estate:network:EnclaveNetwork"

// Tag keys the module sets on every resource it declares.
const (
	EnclaveTag = "estate.homeoffice.gov.uk/enclave"
	ZoneTag    = "estate.homeoffice.gov.uk/zone"
)

// Args describes an enclave network.
type Args struct {
	// EnclaveName names the enclave site, for example "enclave-aws".
	EnclaveName string
	// VPCCIDR is the enclave's IPv4 block, for example "10.120.0.0/16".
	VPCCIDR string
	// Subnets maps each trust zone to its IPv4 block within VPCCIDR.
	Subnets map[string]string
	// AvailabilityZone places every subnet in one availability zone. Empty
	// lets AWS choose.
	AvailabilityZone string
	// Tags are added to every resource.
	Tags map[string]string
}

// EnclaveNetwork is the declared network.
type EnclaveNetwork struct {
	pulumi.ResourceState

	// VpcID is the VPC's ID.
	VpcID pulumi.IDOutput `pulumi:"vpcId"`
	// SubnetIDs maps each zone to its subnet's ID.
	SubnetIDs pulumi.StringMapOutput `pulumi:"subnetIds"`
	// RouteTableID is the subnets' route table, which holds only the local route.
	RouteTableID pulumi.IDOutput `pulumi:"routeTableId"`
}

// New declares the network. It checks the address plan first and returns an
// error naming the bad field without declaring anything.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*EnclaveNetwork, error) {
	if args.EnclaveName == "" {
		return nil, fmt.Errorf("enclavenetwork %s: EnclaveName is empty; set it to the enclave site's name", name)
	}
	vpcBlock, err := addressplan.ParseIPv4Block("VPCCIDR", args.VPCCIDR)
	if err != nil {
		return nil, fmt.Errorf("enclavenetwork %s: %w", name, err)
	}
	subnets, err := addressplan.Subnets(vpcBlock, args.Subnets)
	if err != nil {
		return nil, fmt.Errorf("enclavenetwork %s: %w", name, err)
	}

	component := &EnclaveNetwork{}
	if err := ctx.RegisterComponentResource(TypeToken, name, component, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(component)
	tags := func(resourceName string, extra map[string]string) pulumi.StringMap {
		merged := addressplan.MergeTags(args.Tags, map[string]string{"Name": resourceName, EnclaveTag: args.EnclaveName})
		return pulumi.ToStringMap(addressplan.MergeTags(merged, extra))
	}

	// No IPv6 block is requested: AWS would assign one from its public
	// space, which the enclave must not hold.
	vpc, err := ec2.NewVpc(ctx, name+"-vpc", &ec2.VpcArgs{
		CidrBlock:                    pulumi.String(vpcBlock.String()),
		EnableDnsSupport:             pulumi.Bool(true),
		EnableDnsHostnames:           pulumi.Bool(true),
		AssignGeneratedIpv6CidrBlock: pulumi.Bool(false),
		Tags:                         tags(name+"-vpc", nil),
	}, parent)
	if err != nil {
		return nil, err
	}

	// Adopting the default security group with no rules removes the
	// allow-all egress and allow-within-group ingress that AWS creates.
	if _, err := ec2.NewDefaultSecurityGroup(ctx, name+"-default", &ec2.DefaultSecurityGroupArgs{
		VpcId: vpc.ID(),
		Tags:  tags(name+"-default", nil),
	}, parent); err != nil {
		return nil, err
	}

	// The route table is declared without routes: AWS adds only the local
	// route for the VPC block.
	routeTable, err := ec2.NewRouteTable(ctx, name+"-isolated", &ec2.RouteTableArgs{
		VpcId: vpc.ID(),
		Tags:  tags(name+"-isolated", nil),
	}, parent)
	if err != nil {
		return nil, err
	}

	subnetIDs := pulumi.StringMap{}
	for _, subnet := range subnets {
		subnetName := name + "-" + subnet.Zone
		subnetArgs := &ec2.SubnetArgs{
			VpcId:               vpc.ID(),
			CidrBlock:           pulumi.String(subnet.CIDR.String()),
			MapPublicIpOnLaunch: pulumi.Bool(false),
			Tags:                tags(subnetName, map[string]string{ZoneTag: subnet.Zone}),
		}
		if args.AvailabilityZone != "" {
			subnetArgs.AvailabilityZone = pulumi.String(args.AvailabilityZone)
		}
		created, err := ec2.NewSubnet(ctx, subnetName, subnetArgs, parent)
		if err != nil {
			return nil, err
		}
		subnetIDs[subnet.Zone] = created.ID().ToStringOutput()
		if _, err := ec2.NewRouteTableAssociation(ctx, subnetName, &ec2.RouteTableAssociationArgs{
			SubnetId:     created.ID(),
			RouteTableId: routeTable.ID(),
		}, parent); err != nil {
			return nil, err
		}
	}

	component.VpcID = vpc.ID()
	component.SubnetIDs = subnetIDs.ToStringMapOutput()
	component.RouteTableID = routeTable.ID()
	if err := ctx.RegisterResourceOutputs(component, pulumi.Map{
		"vpcId":        component.VpcID,
		"subnetIds":    component.SubnetIDs,
		"routeTableId": component.RouteTableID,
	}); err != nil {
		return nil, err
	}
	return component, nil
}
