// Package estate declares the estate's own custom resources (HostingSites,
// the Network and Workloads, group estate.homeoffice.gov.uk/v1alpha1) into a
// management cluster through the Pulumi Kubernetes provider. A programme
// team can call NewWorkload from its own Pulumi program, with the Go API
// types of crds/v1alpha1, instead of writing YAML. Program is the program of
// the estate Pulumi project.
package estate

import (
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/ukhomeoffice/estate/crds/v1alpha1"
)

// APIVersion is the apiVersion of every object this package declares.
var APIVersion = v1alpha1.GroupVersion.String()

// BusinessAreaLabel labels a business area's namespace with its name.
const BusinessAreaLabel = "estate.homeoffice.gov.uk/business-area"

// DeletionPropagationAnnotation sets how the Kubernetes provider deletes an
// object. The package sets it to "background" on every estate object unless
// the caller sets it. The provider's default, foreground, waits for the
// garbage collector, which took 16 to 25 seconds per Workload on the
// control plane of estatectl dev up. Estate objects own nothing that must
// be deleted before them.
const DeletionPropagationAnnotation = "pulumi.com/deletionPropagationPolicy"

// Metadata is the part of an object's metadata a declaration may set. The
// package passes each object's name to Kubernetes unchanged, with no random
// suffix, because workloads and flows refer to each other by name.
type Metadata struct {
	Labels      map[string]string
	Annotations map[string]string
}

// HostingSiteArgs declares a HostingSite.
type HostingSiteArgs struct {
	Metadata
	Spec v1alpha1.HostingSiteSpec
}

// NetworkArgs declares the Network.
type NetworkArgs struct {
	Metadata
	Spec v1alpha1.NetworkSpec
}

// WorkloadArgs declares a Workload.
type WorkloadArgs struct {
	Metadata
	// Namespace of the workload. Empty means the owner's business area,
	// which is the namespace convention of the reference estate.
	Namespace string
	Spec      v1alpha1.WorkloadSpec
}

// NewHostingSite declares the cluster-scoped HostingSite name.
func NewHostingSite(ctx *pulumi.Context, name string, args HostingSiteArgs, opts ...pulumi.ResourceOption) (*apiextensions.CustomResource, error) {
	if err := checkName("HostingSite", name); err != nil {
		return nil, err
	}
	return newObject(ctx, name, "HostingSite", name, "", args.Metadata, args.Spec, opts)
}

// NewNetwork declares the cluster-scoped Network name. The estate normally has one.
func NewNetwork(ctx *pulumi.Context, name string, args NetworkArgs, opts ...pulumi.ResourceOption) (*apiextensions.CustomResource, error) {
	if err := checkName("Network", name); err != nil {
		return nil, err
	}
	return newObject(ctx, name, "Network", name, "", args.Metadata, args.Spec, opts)
}

// NewWorkload declares the Workload name in args.Namespace, or in the owner's
// business area when that is empty. Its Pulumi resource name is
// "namespace/name".
func NewWorkload(ctx *pulumi.Context, name string, args WorkloadArgs, opts ...pulumi.ResourceOption) (*apiextensions.CustomResource, error) {
	if err := checkName("Workload", name); err != nil {
		return nil, err
	}
	namespace := WorkloadNamespace(args.Namespace, args.Spec)
	if namespace == "" {
		return nil, fmt.Errorf("Workload %s has no namespace and no spec.owner.businessArea; set one of them", name)
	}
	return newObject(ctx, namespace+"/"+name, "Workload", name, namespace, args.Metadata, args.Spec, opts)
}

// WorkloadNamespace returns namespace, or the owner's business area when
// namespace is empty.
func WorkloadNamespace(namespace string, spec v1alpha1.WorkloadSpec) string {
	if namespace != "" {
		return namespace
	}
	return spec.Owner.BusinessArea
}

// NewBusinessArea declares the namespace of a business area, labelled with
// BusinessAreaLabel as in the reference estate's namespaces.yaml.
func NewBusinessArea(ctx *pulumi.Context, name string, opts ...pulumi.ResourceOption) (*corev1.Namespace, error) {
	if err := checkName("Namespace", name); err != nil {
		return nil, err
	}
	return corev1.NewNamespace(ctx, name, &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:   pulumi.String(name),
			Labels: pulumi.StringMap{BusinessAreaLabel: pulumi.String(name)},
		},
	}, append([]pulumi.ResourceOption{pulumi.DeleteBeforeReplace(true)}, opts...)...)
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func checkName(kind, name string) error {
	if len(name) > 63 || !dnsLabel.MatchString(name) {
		return fmt.Errorf("%s name %q is invalid; use at most 63 lower-case letters, digits and hyphens", kind, name)
	}
	return nil
}

// newObject declares one estate object. The spec goes through its JSON form,
// so the provider receives exactly what kubectl would send for the same Go
// value, omitted empty fields included.
func newObject(ctx *pulumi.Context, resourceName, kind, name, namespace string, meta Metadata, spec any, opts []pulumi.ResourceOption) (*apiextensions.CustomResource, error) {
	untypedSpec, err := toUntyped(spec)
	if err != nil {
		return nil, fmt.Errorf("%s %s: encoding spec: %w", kind, resourceName, err)
	}
	metadata := &metav1.ObjectMetaArgs{Name: pulumi.String(name)}
	if len(meta.Labels) > 0 {
		metadata.Labels = pulumi.ToStringMap(meta.Labels)
	}
	annotations := map[string]string{DeletionPropagationAnnotation: "background"}
	for k, v := range meta.Annotations {
		annotations[k] = v
	}
	metadata.Annotations = pulumi.ToStringMap(annotations)
	if namespace != "" {
		metadata.Namespace = pulumi.String(namespace)
	}
	// The name is fixed, so a replacement must delete the old object before
	// creating the new one.
	opts = append([]pulumi.ResourceOption{pulumi.DeleteBeforeReplace(true)}, opts...)
	return apiextensions.NewCustomResource(ctx, resourceName, &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String(APIVersion),
		Kind:        pulumi.String(kind),
		Metadata:    metadata,
		OtherFields: kubernetes.UntypedArgs{"spec": untypedSpec},
	}, opts...)
}

func toUntyped(value any) (map[string]any, error) {
	data, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	return out, nil
}
