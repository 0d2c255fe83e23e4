//go:build e2e

package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gruntwork-io/terratest/modules/k8s"
	"github.com/gruntwork-io/terratest/modules/logger"
	"github.com/gruntwork-io/terratest/modules/retry"
	"github.com/gruntwork-io/terratest/modules/shell"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

// expectedPlacement is one row of the expected placement table in
// examples/estate/README.md.
type expectedPlacement struct {
	// workload is "namespace/name".
	workload       string
	classification estatev1.Classification
	site           string
	// reason is the README's reason, shown when the site differs.
	reason string
}

// expectedPlacementRow matches a row of the expected placement table in
// examples/estate/README.md: | `namespace/name` | CLASSIFICATION | `site` | reason |.
var expectedPlacementRow = regexp.MustCompile("^\\| `([a-z0-9-]+/[a-z0-9-]+)` \\| (OFFICIAL|OFFICIAL-SENSITIVE|SECRET) \\| `([a-z0-9-]+)` \\| (.+) \\|$")

// loadReferencePlacements reads the expected placement table from the
// "## Expected placement" section of examples/estate/README.md, so the test
// holds the README to what the operators do. It fails the test when a row
// does not parse or a workload appears twice.
func loadReferencePlacements(tb testing.TB, paths repoPaths) []expectedPlacement {
	tb.Helper()
	readme := filepath.Join(paths.estate, "README.md")
	data, err := os.ReadFile(readme)
	if err != nil {
		tb.Fatalf("reading the expected placements: %v", err)
	}
	var rows []expectedPlacement
	seen := map[string]bool{}
	inSection := false
	for i, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "## ") {
			inSection = strings.TrimSpace(line) == "## Expected placement"
			continue
		}
		if !inSection || !strings.HasPrefix(line, "| `") {
			continue
		}
		m := expectedPlacementRow.FindStringSubmatch(line)
		if m == nil {
			tb.Fatalf("%s:%d: invalid row in the expected placement table, want | `namespace/name` | CLASSIFICATION | `site` | reason |: %s", readme, i+1, line)
		}
		if seen[m[1]] {
			tb.Fatalf("%s:%d: workload %s appears twice in the expected placement table", readme, i+1, m[1])
		}
		seen[m[1]] = true
		rows = append(rows, expectedPlacement{workload: m[1], classification: estatev1.Classification(m[2]), site: m[3], reason: m[4]})
	}
	if len(rows) == 0 {
		tb.Fatalf("%s has no rows under \"## Expected placement\"", readme)
	}
	return rows
}

// classificationRank orders classifications, lowest first.
var classificationRank = map[estatev1.Classification]int{
	estatev1.Official: 1, estatev1.OfficialSensitive: 2, estatev1.Secret: 3,
}

