// Command cmd is the entry point of the estate Pulumi project; Pulumi.yaml
// points at it.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/ukhomeoffice/estate/stacks/estate"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		args, err := estate.ArgsFromConfig(ctx)
		if err != nil {
			return err
		}
		return estate.Program(args)(ctx)
	})
}
