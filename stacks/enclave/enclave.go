// Package enclave is the program of the enclave Pulumi project: the isolated
// network of a Tier 2 enclave site on AWS, which has no route to the
// internet.
package enclave

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/ukhomeoffice/estate/modules/enclavenetwork"
)

// Project is the Pulumi project name, as in Pulumi.yaml.
const Project = "enclave"

// ConfigKey is the stack configuration key that holds Args as an object.
const ConfigKey = "enclave"

// Args describes the enclave network. Its JSON form is the stack
// configuration under ConfigKey.
type Args struct {
	// Site is the enclave's HostingSite name, for example "enclave-aws".
	Site string `json:"site"`
	// VPCCIDR is the enclave's IPv4 block.
	VPCCIDR string `json:"vpcCidr"`
	// Subnets maps each trust zone to its IPv4 block within VPCCIDR.
	Subnets map[string]string `json:"subnets"`
	// AvailabilityZone places the subnets in one availability zone. Empty
	// lets AWS choose.
	AvailabilityZone string `json:"availabilityZone,omitempty"`
	// Tags are added to every resource.
	Tags map[string]string `json:"tags,omitempty"`
}

// ArgsFromConfig reads Args from the stack configuration key ConfigKey.
func ArgsFromConfig(ctx *pulumi.Context) (Args, error) {
	var args Args
	if err := config.New(ctx, "").TryObject(ConfigKey, &args); err != nil {
		return Args{}, fmt.Errorf("reading stack configuration %s:%s: %w; set it as in Pulumi.tier2.yaml", ctx.Project(), ConfigKey, err)
	}
	return args, nil
}

// Program returns the Pulumi program that declares the enclave network. The
// stack exports vpcId, subnetIds and routeTableId.
func Program(args Args) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		if args.Site == "" {
			return fmt.Errorf("enclave.site is empty; set it to the enclave's HostingSite name")
		}
		tags := map[string]string{"estate.homeoffice.gov.uk/managed-by": "pulumi/" + Project}
		for k, v := range args.Tags {
			tags[k] = v
		}
		network, err := enclavenetwork.New(ctx, args.Site, enclavenetwork.Args{
			EnclaveName:      args.Site,
			VPCCIDR:          args.VPCCIDR,
			Subnets:          args.Subnets,
			AvailabilityZone: args.AvailabilityZone,
			Tags:             tags,
		})
		if err != nil {
			return err
		}
		ctx.Export("vpcId", network.VpcID)
		ctx.Export("subnetIds", network.SubnetIDs)
		ctx.Export("routeTableId", network.RouteTableID)
		return nil
	}
}