// TestReferenceEstate starts a local control plane, applies the reference
// estate with kubectl and checks the placements, the audit, the API's
// validation, the release of a deleted workload's reservation, a cordon and a
// clean stop.
func TestReferenceEstate(t *testing.T) {
	paths := locateRepo(t)
	expected := loadReferencePlacements(t, paths)
	dev := startDevUp(t, paths)

	applyStart := time.Now()
	k8s.RunKubectl(t, dev.kubectl, "apply", "--server-side", "-R", "-f", paths.estate)
	var workloads []estatev1.Workload
	_, err := retry.DoWithRetryE(t, "wait for every workload to be placed", 120, 500*time.Millisecond, func() (string, error) {
		if err := dev.exitedError(); err != nil {
			return "", retry.FatalError{Underlying: err}
		}
		list, err := dev.placedWorkloads(t, len(expected))
		workloads = list
		return "", err
	})
	if err != nil {
		t.Fatalf("the workloads of %s were not all placed within 60s: %v", paths.estate, err)
	}
	t.Logf("Applied the reference estate; all %d workloads had a placement decision %s later (polled every 500ms)",
		len(workloads), time.Since(applyStart).Round(time.Millisecond))

	sites, err := dev.listSites(t)
	if err != nil {
		t.Fatalf("listing hosting sites: %v", err)
	}

	t.Run("placements match the README", func(t *testing.T) {
		checkReferencePlacements(t, expected, workloads, sites)
	})
	t.Run("classification rules hold", func(t *testing.T) {
		checkClassificationRules(t, workloads, sites)
	})
	t.Run("placements below public cloud record each rejection", func(t *testing.T) {
		checkCloudFirstRejections(t, expected, workloads, sites)
	})
	t.Run("site allocations equal their workloads' requests", func(t *testing.T) {
		checkAllocations(t, workloads, sites)
	})
	t.Run("audit reports every workload and no findings", func(t *testing.T) {
		checkAudit(t, dev, expected, sites)
	})
	t.Run("explain lists an outcome for every site", func(t *testing.T) {
		checkExplain(t, dev, expected, sites)
	})
	t.Run("API rejects invalid specs naming the field", func(t *testing.T) {
		checkInvalidSpecsRejected(t, dev)
	})
	t.Run("deleting a workload releases its reservation", func(t *testing.T) {
		checkDeleteReleasesReservation(t, dev)
	})
	t.Run("cordoned site keeps its pinned workload", func(t *testing.T) {
		checkCordonKeepsPinnedWorkload(t, dev)
	})

	// NOTE: 60 s allows for dev up's wait of up to 30 s for the operators to
	// stop. The control plane processes themselves stop in about 1 s.
	elapsed, err := dev.interrupt(60 * time.Second)
	if err != nil {
		t.Fatalf("estatectl dev up did not stop cleanly after SIGINT: %v", err)
	}
	t.Logf("estatectl dev up exited with status 0 %s after SIGINT", elapsed.Round(time.Millisecond))
	remaining, err := controlPlaneProcesses(dev.stateDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(remaining) > 0 {
		t.Errorf("control plane processes of %s still run after dev up exited: %s", dev.stateDir, strings.Join(remaining, ", "))
	}
	if _, err := os.Stat(dev.stateDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state directory %s remains after dev up stopped without --keep (stat error: %v)", dev.stateDir, err)
	}
}

func checkReferencePlacements(t *testing.T, expected []expectedPlacement, workloads []estatev1.Workload, sites []estatev1.HostingSite) {
	byKey := make(map[string]*estatev1.Workload, len(workloads))
	gotKeys := make([]string, 0, len(workloads))
	for i := range workloads {
		byKey[workloadKey(&workloads[i])] = &workloads[i]
		gotKeys = append(gotKeys, workloadKey(&workloads[i]))
	}
	wantKeys := make([]string, 0, len(expected))
	for _, want := range expected {
		wantKeys = append(wantKeys, want.workload)
	}
	sort.Strings(gotKeys)
	sort.Strings(wantKeys)
	if diff := cmp.Diff(wantKeys, gotKeys); diff != "" {
		t.Errorf("workloads in the API differ from the README's placement table (-README +API):\n%s", diff)
	}

	siteByName := sitesByName(sites)
	siteNames := sortedSiteNames(sites)
	for _, want := range expected {
		t.Run(want.workload, func(t *testing.T) {
			w := byKey[want.workload]
			if w == nil {
				t.Fatalf("workload %s is not in the API", want.workload)
			}
			if w.Spec.Classification != want.classification {
				t.Errorf("spec.classification is %s, want %s", w.Spec.Classification, want.classification)
			}
			placed := meta.FindStatusCondition(w.Status.Conditions, estatev1.ConditionPlaced)
			if placed == nil || placed.Status != metav1.ConditionTrue {
				t.Errorf("Placed condition is %s, want status True", describeCondition(placed))
			}
			p := w.Status.Placement
			if p == nil {
				t.Fatal("status.placement is missing")
			}
			if p.Site != want.site {
				t.Errorf("placed on %q, want %q (%s); placement message: %s", p.Site, want.site, want.reason, p.Message)
			}
			if site := siteByName[p.Site]; site != nil && p.Tier != site.Spec.Tier {
				t.Errorf("status.placement.tier is %s, but site %s is %s", p.Tier, p.Site, site.Spec.Tier)
			}
			outcomeSites := make([]string, 0, len(p.Sites))
			for _, o := range p.Sites {
				outcomeSites = append(outcomeSites, o.Site)
			}
			sort.Strings(outcomeSites)
			if diff := cmp.Diff(siteNames, outcomeSites); diff != "" {
				t.Errorf("status.placement.sites does not hold one outcome per hosting site (-sites +outcomes):\n%s", diff)
			}
		})
	}
}

func checkClassificationRules(t *testing.T, workloads []estatev1.Workload, sites []estatev1.HostingSite) {
	siteByName := sitesByName(sites)
	for i := range workloads {
		w := &workloads[i]
		if w.Status.Placement == nil || w.Status.Placement.Site == "" {
			t.Errorf("%s has no site", workloadKey(w))
			continue
		}
		site := siteByName[w.Status.Placement.Site]
		if site == nil {
			t.Errorf("%s is placed on %s, which is not a hosting site", workloadKey(w), w.Status.Placement.Site)
			continue
		}
		accreditation := site.Spec.Accreditation
		if classificationRank[accreditation] < classificationRank[w.Spec.Classification] {
			t.Errorf("%s is %s but placed on %s, accredited only to %s", workloadKey(w), w.Spec.Classification, site.Name, accreditation)
		}
		if w.Spec.Classification == estatev1.Secret && accreditation != estatev1.Secret {
			t.Errorf("%s is SECRET but placed on %s, which is not a SECRET enclave site", workloadKey(w), site.Name)
		}
		if w.Spec.Classification != estatev1.Secret && accreditation == estatev1.Secret {
			t.Errorf("%s is %s but placed on the SECRET enclave site %s", workloadKey(w), w.Spec.Classification, site.Name)
		}
	}
}

func checkCloudFirstRejections(t *testing.T, expected []expectedPlacement, workloads []estatev1.Workload, sites []estatev1.HostingSite) {
	var publicSites []string
	for i := range sites {
		if sites[i].Spec.Tier == estatev1.TierPublicCloud {
			publicSites = append(publicSites, sites[i].Name)
		}
	}
	if len(publicSites) == 0 {
		t.Fatal("the reference estate has no PublicCloud hosting site, so cloud first cannot be checked")
	}
	sort.Strings(publicSites)

	// The README's table and the sites' tiers give the number of workloads
	// expected below public cloud.
	siteByName := sitesByName(sites)
	wantBelow := 0
	for _, want := range expected {
		if site := siteByName[want.site]; site != nil && site.Spec.Tier != estatev1.TierPublicCloud {
			wantBelow++
		}
	}

	below := 0
	for i := range workloads {
		w := &workloads[i]
		p := w.Status.Placement
		if p == nil || p.Site == "" || p.Tier == estatev1.TierPublicCloud {
			continue
		}
		below++
		outcomes := make(map[string]estatev1.SiteOutcome, len(p.Sites))
		for _, o := range p.Sites {
			outcomes[o.Site] = o
		}
		for _, name := range publicSites {
			o, ok := outcomes[name]
			if !ok {
				t.Errorf("%s is on %s (%s) with no recorded outcome for public cloud site %s", workloadKey(w), p.Site, p.Tier, name)
				continue
			}
			if o.Eligible {
				t.Errorf("%s is on %s (%s) although public cloud site %s is recorded as eligible", workloadKey(w), p.Site, p.Tier, name)
			}
			if o.Reason == "" {
				t.Errorf("%s: the outcome for public cloud site %s has an empty reason", workloadKey(w), name)
			}
			if o.Message == "" {
				t.Errorf("%s: the outcome for public cloud site %s has an empty message", workloadKey(w), name)
			}
		}
	}
	if below != wantBelow {
		t.Errorf("%d workloads are below public cloud, want %d from the README's table", below, wantBelow)
	}
}

func checkAllocations(t *testing.T, workloads []estatev1.Workload, sites []estatev1.HostingSite) {
	type usage struct {
		cpu, memory resource.Quantity
		// uids maps each workload on the site, as "namespace/name", to its UID.
		uids map[string]string
	}
	bySite := map[string]*usage{}
	byKey := map[string]*estatev1.Workload{}
	for i := range workloads {
		w := &workloads[i]
		byKey[workloadKey(w)] = w
		if w.Status.Placement == nil || w.Status.Placement.Site == "" {
			continue
		}
		u := bySite[w.Status.Placement.Site]
		if u == nil {
			u = &usage{uids: map[string]string{}}
			bySite[w.Status.Placement.Site] = u
		}
		u.cpu.Add(w.Spec.Resources.CPU)
		u.memory.Add(w.Spec.Resources.Memory)
		u.uids[workloadKey(w)] = string(w.UID)
	}

	for i := range sites {
		site := &sites[i]
		want := bySite[site.Name]
		if want == nil {
			want = &usage{uids: map[string]string{}}
		}
		got := site.Status.Allocated
		if got.CPU.Cmp(want.cpu) != 0 {
			t.Errorf("site %s: status.allocated.cpu is %s, want %s, the sum of its workloads' spec.resources.cpu", site.Name, got.CPU.String(), want.cpu.String())
		}
		if got.Memory.Cmp(want.memory) != 0 {
			t.Errorf("site %s: status.allocated.memory is %s, want %s, the sum of its workloads' spec.resources.memory", site.Name, got.Memory.String(), want.memory.String())
		}
		if int(got.Workloads) != len(want.uids) {
			t.Errorf("site %s: status.allocated.workloads is %d, want %d", site.Name, got.Workloads, len(want.uids))
		}
		if len(site.Status.Reservations) != len(want.uids) {
			t.Errorf("site %s holds %d reservations, want %d", site.Name, len(site.Status.Reservations), len(want.uids))
		}
		reserved := map[string]string{}
		for _, r := range site.Status.Reservations {
			reserved[r.Workload] = r.UID
			w := byKey[r.Workload]
			if w == nil {
				continue
			}
			if r.CPU.Cmp(w.Spec.Resources.CPU) != 0 {
				t.Errorf("site %s: the reservation of %s holds cpu %s, want its request %s", site.Name, r.Workload, r.CPU.String(), w.Spec.Resources.CPU.String())
			}
			if r.Memory.Cmp(w.Spec.Resources.Memory) != 0 {
				t.Errorf("site %s: the reservation of %s holds memory %s, want its request %s", site.Name, r.Workload, r.Memory.String(), w.Spec.Resources.Memory.String())
			}
		}
		if diff := cmp.Diff(want.uids, reserved); diff != "" {
			t.Errorf("site %s: reservations (workload to UID) differ from the workloads placed on it (-placed +reserved):\n%s", site.Name, diff)
		}
	}
}

// auditReport is the JSON of `estatectl audit placement -o json`.
type auditReport struct {
	Summary []auditSummaryRow `json:"summary"`
	// Workloads contains one row per workload.
	Workloads []struct {
		Workload string `json:"workload"`
		Site     string `json:"site"`
	} `json:"workloads"`
	Findings []struct {
		Workload string `json:"workload"`
		Rule     string `json:"rule"`
		Message  string `json:"message"`
	} `json:"findings"`
}

// auditSummaryRow counts one classification's workloads per tier.
type auditSummaryRow struct {
	Classification string `json:"classification"`
	PublicCloud    int    `json:"publicCloud"`
	PrivateCloud   int    `json:"privateCloud"`
	OnPremises     int    `json:"onPremises"`
	Unplaced       int    `json:"unplaced"`
	Total          int    `json:"total"`
}

func checkAudit(t *testing.T, dev *devControlPlane, expected []expectedPlacement, sites []estatev1.HostingSite) {
	out, err := shell.RunCommandAndGetStdOutE(t, shell.Command{
		Command: dev.paths.estatectl,
		Args:    []string{"audit", "placement", "-o", "json", "--fail-on-findings", "--kubeconfig", dev.kubeconfig},
		Logger:  logger.Discard,
	})
	if err != nil {
		t.Fatalf("estatectl audit placement --fail-on-findings failed: %v\nstdout:\n%s", err, out)
	}
	var report auditReport
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("decoding the audit JSON: %v\n%s", err, out)
	}

	if len(report.Workloads) != len(expected) {
		t.Errorf("the audit reports %d workloads, want %d", len(report.Workloads), len(expected))
	}
	if len(report.Findings) != 0 {
		t.Errorf("the audit reports %d findings, want none: %+v", len(report.Findings), report.Findings)
	}

	gotSites := map[string]string{}
	for _, w := range report.Workloads {
		gotSites[w.Workload] = w.Site
	}
	wantSites := map[string]string{}
	for _, want := range expected {
		wantSites[want.workload] = want.site
	}
	if diff := cmp.Diff(wantSites, gotSites); diff != "" {
		t.Errorf("the audit's sites differ from the README's table (-README +audit):\n%s", diff)
	}

	siteByName := sitesByName(sites)
	wantSummary := map[string]auditSummaryRow{}
	for _, want := range expected {
		row := wantSummary[string(want.classification)]
		row.Classification = string(want.classification)
		switch site := siteByName[want.site]; {
		case site == nil:
			row.Unplaced++
		case site.Spec.Tier == estatev1.TierPublicCloud:
			row.PublicCloud++
		case site.Spec.Tier == estatev1.TierPrivateCloud:
			row.PrivateCloud++
		case site.Spec.Tier == estatev1.TierOnPremises:
			row.OnPremises++
		}
		row.Total++
		wantSummary[row.Classification] = row
	}
	gotSummary := map[string]auditSummaryRow{}
	for _, row := range report.Summary {
		gotSummary[row.Classification] = row
	}
	if diff := cmp.Diff(wantSummary, gotSummary); diff != "" {
		t.Errorf("the audit summary differs from the README's table (-README +audit):\n%s", diff)
	}
}

