//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gruntwork-io/terratest/modules/k8s"
	"github.com/gruntwork-io/terratest/modules/retry"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/stacks/estate"
)

// pulumiOperationTimeout bounds one up or destroy. The provider deletes
// namespaces and workloads only once their finalizers are released, which
// takes seconds on the local control plane.
const pulumiOperationTimeout = 5 * time.Minute

// pulumiNamespace is the namespace the test stack creates and owns.
const pulumiNamespace = "pulumi-e2e"

// pulumiWorkload is a workload the stack declares and the site placement
// must choose for it.
type pulumiWorkload struct {
	name           string
	classification estatev1.Classification
	site           string
}

var pulumiWorkloads = []pulumiWorkload{
	{name: "public-form", classification: estatev1.Official, site: "pulumi-e2e-cloud"},
	{name: "case-records", classification: estatev1.OfficialSensitive, site: "pulumi-e2e-private"},
}

// pulumiTools is the CLI and Kubernetes provider that make pulumi-tools built.
type pulumiTools struct {
	cli      string
	provider string
}

// locatePulumiTools checks that bin/ holds the Pulumi CLI and the Kubernetes
// provider, and that they are what PATH resolves, so the engine takes the
// provider from PATH and never downloads one. It fails the test, never skips
// it, when either is missing.
func locatePulumiTools(t *testing.T, paths repoPaths) pulumiTools {
	t.Helper()
	tools := pulumiTools{
		cli:      filepath.Join(paths.bin, "pulumi"),
		provider: filepath.Join(paths.bin, "pulumi-resource-kubernetes"),
	}
	for _, binary := range []string{tools.cli, tools.provider} {
		info, err := os.Stat(binary)
		if err != nil || !info.Mode().IsRegular() {
			t.Fatalf("%s not found: run make pulumi-tools, or set ESTATE_BIN to the directory that holds it", binary)
		}
		found, err := exec.LookPath(filepath.Base(binary))
		if err != nil || found != binary {
			t.Fatalf("%s resolves to %q (error %v) on PATH, want %s", filepath.Base(binary), found, err, binary)
		}
	}
	return tools
}

// newPulumiStack creates the estate project's stack with an inline program,
// a file backend and PULUMI_HOME under t.TempDir, and the environment that
// keeps the CLI from reaching the network.
func newPulumiStack(t *testing.T, ctx context.Context, program estate.Args) (auto.Stack, string) {
	t.Helper()
	// The engine ignores a provider found on PATH when this is set.
	t.Setenv("PULUMI_IGNORE_AMBIENT_PLUGINS", "")
	if err := os.Unsetenv("PULUMI_IGNORE_AMBIENT_PLUGINS"); err != nil {
		t.Fatalf("unsetting PULUMI_IGNORE_AMBIENT_PLUGINS: %v", err)
	}

	dir := t.TempDir()
	home := filepath.Join(dir, "pulumi-home")
	backend := filepath.Join(dir, "backend")
	for _, d := range []string{home, backend} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("creating %s: %v", d, err)
		}
	}
	env := map[string]string{
		"PULUMI_HOME":                                 home,
		"PULUMI_BACKEND_URL":                          "file://" + backend,
		"PULUMI_CONFIG_PASSPHRASE":                    "estate-e2e",
		"PULUMI_SKIP_UPDATE_CHECK":                    "true",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
	}
	// The inline program runs in this process, so it reads the same environment.
	for k, v := range env {
		t.Setenv(k, v)
	}

	cli, err := auto.NewPulumiCommand(nil)
	if err != nil {
		t.Fatalf("checking the Pulumi CLI on PATH: %v", err)
	}
	project := workspace.Project{
		Name:    estate.Project,
		Runtime: workspace.NewProjectRuntimeInfo("go", nil),
		Backend: &workspace.ProjectBackend{URL: "file://" + backend},
	}
	stack, err := auto.UpsertStackInlineSource(ctx, "e2e", estate.Project, estate.Program(program),
		auto.Pulumi(cli),
		auto.Project(project),
		auto.PulumiHome(home),
		auto.EnvVars(env),
		auto.SecretsProvider("passphrase"),
	)
	if err != nil {
		t.Fatalf("creating the estate stack: %v", err)
	}
	return stack, home
}

