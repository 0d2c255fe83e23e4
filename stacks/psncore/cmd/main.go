// Command cmd is the entry point of the psn-core Pulumi project; Pulumi.yaml
// points at it.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/ukhomeoffice/estate/stacks/psncore"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		args, err := psncore.ArgsFromConfig(ctx)
		if err != nil {
			return err
		}
		return psncore.Program(args)(ctx)
	})
}
