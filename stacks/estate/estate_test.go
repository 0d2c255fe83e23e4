package estate

import (
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/stacks/plan"
)

const typePrefix = "kubernetes:estate.homeoffice.gov.uk/v1alpha1:"

func site(name string, tier v1alpha1.Tier) v1alpha1.HostingSite {
	return v1alpha1.HostingSite{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.HostingSiteSpec{
			Tier: tier, Provider: "aws", Region: "eu-west-2", Jurisdiction: "GB",
			Accreditation: v1alpha1.Official,
			Capacity: v1alpha1.SiteCapacity{
				CPU: resource.MustParse("64"), Memory: resource.MustParse("256Gi"), Workloads: 10,
			},
		},
	}
}

func workload(namespace, name, businessArea string) v1alpha1.Workload {
	return v1alpha1.Workload{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: v1alpha1.WorkloadSpec{
			Owner:              v1alpha1.Owner{BusinessArea: businessArea},
			BusinessCapability: "Register",
			Classification:     v1alpha1.Official,
			Resources:          v1alpha1.WorkloadResources{CPU: resource.MustParse("500m"), Memory: resource.MustParse("1Gi")},
			Zone:               "application",
			Ports:              []v1alpha1.ServicePort{{Name: "https", Port: 443}},
		},
	}
}

// objectView is a planned estate object as the tests compare it.
type objectView struct {
	Resource, APIVersion, Kind, Name, Namespace string
}