func pulumiTestSite(name string, tier estatev1.Tier, accreditation estatev1.Classification) estatev1.HostingSite {
	return estatev1.HostingSite{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"estate.homeoffice.gov.uk/test": "pulumi"}},
		Spec: estatev1.HostingSiteSpec{
			Tier:          tier,
			Provider:      "aws",
			Region:        "eu-west-2",
			Jurisdiction:  "GB",
			Accreditation: accreditation,
			Capacity: estatev1.SiteCapacity{
				CPU: resource.MustParse("32"), Memory: resource.MustParse("128Gi"), Workloads: 10,
			},
		},
	}
}

func pulumiTestWorkload(w pulumiWorkload) estatev1.Workload {
	return estatev1.Workload{
		ObjectMeta: metav1.ObjectMeta{Name: w.name, Namespace: pulumiNamespace},
		Spec: estatev1.WorkloadSpec{
			Owner:              estatev1.Owner{BusinessArea: pulumiNamespace},
			BusinessCapability: "Register",
			Classification:     w.classification,
			Resources:          estatev1.WorkloadResources{CPU: resource.MustParse("2"), Memory: resource.MustParse("4Gi")},
			Zone:               "application",
			// Pinning keeps the expected site independent of any other
			// site on the control plane.
			Hosting: estatev1.HostingRequirements{Sites: []string{w.site}},
		},
	}
}

// TestPulumiEstateStack runs the estate project's program through the
// Automation API against a local control plane: up declares sites and
// workloads, the placement operator places them, a second up changes
// nothing, and destroy removes them.
func TestPulumiEstateStack(t *testing.T) {
	paths := locateRepo(t)
	tools := locatePulumiTools(t, paths)
	dev := startDevUp(t, paths)

	args := estate.Args{
		Kubeconfig: dev.kubeconfig,
		Namespaces: []string{pulumiNamespace},
		Sites: []estatev1.HostingSite{
			pulumiTestSite("pulumi-e2e-cloud", estatev1.TierPublicCloud, estatev1.Official),
			pulumiTestSite("pulumi-e2e-private", estatev1.TierPrivateCloud, estatev1.OfficialSensitive),
		},
	}
	for _, w := range pulumiWorkloads {
		args.Workloads = append(args.Workloads, pulumiTestWorkload(w))
	}
	// The stack itself and its Kubernetes provider, then one resource per object.
	wantResources := 2 + len(args.Namespaces) + len(args.Sites) + len(args.Workloads)

	ctx := context.Background()
	stack, home := newPulumiStack(t, ctx, args)

	upCtx, cancel := context.WithTimeout(ctx, pulumiOperationTimeout)
	defer cancel()
	start := time.Now()
	up, err := stack.Up(upCtx)
	if err != nil {
		t.Fatalf("first pulumi up: %v\nstdout:\n%s\nstderr:\n%s", err, up.StdOut, up.StdErr)
	}
	t.Logf("first pulumi up took %s", time.Since(start).Round(time.Millisecond))
	checkChanges(t, "first up", up.Summary, map[string]int{"create": wantResources})
	checkNoPluginDownload(t, "first up", up.StdOut+up.StdErr, home)
	if !strings.Contains(up.StdOut+up.StdErr, tools.provider) {
		t.Errorf("first up output does not name %s; want the engine to use the provider from PATH\n%s", tools.provider, up.StdOut)
	}

	for _, site := range args.Sites {
		got, err := dev.getSite(t, site.Name)
		if err != nil {
			t.Errorf("HostingSite %s after up: %v", site.Name, err)
			continue
		}
		if got.Spec.Tier != site.Spec.Tier || got.Spec.Accreditation != site.Spec.Accreditation {
			t.Errorf("HostingSite %s has tier %s and accreditation %s, want %s and %s",
				site.Name, got.Spec.Tier, got.Spec.Accreditation, site.Spec.Tier, site.Spec.Accreditation)
		}
	}
	for _, w := range pulumiWorkloads {
		checkPulumiWorkloadPlaced(t, dev, w)
	}

	againCtx, cancelAgain := context.WithTimeout(ctx, pulumiOperationTimeout)
	defer cancelAgain()
	start = time.Now()
	again, err := stack.Up(againCtx, optup.ExpectNoChanges())
	if err != nil {
		t.Fatalf("second pulumi up: %v\nstdout:\n%s\nstderr:\n%s", err, again.StdOut, again.StdErr)
	}
	t.Logf("second pulumi up took %s", time.Since(start).Round(time.Millisecond))
	checkChanges(t, "second up", again.Summary, map[string]int{"same": wantResources})

	destroyCtx, cancelDestroy := context.WithTimeout(ctx, pulumiOperationTimeout)
	defer cancelDestroy()
	start = time.Now()
	destroyed, err := stack.Destroy(destroyCtx)
	if err != nil {
		t.Fatalf("pulumi destroy: %v\nstdout:\n%s\nstderr:\n%s", err, destroyed.StdOut, destroyed.StdErr)
	}
	t.Logf("pulumi destroy took %s", time.Since(start).Round(time.Millisecond))
	checkChanges(t, "destroy", destroyed.Summary, map[string]int{"delete": wantResources})
	checkNoPluginDownload(t, "destroy", destroyed.StdOut+destroyed.StdErr, home)

	for _, site := range args.Sites {
		checkPulumiObjectGone(t, dev, siteResource, site.Name)
	}
	for _, w := range pulumiWorkloads {
		checkPulumiObjectGone(t, dev, workloadResource, w.name, "--namespace", pulumiNamespace)
	}
	checkPulumiObjectGone(t, dev, "namespaces", pulumiNamespace)
}

