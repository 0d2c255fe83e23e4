// Package v1alpha1 contains the estate API: hosting sites, the department
// network and workloads, in the API group estate.homeoffice.gov.uk.
//
// +kubebuilder:object:generate=true
// +groupName=estate.homeoffice.gov.uk
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the API group and version of every estate kind.
	GroupVersion = schema.GroupVersion{Group: "estate.homeoffice.gov.uk", Version: "v1alpha1"}

	// SchemeBuilder registers the estate kinds with a runtime scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the estate kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