func plannedObjects(resources []plan.Resource) []objectView {
	var out []objectView
	for _, r := range resources {
		if !strings.HasPrefix(r.Type, typePrefix) {
			continue
		}
		out = append(out, objectView{
			Resource:   r.Name,
			APIVersion: r.Properties["apiVersion"],
			Kind:       r.Properties["kind"],
			Name:       r.Properties["metadata.name"],
			Namespace:  r.Properties["metadata.namespace"],
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out
}

func TestOneCustomResourcePerObject(t *testing.T) {
	const apiVersion = "estate.homeoffice.gov.uk/v1alpha1"
	tests := map[string]struct {
		args Args
		want []objectView
	}{
		"nothing declared creates nothing": {
			args: Args{},
			want: nil,
		},
		"sites alone": {
			args: Args{Sites: []v1alpha1.HostingSite{site("aws-london", v1alpha1.TierPublicCloud), site("crown-private-cloud", v1alpha1.TierPrivateCloud)}},
			want: []objectView{
				{Resource: "aws-london", APIVersion: apiVersion, Kind: "HostingSite", Name: "aws-london"},
				{Resource: "crown-private-cloud", APIVersion: apiVersion, Kind: "HostingSite", Name: "crown-private-cloud"},
			},
		},
		"network, site and workloads": {
			args: Args{
				Network: &v1alpha1.Network{
					ObjectMeta: metav1.ObjectMeta{Name: "home-office"},
					Spec: v1alpha1.NetworkSpec{
						AddressSpaces: []string{"10.64.0.0/10"},
						Zones:         []v1alpha1.Zone{{Name: "application", TrustLevel: v1alpha1.TrustMedium}},
					},
				},
				Sites: []v1alpha1.HostingSite{site("aws-london", v1alpha1.TierPublicCloud)},
				Workloads: []v1alpha1.Workload{
					workload("border-force", "carrier-gateway", "border-force"),
					workload("", "passport-casework", "hm-passport-office"),
				},
			},
			want: []objectView{
				{Resource: "aws-london", APIVersion: apiVersion, Kind: "HostingSite", Name: "aws-london"},
				{Resource: "border-force/carrier-gateway", APIVersion: apiVersion, Kind: "Workload", Name: "carrier-gateway", Namespace: "border-force"},
				{Resource: "hm-passport-office/passport-casework", APIVersion: apiVersion, Kind: "Workload", Name: "passport-casework", Namespace: "hm-passport-office"},
				{Resource: "home-office", APIVersion: apiVersion, Kind: "Network", Name: "home-office"},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			resources, err := plan.Run(Project, "test", Program(tc.args))
			if err != nil {
				t.Fatalf("plan.Run: %v", err)
			}
			if diff := cmp.Diff(tc.want, plannedObjects(resources)); diff != "" {
				t.Errorf("estate objects differ (-want +got):\n%s", diff)
			}
			for _, r := range resources {
				if strings.HasPrefix(r.Type, typePrefix) && r.Type != typePrefix+r.Properties["kind"] {
					t.Errorf("resource %s has type %s, want %s%s", r.Name, r.Type, typePrefix, r.Properties["kind"])
				}
			}
		})
	}
}

func TestSpecKeepsItsJSONForm(t *testing.T) {
	resources, err := plan.Run(Project, "test", Program(Args{
		Sites:     []v1alpha1.HostingSite{site("aws-london", v1alpha1.TierPublicCloud)},
		Workloads: []v1alpha1.Workload{workload("border-force", "carrier-gateway", "border-force")},
	}))
	if err != nil {
		t.Fatalf("plan.Run: %v", err)
	}
	want := map[string]map[string]string{
		"aws-london": {
			"spec.tier":               "PublicCloud",
			"spec.capacity.cpu":       "64",
			"spec.capacity.memory":    "256Gi",
			"spec.capacity.workloads": "10",
			"spec.accreditation":      "OFFICIAL",
		},
		"border-force/carrier-gateway": {
			"spec.owner.businessArea": "border-force",
			"spec.resources.cpu":      "500m",
			"spec.ports[0].port":      "443",
			"spec.ports[0].name":      "https",
		},
	}
	for _, r := range resources {
		for key, value := range want[r.Name] {
			if got := r.Properties[key]; got != value {
				t.Errorf("%s %s = %q, want %q", r.Name, key, got, value)
			}
		}
		if !strings.HasPrefix(r.Type, typePrefix) {
			continue
		}
		if got := r.Properties["metadata.annotations."+DeletionPropagationAnnotation]; got != "background" {
			t.Errorf("%s annotation %s = %q, want background", r.Name, DeletionPropagationAnnotation, got)
		}
		if _, ok := r.Properties["spec.costWeight"]; ok {
			t.Errorf("%s has spec.costWeight although it was not set; empty fields must be omitted so the API server's default applies", r.Name)
		}
		if _, ok := r.Properties["status.conditions"]; ok {
			t.Errorf("%s declares a status; the operators own status", r.Name)
		}
	}
}

func TestWorkloadsWaitForSitesAndNamespaces(t *testing.T) {
	resources, err := plan.Run(Project, "test", Program(Args{
		Kubeconfig: "/tmp/kubeconfig",
		Namespaces: []string{"border-force"},
		Sites:      []v1alpha1.HostingSite{site("aws-london", v1alpha1.TierPublicCloud), site("aws-ireland", v1alpha1.TierPublicCloud)},
		Workloads:  []v1alpha1.Workload{workload("border-force", "carrier-gateway", "border-force")},
	}))
	if err != nil {
		t.Fatalf("plan.Run: %v", err)
	}

	workloads := plan.OfType(resources, typePrefix+"Workload")
	if len(workloads) != 1 {
		t.Fatalf("planned %d workloads, want 1", len(workloads))
	}
	if diff := cmp.Diff([]string{"aws-ireland", "aws-london", "border-force"}, workloads[0].DependsOn); diff != "" {
		t.Errorf("workload dependencies differ (-want +got):\n%s", diff)
	}

	namespaces := plan.OfType(resources, "kubernetes:core/v1:Namespace")
	if len(namespaces) != 1 {
		t.Fatalf("planned %d namespaces, want 1", len(namespaces))
	}
	if got := namespaces[0].Properties["metadata.labels."+BusinessAreaLabel]; got != "border-force" {
		t.Errorf("namespace label %s = %q, want border-force", BusinessAreaLabel, got)
	}

	providers := plan.OfType(resources, "pulumi:providers:kubernetes")
	if len(providers) != 1 {
		t.Fatalf("planned %d Kubernetes providers, want 1 for the kubeconfig given", len(providers))
	}
	if got := providers[0].Properties["kubeconfig"]; got != "/tmp/kubeconfig" {
		t.Errorf("provider kubeconfig = %q, want /tmp/kubeconfig", got)
	}
}

func TestRejectsInvalidObjects(t *testing.T) {
	tests := map[string]struct {
		args    Args
		wantErr string
	}{
		"site name with capitals": {
			args:    Args{Sites: []v1alpha1.HostingSite{site("AWS-London", v1alpha1.TierPublicCloud)}},
			wantErr: `HostingSite name "AWS-London" is invalid`,
		},
		"workload with no namespace or business area": {
			args:    Args{Workloads: []v1alpha1.Workload{workload("", "orphan", "")}},
			wantErr: "Workload orphan has no namespace and no spec.owner.businessArea",
		},
		"namespace listed twice": {
			args:    Args{Namespaces: []string{"border-force", "border-force"}},
			wantErr: `namespaces lists "border-force" twice`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := plan.Run(Project, "test", Program(tc.args))
			if err == nil {
				t.Fatalf("plan.Run succeeded, want an error containing %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("plan.Run error = %q, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestCallerAnnotationsWin(t *testing.T) {
	custom := site("aws-london", v1alpha1.TierPublicCloud)
	custom.Annotations = map[string]string{DeletionPropagationAnnotation: "foreground", "owner": "platform"}
	resources, err := plan.Run(Project, "test", Program(Args{Sites: []v1alpha1.HostingSite{custom}}))
	if err != nil {
		t.Fatalf("plan.Run: %v", err)
	}
	sites := plan.OfType(resources, typePrefix+"HostingSite")
	if len(sites) != 1 {
		t.Fatalf("planned %d sites, want 1", len(sites))
	}
	want := map[string]string{DeletionPropagationAnnotation: "foreground", "owner": "platform"}
	for key, value := range want {
		if got := sites[0].Properties["metadata.annotations."+key]; got != value {
			t.Errorf("annotation %s = %q, want %q", key, got, value)
		}
	}
}

func TestExampleStackConfigPlans(t *testing.T) {
	var args Args
	for key, into := range map[string]any{"namespaces": &args.Namespaces, "sites": &args.Sites, "workloads": &args.Workloads} {
		if err := plan.ReadStackConfig("Pulumi.dev.yaml", Project+":"+key, into); err != nil {
			t.Fatalf("reading the example stack: %v", err)
		}
	}
	resources, err := plan.Run(Project, "dev", Program(args))
	if err != nil {
		t.Fatalf("plan.Run of Pulumi.dev.yaml: %v", err)
	}
	want := len(args.Sites) + len(args.Workloads)
	if got := len(plannedObjects(resources)); got != want {
		t.Errorf("planned %d estate objects, want %d", got, want)
	}
}

func TestArgsFromConfigReadsObjects(t *testing.T) {
	// The SDK reads stack configuration from PULUMI_CONFIG, as the CLI passes it.
	t.Setenv("PULUMI_CONFIG", `{
		"estate:kubeconfig": "/tmp/kubeconfig",
		"estate:namespaces": "[\"border-force\"]",
		"estate:workloads": "[{\"metadata\":{\"name\":\"carrier-gateway\",\"namespace\":\"border-force\"},\"spec\":{\"owner\":{\"businessArea\":\"border-force\"},\"zone\":\"frontend\"}}]"
	}`)
	var got Args
	_, err := plan.Run(Project, "test", func(ctx *pulumi.Context) error {
		args, err := ArgsFromConfig(ctx)
		got = args
		return err
	})
	if err != nil {
		t.Fatalf("ArgsFromConfig: %v", err)
	}
	if got.Kubeconfig != "/tmp/kubeconfig" {
		t.Errorf("Kubeconfig = %q, want /tmp/kubeconfig", got.Kubeconfig)
	}
	if diff := cmp.Diff([]string{"border-force"}, got.Namespaces); diff != "" {
		t.Errorf("Namespaces differ (-want +got):\n%s", diff)
	}
	if len(got.Workloads) != 1 {
		t.Fatalf("read %d workloads, want 1", len(got.Workloads))
	}
	if got.Workloads[0].Name != "carrier-gateway" || got.Workloads[0].Spec.Zone != "frontend" {
		t.Errorf("workload = %s in zone %s, want carrier-gateway in zone frontend", got.Workloads[0].Name, got.Workloads[0].Spec.Zone)
	}
	if got.Network != nil || got.Sites != nil {
		t.Errorf("Network = %v and Sites = %v, want both unset when their keys are absent", got.Network, got.Sites)
	}
}
