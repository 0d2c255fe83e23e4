// Package crds embeds the generated CustomResourceDefinitions so that the CLI
// and the tests install exactly what `make generate` produced.
package crds

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

//go:embed manifests/*.yaml thirdparty/*.yaml
var manifests embed.FS

// Dir is the path of the generated manifests relative to the repository root,
// for envtest's CRDDirectoryPaths.
const Dir = "crds/manifests"

// CustomResourceDefinitions returns the estate CRDs, sorted by name.
func CustomResourceDefinitions() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	return read("manifests/*.yaml")
}

// ThirdPartyCustomResourceDefinitions returns the CRDs of other projects that
// estate writes objects of: ClusterNetworkPolicy from network-policy-api.
func ThirdPartyCustomResourceDefinitions() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	return read("thirdparty/*.yaml")
}

func read(pattern string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	names, err := fs.Glob(manifests, pattern)
	if err != nil {
		return nil, err
	}
	sort.Strings(names)

	crds := make([]*apiextensionsv1.CustomResourceDefinition, 0, len(names))
	for _, name := range names {
		data, err := manifests.ReadFile(name)
		if err != nil {
			return nil, err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, crd); err != nil {
			return nil, fmt.Errorf("decoding embedded CRD %s: %w", name, err)
		}
		crds = append(crds, crd)
	}
	return crds, nil
}
