// Package provisioning builds the Kubernetes objects that run a Workload on a
// Kubernetes-backed HostingSite, and compares them with what a site holds.
//
// Everything here works on values and does no I/O: the provisioning operator
// reads the workloads, calls Build, and applies the result with server-side
// apply. The same inputs always give the same objects, in the same order.
//
// A workload gets one Deployment per component, a Service when it serves
// ports, and the NetworkPolicies compiled for it. Several workloads can share
// a namespace on a site, so the Namespace, the ResourceQuota and the
// LimitRange are shared objects: their labels and totals are computed over
// every workload of that namespace placed on that site.
package provisioning

import (
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

// Labels and annotations set on the objects.
const (
	// LabelWorkload names the workload that owns an object, and selects
	// its pods.
	LabelWorkload = "estate.homeoffice.gov.uk/workload"
	// LabelComponent names the workload component a Deployment runs.
	LabelComponent = "estate.homeoffice.gov.uk/component"
	// LabelZone is the network trust zone of a pod, or of a namespace when
	// all its workloads share one zone.
	LabelZone = "estate.homeoffice.gov.uk/zone"
	// LabelBusinessArea is the business area that owns the workloads of a namespace.
	LabelBusinessArea = "estate.homeoffice.gov.uk/business-area"
	// LabelClassification is the highest classification among the workloads
	// of a namespace.
	LabelClassification = "estate.homeoffice.gov.uk/classification"
	// LabelManagedBy is the well-known label naming the tool that manages an object.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of LabelManagedBy on every object built here.
	ManagedByValue = "estate"

	// Mixed is the value of LabelZone or LabelBusinessArea on a namespace
	// whose workloads do not all share one value.
	Mixed = "mixed"

	// SharedName is the name of the ResourceQuota and the LimitRange that
	// every namespace gets.
	SharedName = "estate"
)

// Objects are the desired objects of one workload on a Kubernetes site.
type Objects struct {
	// Shared are the namespace-wide objects, computed over every workload
	// of the namespace on the site.
	Shared Shared
	// NetworkPolicies are the policies compiled for the workload, sorted by name.
	NetworkPolicies []*networkingv1.NetworkPolicy
	// Service exposes the workload's ports; nil when it declares none.
	Service *corev1.Service
	// Deployments run the workload's components, one each, sorted by name.
	Deployments []*appsv1.Deployment
}

// Shared are the objects that all workloads of a namespace on a site share.
type Shared struct {
	Namespace     *corev1.Namespace
	LimitRange    *corev1.LimitRange
	ResourceQuota *corev1.ResourceQuota
}

// List returns the shared objects in the order they are applied: the
// Namespace first, then the LimitRange that gives containers default
// requests, then the ResourceQuota that counts them.
func (s Shared) List() []client.Object {
	return []client.Object{s.Namespace, s.LimitRange, s.ResourceQuota}
}

// List returns every object in the order they are applied: the shared
// objects, then the network policies so that pods are never unprotected,
// then the Service and the Deployments.
func (o *Objects) List() []client.Object {
	list := o.Shared.List()
	for _, p := range o.NetworkPolicies {
		list = append(list, p)
	}
	if o.Service != nil {
		list = append(list, o.Service)
	}
	for _, d := range o.Deployments {
		list = append(list, d)
	}
	return list
}

// Build returns the desired objects of workload w on its site.
//
// peers are the other workloads of w's namespace placed on the same site.
// They decide the shared objects' labels and quota. An entry with w's own
// name is ignored, so callers may pass every workload of the namespace on
// the site. policies are the NetworkPolicies compiled for w; each must be
// in w's namespace or have no namespace, and their names must be unique.
//
// Build returns an error naming the field and the fix when w cannot be
// turned into valid objects, for example when its resources cannot be
// split across its replicas.
func Build(w *estatev1.Workload, peers []estatev1.Workload, policies []networkingv1.NetworkPolicy) (*Objects, error) {
	if err := validateNames(w); err != nil {
		return nil, err
	}

	members := []estatev1.Workload{*w}
	for i := range peers {
		if peers[i].Name == w.Name {
			continue
		}
		members = append(members, peers[i])
	}
	shared, err := BuildShared(w.Namespace, members)
	if err != nil {
		return nil, err
	}

	deployments, err := buildDeployments(w)
	if err != nil {
		return nil, err
	}
	netpols, err := buildNetworkPolicies(w, policies)
	if err != nil {
		return nil, err
	}
	return &Objects{
		Shared:          shared,
		NetworkPolicies: netpols,
		Service:         buildService(w),
		Deployments:     deployments,
	}, nil
}

// validateNames checks that the workload's name can be a Service name and a
// label value, and that every Deployment name is a valid object name.
func validateNames(w *estatev1.Workload) error {
	if w.Namespace == "" {
		return fmt.Errorf("workload %s has no namespace: set metadata.namespace", w.Name)
	}
	// The Service is named after the workload, and Service names must be
	// DNS-1035 labels: at most 63 characters, starting with a letter.
	if errs := validation.IsDNS1035Label(w.Name); len(errs) > 0 {
		return fmt.Errorf("workload name %q cannot name its Service, so rename the workload: %s", w.Name, errs[0])
	}
	for _, c := range w.Spec.Components {
		name := deploymentName(w, c)
		if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
			return fmt.Errorf("deployment name %q of component %s is invalid, so shorten the workload or component name: %s", name, c.Name, errs[0])
		}
	}
	return nil
}

