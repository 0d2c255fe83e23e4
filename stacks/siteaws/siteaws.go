// Package siteaws is the program of the site-aws Pulumi project: one public
// cloud site on AWS, made of its network (VPC and one subnet per trust
// zone), its security groups, and its attachment to the Public Services
// Network. Plan runs the same program under mocks, for the local control
// plane, which has no AWS credentials.
package siteaws

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/ukhomeoffice/estate/modules/psnattachment"
	"github.com/ukhomeoffice/estate/modules/segmentation"
	"github.com/ukhomeoffice/estate/modules/sitenetwork"
	"github.com/ukhomeoffice/estate/stacks/plan"
)

// Project is the Pulumi project name, as in Pulumi.yaml and in a
// HostingSite's spec.connection.pulumiStack ("homeoffice/site-aws/london").
const Project = "site-aws"

// ConfigKey is the stack configuration key that holds SiteArgs as an object.
const ConfigKey = "site"

// SiteArgs describes one AWS site. Its JSON form is the stack configuration
// under ConfigKey.
type SiteArgs struct {
	// Site is the HostingSite name, for example "aws-london".
	Site string `json:"site"`
	// VPCCIDR is the site's IPv4 block from the Network's status.sites.
	VPCCIDR string `json:"vpcCidr"`
	// Subnets maps each trust zone to its IPv4 block within VPCCIDR.
	Subnets map[string]string `json:"subnets"`
	// AvailabilityZone places the subnets in one availability zone, for
	// example "eu-west-2a". Empty lets AWS choose.
	AvailabilityZone string `json:"availabilityZone,omitempty"`
	// PublicZones are the zones whose subnets route to the internet, for
	// example "internet-edge". Empty declares no internet gateway.
	PublicZones []string `json:"publicZones,omitempty"`
	// SecurityGroups are the site's security groups with their complete rules.
	SecurityGroups []segmentation.Group `json:"securityGroups,omitempty"`
	// PSN, when set, attaches the site to the Public Services Network.
	PSN *PSNArgs `json:"psn,omitempty"`
	// Tags are added to every resource.
	Tags map[string]string `json:"tags,omitempty"`
}

// PSNArgs connects a site to the PSN transit gateway of the psn-core project.
type PSNArgs struct {
	// TransitGatewayID is the psn-core stack's transitGatewayId output.
	TransitGatewayID string `json:"transitGatewayId"`
	// TransitGatewayRouteTableID is the psn-core stack's routeTableId
	// output. Empty leaves the attachment on the transit gateway's default
	// route table.
	TransitGatewayRouteTableID string `json:"transitGatewayRouteTableId,omitempty"`
	// AttachmentZones name the zones whose subnets hold the attachment's
	// network interfaces, for example ["psn-edge"]. AWS takes at most one
	// subnet per availability zone.
	AttachmentZones []string `json:"attachmentZones"`
	// Ranges are the Network's spec.psn.ranges.
	Ranges []string `json:"ranges"`
}

// PlannedResource is one resource of a site's plan.
type PlannedResource = plan.Resource

// ArgsFromConfig reads SiteArgs from the stack configuration key ConfigKey.
func ArgsFromConfig(ctx *pulumi.Context) (SiteArgs, error) {
	var args SiteArgs
	if err := config.New(ctx, "").TryObject(ConfigKey, &args); err != nil {
		return SiteArgs{}, fmt.Errorf("reading stack configuration %s:%s: %w; set it as in Pulumi.london.yaml", ctx.Project(), ConfigKey, err)
	}
	return args, nil
}

// Program returns the Pulumi program that declares the site. The stack
// exports vpcId, subnetIds, securityGroupIds and, with PSN set,
// psnAttachmentId.
func Program(args SiteArgs) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		if args.Site == "" {
			return fmt.Errorf("site is empty; set it to the HostingSite name, for example aws-london")
		}
		tags := map[string]string{"estate.homeoffice.gov.uk/managed-by": "pulumi/" + Project}
		for k, v := range args.Tags {
			tags[k] = v
		}

		network, err := sitenetwork.New(ctx, args.Site, sitenetwork.Args{
			SiteName:         args.Site,
			VPCCIDR:          args.VPCCIDR,
			Subnets:          args.Subnets,
			AvailabilityZone: args.AvailabilityZone,
			PublicZones:      args.PublicZones,
			Tags:             tags,
		})
		if err != nil {
			return err
		}
		ctx.Export("vpcId", network.VpcID)
		ctx.Export("subnetIds", network.SubnetIDs)

		if len(args.SecurityGroups) > 0 {
			groups, err := segmentation.New(ctx, args.Site, segmentation.Args{
				VpcID:  network.VpcID.ToStringOutput(),
				Groups: args.SecurityGroups,
				Tags:   tags,
			})
			if err != nil {
				return err
			}
			ctx.Export("securityGroupIds", groups.GroupIDs)
		}

		if args.PSN != nil {
			attachment, err := attachPSN(ctx, args, network, tags)
			if err != nil {
				return err
			}
			ctx.Export("psnAttachmentId", attachment.AttachmentID)
		}
		return nil
	}
}

func attachPSN(ctx *pulumi.Context, args SiteArgs, network *sitenetwork.SiteNetwork, tags map[string]string) (*psnattachment.PSNAttachment, error) {
	if len(args.PSN.AttachmentZones) == 0 {
		return nil, fmt.Errorf("psn.attachmentZones is empty; name the zones whose subnets hold the attachment, one per availability zone, for example [\"psn-edge\"]")
	}
	if args.PSN.TransitGatewayID == "" {
		return nil, fmt.Errorf("psn.transitGatewayId is empty; set it to the psn-core stack's transitGatewayId output")
	}
	var subnetIDs pulumi.StringArray
	for _, zone := range args.PSN.AttachmentZones {
		if _, ok := args.Subnets[zone]; !ok {
			return nil, fmt.Errorf("psn.attachmentZones names %q, which has no entry in subnets; add its block or fix the name", zone)
		}
		subnetIDs = append(subnetIDs, network.SubnetIDs.MapIndex(pulumi.String(zone)))
	}

	psnArgs := psnattachment.Args{
		SiteName:         args.Site,
		TransitGatewayID: pulumi.String(args.PSN.TransitGatewayID),
		VpcID:            network.VpcID.ToStringOutput(),
		SubnetIDs:        subnetIDs,
		RouteTableIDs:    []pulumi.StringInput{network.PrivateRouteTableID.ToStringOutput()},
		PSNRanges:        args.PSN.Ranges,
		Tags:             tags,
	}
	if args.PSN.TransitGatewayRouteTableID != "" {
		psnArgs.TransitGatewayRouteTableID = pulumi.String(args.PSN.TransitGatewayRouteTableID)
	}
	return psnattachment.New(ctx, args.Site+"-psn", psnArgs)
}

// Plan runs the site's program under Pulumi mocks and returns the resources
// it would declare, with their inputs: the VPC and subnet blocks, the
// security group rules and the PSN routes. It needs no credentials, CLI or
// network, so the local control plane can show what a cloud site's stack
// holds. IDs are planned resource names, because nothing is created.
func Plan(args SiteArgs) ([]PlannedResource, error) {
	stack := args.Site
	if stack == "" {
		stack = "plan"
	}
	return plan.Run(Project, stack, Program(args))
}
