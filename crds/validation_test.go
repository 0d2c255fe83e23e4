package crds_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

// k8s is a client of a real kube-apiserver with the generated CRDs installed.
var k8s client.Client

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	bin := os.Getenv("ESTATE_BIN")
	if bin == "" {
		bin = filepath.Join("..", "bin")
	}
	if _, err := os.Stat(filepath.Join(bin, "kube-apiserver")); err != nil {
		fmt.Fprintf(os.Stderr, "kube-apiserver not found in %s: run make tools first\n", bin)
		return 1
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{"manifests"},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: bin,
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting envtest: %v\n", err)
		return 1
	}
	defer func() { _ = env.Stop() }()

	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = estatev1.AddToScheme(scheme)
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintf(os.Stderr, "creating client: %v\n", err)
		return 1
	}
	if err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "border-force"}}); err != nil {
		fmt.Fprintf(os.Stderr, "creating namespace: %v\n", err)
		return 1
	}
	return m.Run()
}

const validSite = `
apiVersion: estate.homeoffice.gov.uk/v1alpha1
kind: HostingSite
metadata:
  name: %s
spec:
  tier: PublicCloud
  provider: aws
  region: eu-west-2
  jurisdiction: GB
  accreditation: OFFICIAL
  capacity: {cpu: "64", memory: 256Gi, workloads: 10}
`

const validWorkload = `
apiVersion: estate.homeoffice.gov.uk/v1alpha1
kind: Workload
metadata:
  name: %s
  namespace: border-force
spec:
  owner: {businessArea: border-force}
  businessCapability: Identify
  classification: OFFICIAL-SENSITIVE
  resources: {cpu: "4", memory: 16Gi}
  zone: application
`

// object parses a manifest named name and merges the top-level fields of
// the YAML map spec into its spec.
func object(t *testing.T, manifest, name string, spec string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(fmt.Sprintf(manifest, name)), &u.Object); err != nil {
		t.Fatalf("parsing manifest: %v", err)
	}
	if spec != "" {
		extra := map[string]any{}
		if err := yaml.Unmarshal([]byte(spec), &extra); err != nil {
			t.Fatalf("parsing spec edit: %v", err)
		}
		merged := u.Object["spec"].(map[string]any)
		for k, v := range extra {
			merged[k] = v
		}
	}
	return u
}

func TestAPIRejectsInvalidSpecs(t *testing.T) {
	cases := map[string]struct {
		manifest string
		spec     string
		// wantField and wantText must both appear in the API's error.
		wantField string
		wantText  string
	}{
		"secret workload exposed to the internet": {
			manifest: validWorkload, spec: "{classification: SECRET, exposure: Internet}",
			wantField: "spec.exposure", wantText: "set exposure to PSN or Internal",
		},
		"secret workload with a flow to the internet": {
			manifest:  validWorkload,
			spec:      "{classification: SECRET, flows: [{name: out, to: {external: Internet}, ports: [{port: 443}]}]}",
			wantField: "spec.flows", wantText: "cross-domain gateway",
		},
		"unknown classification": {
			manifest: validWorkload, spec: "{classification: TOP-SECRET}",
			wantField: "spec.classification", wantText: `supported values: "OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET"`,
		},
		"unknown capability": {
			manifest: validWorkload, spec: "{hosting: {requiredCapabilities: [quantum]}}",
			wantField: "spec.hosting.requiredCapabilities[0]", wantText: `Unsupported value: "quantum"`,
		},
		"exception without justification": {
			manifest: validWorkload, spec: "{hosting: {cloudFirstException: {approver: cto, expires: 2027-03-31}}}",
			wantField: "spec.hosting.cloudFirstException.justification", wantText: "Required value",
		},
		"exception with a short justification": {
			manifest: validWorkload, spec: "{hosting: {cloudFirstException: {justification: legacy, approver: cto, expires: 2027-03-31}}}",
			wantField: "spec.hosting.cloudFirstException.justification", wantText: "at least 20 chars",
		},
		"exception expiry not a date": {
			manifest:  validWorkload,
			spec:      "{hosting: {cloudFirstException: {justification: Mainframe contract runs to 2028, approver: cto, expires: next-year}}}",
			wantField: "spec.hosting.cloudFirstException.expires", wantText: "date",
		},
		"flow peer with two destinations": {
			manifest:  validWorkload,
			spec:      "{flows: [{name: db, to: {workload: db, zone: data}, ports: [{port: 5432}]}]}",
			wantField: "spec.flows[0].to", wantText: "set exactly one of workload, zone or external",
		},
		"zero workload cpu": {
			manifest: validWorkload, spec: `{resources: {cpu: "0", memory: 1Gi}}`,
			wantField: "spec.resources.cpu", wantText: "must be positive",
		},
		"zero site cpu": {
			manifest: validSite, spec: `{capacity: {cpu: "0", memory: 1Gi, workloads: 1}}`,
			wantField: "spec.capacity.cpu", wantText: "must be positive",
		},
		"zero site workload slots": {
			manifest: validSite, spec: `{capacity: {cpu: "1", memory: 1Gi, workloads: 0}}`,
			wantField: "spec.capacity.workloads", wantText: "should be greater than or equal to 1",
		},
		"mainframe on public cloud": {
			manifest: validSite, spec: "{capabilities: [mainframe]}",
			wantField: "spec.capabilities", wantText: "declare the mainframe on a PrivateCloud or OnPremises site",
		},
		"jurisdiction not a country code": {
			manifest: validSite, spec: "{jurisdiction: United Kingdom}",
			wantField: "spec.jurisdiction", wantText: "should match",
		},
		"cost weight above the maximum": {
			manifest: validSite, spec: "{costWeight: 500}",
			wantField: "spec.costWeight", wantText: "less than or equal to 100",
		},
	}
	i := 0
	for name, tc := range cases {
		i++
		t.Run(name, func(t *testing.T) {
			obj := object(t, tc.manifest, fmt.Sprintf("invalid-%d", i), tc.spec)
			err := k8s.Create(context.Background(), obj)
			if err == nil {
				t.Fatalf("the API accepted %s", tc.spec)
			}
			if !strings.Contains(err.Error(), tc.wantField) {
				t.Errorf("error does not name field %s: %v", tc.wantField, err)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error does not say %q: %v", tc.wantText, err)
			}
		})
	}
}

func TestAPIAcceptsValidSpecsWithDefaults(t *testing.T) {
	site := object(t, validSite, "valid-site", "")
	if err := k8s.Create(context.Background(), site); err != nil {
		t.Fatalf("valid site rejected: %v", err)
	}
	got := &estatev1.HostingSite{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: "valid-site"}, got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.CostWeight != 50 {
		t.Errorf("costWeight defaulted to %d, want 50", got.Spec.CostWeight)
	}

	w := object(t, validWorkload, "valid-workload",
		"{hosting: {cloudFirstException: {justification: Mainframe contract runs to 2028, approver: cto, expires: 2028-03-31}}}")
	if err := k8s.Create(context.Background(), w); err != nil {
		t.Fatalf("valid workload rejected: %v", err)
	}
	gotW := &estatev1.Workload{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: "border-force", Name: "valid-workload"}, gotW); err != nil {
		t.Fatal(err)
	}
	if gotW.Spec.Exposure != estatev1.ExposureInternal {
		t.Errorf("exposure defaulted to %q, want Internal", gotW.Spec.Exposure)
	}
}