func deploymentName(w *estatev1.Workload, c estatev1.Component) string {
	return w.Name + "-" + c.Name
}

// workloadLabels returns the labels every object owned by one workload carries.
func workloadLabels(w *estatev1.Workload) map[string]string {
	return map[string]string{
		LabelWorkload:  w.Name,
		LabelManagedBy: ManagedByValue,
	}
}

// buildNetworkPolicies copies the compiled policies into w's namespace,
// labels them as w's, and sorts them by name.
func buildNetworkPolicies(w *estatev1.Workload, policies []networkingv1.NetworkPolicy) ([]*networkingv1.NetworkPolicy, error) {
	out := make([]*networkingv1.NetworkPolicy, 0, len(policies))
	seen := make(map[string]bool, len(policies))
	for i := range policies {
		in := &policies[i]
		if in.Namespace != "" && in.Namespace != w.Namespace {
			return nil, fmt.Errorf("network policy %s/%s is not in workload %s/%s's namespace: compile it into namespace %s",
				in.Namespace, in.Name, w.Namespace, w.Name, w.Namespace)
		}
		if in.Name == "" {
			return nil, fmt.Errorf("a network policy for workload %s/%s has no name: set metadata.name", w.Namespace, w.Name)
		}
		if seen[in.Name] {
			return nil, fmt.Errorf("network policy name %s appears twice for workload %s/%s: policy names must be unique", in.Name, w.Namespace, w.Name)
		}
		seen[in.Name] = true

		// Only the name, labels, annotations and spec are kept, so the
		// caller's server-set metadata (uid, resourceVersion) never reaches
		// the apply.
		p := &networkingv1.NetworkPolicy{
			TypeMeta:   typeMeta(networkingv1.SchemeGroupVersion.String(), "NetworkPolicy"),
			ObjectMeta: objectMeta(in.Name, w.Namespace, mergeLabels(in.Labels, workloadLabels(w))),
			Spec:       *in.Spec.DeepCopy(),
		}
		if len(in.Annotations) > 0 {
			p.Annotations = make(map[string]string, len(in.Annotations))
			for k, v := range in.Annotations {
				p.Annotations[k] = v
			}
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// mergeLabels returns a copy of base with extra added; extra wins on a clash.
func mergeLabels(base, extra map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(extra))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}
