// Command cmd is the entry point of the site-aws Pulumi project; Pulumi.yaml
// points at it.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/ukhomeoffice/estate/stacks/siteaws"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		args, err := siteaws.ArgsFromConfig(ctx)
		if err != nil {
			return err
		}
		return siteaws.Program(args)(ctx)
	})
}
