// Command cmd is the entry point of the enclave Pulumi project; Pulumi.yaml
// points at it.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/ukhomeoffice/estate/stacks/enclave"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		args, err := enclave.ArgsFromConfig(ctx)
		if err != nil {
			return err
		}
		return enclave.Program(args)(ctx)
	})
}