// checkChanges compares an operation's resource changes with want, which
// lists every operation expected; any other operation is a failure.
func checkChanges(t *testing.T, operation string, summary auto.UpdateSummary, want map[string]int) {
	t.Helper()
	if summary.Result != "succeeded" {
		t.Errorf("%s result = %q, want succeeded", operation, summary.Result)
	}
	if summary.ResourceChanges == nil {
		t.Errorf("%s reported no resource changes, want %v", operation, want)
		return
	}
	got := *summary.ResourceChanges
	for op, count := range want {
		if got[op] != count {
			t.Errorf("%s %s = %d, want %d (all changes %v)", operation, op, got[op], count, got)
		}
	}
	for op, count := range got {
		if _, expected := want[op]; !expected && count != 0 {
			t.Errorf("%s has %d %s operations, want none (all changes %v)", operation, count, op, got)
		}
	}
}

// checkNoPluginDownload fails when the engine tried to download a plugin:
// its output mentions a download, or PULUMI_HOME holds an installed
// Kubernetes plugin.
func checkNoPluginDownload(t *testing.T, operation, output, home string) {
	t.Helper()
	lower := strings.ToLower(output)
	for _, phrase := range []string{"downloading plugin", "plugin download", "installing plugin"} {
		if strings.Contains(lower, phrase) {
			t.Errorf("%s output mentions %q; want the provider from PATH only:\n%s", operation, phrase, output)
		}
	}
	installed, err := filepath.Glob(filepath.Join(home, "plugins", "resource-kubernetes-*"))
	if err != nil {
		t.Fatalf("listing installed plugins: %v", err)
	}
	if len(installed) > 0 {
		t.Errorf("%s installed plugins %v under PULUMI_HOME, want none", operation, installed)
	}
}

func checkPulumiWorkloadPlaced(t *testing.T, dev *devControlPlane, w pulumiWorkload) {
	t.Helper()
	var last *estatev1.Workload
	_, err := retry.DoWithRetryE(t, "wait for "+w.name+" to be placed", 120, 500*time.Millisecond, func() (string, error) {
		got, err := dev.getWorkload(t, pulumiNamespace, w.name)
		if err != nil {
			return "", err
		}
		last = got
		if !meta.IsStatusConditionTrue(got.Status.Conditions, estatev1.ConditionPlaced) {
			return "", fmt.Errorf("condition Placed is not True: %v", got.Status.Conditions)
		}
		return "", nil
	})
	if err != nil {
		t.Errorf("workload %s/%s was not placed: %v", pulumiNamespace, w.name, err)
		return
	}
	if last.Status.Placement == nil || last.Status.Placement.Site != w.site {
		t.Errorf("workload %s/%s placement = %+v, want site %s", pulumiNamespace, w.name, last.Status.Placement, w.site)
	}
}

// checkPulumiObjectGone fails when kubectl still finds the object.
func checkPulumiObjectGone(t *testing.T, dev *devControlPlane, resourceType, name string, extra ...string) {
	t.Helper()
	args := append([]string{"get", resourceType, name, "--ignore-not-found", "-o", "name"}, extra...)
	out, err := k8s.RunKubectlAndGetOutputE(t, dev.quiet, args...)
	if err != nil {
		t.Errorf("kubectl %s: %v", strings.Join(args, " "), err)
		return
	}
	if strings.TrimSpace(out) != "" {
		t.Errorf("%s %s still exists after destroy: %s", resourceType, name, out)
	}
}
