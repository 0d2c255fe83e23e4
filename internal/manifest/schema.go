package manifest

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	celconfig "k8s.io/apiserver/pkg/apis/cel"

	"github.com/ukhomeoffice/estate/crds"
)

// customKind is everything needed to validate one served version of a CRD,
// built the way the API server builds it when it starts serving the CRD.
type customKind struct {
	gvk        schema.GroupVersionKind
	namespaced bool
	// dropsStatus is true when the version has a status subresource, so the
	// API server ignores status on create.
	dropsStatus bool
	structural  *structuralschema.Structural
	validator   apiservervalidation.SchemaValidator
	// cel is nil when the schema has no x-kubernetes-validations.
	cel *cel.Validator
}

// customKinds is every served kind and version of the estate CRDs.
type customKinds struct {
	byGVK map[schema.GroupVersionKind]*customKind
	// servedVersions lists the served versions of each group and kind, for
	// error messages about an unserved apiVersion.
	servedVersions map[schema.GroupKind][]string
	// groups are the API groups of the CRDs.
	groups map[string]bool
}

// estateKinds is built once per process, because compiling the schemas and
// CEL rules of the three CRDs costs far more than validating an object.
var estateKinds = sync.OnceValues(func() (*customKinds, error) {
	definitions, err := crds.CustomResourceDefinitions()
	if err != nil {
		return nil, fmt.Errorf("loading the estate CRDs: %w", err)
	}
	return buildKinds(definitions)
})

func buildKinds(definitions []*apiextensionsv1.CustomResourceDefinition) (*customKinds, error) {
	kinds := &customKinds{
		byGVK:          map[schema.GroupVersionKind]*customKind{},
		servedVersions: map[schema.GroupKind][]string{},
		groups:         map[string]bool{},
	}
	for _, crd := range definitions {
		kinds.groups[crd.Spec.Group] = true
		for i := range crd.Spec.Versions {
			version := &crd.Spec.Versions[i]
			if !version.Served {
				continue
			}
			kind, err := buildKind(crd, version)
			if err != nil {
				return nil, fmt.Errorf("preparing CRD %s version %s: %w", crd.Name, version.Name, err)
			}
			kinds.byGVK[kind.gvk] = kind
			gk := kind.gvk.GroupKind()
			kinds.servedVersions[gk] = append(kinds.servedVersions[gk], version.Name)
		}
	}
	return kinds, nil
}

func buildKind(crd *apiextensionsv1.CustomResourceDefinition, version *apiextensionsv1.CustomResourceDefinitionVersion) (*customKind, error) {
	if version.Schema == nil || version.Schema.OpenAPIV3Schema == nil {
		return nil, fmt.Errorf("the version has no openAPIV3Schema")
	}
	internal := &apiextensions.JSONSchemaProps{}
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(version.Schema.OpenAPIV3Schema, internal, nil); err != nil {
		return nil, fmt.Errorf("converting the schema to the internal version: %w", err)
	}

	structural, err := structuralschema.NewStructural(internal)
	if err != nil {
		return nil, fmt.Errorf("the schema is not structural: %w", err)
	}
	// The API server defaults with a copy whose invalid defaults are pruned,
	// so this does the same to default identically.
	structural = structural.DeepCopy()
	if err := structuraldefaulting.PruneDefaults(structural); err != nil {
		return nil, fmt.Errorf("pruning defaults: %w", err)
	}

	validator, _, err := apiservervalidation.NewSchemaValidator(internal)
	if err != nil {
		return nil, fmt.Errorf("building the schema validator: %w", err)
	}

	return &customKind{
		gvk: schema.GroupVersionKind{
			Group:   crd.Spec.Group,
			Version: version.Name,
			Kind:    crd.Spec.Names.Kind,
		},
		namespaced:  crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
		dropsStatus: version.Subresources != nil && version.Subresources.Status != nil,
		structural:  structural,
		validator:   validator,
		cel:         cel.NewValidator(structural, true, celconfig.PerCallLimit),
	}, nil
}

// supported lists the kinds Decode accepts, for error messages, for
// example `Namespace (v1), HostingSite, Network, Workload (estate.homeoffice.gov.uk/v1alpha1)`.
func (k *customKinds) supported() string {
	byGroupVersion := map[string][]string{}
	for gvk := range k.byGVK {
		gv := gvk.GroupVersion().String()
		byGroupVersion[gv] = append(byGroupVersion[gv], gvk.Kind)
	}
	groupVersions := make([]string, 0, len(byGroupVersion))
	for gv := range byGroupVersion {
		groupVersions = append(groupVersions, gv)
	}
	sort.Strings(groupVersions)

	parts := []string{"Namespace (v1)"}
	for _, gv := range groupVersions {
		kinds := byGroupVersion[gv]
		sort.Strings(kinds)
		parts = append(parts, strings.Join(kinds, ", ")+" ("+gv+")")
	}
	return strings.Join(parts, ", ")
}