func checkExplain(t *testing.T, dev *devControlPlane, expected []expectedPlacement, sites []estatev1.HostingSite) {
	const namespace, name = "border-force", "warnings-index"
	out, err := shell.RunCommandAndGetStdOutE(t, shell.Command{
		Command: dev.paths.estatectl,
		Args:    []string{"explain", "workload", name, "-n", namespace, "-o", "json", "--kubeconfig", dev.kubeconfig},
		Logger:  logger.Discard,
	})
	if err != nil {
		t.Fatalf("estatectl explain workload %s -n %s failed: %v\nstdout:\n%s", name, namespace, err, out)
	}
	var p estatev1.Placement
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("decoding the explain JSON: %v\n%s", err, out)
	}

	outcomeSites := make([]string, 0, len(p.Sites))
	for _, o := range p.Sites {
		outcomeSites = append(outcomeSites, o.Site)
		if o.Reason == "" {
			t.Errorf("the outcome for site %s has an empty reason", o.Site)
		}
	}
	sort.Strings(outcomeSites)
	if diff := cmp.Diff(sortedSiteNames(sites), outcomeSites); diff != "" {
		t.Errorf("explain does not list one outcome per hosting site (-sites +outcomes):\n%s", diff)
	}
	want := expectedSite(t, expected, namespace+"/"+name)
	if p.Site != want {
		t.Errorf("explain names site %q, want %q", p.Site, want)
	}
}

