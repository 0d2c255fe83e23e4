// Package psnattachment attaches a site's VPC to the transit gateway that
// reaches the Public Services Network (PSN), and routes the PSN ranges, and
// only those, from the VPC's route tables to the transit gateway.
package psnattachment

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2transitgateway"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/ukhomeoffice/estate/modules/internal/addressplan"
)

// TypeToken is the component's Pulumi type.
const TypeToken = "estate:network:PSNAttachment"

// Args describes the attachment.
type Args struct {
	// SiteName is the HostingSite whose VPC is attached, for example "aws-london".
	SiteName string
	// TransitGatewayID is the PSN transit gateway, from the psn-core stack's
	// transitGatewayId output.
	TransitGatewayID pulumi.StringInput
	// TransitGatewayRouteTableID, when set, is the transit gateway route
	// table (the psn-core stack's routeTableId output) that the attachment
	// is associated with and propagates the VPC's block into, so that PSN
	// traffic can return. When it is nil the transit gateway's own
	// association settings apply.
	TransitGatewayRouteTableID pulumi.StringInput
	// VpcID is the VPC to attach.
	VpcID pulumi.StringInput
	// SubnetIDs are the subnets the attachment places its interfaces in,
	// one per availability zone.
	SubnetIDs pulumi.StringArrayInput
	// RouteTableIDs are the VPC route tables that get a route for each PSN range.
	RouteTableIDs []pulumi.StringInput
	// PSNRanges are the Network's spec.psn.ranges, for example "51.0.0.0/8".
	PSNRanges []string
	// Tags are added to every resource that takes them.
	Tags map[string]string
}

// PSNAttachment is the declared attachment.
type PSNAttachment struct {
	pulumi.ResourceState

	// AttachmentID is the transit gateway VPC attachment's ID.
	AttachmentID pulumi.IDOutput `pulumi:"attachmentId"`
	// Routes is the number of VPC routes declared: route tables times PSN ranges.
	Routes pulumi.IntOutput `pulumi:"routes"`
}

// New declares the attachment and the routes. It checks the PSN ranges first
// and returns an error naming the bad one without declaring anything.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*PSNAttachment, error) {
	if err := checkArgs(args); err != nil {
		return nil, fmt.Errorf("psnattachment %s: %w", name, err)
	}
	ranges, err := parseRanges(args.PSNRanges)
	if err != nil {
		return nil, fmt.Errorf("psnattachment %s: %w", name, err)
	}

	component := &PSNAttachment{}
	if err := ctx.RegisterComponentResource(TypeToken, name, component, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(component)

	attachmentArgs := &ec2transitgateway.VpcAttachmentArgs{
		TransitGatewayId: args.TransitGatewayID,
		VpcId:            args.VpcID,
		SubnetIds:        args.SubnetIDs,
		Tags: pulumi.ToStringMap(addressplan.MergeTags(args.Tags, map[string]string{
			"Name":                          name,
			"estate.homeoffice.gov.uk/site": args.SiteName,
		})),
	}
	if args.TransitGatewayRouteTableID != nil {
		// The attachment is associated with the PSN route table below, not
		// the transit gateway's default one.
		attachmentArgs.TransitGatewayDefaultRouteTableAssociation = pulumi.Bool(false)
		attachmentArgs.TransitGatewayDefaultRouteTablePropagation = pulumi.Bool(false)
	}
	attachment, err := ec2transitgateway.NewVpcAttachment(ctx, name, attachmentArgs, parent)
	if err != nil {
		return nil, err
	}

	if args.TransitGatewayRouteTableID != nil {
		if _, err := ec2transitgateway.NewRouteTableAssociation(ctx, name, &ec2transitgateway.RouteTableAssociationArgs{
			TransitGatewayAttachmentId: attachment.ID(),
			TransitGatewayRouteTableId: args.TransitGatewayRouteTableID,
		}, parent); err != nil {
			return nil, err
		}
		if _, err := ec2transitgateway.NewRouteTablePropagation(ctx, name, &ec2transitgateway.RouteTablePropagationArgs{
			TransitGatewayAttachmentId: attachment.ID(),
			TransitGatewayRouteTableId: args.TransitGatewayRouteTableID,
		}, parent); err != nil {
			return nil, err
		}
	}

	// A route to the transit gateway is rejected until the attachment
	// exists, so every route depends on it.
	for i, routeTable := range args.RouteTableIDs {
		for _, block := range ranges {
			routeArgs := &ec2.RouteArgs{
				RouteTableId:     routeTable,
				TransitGatewayId: args.TransitGatewayID.ToStringOutput().ToStringPtrOutput(),
			}
			if strings.Contains(block, ":") {
				routeArgs.DestinationIpv6CidrBlock = pulumi.String(block)
			} else {
				routeArgs.DestinationCidrBlock = pulumi.String(block)
			}
			routeName := fmt.Sprintf("%s-rt%d-%s", name, i, strings.NewReplacer(":", "_", "/", "_").Replace(block))
			if _, err := ec2.NewRoute(ctx, routeName, routeArgs, parent, pulumi.DependsOn([]pulumi.Resource{attachment})); err != nil {
				return nil, err
			}
		}
	}

	component.AttachmentID = attachment.ID()
	component.Routes = pulumi.Int(len(args.RouteTableIDs) * len(ranges)).ToIntOutput()
	if err := ctx.RegisterResourceOutputs(component, pulumi.Map{
		"attachmentId": component.AttachmentID,
		"routes":       component.Routes,
	}); err != nil {
		return nil, err
	}
	return component, nil
}

func checkArgs(args Args) error {
	switch {
	case args.SiteName == "":
		return fmt.Errorf("SiteName is empty; set it to the HostingSite name, for example aws-london")
	case args.TransitGatewayID == nil:
		return fmt.Errorf("TransitGatewayID is not set; pass the psn-core stack's transitGatewayId output")
	case args.VpcID == nil:
		return fmt.Errorf("VpcID is not set; pass the site network's VpcID")
	case args.SubnetIDs == nil:
		return fmt.Errorf("SubnetIDs is not set; pass one subnet per availability zone for the attachment")
	case len(args.RouteTableIDs) == 0:
		return fmt.Errorf("RouteTableIDs is empty; pass the VPC route tables that should reach the PSN")
	}
	return nil
}

// parseRanges checks the PSN ranges and returns them in canonical form. A
// default route is rejected: the PSN is a set of declared ranges, and sending
// everything to it would also send internet-bound traffic there.
func parseRanges(ranges []string) ([]string, error) {
	if len(ranges) == 0 {
		return nil, fmt.Errorf("PSNRanges is empty; give the Network's spec.psn.ranges, for example 51.0.0.0/8")
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(ranges))
	for i, value := range ranges {
		block, err := addressplan.ParseBlock(fmt.Sprintf("PSNRanges[%d]", i), value)
		if err != nil {
			return nil, err
		}
		if block.Bits() == 0 {
			return nil, fmt.Errorf("PSNRanges[%d] %q is a default route; list the PSN's own ranges instead", i, value)
		}
		if seen[block.String()] {
			return nil, fmt.Errorf("PSNRanges[%d] %q is listed twice; remove the duplicate", i, value)
		}
		seen[block.String()] = true
		out = append(out, block.String())
	}
	return out, nil
}
