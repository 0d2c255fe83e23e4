package estate

import (
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/ukhomeoffice/estate/crds/v1alpha1"
)

// Project is the Pulumi project name, as in Pulumi.yaml.
const Project = "estate"

// Args lists the objects the estate project declares. The program sets each
// object's apiVersion and kind and ignores the values given.
type Args struct {
	// Kubeconfig is the management cluster's kubeconfig, as a path or as
	// its contents. Empty leaves the Kubernetes provider to its own
	// configuration (kubernetes:kubeconfig, then $KUBECONFIG, then
	// ~/.kube/config).
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// Namespaces are business-area namespaces the stack creates and owns.
	// Workloads in them are deleted before them.
	Namespaces []string `json:"namespaces,omitempty"`
	// Network is the department network, if this stack declares it.
	Network *v1alpha1.Network `json:"network,omitempty"`
	// Sites are the HostingSites.
	Sites []v1alpha1.HostingSite `json:"sites,omitempty"`
	// Workloads are the Workloads. One with no namespace goes in its owner's
	// business area.
	Workloads []v1alpha1.Workload `json:"workloads,omitempty"`
}

// ArgsFromConfig reads Args from the stack configuration: estate:kubeconfig,
// estate:namespaces, estate:network, estate:sites and estate:workloads, each
// in the JSON form of the API objects.
func ArgsFromConfig(ctx *pulumi.Context) (Args, error) {
	cfg := config.New(ctx, "")
	args := Args{Kubeconfig: cfg.Get("kubeconfig")}
	for key, target := range map[string]any{
		"namespaces": &args.Namespaces,
		"network":    &args.Network,
		"sites":      &args.Sites,
		"workloads":  &args.Workloads,
	} {
		if cfg.Get(key) == "" {
			continue
		}
		if err := cfg.TryObject(key, target); err != nil {
			return Args{}, fmt.Errorf("reading stack configuration %s:%s: %w; set it as in Pulumi.dev.yaml", ctx.Project(), key, err)
		}
	}
	return args, nil
}

// Program returns the Pulumi program that declares args. Namespaces come
// first, then the Network and the sites, then the workloads, which depend on
// all of them: placement then finds its sites on create, and on destroy the
// workloads release their reservations before the sites go.
func Program(args Args) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		var opts []pulumi.ResourceOption
		if args.Kubeconfig != "" {
			provider, err := kubernetes.NewProvider(ctx, "management", &kubernetes.ProviderArgs{
				Kubeconfig: pulumi.String(args.Kubeconfig),
			})
			if err != nil {
				return err
			}
			opts = append(opts, pulumi.Provider(provider))
		}

		namespaces := map[string]pulumi.Resource{}
		for _, name := range args.Namespaces {
			if namespaces[name] != nil {
				return fmt.Errorf("namespaces lists %q twice; remove the duplicate", name)
			}
			namespace, err := NewBusinessArea(ctx, name, opts...)
			if err != nil {
				return err
			}
			namespaces[name] = namespace
		}

		var placementInputs []pulumi.Resource
		if args.Network != nil {
			network, err := NewNetwork(ctx, args.Network.Name, NetworkArgs{
				Metadata: metadataOf(args.Network.Labels, args.Network.Annotations),
				Spec:     args.Network.Spec,
			}, opts...)
			if err != nil {
				return err
			}
			placementInputs = append(placementInputs, network)
		}
		for _, site := range args.Sites {
			created, err := NewHostingSite(ctx, site.Name, HostingSiteArgs{
				Metadata: metadataOf(site.Labels, site.Annotations),
				Spec:     site.Spec,
			}, opts...)
			if err != nil {
				return err
			}
			placementInputs = append(placementInputs, created)
		}

		for _, workload := range args.Workloads {
			dependencies := append([]pulumi.Resource(nil), placementInputs...)
			if namespace := namespaces[WorkloadNamespace(workload.Namespace, workload.Spec)]; namespace != nil {
				dependencies = append(dependencies, namespace)
			}
			if _, err := NewWorkload(ctx, workload.Name, WorkloadArgs{
				Metadata:  metadataOf(workload.Labels, workload.Annotations),
				Namespace: workload.Namespace,
				Spec:      workload.Spec,
			}, append(opts, pulumi.DependsOn(dependencies))...); err != nil {
				return err
			}
		}

		ctx.Export("sites", pulumi.Int(len(args.Sites)))
		ctx.Export("workloads", pulumi.Int(len(args.Workloads)))
		return nil
	}
}

func metadataOf(labels, annotations map[string]string) Metadata {
	return Metadata{Labels: labels, Annotations: annotations}
}