// secretWorkloadManifest is a SECRET workload whose exposure is the %s verb.
const secretWorkloadManifest = `apiVersion: estate.homeoffice.gov.uk/v1alpha1
kind: Workload
metadata:
  name: secret-exposure-check
  namespace: national-security
spec:
  owner:
    businessArea: national-security
  businessCapability: Communicate
  classification: SECRET
  resources:
    cpu: "1"
    memory: 1Gi
  zone: enclave
  exposure: %s
`

// siteManifest is a HostingSite whose capacity.cpu is the %s verb.
const siteManifest = `apiVersion: estate.homeoffice.gov.uk/v1alpha1
kind: HostingSite
metadata:
  name: capacity-check
spec:
  tier: PrivateCloud
  provider: crown-hosting
  region: corsham
  jurisdiction: GB
  accreditation: OFFICIAL
  capacity:
    cpu: %q
    memory: 1Gi
    workloads: 1
`

func checkInvalidSpecsRejected(t *testing.T, dev *devControlPlane) {
	cases := map[string]struct {
		// invalid breaks one rule; valid is the same object with that field
		// fixed, which proves the rejection was for that field alone.
		invalid, valid string
		// object is the kubectl get arguments of the object.
		object []string
		field  string
	}{
		"SECRET workload exposed to the internet": {
			invalid: fmt.Sprintf(secretWorkloadManifest, "Internet"),
			valid:   fmt.Sprintf(secretWorkloadManifest, "Internal"),
			object:  []string{workloadResource, "secret-exposure-check", "--namespace", "national-security"},
			field:   "spec.exposure",
		},
		"hosting site with zero CPU": {
			invalid: fmt.Sprintf(siteManifest, "0"),
			valid:   fmt.Sprintf(siteManifest, "1"),
			object:  []string{siteResource, "capacity-check"},
			field:   "spec.capacity.cpu",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			invalidPath := filepath.Join(dir, "invalid.yaml")
			validPath := filepath.Join(dir, "valid.yaml")
			if err := os.WriteFile(invalidPath, []byte(tc.invalid), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(validPath, []byte(tc.valid), 0o600); err != nil {
				t.Fatal(err)
			}

			out, err := k8s.RunKubectlAndGetOutputE(t, dev.kubectl, "apply", "--server-side", "-f", invalidPath)
			if err == nil {
				t.Errorf("kubectl apply succeeded, want the API to reject the object naming %s; output:\n%s", tc.field, out)
			}
			if !strings.Contains(out, tc.field) {
				t.Errorf("the kubectl apply output does not name %s:\n%s", tc.field, out)
			}
			getOut, err := k8s.RunKubectlAndGetOutputE(t, dev.quiet, append([]string{"get"}, tc.object...)...)
			if err == nil || !strings.Contains(getOut, "NotFound") {
				t.Errorf("kubectl get %s found the rejected object (error %v):\n%s", strings.Join(tc.object, " "), err, getOut)
			}
			if out, err := k8s.RunKubectlAndGetOutputE(t, dev.kubectl, "apply", "--server-side", "--dry-run=server", "-f", validPath); err != nil {
				t.Errorf("the same object with %s fixed was rejected too, so the test manifest is wrong: %v\n%s", tc.field, err, out)
			}
		})
	}
}

