// Command pulumi-resource-kubernetes serves the Pulumi Kubernetes provider.
//
// It replaces the provider module's own main package, which embeds
// schema-embed.json and terraform-mapping-embed.json. Those files are
// generated in the provider's repository and are missing from its module
// zip, so hack/build-pulumi.sh generates them in this directory, with
// ./embedschema, from the module's schema.json and terraform-mapping.json.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	// The engine parses the reported version as semver, so the build stamps
	// version.Version with -ldflags -X.
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