func checkDeleteReleasesReservation(t *testing.T, dev *devControlPlane) {
	const namespace, name = "corporate-services", "records-management"
	key := namespace + "/" + name
	w, err := dev.getWorkload(t, namespace, name)
	if err != nil {
		t.Fatal(err)
	}
	if w.Status.Placement == nil || w.Status.Placement.Site == "" {
		t.Fatalf("%s has no site to release", key)
	}
	siteName := w.Status.Placement.Site
	before, err := dev.getSite(t, siteName)
	if err != nil {
		t.Fatal(err)
	}

	k8s.RunKubectl(t, dev.kubectl, "delete", workloadResource, name, "--namespace", namespace, "--wait", "--timeout=60s")

	out, err := k8s.RunKubectlAndGetOutputE(t, dev.quiet, "get", workloadResource, name, "--namespace", namespace)
	if err == nil || !strings.Contains(out, "NotFound") {
		t.Errorf("kubectl get found %s after delete --wait returned (error %v):\n%s", key, err, out)
	}

	// The workload's finalizer releases the reservation before the object
	// goes, so the site is already up to date when delete --wait returns.
	after, err := dev.getSite(t, siteName)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range after.Status.Reservations {
		if r.Workload == key {
			t.Errorf("site %s still holds a reservation for the deleted workload %s: %+v", siteName, key, r)
		}
	}
	if got, want := after.Status.Allocated.Workloads, before.Status.Allocated.Workloads-1; got != want {
		t.Errorf("site %s: status.allocated.workloads is %d after the delete, want %d", siteName, got, want)
	}
	wantCPU := before.Status.Allocated.CPU.DeepCopy()
	wantCPU.Sub(w.Spec.Resources.CPU)
	if after.Status.Allocated.CPU.Cmp(wantCPU) != 0 {
		t.Errorf("site %s: status.allocated.cpu is %s after the delete, want %s (%s minus the workload's %s)", siteName,
			after.Status.Allocated.CPU.String(), wantCPU.String(), before.Status.Allocated.CPU.String(), w.Spec.Resources.CPU.String())
	}
	wantMemory := before.Status.Allocated.Memory.DeepCopy()
	wantMemory.Sub(w.Spec.Resources.Memory)
	if after.Status.Allocated.Memory.Cmp(wantMemory) != 0 {
		t.Errorf("site %s: status.allocated.memory is %s after the delete, want %s (%s minus the workload's %s)", siteName,
			after.Status.Allocated.Memory.String(), wantMemory.String(), before.Status.Allocated.Memory.String(), w.Spec.Resources.Memory.String())
	}
}

func checkCordonKeepsPinnedWorkload(t *testing.T, dev *devControlPlane) {
	const siteName = "azure-uk-south"
	const namespace, name = "shared-platforms", "email-collaboration"
	start := time.Now()
	k8s.RunKubectl(t, dev.kubectl, "patch", siteResource, siteName, "--type", "merge", "-p", `{"spec":{"unschedulable":true}}`)

	var w *estatev1.Workload
	_, err := retry.DoWithRetryE(t, "wait for "+name+" to report its site unavailable", 60, 500*time.Millisecond, func() (string, error) {
		got, err := dev.getWorkload(t, namespace, name)
		if err != nil {
			return "", err
		}
		w = got
		available := meta.FindStatusCondition(w.Status.Conditions, estatev1.ConditionSiteAvailable)
		if available == nil || available.Status != metav1.ConditionFalse {
			return "", fmt.Errorf("SiteAvailable condition is %s, want status False", describeCondition(available))
		}
		return "", nil
	})
	if err != nil {
		t.Fatalf("cordoning %s: %v", siteName, err)
	}
	t.Logf("%s reported SiteAvailable=False %s after the cordon (polled every 500ms)", name, time.Since(start).Round(time.Millisecond))

	available := meta.FindStatusCondition(w.Status.Conditions, estatev1.ConditionSiteAvailable)
	if available.Reason != estatev1.ReasonCordoned {
		t.Errorf("SiteAvailable reason is %q, want %q", available.Reason, estatev1.ReasonCordoned)
	}
	if w.Status.Placement == nil || w.Status.Placement.Site != siteName {
		t.Errorf("status.placement is %+v, want the workload kept on %s, the only site hosting.sites allows", w.Status.Placement, siteName)
	}
	placed := meta.FindStatusCondition(w.Status.Conditions, estatev1.ConditionPlaced)
	if placed == nil || placed.Status != metav1.ConditionTrue {
		t.Errorf("Placed condition is %s, want status True", describeCondition(placed))
	} else if placed.Reason != estatev1.ReasonSiteKept {
		t.Errorf("Placed reason is %q, want %q", placed.Reason, estatev1.ReasonSiteKept)
	}

	_, err = retry.DoWithRetryE(t, "wait for "+siteName+" to report itself cordoned", 20, 500*time.Millisecond, func() (string, error) {
		site, err := dev.getSite(t, siteName)
		if err != nil {
			return "", err
		}
		ready := meta.FindStatusCondition(site.Status.Conditions, estatev1.ConditionReady)
		if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != estatev1.ReasonCordoned {
			return "", fmt.Errorf("Ready condition is %s, want status False with reason Cordoned", describeCondition(ready))
		}
		return "", nil
	})
	if err != nil {
		t.Errorf("site %s: %v", siteName, err)
	}
}

// expectedSite returns the README's site for a workload ("namespace/name").
func expectedSite(t *testing.T, expected []expectedPlacement, workload string) string {
	t.Helper()
	for _, want := range expected {
		if want.workload == workload {
			return want.site
		}
	}
	t.Fatalf("workload %s is not in the README's placement table", workload)
	return ""
}

func sitesByName(sites []estatev1.HostingSite) map[string]*estatev1.HostingSite {
	byName := make(map[string]*estatev1.HostingSite, len(sites))
	for i := range sites {
		byName[sites[i].Name] = &sites[i]
	}
	return byName
}

func sortedSiteNames(sites []estatev1.HostingSite) []string {
	names := make([]string, 0, len(sites))
	for i := range sites {
		names = append(names, sites[i].Name)
	}
	sort.Strings(names)
	return names
}

func describeCondition(c *metav1.Condition) string {
	if c == nil {
		return "missing"
	}
	return fmt.Sprintf("%s (reason %s, observedGeneration %d: %s)", c.Status, c.Reason, c.ObservedGeneration, c.Message)
}
